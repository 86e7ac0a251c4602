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


def test_grid_sample_saves_the_same_seeded_generation_as_a_grid(tmp_path):
    from PIL import Image

    from gdl.book.images import grid_sample
    from gdl.plotting import save_grid

    class Fixed:  # generate depends on the seed only, as a model's does between updates
        def generate(self, n, seed=None, steps=1):
            rng = np.random.default_rng(seed)
            return rng.uniform(-1, 1, (n, 4, 4, 1)).astype("float32") * steps

    path = grid_sample(6, ncols=3, value_range=(-1, 1), steps=1)(Fixed(), tmp_path / "a.png")
    expected = save_grid(Fixed().generate(6, seed=0), tmp_path / "b.png", ncols=3, value_range=(-1, 1))
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(expected)))
    assert Image.open(path).size == (3 * 5 - 1, 2 * 5 - 1)  # 1-pixel gaps
    shown = grid_sample(ncols=2, scale=3, images=lambda m: np.zeros((4, 4, 4, 1)))
    assert Image.open(shown(Fixed(), tmp_path / "c.png")).size == ((2 * 5 - 1) * 3, (2 * 5 - 1) * 3)
