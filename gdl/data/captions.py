"""Captioned images for chapter 13, built offline from scikit-learn's digits.

The book's chapter 13 (CLIP, DALL·E 2, Imagen, Stable Diffusion, Flamingo) trains on
hundreds of millions of web image–caption pairs and has no code. gdl builds every idea at
small scale on pairs it *generates*: each digit gets a template caption naming its class
and attributes **measured from the image** (so the caption is true of the pixels):

* thickness: the image's ink (sum of pixel values) against the other images of the same
  class: ``thick`` above the class's 2/3 quantile, ``thin`` below its 1/3 quantile;
* slant: the intensity-weighted shear ``cov(x, y) / var(y)`` of the ink; ``slanted`` when
  its magnitude is above the 2/3 quantile of all images;
* in two-object scenes (:func:`load_captioned_scenes`): size (``small``/``large``) and
  position (``on the left``/``on the right``) of each digit.

Examples: ``"a thick slanted seven"``, ``"a photo of a thin two"``, ``"a small seven on
the left and a large two on the right"``.

``load_captioned_digits(split="train"|"test"|"all")`` returns a :class:`CaptionedImages`;
the held-out ``"test"`` split is a stratified 20 % (seeded), the same for every model.
A reader's own pairs load with :func:`load_caption_folder`: a folder with image files and
a ``captions.csv`` (columns ``file,caption``; an optional ``label`` column).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gdl.data.registry import Dataset, DatasetError, register_dataset

__all__ = [
    "DIGIT_NAMES",
    "CaptionedImages",
    "digit_attributes",
    "load_caption_folder",
    "load_captioned_digits",
    "load_captioned_scenes",
]

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEMPLATES = ("a {adj}{name}", "a photo of a {adj}{name}", "the {adj}digit {name}",
             "a handwritten {adj}{name}")  # fmt: skip


@dataclass
class CaptionedImages:
    """Images ``(N, H, W, C)`` float32 in [0, 1], one caption each, and what they say.

    ``labels`` (N,) int class ids (-1 when unknown); ``attributes``: name -> (N,) array of
    the measured attribute words (``""`` when the attribute is not mentioned).
    """

    images: np.ndarray
    captions: list[str]
    labels: np.ndarray
    attributes: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.captions)

    def subset(self, index) -> CaptionedImages:
        index = np.asarray(index)
        return CaptionedImages(
            self.images[index], [self.captions[i] for i in index], self.labels[index],
            {k: np.asarray(v)[index] for k, v in self.attributes.items()},
        )  # fmt: skip


def digit_attributes(images: np.ndarray, labels: np.ndarray) -> dict:
    """Measure ``thickness`` (``thick``/``thin``/``""``) and ``slant`` (``slanted``/``""``),
    plus the raw ``ink`` and ``shear`` values, of ``(N, H, W, 1)`` digits (see module)."""
    x = images[..., 0].astype("float64")
    n, h, w = x.shape
    ink = x.sum(axis=(1, 2))
    ys, xs = np.mgrid[0:h, 0:w].astype("float64")
    mass = np.maximum(ink, 1e-9)
    my = (x * ys).sum(axis=(1, 2)) / mass
    mx = (x * xs).sum(axis=(1, 2)) / mass
    dy, dx = ys[None] - my[:, None, None], xs[None] - mx[:, None, None]
    var_y = (x * dy**2).sum(axis=(1, 2)) / mass
    # x grows to the right, y downward: a top leaning right has x falling as y grows
    shear = -(x * dx * dy).sum(axis=(1, 2)) / mass / np.maximum(var_y, 1e-9)
    thickness = np.full(n, "", dtype=object)
    for k in np.unique(labels):
        sel = labels == k
        lo, hi = np.quantile(ink[sel], [1 / 3, 2 / 3])
        thickness[sel & (ink > hi)] = "thick"
        thickness[sel & (ink < lo)] = "thin"
    slant = np.where(np.abs(shear) > np.quantile(np.abs(shear), 2 / 3), "slanted", "")
    return {"thickness": thickness.astype(str), "slant": slant.astype(str), "ink": ink,
            "shear": shear}  # fmt: skip


def _caption(name: str, adjectives, template: str) -> str:
    adj = " ".join(a for a in adjectives if a)
    return template.format(adj=adj + " " if adj else "", name=name)


def _split_index(labels: np.ndarray, split: str, test_fraction: float, seed: int):
    if split == "all":
        return np.arange(len(labels))
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    rng = np.random.default_rng(seed)
    test = []
    for k in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == k))
        test.extend(idx[: int(round(len(idx) * test_fraction))])
    is_test = np.zeros(len(labels), bool)
    is_test[test] = True
    return np.flatnonzero(is_test if split == "test" else ~is_test)


def load_captioned_digits(ds: Dataset | None = None, size: int = 16, split: str = "train",
                          test_fraction: float = 0.2, seed: int = 0) -> CaptionedImages:  # fmt: skip
    """scikit-learn's 1,797 digits at ``size`` x ``size`` with measured-attribute captions.

    ``split``: ``"train"`` (80 %), ``"test"`` (the stratified held-out 20 %) or ``"all"``;
    the split and the caption templates are fixed by ``seed``.
    """
    from gdl.data.embedded import load_digits

    images, labels = load_digits(size=size, with_labels=True)
    attrs = digit_attributes(images, labels)
    rng = np.random.default_rng(seed + 1)
    templates = rng.integers(0, len(TEMPLATES), len(labels))
    captions = [
        _caption(DIGIT_NAMES[k], (t, s), TEMPLATES[j])
        for k, t, s, j in zip(labels, attrs["thickness"], attrs["slant"], templates)
    ]
    data = CaptionedImages(images, captions, labels.astype("int64"),
                           {"thickness": attrs["thickness"], "slant": attrs["slant"]})  # fmt: skip
    return data.subset(_split_index(labels, split, test_fraction, seed))


def load_captioned_scenes(ds: Dataset | None = None, num: int = 2000, size: int = 32,
                          split: str = "train", seed: int = 0) -> CaptionedImages:  # fmt: skip
    """Two digits side by side on a ``size`` x ``size`` canvas, each ``small`` (size/4 px)
    or ``large`` (size/2 - 2 px) at a random height: ``"a small seven on the left and a
    large two on the right"``. Digits of the train/test scenes come from the matching
    split of :func:`load_captioned_digits`. ``labels`` holds the left digit's class;
    ``attributes`` every word (``left``, ``right``, ``left_size``, ``right_size``)."""
    from gdl.data.images import resize_bilinear

    digits = load_captioned_digits(size=16, split=split if split != "all" else "all", seed=seed)
    rng = np.random.default_rng(seed + (0 if split == "train" else 17))
    canvas = np.zeros((num, size, size, 1), "float32")
    half = size // 2
    sizes = {"small": size // 4, "large": half - 2}
    resized = {k: resize_bilinear(digits.images, s) for k, s in sizes.items()}
    words = {key: [] for key in ("left", "right", "left_size", "right_size")}
    captions = []
    for i in range(num):
        parts = []
        for side, x0 in (("left", 0), ("right", half)):
            j = int(rng.integers(len(digits)))
            kind = ("small", "large")[int(rng.integers(2))]
            s = sizes[kind]
            top = int(rng.integers(0, size - s + 1))
            left = x0 + int(rng.integers(0, half - s + 1))
            canvas[i, top:top + s, left:left + s] = np.maximum(
                canvas[i, top:top + s, left:left + s], resized[kind][j]
            )
            name = DIGIT_NAMES[digits.labels[j]]
            words[side].append(name)
            words[f"{side}_size"].append(kind)
            parts.append(f"a {kind} {name} on the {side}")
        captions.append(" and ".join(parts))
    labels = np.array([DIGIT_NAMES.index(n) for n in words["left"]])
    return CaptionedImages(np.clip(canvas, 0, 1), captions, labels,
                           {k: np.array(v) for k, v in words.items()})  # fmt: skip


def load_caption_folder(folder, size: int = 16, channels: int = 1) -> CaptionedImages:
    """A reader's own pairs: ``folder/captions.csv`` with a header ``file,caption`` (and an
    optional integer ``label`` column) naming image files in ``folder``. Images are
    converted to ``channels`` (1 grey, 3 RGB), resized to ``size`` x ``size``, in [0, 1]."""
    from PIL import Image

    folder = Path(folder)
    table = folder / "captions.csv"
    if not table.exists():
        raise DatasetError(f"{table} not found: a caption folder needs a captions.csv with "
                           f"the columns file,caption (one row per image)")  # fmt: skip
    with open(table, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"file", "caption"} <= set(rows[0]):
        raise DatasetError(f"{table} needs a header row with the columns file,caption")
    images, captions, labels = [], [], []
    for row in rows:
        path = folder / row["file"]
        if not path.exists():
            raise DatasetError(f"{table} names {row['file']}, which is not in {folder}")
        img = Image.open(path).convert("L" if channels == 1 else "RGB").resize((size, size))
        arr = np.asarray(img, dtype="float32") / 255.0
        images.append(arr[..., None] if channels == 1 else arr)
        captions.append(row["caption"].strip())
        labels.append(int(row["label"]) if row.get("label", "").strip() else -1)
    return CaptionedImages(np.stack(images), captions, np.array(labels, "int64"))


CAPTIONED_DIGITS = register_dataset(
    Dataset(
        name="captioned_digits",
        description="scikit-learn's digits with captions of class, thickness, slant "
        "(generated; chapter 13)",
        source="embedded:sklearn.datasets.load_digits",
        folder="",
        loader=load_captioned_digits,
        embedded=True,
        chapters=("13",),
    )
)

CAPTIONED_SCENES = register_dataset(
    Dataset(
        name="captioned_scenes",
        description="two digits per image, captioned with size and position (generated; "
        "chapter 13)",
        source="embedded:sklearn.datasets.load_digits",
        folder="",
        loader=load_captioned_scenes,
        embedded=True,
        chapters=("13",),
    )
)
