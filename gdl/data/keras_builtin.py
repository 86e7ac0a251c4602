"""The Keras built-in datasets the book loads with ``keras.datasets`` (CIFAR-10 here).

They are stored under ``GDL_DATA_DIR`` in the archives' own format, so loading needs
no network and the tests can write fixtures in exactly that format.
The loaders return what ``keras.datasets.<name>.load_data()`` returns:
``(x_train, y_train), (x_test, y_test)`` as uint8 images and integer labels.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

from gdl.data.download import verify_by_loading
from gdl.data.registry import Dataset, DatasetError, register_dataset

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"  # keras' hash
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


def download_cifar10(ds: Dataset, **kw):
    """Fetch the CIFAR-10 python archive (SHA-256-checked) and unpack it into place."""
    from gdl.data.download import UrlFile, install_files

    files = [UrlFile(CIFAR10_URL, "cifar-10-python.tar.gz", sha256=CIFAR10_SHA256, unpack=True)]
    return install_files(ds, files, **kw)


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
        verifier=verify_by_loading,
        downloader=download_cifar10,
        fixture=fixture_cifar10,
        chapters=("02",),
        extra={"classes": CIFAR10_CLASSES},
    )
)


# --------------------------------------------------------------------------------------
# Fashion-MNIST and MNIST, in the archives keras.datasets downloads.

KERAS_DATASETS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# Fashion-MNIST's four idx archives and their MD5s (zalandoresearch/fashion-mnist README).
FASHION_FILES = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
# keras.datasets.mnist's file hash (SHA-256 of mnist.npz).
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
_IDX_MAGIC = {1: 2049, 3: 2051}  # idx1 (labels) and idx3 (images) magic numbers


def read_idx_gz(path: Path) -> np.ndarray:
    """Read a gzipped idx file (the MNIST family's format) with its header checked.

    A truncated or corrupt file raises :class:`DatasetError` naming it.
    """
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path} is corrupt or truncated ({exc}); download it again") from exc
    if len(raw) < 8:
        raise DatasetError(f"{path} is empty or truncated; download it again")
    magic, n = struct.unpack(">II", raw[:8])
    ndim = magic & 0xFF
    if magic not in _IDX_MAGIC.values() or ndim not in _IDX_MAGIC:
        raise DatasetError(f"{path} is not an idx file (magic {magic}); download it again")
    dims = (n,) + struct.unpack(f">{ndim - 1}I", raw[8 : 4 + 4 * ndim])
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(raw) - offset != expected:
        raise DatasetError(
            f"{path} holds {len(raw) - offset} bytes of data, its header says {expected}: "
            "the file is truncated; download it again"
        )
    return np.frombuffer(raw, np.uint8, offset=offset).reshape(dims)


def _idx_problems(ds: Dataset) -> list[str]:
    folder = ds.path()
    return [
        f"missing {folder / f}"
        for f in FASHION_FILES
        if not (folder / f).is_file() or (folder / f).stat().st_size == 0
    ]


def load_fashion_mnist(ds: Dataset):
    """What ``keras.datasets.fashion_mnist.load_data()`` returns, read from GDL_DATA_DIR.

    ``(x_train, y_train), (x_test, y_test)``: uint8 ``(N, 28, 28)`` and uint8 ``(N,)``
    (60,000 / 10,000 in the real set). Chapter 3 (autoencoder, VAE) and chapter 5
    (PixelCNN) pad/resize these themselves.
    """
    folder = ds.require()
    parts = [read_idx_gz(folder / f) for f in FASHION_FILES]
    x_train, y_train, x_test, y_test = parts
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if len(x) != len(y):
            raise DatasetError(
                f"{folder}: {split} images ({len(x)}) and labels ({len(y)}) differ in count; "
                f"download again with: gdl data download {ds.name} --force"
            )
    return (x_train, y_train), (x_test, y_test)


def _mnist_problems(ds: Dataset) -> list[str]:
    f = ds.path() / "mnist.npz"
    return [] if f.is_file() and f.stat().st_size > 0 else [f"missing {f}"]


def load_mnist(ds: Dataset):
    """What ``keras.datasets.mnist.load_data()`` returns: uint8 ``(N, 28, 28)``, uint8 ``(N,)``."""
    path = ds.require() / "mnist.npz"
    try:
        with np.load(path, allow_pickle=False) as f:
            return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    except Exception as exc:  # zipfile.BadZipFile, KeyError, ValueError ...
        raise DatasetError(
            f"cannot read {path} ({exc}); download again with: gdl data download {ds.name} --force"
        ) from exc


def _fixture_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 28x28 uint8 images made of scikit-learn digits (8x8 -> 24x24, padded by 2)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    idx = np.random.default_rng(seed).permutation(len(bunch.images))[:n]
    img = np.repeat(np.repeat(bunch.images[idx], 3, axis=1), 3, axis=2) * (255.0 / 16.0)
    img = np.pad(img, ((0, 0), (2, 2), (2, 2)))
    return img.round().astype(np.uint8), bunch.target[idx].astype(np.uint8)


def _write_idx_gz(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">I", _IDX_MAGIC[array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


def fixture_fashion_mnist(ds: Dataset, root: Path, n_train: int = 256, n_test: int = 64) -> None:
    """Digit-shaped images in the four real gzipped idx files."""
    folder = root / ds.folder
    folder.mkdir(parents=True, exist_ok=True)
    (xtr, ytr), (xte, yte) = _fixture_digits(n_train, 1), _fixture_digits(n_test, 2)
    names = list(FASHION_FILES)
    for name, arr in zip(names, (xtr, ytr, xte, yte)):
        _write_idx_gz(folder / name, arr)


def fixture_mnist(ds: Dataset, root: Path, n_train: int = 256, n_test: int = 64) -> None:
    """Digit images in a real ``mnist.npz`` (keys x_train, y_train, x_test, y_test)."""
    folder = root / ds.folder
    folder.mkdir(parents=True, exist_ok=True)
    (xtr, ytr), (xte, yte) = _fixture_digits(n_train, 3), _fixture_digits(n_test, 4)
    np.savez_compressed(folder / "mnist.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)


def download_fashion_mnist(ds: Dataset, **kw):
    """The four idx archives from keras' bucket, each MD5-checked, installed together."""
    from gdl.data.download import UrlFile, install_files

    files = [UrlFile(KERAS_DATASETS_URL + f, f, md5=m) for f, m in FASHION_FILES.items()]
    return install_files(ds, files, **kw)


def download_mnist(ds: Dataset, **kw):
    """``mnist.npz`` from keras' bucket, SHA-256-checked."""
    from gdl.data.download import UrlFile, install_files

    files = [UrlFile(KERAS_DATASETS_URL + "mnist.npz", "mnist.npz", sha256=MNIST_SHA256)]
    return install_files(ds, files, **kw)


FASHION_MNIST = register_dataset(
    Dataset(
        name="fashion_mnist",
        description="Fashion-MNIST: 70,000 28x28 grey clothing images (chapters 3, 5)",
        source=f"url:{KERAS_DATASETS_URL}",
        folder="fashion-mnist",
        loader=load_fashion_mnist,
        checker=_idx_problems,
        verifier=verify_by_loading,
        downloader=download_fashion_mnist,
        fixture=fixture_fashion_mnist,
        chapters=("03", "05"),
        extra={"classes": FASHION_CLASSES},
    )
)

MNIST = register_dataset(
    Dataset(
        name="mnist",
        description="MNIST: 70,000 28x28 grey handwritten digits (chapter 7)",
        source=f"url:{KERAS_DATASETS_URL}mnist.npz",
        folder="mnist",
        loader=load_mnist,
        checker=_mnist_problems,
        verifier=verify_by_loading,
        downloader=download_mnist,
        fixture=fixture_mnist,
        chapters=("07",),
    )
)
