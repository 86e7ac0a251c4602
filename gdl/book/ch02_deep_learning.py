"""Chapter 2 (deep learning): the classifiers' data and the book's prediction strip."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gdl.book.images import DIGIT_CLASSES, digits, save_figure
from gdl.errors import ConfigError


def classification_data(name: str = "cifar10"):
    """``(x_train, y_train), (x_test, y_test), class_names`` scaled to [0, 1], one-hot labels.

    ``cifar10`` is the book's data; ``digits`` (embedded, 80/20 split) is resized to
    32x32x3 so the same models apply.
    """
    import keras

    from gdl.data import load

    if name == "cifar10":
        from gdl.data.keras_builtin import CIFAR10_CLASSES

        (x_train, y_train), (x_test, y_test) = load("cifar10")
        x_train, x_test = x_train.astype("float32") / 255.0, x_test.astype("float32") / 255.0
        classes = CIFAR10_CLASSES
    elif name == "digits":
        (x_train, y_train), (x_test, y_test) = digits(32, channels=3)
        classes = DIGIT_CLASSES
    else:
        raise ConfigError(f"chapter 2's classifiers train on cifar10 or digits, not {name!r}")
    y_train = keras.utils.to_categorical(y_train, 10)
    y_test = keras.utils.to_categorical(y_test, 10)
    return (x_train, y_train), (x_test, y_test), classes


def predictions_figure(model, x, y, classes, n: int = 10, seed: int = 0):
    """The book's prediction strip: ``n`` random test images captioned pred/act
    (``y`` one-hot). Returns a matplotlib ``Figure``."""
    from matplotlib.figure import Figure

    rng = np.random.default_rng(seed)
    idx = rng.choice(len(x), size=min(n, len(x)), replace=False)
    preds = np.argmax(model.predict(x[idx], verbose=0), axis=-1)
    actual = np.argmax(y[idx], axis=-1)
    fig = Figure(figsize=(15, 3))
    for i, k in enumerate(idx):
        ax = fig.add_subplot(1, len(idx), i + 1)
        ax.axis("off")
        ax.imshow(x[k])
        ax.set_title(f"pred = {classes[preds[i]]}\nact = {classes[actual[i]]}", fontsize=9)
    return fig


def save_predictions(model, x, y, classes, path, n: int = 10, seed: int = 0) -> Path:
    """:func:`predictions_figure` saved to ``path`` (a PNG)."""
    return save_figure(predictions_figure(model, x, y, classes, n, seed), path)
