"""gdl.book.ch05_autoregressive: the PixelCNNs' pixel levels."""

import numpy as np
import pytest

from gdl.book.ch05_autoregressive import load_pixel_values
from gdl.errors import ConfigError


def test_pixel_values_are_the_books_levels():
    train, test = load_pixel_values("digits", 16, pixel_levels=4)
    assert train.shape[1:] == (16, 16, 1) and len(test) == 360
    assert set(np.unique(train)) == {0, 1, 2, 3}
    raw, _ = load_pixel_values("digits", 16)
    np.testing.assert_array_equal(np.abs(raw / 64 - train).max() <= 1, True)
    assert raw.max() == 255 and np.all(raw == np.round(raw))
    with pytest.raises(ConfigError, match="fashion_mnist, mnist or digits"):
        load_pixel_values("cifar10", 16)
