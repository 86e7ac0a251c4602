"""gdl.book.ch02_deep_learning: the classifiers' data and prediction strip."""

import keras
import numpy as np
import pytest

from gdl.book.ch02_deep_learning import classification_data, predictions_figure
from gdl.errors import ConfigError


def test_classification_digits_are_one_hot():
    (x, y), (xt, yt), classes = classification_data("digits")
    assert x.shape == (1437, 32, 32, 3) and y.shape == (1437, 10) and len(xt) == 360
    np.testing.assert_array_equal(y.sum(1), 1.0)
    assert classes[7] == "7"
    with pytest.raises(ConfigError, match="cifar10 or digits"):
        classification_data("svhn")


def test_prediction_strip_captions_predicted_and_actual():
    model = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten(),
                              keras.layers.Lambda(lambda t: t[:, :3])])  # fmt: skip
    x = np.zeros((4, 2, 2, 1), "float32")
    x[:, 0, 1, 0] = 1.0  # every image "predicts" class 1
    y = np.eye(3, dtype="float32")[[0, 1, 2, 1]]
    fig = predictions_figure(model, x, y, ("a", "b", "c"), n=4, seed=0)
    titles = sorted(ax.get_title() for ax in fig.axes)
    assert titles == ["pred = b\nact = a", "pred = b\nact = b", "pred = b\nact = b",
                      "pred = b\nact = c"]  # fmt: skip
