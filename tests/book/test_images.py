"""gdl.book.images: the shared digits split, image data by name, first images."""

import numpy as np
import pytest

from gdl.book.images import digits, first_images, image_data
from gdl.errors import ConfigError


def test_digits_split_is_the_one_every_chapter_uses():
    from gdl.data import load
    from gdl.data.split import train_validation_split

    (xt, yt), (xv, yv) = digits(16, 1, (0.0, 1.0))
    assert xt.shape == (1437, 16, 16, 1) and xv.shape == (360, 16, 16, 1)
    x, y = load("digits", size=16, channels=1, with_labels=True)
    order = np.random.default_rng(0).permutation(len(x))  # the split by hand
    np.testing.assert_array_equal(xt, x[order[:1437]])
    np.testing.assert_array_equal(yv, y[order[1437:]])
    (x2, _), _ = train_validation_split(x, y)
    np.testing.assert_array_equal(x2, xt)


def test_image_data_digits_and_folder_errors(tmp_path):
    x, y = image_data("digits", 8, 3, (-1.0, 1.0), batch_size=4)
    assert x.shape == (1437, 8, 8, 3) and y is None and x.min() >= -1.0
    _, labels = image_data("digits", 8, 1, (0.0, 1.0), batch_size=4, labels="digit")
    assert labels.shape == (1437,)
    with pytest.raises(ConfigError, match="faces, bricks, digits or a folder"):
        image_data(str(tmp_path / "nowhere"), 8, 3, (0, 1), batch_size=4)


def test_first_images_of_arrays_and_labelled_batches():
    x = np.arange(10 * 2).reshape(10, 2, 1, 1).astype("float32")
    np.testing.assert_array_equal(first_images(x, 3), x[:3])
    batches = [(x[i : i + 4], np.zeros(len(x[i : i + 4]))) for i in range(0, 10, 4)]
    np.testing.assert_array_equal(first_images(batches, 6), x[:6])
    np.testing.assert_array_equal(first_images([x[:4], x[4:]], 10), x)
