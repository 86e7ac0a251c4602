"""``gdl train mlp|cnn``: chapter 2's CIFAR-10 classifiers (``--data digits`` offline)."""

from __future__ import annotations

import argparse

from gdl.book.ch02_deep_learning import classification_data, save_predictions
from gdl.cli.recipes.base import Recipe, TrainData, register


class _Classifier(Recipe):
    chapter = "02"
    epochs = 10
    batch_size = 32
    default_data = "cifar10"

    def model_fn(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def load_data(self, args: argparse.Namespace) -> TrainData:
        (x_train, y_train), (x_test, y_test), classes = classification_data(
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
