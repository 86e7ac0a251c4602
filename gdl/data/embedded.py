"""Embedded datasets that need no download: scikit-learn's digits and two moons.

They are the offline defaults wherever a book dataset is missing and what CI trains on.
"""

from __future__ import annotations

import numpy as np

from gdl.data.registry import Dataset, register_dataset


def load_digits(
    ds: Dataset | None = None,
    size: int = 32,
    channels: int = 1,
    value_range: tuple[float, float] = (0.0, 1.0),
    pad: int = 0,
    with_labels: bool = False,
):
    """scikit-learn's 1,797 handwritten digits as float32 images ``(N, size, size, channels)``.

    The 8x8 originals (levels 0..16) are resized bilinearly to ``size - 2*pad`` and,
    when ``pad`` > 0, padded with the low end of ``value_range`` (the book pads
    MNIST this way for the EBM). Values are mapped to ``value_range``:
    ``(0, 1)`` for the VAE/PixelCNN, ``(-1, 1)`` for GANs, EBM and diffusion.
    With ``with_labels`` the labels are returned too: ``(x, y)``.
    """
    from sklearn.datasets import load_digits as _sk_digits

    from gdl.data.images import resize_bilinear

    bunch = _sk_digits()
    x = bunch.images.astype("float32")[..., None] / 16.0  # (N, 8, 8, 1) in [0, 1]
    inner = size - 2 * pad
    if inner != 8:
        x = resize_bilinear(x, inner)  # = keras.ops.image.resize(..., "bilinear"), no TF
    x = np.clip(x, 0.0, 1.0)
    if pad:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    if channels != 1:
        x = np.repeat(x, channels, axis=-1)
    lo, hi = value_range
    x = (lo + (hi - lo) * x).astype("float32")
    if with_labels:
        return x, bunch.target.astype("int64")
    return x


def load_moons(ds: Dataset | None = None, n: int = 30000, noise: float = 0.05, seed: int = 0):
    """Two moons as the book's RealNVP uses them: ``make_moons(30000, noise=0.05)``, float32."""
    from sklearn.datasets import make_moons

    return make_moons(n, noise=noise, random_state=seed)[0].astype("float32")


DIGITS = register_dataset(
    Dataset(
        name="digits",
        description="scikit-learn's 1,797 8x8 handwritten digits, resized (embedded)",
        source="embedded:sklearn.datasets.load_digits",
        folder="",
        loader=load_digits,
        embedded=True,
        chapters=("03", "04", "05", "07", "08"),
    )
)

MOONS = register_dataset(
    Dataset(
        name="moons",
        description="two moons, generated with scikit-learn (embedded; chapter 6)",
        source="embedded:sklearn.datasets.make_moons",
        folder="",
        loader=load_moons,
        embedded=True,
        chapters=("06",),
    )
)
