"""Image helpers shared by the image datasets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def resize_images(
    x: np.ndarray, size: int | tuple[int, int], method: str = "bilinear"
) -> np.ndarray:
    """Resize a batch ``(N, H, W, C)`` of float images (keras.ops, any backend)."""
    import keras

    if isinstance(size, int):
        size = (size, size)
    out = keras.ops.image.resize(
        keras.ops.convert_to_tensor(x, "float32"), size, interpolation=method
    )
    return np.asarray(keras.ops.convert_to_numpy(out))


def _bilinear_weights(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` matrix of bilinear interpolation with half-pixel centres, edge
    clamped: what ``tf.image.resize(..., "bilinear")`` (and so keras.ops) computes."""
    src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    w = src - lo
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), lo), 1 - w)
    np.add.at(m, (np.arange(n_out), hi), w)
    return m


def resize_bilinear(x: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """NumPy twin of :func:`resize_images` (bilinear, no antialiasing) for ``(N, H, W, C)``
    float arrays, without importing a deep-learning backend (the embedded digits use it,
    so they load in a second)."""
    if isinstance(size, int):
        size = (size, size)
    x = np.asarray(x, np.float32)
    mh = _bilinear_weights(x.shape[1], size[0]).astype(np.float32)
    mw = _bilinear_weights(x.shape[2], size[1]).astype(np.float32)
    rows = np.matmul(mh, x.transpose(0, 3, 1, 2))  # (N, C, h, W): rows first, then columns
    return np.matmul(rows, mw.T).transpose(0, 2, 3, 1)


IMAGE_FORMATS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
_MAGIC = {
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".bmp": (b"BM",),
    ".gif": (b"GIF87a", b"GIF89a"),
}


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` in the order ``image_dataset_from_directory`` indexes
    them (a sorted recursive walk), so a list of labels can be aligned with them."""
    out = []
    for root, _, files in sorted(os.walk(folder), key=lambda x: x[0]):
        out.extend(Path(root) / f for f in sorted(files) if f.lower().endswith(IMAGE_FORMATS))
    return out


def count_images(folder: Path) -> int:
    return sum(
        1 for _, _, files in os.walk(folder) for f in files if f.lower().endswith(IMAGE_FORMATS)
    )


def empty_images(folder: Path) -> list[Path]:
    """Zero-byte image files (what an interrupted unzip leaves); cheap: one stat each."""
    return [p for p in list_images(folder) if p.stat().st_size == 0]


def image_file_problem(path: Path) -> str | None:
    """Why ``path`` is not a whole image file (wrong magic bytes, empty, truncated JPEG/PNG),
    or ``None``. Reads the first and last few bytes only."""
    size = path.stat().st_size
    if size == 0:
        return f"{path} is empty"
    with open(path, "rb") as f:
        head = f.read(16)
        f.seek(max(0, size - 16))
        tail = f.read()
    ext = path.suffix.lower()
    if not head.startswith(_MAGIC.get(ext, (b"",))):
        return f"{path} is not a {ext[1:].upper()} image (corrupt file)"
    if ext in (".jpg", ".jpeg") and b"\xff\xd9" not in tail:
        return f"{path} is a truncated JPEG (no end marker)"
    if ext == ".png" and b"IEND" not in tail:
        return f"{path} is a truncated PNG (no IEND chunk)"
    return None


def corrupt_images(folder: Path, limit: int = 20) -> list[str]:
    """Problems of the first ``limit`` broken image files under ``folder``."""
    problems = []
    for p in list_images(folder):
        problem = image_file_problem(p)
        if problem:
            problems.append(problem)
            if len(problems) >= limit:
                break
    return problems


def scale_images(x, value_range: tuple[float, float]):
    """Map 0..255 pixel values to ``value_range``: ``(0, 1)`` is the book's ``x / 255``,
    ``(-1, 1)`` its ``(x - 127.5) / 127.5``."""
    lo, hi = value_range
    return lo + (hi - lo) * (x / 255.0)


def image_folder_dataset(
    folder: Path,
    image_size: int | tuple[int, int] = 64,
    batch_size: int | None = 128,
    value_range: tuple[float, float] | None = (0.0, 1.0),
    color_mode: str = "rgb",
    labels=None,
    shuffle: bool = True,
    seed: int | None = 42,
    validation_split: float | None = None,
    subset: str | None = None,
    interpolation: str = "bilinear",
    cache: bool | str = False,
    prefetch: bool = True,
):
    """The book's image pipeline: ``keras.utils.image_dataset_from_directory(folder,
    labels=labels, color_mode=..., image_size=..., batch_size=..., shuffle, seed=42,
    interpolation="bilinear")`` then scaling to ``value_range`` (``None`` keeps 0..255),
    optionally cached (``cache=True`` in memory, or a file path) and prefetched.

    ``labels`` is ``None`` (images only) or a list of integer labels aligned with
    :func:`list_images` order; the dataset then yields ``(images, labels)``.
    A zero-byte image (interrupted unzip) raises :class:`DatasetError` naming it; run
    ``gdl data check NAME`` to scan every file's header for other corruption.
    """
    import keras
    import tensorflow as tf

    from gdl.data.registry import DatasetError

    folder = Path(folder)
    empty = empty_images(folder)
    if empty:
        more = f" (and {len(empty) - 1} more)" if len(empty) > 1 else ""
        raise DatasetError(
            f"corrupt image file {empty[0]} is empty{more}; delete it or download the "
            "dataset again (gdl data download NAME --force)"
        )
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    ds = keras.utils.image_dataset_from_directory(
        str(folder),
        labels=labels,
        label_mode=None if labels is None else "int",
        color_mode=color_mode,
        image_size=image_size,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        validation_split=validation_split,
        subset=subset,
        interpolation=interpolation,
        verbose=False,
    )
    if value_range is not None:
        lo, hi = value_range
        if labels is None:
            ds = ds.map(lambda x: scale_images(x, (lo, hi)), num_parallel_calls=tf.data.AUTOTUNE)
        else:
            ds = ds.map(
                lambda x, y: (scale_images(x, (lo, hi)), y), num_parallel_calls=tf.data.AUTOTUNE
            )
    if cache:
        ds = ds.cache() if cache is True else ds.cache(str(cache))
    if prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds


def write_fixture_images(
    folder: Path, names: list[str], size: tuple[int, int], mode: str = "RGB", seed: int = 0
) -> None:
    """Write small synthetic images (a colour gradient with a random disc) named ``names``
    under ``folder``; the format follows each name's extension (JPEG/PNG via Pillow)."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    for name in names:
        c = rng.integers(0, 256, size=(2, 3))
        t = (xx + yy)[..., None] / (w + h)
        arr = (c[0] * (1 - t) + c[1] * t).astype(np.uint8)
        img = Image.fromarray(arr, "RGB")
        r = int(rng.integers(min(w, h) // 8, min(w, h) // 3))
        cx, cy = int(rng.integers(r, w - r)), int(rng.integers(r, h - r))
        ImageDraw.Draw(img).ellipse(
            (cx - r, cy - r, cx + r, cy + r), fill=tuple(int(v) for v in rng.integers(0, 256, 3))
        )
        img.convert(mode).save(folder / name)
