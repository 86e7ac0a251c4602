"""Chapter 3 (variational autoencoders): Fashion-MNIST as the book prepares it.

The faces VAE reads CelebA through :func:`gdl.book.images.image_data`.
"""

from __future__ import annotations

import numpy as np

from gdl.book.images import DIGIT_CLASSES, FASHION_CLASSES, digits


def fashion_images(name: str = "fashion_mnist"):
    """``(x_train, y_train), (x_test, y_test), class_names`` as the book prepares them.

    ``fashion_mnist``: /255, zero-padded 28 -> 32, ``(N, 32, 32, 1)`` float32 in [0, 1]
    (``mnist`` the same way). ``digits``: the embedded digits at 32x32 (80/20 split).
    """
    if name == "digits":
        train, test = digits(32, 1, (0.0, 1.0))
        return train, test, DIGIT_CLASSES
    from gdl.data import load

    (x_train, y_train), (x_test, y_test) = load(name)

    def prep(x):
        x = x.astype("float32") / 255.0
        return np.pad(x, ((0, 0), (2, 2), (2, 2)), constant_values=0.0)[..., None]

    classes = FASHION_CLASSES if name == "fashion_mnist" else DIGIT_CLASSES
    return (prep(x_train), y_train), (prep(x_test), y_test), classes


def attribute_table(n: int = 5, ds=None) -> str:
    """The first ``n`` rows of CelebA's ``list_attr_celeba.csv`` as text, one line per
    attribute (40 lines, -1/1 per image): the book's ``attributes.head()``, turned on its
    side so that 40 columns fit on a page."""
    from gdl.data.celeba import attributes

    ids, names, values = attributes(ds)
    n = min(n, len(ids))
    width = max(len(name) for name in names)
    lines = [" " * width + "".join(f"{i:>12}" for i in ids[:n])]
    lines += [f"{name:<{width}}" + "".join(f"{v:>12}" for v in values[:n, k])
              for k, name in enumerate(names)]
    return "\n".join(lines)
