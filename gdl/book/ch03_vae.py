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


def labelled_images(
    name: str, image_size: int, batch_size: int, label: str = "Blond_Hair", digit: int = 1
):
    """The faces VAE's labelled images for latent arithmetic, a batched ``tf.data`` dataset of
    ``(images, labels)`` in [0, 1] (what :meth:`gdl.models.vae.VAE.attribute_vector` takes).

    ``faces``: CelebA with the attribute ``label``, the book's validation split (20%).
    ``digits`` (not in the book): the held-out embedded digits as RGB, label 1 for ``digit``
    and 0 for the other digits, so the "attribute" is being that digit.
    """
    if name == "digits":
        import tensorflow as tf

        _, (x, y) = digits(image_size, 3, (0.0, 1.0))
        labels = (y == digit).astype("float32")
        return tf.data.Dataset.from_tensor_slices((x, labels)).batch(batch_size)
    from gdl.data import load

    return load(name, image_size=image_size, batch_size=batch_size, value_range=(0, 1),
                labels=label, validation_split=0.2, subset="validation")  # fmt: skip
