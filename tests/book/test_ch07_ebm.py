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
