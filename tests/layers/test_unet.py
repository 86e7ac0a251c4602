"""The diffusion U-Net and its sinusoidal noise embedding."""

import math

import keras
import numpy as np
import pytest

from gdl.layers.noise_embedding import SinusoidalEmbedding, sinusoidal_frequencies
from gdl.layers.unet import unet


def test_book_unet_size():
    model = unet()
    assert model.count_params() == 1_953_507
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == 2_880


def test_output_shape_equals_input_shape_and_clone_and_save(tmp_path):
    model = unet(image_size=8, channels=2, widths=(4, 8), block_depth=1, embedding_dims=8)
    x = np.random.default_rng(0).normal(size=(3, 8, 8, 2)).astype("float32")
    v = np.full((3, 1, 1, 1), 0.3, "float32")
    assert model([x, v]).shape == (3, 8, 8, 2)
    clone = keras.models.clone_model(model)
    assert clone([x, v]).shape == (3, 8, 8, 2)
    model.layers[-1].kernel.assign(np.ones(model.layers[-1].kernel.shape, "float32"))
    model.save(tmp_path / "u.keras")
    loaded = keras.saving.load_model(tmp_path / "u.keras")
    np.testing.assert_array_equal(np.asarray(loaded([x, v])), np.asarray(model([x, v])))


def test_bad_image_size():
    with pytest.raises(ValueError, match="divisible by 4"):
        unet(image_size=10, widths=(4, 8, 16))


def test_embedding_structure():
    freqs = sinusoidal_frequencies(32)
    assert freqs.shape == (16,)
    np.testing.assert_allclose([freqs[0], freqs[-1]], [1.0, 1000.0], rtol=1e-5)
    np.testing.assert_allclose(freqs[1:] / freqs[:-1], 1000 ** (1 / 15), rtol=1e-5)
    layer = SinusoidalEmbedding(32)
    x = np.linspace(0, 1, 7, dtype="float32").reshape(7, 1, 1, 1)
    e = np.asarray(layer(x))
    assert e.shape == (7, 1, 1, 32)
    angles = 2 * math.pi * freqs * x[..., 0:1]
    np.testing.assert_allclose(e[..., :16], np.sin(angles), atol=1e-4)
    np.testing.assert_allclose(e[..., 16:], np.cos(angles), atol=1e-4)
    np.testing.assert_allclose(e[..., :16] ** 2 + e[..., 16:] ** 2, 1.0, atol=1e-5)
    np.testing.assert_allclose(e[0, 0, 0], [0.0] * 16 + [1.0] * 16, atol=1e-7)
    with pytest.raises(ValueError, match="even"):
        SinusoidalEmbedding(5)
