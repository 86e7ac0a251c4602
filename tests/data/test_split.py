"""gdl.data.split.train_validation_split against a hand-made permutation."""

import numpy as np
import pytest

from gdl.data.split import train_validation_split
from gdl.errors import ConfigError


def test_one_permutation_for_every_array():
    x = np.arange(10) * 10
    y = np.arange(10)
    (xt, yt), (xv, yv) = train_validation_split(x, y, validation_fraction=0.3, seed=5)
    order = np.random.default_rng(5).permutation(10)
    np.testing.assert_array_equal(yt, order[:7])
    np.testing.assert_array_equal(yv, order[7:])
    np.testing.assert_array_equal(xt, 10 * yt)  # rows stay paired
    assert sorted(np.concatenate([yt, yv])) == list(range(10))


def test_single_array_and_the_80_20_cut():
    train, valid = train_validation_split(np.zeros((1797, 2)))
    assert (len(train), len(valid)) == (1437, 360)  # int(1797 * 0.8)
    a, b = train_validation_split(np.arange(5), seed=1)
    c, d = train_validation_split(np.arange(5), seed=1)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(b, d)


def test_errors():
    with pytest.raises(ConfigError, match="different lengths"):
        train_validation_split(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="validation_fraction"):
        train_validation_split(np.zeros(3), validation_fraction=1.0)
