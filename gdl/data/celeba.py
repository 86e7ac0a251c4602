"""CelebA faces (Kaggle ``jessicali9530/celeba-dataset``), chapters 3 and 4.

On-disk layout (the Kaggle zip unpacked into ``GDL_DATA_DIR/celeba-dataset/``)::

    celeba-dataset/
      img_align_celeba/img_align_celeba/000001.jpg ... 202599.jpg   (178x218 RGB)
      list_attr_celeba.csv     image_id + 40 attributes in {-1, 1}
      (list_bbox_celeba.csv, list_eval_partition.csv, list_landmarks_align_celeba.csv)

Book notebooks: ``vae_faces`` (32x32, [0, 1], batch 128; attribute vectors),
``wgan_gp`` (64x64, [-1, 1], batch 512) and ``cgan`` (64x64, [-1, 1], batch 128,
``Blond_Hair`` labels). The book passes the *parent* folder with a label list because
Keras 2 indexed sub-folders; gdl reads the image folder itself and aligns each label
with its file by name (so a missing image cannot shift the labels).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from gdl.data.registry import Dataset, DatasetError, get_dataset, register_dataset

IMAGES = Path("img_align_celeba") / "img_align_celeba"
ATTR_CSV = "list_attr_celeba.csv"
N_IMAGES = 202_599
ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair",
    "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair",
    "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings",
    "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)  # fmt: skip


def _count(folder: Path) -> int:
    from gdl.data.images import count_images

    return count_images(folder)


def _problems(ds: Dataset) -> list[str]:
    from gdl.data.images import count_images

    root = ds.path()
    problems = []
    if not (root / IMAGES).is_dir() or count_images(root / IMAGES) == 0:
        problems.append(f"no images in {root / IMAGES}")
    csv_path = root / ATTR_CSV
    if not csv_path.is_file() or csv_path.stat().st_size == 0:
        problems.append(f"missing or empty {csv_path}")
    return problems


def _verify(ds: Dataset) -> list[str]:
    from gdl.data.images import corrupt_images

    problems = corrupt_images(ds.path() / IMAGES)
    try:
        attributes(ds)
    except DatasetError as exc:
        problems.append(str(exc))
    return problems


def attributes(ds: Dataset | None = None) -> tuple[list[str], list[str], np.ndarray]:
    """CelebA's attribute table: ``(image_ids, attribute_names, values)``, ``values`` an
    int8 array ``(N, 40)`` of -1/1 (the book reads it with ``pd.read_csv``)."""
    ds = ds or get_dataset("faces")
    path = ds.require() / ATTR_CSV
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        if header[0] != "image_id" or not body:
            raise ValueError("expected a header 'image_id,<40 attributes>' and rows")
        ids = [r[0] for r in body]
        values = np.asarray([r[1:] for r in body], dtype=np.int8)
    except (ValueError, IndexError) as exc:
        raise DatasetError(f"{path} is corrupt or empty ({exc})") from exc
    return ids, header[1:], values


def attribute_labels(name: str, files: list[Path], ds: Dataset | None = None) -> list[int]:
    """0/1 labels of attribute ``name`` (1 where it is +1, as the book's
    ``[1 if x == 1 else 0 ...]``) for each image file, matched by file name."""
    ids, names, values = attributes(ds)
    if name not in names:
        raise ValueError(f"unknown CelebA attribute {name!r}; choose one of {', '.join(names)}")
    column = values[:, names.index(name)]
    index = dict(zip(ids, column))
    labels = []
    for f in files:
        if f.name not in index:
            raise DatasetError(f"image {f} has no row in {ATTR_CSV}; the dataset is mixed up")
        labels.append(int(index[f.name] == 1))
    return labels


def load_faces(
    ds: Dataset,
    image_size: int = 64,
    batch_size: int | None = 128,
    value_range: tuple[float, float] | None = (0.0, 1.0),
    labels: str | None = None,
    shuffle: bool = True,
    seed: int = 42,
    validation_split: float | None = None,
    subset: str | None = None,
    cache: bool | str = False,
):
    """CelebA as a batched, prefetched ``tf.data.Dataset`` of float32 images
    ``(B, image_size, image_size, 3)`` in ``value_range`` (``(0, 1)`` for the VAE,
    ``(-1, 1)`` for the GANs; ``None`` keeps 0..255).

    ``labels="Blond_Hair"`` (any attribute name) yields ``(images, int_labels)`` with 1
    where the attribute is 1, else 0, as in the CGAN notebook; ``validation_split=0.2,
    subset="validation"`` is the VAE notebook's labelled split.
    """
    from gdl.data.images import image_folder_dataset, list_images

    folder = ds.require() / IMAGES
    label_list = None
    if labels is not None:
        label_list = attribute_labels(labels, list_images(folder), ds)
    return image_folder_dataset(
        folder,
        image_size=image_size,
        batch_size=batch_size,
        value_range=value_range,
        color_mode="rgb",
        labels=label_list,
        shuffle=shuffle,
        seed=seed,
        validation_split=validation_split,
        subset=subset,
        cache=cache,
    )


def fixture_faces(ds: Dataset, root: Path, n: int = 32) -> None:
    """``n`` small JPEGs in the Kaggle folder layout and a matching attribute CSV
    (Blond_Hair is 1 for every third image)."""
    from gdl.data.images import write_fixture_images

    base = root / ds.folder
    names = [f"{i:06d}.jpg" for i in range(1, n + 1)]
    write_fixture_images(base / IMAGES, names, (45, 55), seed=10)
    rng = np.random.default_rng(11)
    values = np.where(rng.random((n, len(ATTRIBUTES))) < 0.5, 1, -1)
    values[:, ATTRIBUTES.index("Blond_Hair")] = [1 if i % 3 == 0 else -1 for i in range(n)]
    with open(base / ATTR_CSV, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("image_id",) + ATTRIBUTES)
        for name, row in zip(names, values):
            w.writerow([name, *row.tolist()])


def _download(ds: Dataset, **kw):
    from gdl.data.kaggle import download_kaggle

    return download_kaggle(ds, **kw)


FACES = register_dataset(
    Dataset(
        name="faces",
        description="CelebA: 202,599 aligned celebrity faces + 40 attributes (Kaggle; ch. 3, 4)",
        source="kaggle:jessicali9530/celeba-dataset",
        folder="celeba-dataset",
        loader=load_faces,
        checker=_problems,
        verifier=_verify,
        downloader=_download,
        fixture=fixture_faces,
        chapters=("03", "04"),
        extra={
            "images": str(IMAGES),
            "expected": N_IMAGES,
            "unit": "images",
            "count": lambda ds: _count(ds.path() / IMAGES),
        },
    )
)
