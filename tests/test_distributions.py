"""The keras.ops discretized logistic mixture against TFP (the book's route) as oracle."""

import numpy as np
import pytest
from keras import ops

from gdl.distributions import (
    discretized_logistic_mixture_log_prob,
    discretized_logistic_mixture_probs,
    sample_discretized_logistic_mixture,
)


def _params(shape, k, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=shape + (k,)).astype("float32")
    loc = rng.uniform(-20, 275, size=shape + (k,)).astype("float32")
    log_scale = rng.uniform(-2, 4, size=shape + (k,)).astype("float32")
    return logits, loc, log_scale


def _tfp_mixture(logits, loc, log_scale):
    import tensorflow_probability as tfp

    tfd, tfb = tfp.distributions, tfp.bijectors
    # exactly the per-pixel distribution tfp.distributions.PixelCNN builds
    quantized = tfd.QuantizedDistribution(
        tfd.TransformedDistribution(
            tfd.Logistic(loc, np.exp(log_scale)), tfb.Shift(np.float32(-0.5))
        ),
        low=0.0,
        high=255.0,
    )
    return tfd.MixtureSameFamily(tfd.Categorical(logits=logits), quantized)


def test_log_prob_matches_tfp():
    logits, loc, log_scale = _params((6, 7), 5)
    x = np.random.default_rng(1).integers(0, 256, size=(6, 7)).astype("float32")
    x[0, :4] = [0, 255, 1, 254]  # both edges and their neighbours
    ours = ops.convert_to_numpy(discretized_logistic_mixture_log_prob(x, logits, loc, log_scale))
    ref = _tfp_mixture(logits, loc, log_scale).log_prob(x).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-4, rtol=1e-5)


def test_log_prob_matches_tfp_for_sharp_components():
    # tiny scales: the centre bin holds almost all the mass, naive F(b)-F(a) is fine,
    # but far bins need the stable formula (tfp also stays finite there).
    logits, loc, _ = _params((3, 4), 3, seed=2)
    log_scale = np.full_like(loc, -3.0)
    loc = np.round(loc)
    x = np.clip(loc[..., 0] + np.array([0, 1, 2, 3]), 0, 255).astype("float32")
    ours = ops.convert_to_numpy(discretized_logistic_mixture_log_prob(x, logits, loc, log_scale))
    ref = _tfp_mixture(logits, loc, log_scale).log_prob(x).numpy()
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, ref, atol=1e-4, rtol=1e-4)


def test_probabilities_over_256_values_sum_to_one():
    logits, loc, log_scale = _params((4, 3), 5, seed=3)
    p = ops.convert_to_numpy(discretized_logistic_mixture_probs(logits, loc, log_scale))
    assert p.shape == (4, 3, 256)
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-5)
    ref = np.exp(
        _tfp_mixture(logits[None], loc[None], log_scale[None])
        .log_prob(np.arange(256, dtype="float32")[:, None, None])
        .numpy()
    )
    np.testing.assert_allclose(np.moveaxis(p, -1, 0), ref, atol=1e-6)


def test_sampler_follows_the_probabilities():
    logits = np.array([[0.0, 1.0, -1.0]], "float32")
    loc = np.array([[10.0, 128.0, 250.0]], "float32")
    log_scale = np.log(np.array([[3.0, 10.0, 4.0]], "float32"))
    n = 40000
    rng = np.random.default_rng(0)
    u1, u2 = rng.random((n, 1), dtype="float32"), rng.random((n, 1), dtype="float32")
    rep = lambda a: np.repeat(a, n, axis=0)  # noqa: E731
    s = ops.convert_to_numpy(
        sample_discretized_logistic_mixture(
            rep(logits), rep(loc), rep(log_scale), u1[:, 0], u2[:, 0]
        )
    )
    assert s.min() >= 0 and s.max() <= 255 and np.all(s == np.round(s))
    p = ops.convert_to_numpy(discretized_logistic_mixture_probs(logits, loc, log_scale))[0]
    # compare on coarse bins (total variation)
    edges = np.arange(0, 257, 16)
    emp = np.histogram(s, bins=edges)[0] / n
    exp = np.add.reduceat(p, edges[:-1])
    assert 0.5 * np.abs(emp - exp).sum() < 0.02


@pytest.mark.parametrize("temperature", [0.5, 1.0])
def test_sampler_component_choice_uses_temperature(temperature):
    logits = np.array([[0.0, 2.0]], "float32")
    loc = np.array([[20.0, 220.0]], "float32")
    log_scale = np.zeros((1, 2), "float32")
    n = 20000
    rng = np.random.default_rng(1)
    u1, u2 = rng.random(n, dtype="float32"), rng.random(n, dtype="float32")
    rep = lambda a: np.repeat(a, n, axis=0)  # noqa: E731
    s = ops.convert_to_numpy(
        sample_discretized_logistic_mixture(
            rep(logits), rep(loc), rep(log_scale), u1, u2, temperature=temperature
        )
    )
    w = np.exp(logits[0] / temperature)
    assert abs((s > 128).mean() - w[1] / w.sum()) < 0.015
