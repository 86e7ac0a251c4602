"""The Keras built-in datasets the book loads with ``keras.datasets`` (CIFAR-10 here).

They are stored under ``GDL_DATA_DIR`` in the archives' own format, so loading needs
no network and the tests can write fixtures in exactly that format.
The loaders return what ``keras.datasets.<name>.load_data()`` returns:
``(x_train, y_train), (x_test, y_test)`` as uint8 images and integer labels.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from gdl.data.registry import Dataset, DatasetError, register_dataset

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
_CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _cifar_dir(ds: Dataset) -> Path:
    return ds.path() / "cifar-10-batches-py"


def _check_cifar10(ds: Dataset) -> list[str]:
    folder = _cifar_dir(ds)
    return [f"missing {folder / f}" for f in _CIFAR_FILES if not (folder / f).is_file()]


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="bytes")
        data = np.asarray(d[b"data"], dtype=np.uint8)
        labels = np.asarray(d[b"labels"], dtype=np.uint8)
    except Exception as exc:  # corrupt or truncated file
        raise DatasetError(f"cannot read CIFAR-10 batch {path}: {exc}") from exc
    x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return x, labels.reshape(-1, 1)


def load_cifar10(ds: Dataset):
    """``(x_train, y_train), (x_test, y_test)``: uint8 (N, 32, 32, 3) and (N, 1) labels."""
    folder = ds.require() / "cifar-10-batches-py"
    parts = [_read_cifar_batch(folder / f) for f in _CIFAR_FILES[:5]]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = _read_cifar_batch(folder / "test_batch")
    return (x_train, y_train), (x_test, y_test)


def download_cifar10(ds: Dataset, **_):
    """Fetch the CIFAR-10 python archive and unpack it atomically into place."""
    from gdl.data.download import fetch_url

    target = ds.path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        archive = fetch_url(CIFAR10_URL, Path(tmp) / "cifar-10-python.tar.gz")
        staging = Path(tmp) / "unpacked"
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    return target


def fixture_cifar10(ds: Dataset, root: Path, n_train: int = 40, n_test: int = 20) -> None:
    """A few random images per batch in the real pickled CIFAR-10 format."""
    rng = np.random.default_rng(0)
    folder = root / ds.folder / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name in _CIFAR_FILES:
        n = n_test if name == "test_batch" else n_train // 5
        labels = [int(i % 10) for i in range(n)]
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": name.encode()}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [c.encode() for c in CIFAR10_CLASSES]}, f)


CIFAR10 = register_dataset(
    Dataset(
        name="cifar10",
        description="CIFAR-10: 60,000 32x32 colour images in 10 classes (chapter 2)",
        source=f"url:{CIFAR10_URL}",
        folder="cifar10",
        loader=load_cifar10,
        checker=_check_cifar10,
        downloader=download_cifar10,
        fixture=fixture_cifar10,
        chapters=("02",),
        extra={"classes": CIFAR10_CLASSES},
    )
)
