"""gdl.book.ch07_ebm.ebm_data: 32x32 in [-1, 1], padded with -1 like the book's MNIST."""

import pytest

from gdl.book.ch07_ebm import ebm_data
from gdl.errors import ConfigError


def test_ebm_digits_are_padded_with_minus_one():
    x_train, x_test = ebm_data("digits")
    assert x_train.shape == (1437, 32, 32, 1) and len(x_test) == 360
    assert x_train[:, :2].max() == -1.0 and x_train.min() >= -1.0 and x_train.max() <= 1.0
    with pytest.raises(ConfigError, match="mnist or digits, not 'cifar10'"):
        ebm_data("cifar10")


def test_ebm_mnist_is_the_books(data_env):
    x_train, _ = ebm_data("mnist")
    assert x_train.shape[1:] == (32, 32, 1) and x_train[:, :2].max() == -1.0


def test_buffer_sample_shows_generated_over_buffer(tmp_path):
    import numpy as np
    from PIL import Image

    from gdl.book.ch07_ebm import buffer_sample

    class Value:
        def __init__(self, v):
            self.v = v

        def numpy(self):
            return self.v

    class Fake:  # generated images are black, buffer images white
        buffer = type("Buffer", (), {"count": Value(7), "images": Value(np.ones((20, 4, 4, 1)))})

        def generate(self, n, steps, seed):
            return -np.ones((n, 4, 4, 1))

    img = np.asarray(Image.open(buffer_sample(3, steps=2, scale=1)(Fake(), tmp_path / "e.png")))
    assert img.shape == (2 * 5 - 1, 3 * 5 - 1)
    assert img[:4, :4].max() == 0 and img[5:, :4].min() == 255
