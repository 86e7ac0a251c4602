"""Chapter 5 (autoregressive models): the PixelCNNs' integer images.

The LSTM's texts come from :func:`gdl.book.texts.load_texts`.
"""

from __future__ import annotations

import numpy as np

from gdl.book.images import digits
from gdl.errors import ConfigError


def load_pixel_values(name: str, image_size: int, pixel_levels: int | None = None, seed: int = 0):
    """``(train, test)`` integer images ``(N, size, size, 1)`` as float32 for the PixelCNNs.

    The images are resized bilinearly to ``image_size`` (the book's ``tf.image.resize``);
    with ``pixel_levels`` they become the book's levels ``int(x / (256 / L))``, otherwise
    they are rounded to integers 0..255. (The book's mixture notebook feeds the
    non-integer resized values to a distribution over integers; gdl rounds them.)
    ``fashion_mnist`` / ``mnist`` use their test split; ``digits`` (embedded) the 80/20
    split of :func:`gdl.book.images.digits`.
    """
    if name == "digits":
        (train, _), (test, _) = digits(image_size, 1, (0.0, 255.0), seed=seed)
    elif name in ("fashion_mnist", "mnist"):
        from gdl.data import load
        from gdl.data.images import resize_images

        (train, _), (test, _) = load(name)
        train, test = (
            resize_images(a[..., None].astype("float32"), image_size) for a in (train, test)
        )
    else:
        raise ConfigError(f"the PixelCNNs train on fashion_mnist, mnist or digits, not {name!r}")
    out = []
    for x in (train, test):
        x = np.clip(x, 0, 255)
        x = (x / (256 / pixel_levels)).astype("int32") if pixel_levels else np.round(x)
        out.append(x.astype("float32"))
    return tuple(out)
