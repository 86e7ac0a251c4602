"""LEGO bricks (chapter 4 DCGAN) and Oxford-102 flowers (chapter 8 diffusion), from Kaggle.

Layouts under ``GDL_DATA_DIR`` (the Kaggle zips unpacked, as the book's scripts do)::

    lego-brick-images/dataset/*.png                          ~40,000 renders of 50 bricks
    pytorch-challange-flower-dataset/dataset/{train,valid}/<class>/*.jpg   ~7-8k photos
"""

from __future__ import annotations

from pathlib import Path

from gdl.data.images import corrupt_images, count_images, image_folder_dataset, write_fixture_images
from gdl.data.registry import Dataset, register_dataset


def _images_problems(ds: Dataset) -> list[str]:
    folder = ds.path() / ds.extra["images"]
    if not folder.is_dir() or count_images(folder) == 0:
        return [f"no images in {folder}"]
    return []


def _images_verify(ds: Dataset) -> list[str]:
    return corrupt_images(ds.path() / ds.extra["images"])


def _download(ds: Dataset, **kw):
    from gdl.data.kaggle import download_kaggle

    return download_kaggle(ds, **kw)


def load_bricks(
    ds: Dataset,
    image_size: int = 64,
    batch_size: int | None = 128,
    value_range: tuple[float, float] | None = (-1.0, 1.0),
    shuffle: bool = True,
    seed: int = 42,
    cache: bool | str = False,
):
    """The DCGAN notebook's bricks: grayscale ``(B, 64, 64, 1)`` float32 in [-1, 1]
    (the book's ``(x - 127.5) / 127.5``), batched by 128, shuffled with seed 42."""
    return image_folder_dataset(
        ds.require() / ds.extra["images"],
        image_size=image_size,
        batch_size=batch_size,
        value_range=value_range,
        color_mode="grayscale",
        shuffle=shuffle,
        seed=seed,
        cache=cache,
    )


def load_flowers(
    ds: Dataset,
    image_size: int = 64,
    batch_size: int | None = 64,
    value_range: tuple[float, float] | None = (0.0, 1.0),
    repeat: int = 1,
    drop_remainder: bool = False,
    shuffle: bool = True,
    seed: int = 42,
    cache: bool | str = False,
):
    """The diffusion notebook's flowers: RGB float32 ``(B, 64, 64, 3)`` in [0, 1].

    As the book: every image under ``dataset/`` (train and valid class folders,
    labels ignored) loaded unbatched, scaled, repeated ``repeat`` times (the book's
    ``DATASET_REPETITIONS=5``) and batched by 64 (the book drops the remainder:
    ``drop_remainder=True``). ``batch_size=None`` returns single images.
    """
    import tensorflow as tf

    data = image_folder_dataset(
        ds.require() / ds.extra["images"],
        image_size=image_size,
        batch_size=None,
        value_range=value_range,
        color_mode="rgb",
        shuffle=shuffle,
        seed=seed,
        cache=cache,
        prefetch=False,
    )
    if repeat != 1:
        data = data.repeat(repeat)
    if batch_size is not None:
        data = data.batch(batch_size, drop_remainder=drop_remainder)
    return data.prefetch(tf.data.AUTOTUNE)


def fixture_bricks(ds: Dataset, root: Path, n: int = 32) -> None:
    """``n`` grey PNG renders named like the real ones (``<part> <brick> <nnn>R.png``)."""
    names = [f"{3000 + i % 4} brick {i // 4:03d}R.png" for i in range(n)]
    write_fixture_images(root / ds.folder / ds.extra["images"], names, (40, 40), "L", seed=20)


def fixture_flowers(ds: Dataset, root: Path, per_class: int = 6) -> None:
    """JPEGs in ``dataset/{train,valid}/<class>/`` for classes 1 and 2 (+ cat_to_name.json)."""
    base = root / ds.folder
    for split, n in (("train", per_class), ("valid", max(1, per_class // 3))):
        for cls in ("1", "2"):
            names = [f"image_{int(cls) * 1000 + i:05d}.jpg" for i in range(n)]
            write_fixture_images(
                base / "dataset" / split / cls, names, (50, 40), seed=30 + int(cls)
            )
    (base / "cat_to_name.json").write_text(
        '{"1": "pink primrose", "2": "hard-leaved pocket orchid"}'
    )


BRICKS = register_dataset(
    Dataset(
        name="bricks",
        description="LEGO bricks: ~40,000 renders of 50 bricks, grey (Kaggle; chapter 4 DCGAN)",
        source="kaggle:joosthazelzet/lego-brick-images",
        folder="lego-brick-images",
        loader=load_bricks,
        checker=_images_problems,
        verifier=_images_verify,
        downloader=_download,
        fixture=fixture_bricks,
        chapters=("04",),
        extra={
            "images": "dataset",
            "expected": 40_000,
            "unit": "images",
            "count": lambda ds: count_images(ds.path() / "dataset"),
        },
    )
)

FLOWERS = register_dataset(
    Dataset(
        name="flowers",
        description="Oxford-102 flowers, ~7-8k photos (Kaggle; chapter 8 diffusion)",
        source="kaggle:nunenuh/pytorch-challange-flower-dataset",
        folder="pytorch-challange-flower-dataset",
        loader=load_flowers,
        checker=_images_problems,
        verifier=_images_verify,
        downloader=_download,
        fixture=fixture_flowers,
        chapters=("08",),
        extra={"images": "dataset"},
    )
)
