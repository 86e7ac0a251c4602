"""``gdl train mlp|cnn``: chapter 2's CIFAR-10 classifiers (``--data digits`` offline)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gdl.cli.recipes.base import Recipe, TrainData, register


def load_classification_data(name: str):
    """``(x_train, y_train), (x_test, y_test), class_names`` scaled to [0, 1], one-hot labels.

    ``cifar10`` is the book's data; ``digits`` (embedded) is resized to 32x32x3 so the
    same models apply.
    """
    import keras

    from gdl.data import load
    from gdl.data.keras_builtin import CIFAR10_CLASSES

    if name == "cifar10":
        (x_train, y_train), (x_test, y_test) = load("cifar10")
        x_train, x_test = x_train.astype("float32") / 255.0, x_test.astype("float32") / 255.0
        classes = CIFAR10_CLASSES
    elif name == "digits":
        x, y = load("digits", size=32, channels=3, with_labels=True)
        rng = np.random.default_rng(0)
        order = rng.permutation(len(x))
        cut = int(0.8 * len(x))
        x_train, y_train, x_test, y_test = (
            x[order[:cut]],
            y[order[:cut]],
            x[order[cut:]],
            y[order[cut:]],
        )
        classes = tuple(str(i) for i in range(10))
    else:
        raise SystemExit(f"chapter 2 classifiers train on cifar10 or digits, not {name!r}")
    y_train = keras.utils.to_categorical(y_train, 10)
    y_test = keras.utils.to_categorical(y_test, 10)
    return (x_train, y_train), (x_test, y_test), classes


def save_predictions(model, x, y, classes, path: Path, n: int = 10, seed: int = 0) -> Path:
    """The book's prediction strip: ``n`` random test images captioned pred/act."""
    import matplotlib

    matplotlib.use("Agg", force=False)
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


class _Classifier(Recipe):
    chapter = "02"
    epochs = 10
    batch_size = 32
    default_data = "cifar10"

    def model_fn(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def load_data(self, args: argparse.Namespace) -> TrainData:
        (x_train, y_train), (x_test, y_test), classes = load_classification_data(
            args.data or self.default_data
        )
        return TrainData(
            x=x_train,
            y=y_train,
            validation=(x_test, y_test),
            batch_size=args.batch_size or self.batch_size,
            info={"x_test": x_test, "y_test": y_test, "classes": classes},
        )

    def build(self, args, data):
        from gdl.models.classifiers import compile_classifier

        return compile_classifier(self.model_fn()())

    def sample_info(self, args):
        return self.load_data(args).info

    def sample(self, model, args, out, info):
        return [
            save_predictions(
                model, info["x_test"], info["y_test"], info["classes"], out, seed=args.seed or 0
            )
        ]

    def epoch_sample(self, model, out, info):
        return self.sample(model, argparse.Namespace(seed=0), out, info)


@register
class MLPRecipe(_Classifier):
    name = "mlp"
    help = "chapter 2 multilayer perceptron on CIFAR-10 (646,260 parameters)"

    def model_fn(self):
        from gdl.models.classifiers import mlp

        return mlp


@register
class CNNRecipe(_Classifier):
    name = "cnn"
    help = "chapter 2 convolutional network on CIFAR-10 (592,554 parameters)"

    def model_fn(self):
        from gdl.models.classifiers import cnn

        return cnn
