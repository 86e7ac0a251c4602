"""VectorQuantizer: nearest code, straight-through gradient, losses, EMA formula, perplexity."""

import keras
import numpy as np
import pytest
from keras import ops

from gdl.backend import input_gradient
from gdl.layers.vector_quantizer import VectorQuantizer, code_perplexity

RNG = np.random.default_rng(0)


def np_(t):
    return np.asarray(ops.convert_to_numpy(t))


def quantizer(**kw):
    vq = VectorQuantizer(num_embeddings=5, embedding_dim=3, beta=0.25, seed=0, **kw)
    vq.build((None, 2, 2, 3))
    return vq


def test_nearest_code_and_losses_by_hand():
    vq = quantizer()
    codes = RNG.standard_normal((5, 3)).astype("float32")
    vq.embeddings.assign(codes)
    z = RNG.standard_normal((2, 2, 2, 3)).astype("float32")
    out = vq.quantize_vectors(z)
    d = ((z[..., None, :] - codes) ** 2).sum(-1)
    idx = d.argmin(-1)
    np.testing.assert_array_equal(np_(out["indices"]), idx)
    np.testing.assert_allclose(np_(out["quantized"]), codes[idx], rtol=1e-5, atol=1e-6)
    mse = ((z - codes[idx]) ** 2).mean()
    np.testing.assert_allclose(float(np_(out["commitment_loss"])), mse, rtol=1e-5)
    np.testing.assert_allclose(float(np_(out["codebook_loss"])), mse, rtol=1e-5)
    np.testing.assert_allclose(float(np_(out["loss"])), 1.25 * mse, rtol=1e-5)
    np.testing.assert_allclose(np_(vq.lookup(idx)), codes[idx], rtol=1e-6)


def test_straight_through_gradient_is_identity():
    vq = quantizer()
    z = RNG.standard_normal((2, 2, 2, 3)).astype("float32")
    weights = RNG.standard_normal((2, 2, 2, 3)).astype("float32")
    _, grad = input_gradient(lambda t: vq.quantize_vectors(t)["quantized"] * ops.convert_to_tensor(weights), z)
    np.testing.assert_allclose(np_(ops.stop_gradient(grad)), weights, rtol=1e-6)


def test_ema_update_formula():
    vq = quantizer(ema=True, decay=0.9, epsilon=1e-5)
    codes = np_(vq.embeddings)
    assert not vq.embeddings.trainable
    np.testing.assert_allclose(np_(vq.embed_sum), codes)
    z = RNG.standard_normal((1, 2, 2, 3)).astype("float32")
    idx = np_(vq.quantize_vectors(z)["indices"]).reshape(-1)
    out = vq.quantize_vectors(z, training=True)
    assert float(np_(out["codebook_loss"])) == 0.0
    flat = z.reshape(-1, 3)
    one_hot = np.eye(5)[idx]
    size = 0.9 * np.ones(5) + 0.1 * one_hot.sum(0)
    sums = 0.9 * codes + 0.1 * one_hot.T @ flat
    total = size.sum()
    smoothed = (size + 1e-5) / (total + 5e-5) * total
    np.testing.assert_allclose(np_(vq.cluster_size), size, rtol=1e-5)
    np.testing.assert_allclose(np_(vq.embeddings), sums / smoothed[:, None], rtol=1e-4, atol=1e-6)
    unused = one_hot.sum(0) == 0
    np.testing.assert_allclose(np_(vq.embeddings)[unused], codes[unused], rtol=1e-3)


@pytest.mark.parametrize("used", [1, 2, 4])
def test_perplexity_closed_form(used):
    indices = np.tile(np.arange(used), 6)
    assert float(np_(code_perplexity(indices, 8))) == pytest.approx(used, rel=1e-5)
    p = np.array([0.5, 0.25, 0.25])
    skew = np.array([0, 0, 1, 2])
    assert float(np_(code_perplexity(skew, 8))) == pytest.approx(np.exp(-(p * np.log(p)).sum()))


def test_call_adds_the_vq_loss_and_a_model_trains_with_fit():
    keras.utils.set_random_seed(0)
    inp = keras.Input((2, 2, 3))
    h = keras.layers.Dense(3)(inp)
    vq = VectorQuantizer(num_embeddings=4, embedding_dim=3, seed=0)
    model = keras.Model(inp, keras.layers.Dense(3)(vq(h)))
    x = RNG.standard_normal((16, 2, 2, 3)).astype("float32")
    model(x)
    assert len(model.losses) == 1
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    hist = model.fit(x, x, epochs=10, batch_size=16, verbose=0).history["loss"]
    assert hist[-1] < hist[0]
