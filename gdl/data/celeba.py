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

from gdl.data.images import (
    corrupt_images,
    count_images,
    has_images,
    image_folder_dataset,
    list_images,
    write_fixture_images,
)
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


def _problems(ds: Dataset) -> list[str]:
    root = ds.path()
    problems = []
    if not has_images(root / IMAGES):
        problems.append(f"no images in {root / IMAGES}")
    csv_path = root / ATTR_CSV
    if not csv_path.is_file() or csv_path.stat().st_size == 0:
        problems.append(f"missing or empty {csv_path}")
    return problems


def _verify(ds: Dataset) -> list[str]:
    problems = corrupt_images(ds.path() / IMAGES)
    try:
        attributes(ds)
    except DatasetError as exc:
        problems.append(str(exc))
    return problems


def _parse_signs(body: list[bytes], n_attr: int) -> np.ndarray | None:
    """The -1/1 table of CSV rows ``id,v1,...,vk`` vectorised over the bytes (the file
    has 8 million values; csv+int() takes ~10 s). ``None`` when the text holds anything
    but the tokens ``1``/``-1``, so the careful parser can say what is wrong."""
    attr = b"\n".join(line[line.index(b",") + 1 :] for line in body)
    buf = np.frombuffer(attr, np.uint8)
    if not np.isin(buf, np.frombuffer(b",-1\n", np.uint8)).all():
        return None
    ones = np.flatnonzero(buf == ord("1"))  # every token ends with its "1"
    ends = np.r_[np.flatnonzero(buf == ord("\n")), len(buf)]
    per_row = np.diff(np.searchsorted(ones, ends), prepend=0)
    if len(per_row) != len(body) or (per_row != n_attr).any():
        return None
    if np.count_nonzero(buf == ord(",")) != len(body) * (n_attr - 1):
        return None
    return np.where(buf[ones - 1] == ord("-"), -1, 1).astype(np.int8).reshape(len(body), n_attr)


def attributes(ds: Dataset | None = None) -> tuple[list[str], list[str], np.ndarray]:
    """CelebA's attribute table: ``(image_ids, attribute_names, values)``, ``values`` an
    int8 array ``(N, 40)`` of -1/1 (the book reads it with ``pd.read_csv``)."""
    ds = ds or get_dataset("faces")
    path = ds.require() / ATTR_CSV
    lines = [line.rstrip(b"\r") for line in path.read_bytes().splitlines()]
    try:
        header = lines[0].decode().split(",") if lines else []
        body = [line for line in lines[1:] if line]
        if not header or header[0] != "image_id" or not body:
            raise ValueError("expected a header 'image_id,<40 attributes>' and rows")
        ids = [line[: line.index(b",")].decode() for line in body]
        values = _parse_signs(body, len(header) - 1)
        if values is None:  # careful path: names the offending row
            rows = [line.decode().split(",") for line in body]
            for i, r in enumerate(rows):
                if len(r) != len(header) or any(v not in ("1", "-1") for v in r[1:]):
                    raise ValueError(f"row {i + 2} is {body[i][:60]!r}")
            values = np.asarray([r[1:] for r in rows], dtype=np.int8)
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
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
    drop_remainder: bool = False,
):
    """CelebA as a batched, prefetched ``tf.data.Dataset`` of float32 images
    ``(B, image_size, image_size, 3)`` in ``value_range`` (``(0, 1)`` for the VAE,
    ``(-1, 1)`` for the GANs; ``None`` keeps 0..255).

    ``labels="Blond_Hair"`` (any attribute name) yields ``(images, int_labels)`` with 1
    where the attribute is 1, else 0, as in the CGAN notebook; ``validation_split=0.2,
    subset="validation"`` is the VAE notebook's labelled split. ``drop_remainder=True``
    keeps every batch full.
    """
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
        drop_remainder=drop_remainder,
    )


def fixture_faces(ds: Dataset, root: Path, n: int = 32) -> None:
    """``n`` small JPEGs in the Kaggle folder layout and a matching attribute CSV
    (Blond_Hair is 1 for every third image)."""
    base = root / ds.folder
    names = [f"{i:06d}.jpg" for i in range(1, n + 1)]
    write_fixture_images(base / IMAGES, names, (45, 55), seed=10)
    rng = np.random.default_rng(11)
    values = np.where(rng.random((n, len(ATTRIBUTES))) < 0.5, 1, -1)
    values[:, ATTRIBUTES.index("Blond_Hair")] = [1 if i % 3 == 0 else -1 for i in range(n)]
    with open(base / ATTR_CSV, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
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
            "count": lambda ds: count_images(ds.path() / IMAGES),
        },
    )
)
