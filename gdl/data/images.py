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


def has_images(folder: Path) -> bool:
    """Whether ``folder`` holds at least one image (stops at the first)."""
    return any(f.lower().endswith(IMAGE_FORMATS) for _, _, files in os.walk(folder) for f in files)


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


# Pillow modes TensorFlow's decoder reads as the model asks (8-bit grey or colour); other
# files (CMYK/16-bit/LA/palette PNGs, animated GIFs, a PNG named .jpg ...) are decoded
# with Pillow instead, converted to RGB or L and resized like the rest.
_TF_SAFE = {("JPEG", "RGB"), ("JPEG", "L"), ("PNG", "RGB"), ("PNG", "RGBA"), ("PNG", "L")}
_FORMAT_OF = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".gif": "GIF"}


def _scan_one(path: Path) -> tuple[str, str | None]:
    """``("ok" | "convert" | "bad", reason)`` for one image file (Pillow header + a cheap
    end-marker check; no full decode)."""
    from PIL import Image

    problem = image_file_problem(path)
    if problem and "truncated" in problem or path.stat().st_size == 0:
        return "bad", problem
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            key = (im.format, im.mode)
            frames = getattr(im, "n_frames", 1)
    except Exception as exc:  # Pillow raises many types for a broken file
        return "bad", f"{path} cannot be decoded ({type(exc).__name__}: {exc})"
    if key in _TF_SAFE and _FORMAT_OF.get(path.suffix.lower()) == key[0] and frames == 1:
        return "ok", None
    return "convert", f"{key[0]} {key[1]}"


def scan_image_folder(folder: Path) -> dict:
    """Check every image under ``folder`` before training: ``{"ok": [...], "convert":
    [...], "bad": {path: reason}}`` (paths as strings, :func:`list_images` order).

    Parallel over a thread pool, and cached in ``GDL_CACHE_DIR`` by each file's size and
    mtime, so a second run over an unchanged folder only stats the files. An empty
    folder raises :class:`DatasetError` naming it and the accepted formats.
    """
    import hashlib
    import json
    from concurrent.futures import ThreadPoolExecutor

    from gdl.config import cache_dir
    from gdl.errors import DatasetError

    folder = Path(folder)
    paths = list_images(folder)
    if not paths:
        raise DatasetError(
            f"no images in {folder}: put image files ({', '.join(IMAGE_FORMATS)}) in it "
            "or in class sub-folders, or pass another --data"
        )
    stats = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]
    key = hashlib.sha1(json.dumps(["scan-v1", stats]).encode()).hexdigest()
    cache = cache_dir() / "image_scans" / f"{key}.json"
    try:
        return json.loads(cache.read_text())
    except (OSError, ValueError):
        pass
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        results = list(pool.map(_scan_one, paths))
    scan = {"ok": [], "convert": [], "bad": {}}
    for p, (kind, reason) in zip(paths, results):
        if kind == "bad":
            scan["bad"][str(p)] = reason
        else:
            scan[kind].append(str(p))
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(scan))
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only cache only costs the next run a rescan
    return scan


def _pil_image_dataset(paths, labels, image_size, color_mode, interpolation):
    """``tf.data`` of ``(H, W, C)`` float32 images decoded by Pillow (any mode converted to
    RGB or L, resized with ``interpolation``), with labels when given."""
    import tensorflow as tf
    from PIL import Image

    mode, channels = ("L", 1) if color_mode == "grayscale" else ("RGB", 3)
    h, w = image_size
    resample = {"nearest": Image.NEAREST, "bicubic": Image.BICUBIC}.get(
        interpolation, Image.BILINEAR
    )

    def decode(path):
        with Image.open(path.decode() if isinstance(path, bytes) else str(path)) as im:
            im.seek(0)
            arr = np.asarray(im.convert(mode).resize((w, h), resample), np.float32)
        return arr.reshape(h, w, channels)

    def load(path):
        x = tf.numpy_function(decode, [path], tf.float32)
        x.set_shape((h, w, channels))
        return x

    ds = tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    if labels is not None:
        ds = tf.data.Dataset.zip((ds, tf.data.Dataset.from_tensor_slices(list(labels))))
    return ds


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
    drop_remainder: bool = False,
):
    """The book's image pipeline: ``keras.utils.image_dataset_from_directory(folder,
    labels=labels, color_mode=..., image_size=..., batch_size=..., shuffle, seed=42,
    interpolation="bilinear")`` then scaling to ``value_range`` (``None`` keeps 0..255),
    optionally cached (``cache=True`` in memory, or a file path) and prefetched.

    ``drop_remainder=True`` batches after scaling/caching and drops the last partial
    batch (models whose noise shape is tied to the batch size need it).
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
    scan = scan_image_folder(folder)
    if scan["bad"] or scan["convert"]:
        ds = _checked_folder_dataset(
            folder, scan, labels, image_size, color_mode, batch_size, drop_remainder,
            shuffle, seed, validation_split, subset, interpolation,
        )  # fmt: skip
    else:
        ds = keras.utils.image_dataset_from_directory(
            str(folder),
            labels=labels,
            label_mode=None if labels is None else "int",
            color_mode=color_mode,
            image_size=image_size,
            batch_size=None if drop_remainder else batch_size,
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
    if drop_remainder and batch_size is not None:
        ds = ds.batch(batch_size, drop_remainder=True)
    if prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds


def _checked_folder_dataset(
    folder, scan, labels, image_size, color_mode, batch_size, drop_remainder,
    shuffle, seed, validation_split, subset, interpolation,
):  # fmt: skip
    """The folder pipeline when the scan found files TensorFlow cannot read: broken files
    are skipped with a warning naming them, the others decoded by Pillow (converted and
    resized); order, shuffling and the validation split follow
    ``image_dataset_from_directory``'s (a sorted walk, a seeded shuffle of the files)."""
    import warnings

    from gdl.errors import DatasetError

    paths = list_images(folder)
    if isinstance(labels, str):  # "inferred": one class per sub-folder
        classes = sorted({p.parent.relative_to(folder).parts[0] for p in paths if p.parent != folder})
        labels = [classes.index(p.parent.relative_to(folder).parts[0]) for p in paths]
    keep = [i for i, p in enumerate(paths) if str(p) not in scan["bad"]]
    if scan["bad"]:
        first = next(iter(scan["bad"].values()))
        more = f" and {len(scan['bad']) - 1} more" if len(scan["bad"]) > 1 else ""
        if not keep:
            raise DatasetError(
                f"no readable image in {folder}: {first}{more}; replace the files or pass "
                "another --data"
            )
        warnings.warn(f"skipping unreadable images: {first}{more}", stacklevel=3)
    paths = [paths[i] for i in keep]
    labels = None if labels is None else [labels[i] for i in keep]
    order = np.arange(len(paths))
    if shuffle or validation_split:
        order = np.random.default_rng(seed).permutation(len(paths))
    if validation_split:
        n_val = int(validation_split * len(paths))
        order = order[-n_val:] if subset == "validation" else order[: len(paths) - n_val]
    paths = [paths[i] for i in order]
    labels = None if labels is None else [labels[i] for i in order]
    ds = _pil_image_dataset(paths, labels, image_size, color_mode, interpolation)
    if shuffle:
        ds = ds.shuffle(min(len(paths), 1024), seed=seed)
    if batch_size is not None and not drop_remainder:
        ds = ds.batch(batch_size)
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
