"""The dataset registry basics: CIFAR-10 fixture round trip and clear errors."""

import pickle

import numpy as np
import pytest

from gdl.data import MissingDatasetError, get_dataset, load


def test_cifar10_fixture_loads_in_keras_format(data_env):
    (x, y), (xt, yt) = load("cifar10")
    assert x.dtype == np.uint8 and x.shape[1:] == (32, 32, 3) and y.shape == (len(x), 1)
    assert xt.shape[1:] == (32, 32, 3)
    # pixel order: the pickled rows are channel-major (R plane, G plane, B plane)
    raw = pickle.load(
        open(data_env / "cifar10/cifar-10-batches-py/data_batch_1", "rb"), encoding="bytes"
    )
    np.testing.assert_array_equal(x[0, :, :, 0].ravel(), raw[b"data"][0, :1024])
    np.testing.assert_array_equal(x[0, :, :, 2].ravel(), raw[b"data"][0, 2048:])


def test_missing_dataset_error_names_command(tmp_path, monkeypatch):
    monkeypatch.setenv("GDL_DATA_DIR", str(tmp_path))
    with pytest.raises(MissingDatasetError, match="gdl data download cifar10"):
        load("cifar10")
    assert not get_dataset("cifar10").is_present()


def test_digits_embedded_ranges():
    x = load("digits", size=32, value_range=(-1, 1))
    assert x.shape == (1797, 32, 32, 1) and x.min() >= -1 and x.max() <= 1
    x, y = load("digits", size=16, with_labels=True)
    assert x.shape == (1797, 16, 16, 1) and set(np.unique(y)) == set(range(10))
