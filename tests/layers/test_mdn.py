"""Mixture-density head: NLL against TFP, sampling with temperature, serialization."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from gdl.layers.mdn import MDNHead, mdn_log_prob, mdn_nll, mdn_sample


def _params(shape=(4, 7, 6, 5), seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=shape).astype("float32")
    mu = rng.normal(size=shape).astype("float32")
    log_sigma = rng.uniform(-1.5, 1.0, size=shape).astype("float32")
    y = rng.normal(size=shape[:-1]).astype("float32") * 1.5
    return y, logits, mu, log_sigma


def test_nll_matches_tfp_mixture_same_family():
    import tensorflow_probability as tfp

    tfd = tfp.distributions
    y, logits, mu, log_sigma = _params()
    dist = tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(logits=logits),
        components_distribution=tfd.Normal(loc=mu, scale=np.exp(log_sigma)),
    )
    expected_logp = dist.log_prob(y).numpy()
    logp = ops.convert_to_numpy(mdn_log_prob(y, logits, mu, log_sigma))
    np.testing.assert_allclose(logp, expected_logp, atol=1e-5, rtol=1e-5)
    nll = float(mdn_nll(y, logits, mu, log_sigma))
    np.testing.assert_allclose(nll, -expected_logp.mean(), atol=1e-5)

    mask = np.zeros(y.shape[:-1], "float32")
    mask[:, :3] = 1.0
    masked = float(mdn_nll(y, logits, mu, log_sigma, mask=mask))
    np.testing.assert_allclose(masked, -expected_logp[:, :3].mean(), atol=1e-5)


def test_head_shapes_clamp_and_roundtrip(tmp_path):
    head = MDNHead(output_dim=6, num_mixtures=5, log_sigma_min=-2.0, log_sigma_max=0.5)
    head.build((None, 3, 8))
    assert head.dense.kernel.shape == (8, 6 * 5 * 3)
    x = np.random.default_rng(1).normal(size=(2, 3, 8)).astype("float32") * 50
    logits, mu, log_sigma = (ops.convert_to_numpy(t) for t in head(x))
    assert logits.shape == mu.shape == log_sigma.shape == (2, 3, 6, 5)
    assert log_sigma.min() >= -2.0 and log_sigma.max() <= 0.5

    inp = keras.Input((3, 8))
    model = keras.Model(inp, head(inp))
    model.save(tmp_path / "mdn.keras")
    again = keras.saving.load_model(tmp_path / "mdn.keras")
    for a, b in zip(model(x), again(x)):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))

    with pytest.raises(ValueError, match="num_mixtures"):
        MDNHead(output_dim=3, num_mixtures=0)


def test_sampling_temperature():
    # Two components: weights softmax([log .8, log .2]); at tau -> 0 the mode's mean.
    logits = np.log(np.array([[[0.8, 0.2]]], "float32")).repeat(3, axis=1)  # (1, 3, 2)
    mu = np.array([[[1.0, -4.0]]], "float32").repeat(3, axis=1)
    log_sigma = np.log(np.array([[[0.5, 0.1]]], "float32")).repeat(3, axis=1)
    np.testing.assert_allclose(ops.convert_to_numpy(mdn_sample(logits, mu, log_sigma, 0.0)), 1.0)

    n = 4000
    tile = lambda a: np.repeat(a, n, axis=0)  # noqa: E731
    seed = keras.random.SeedGenerator(3)
    s = ops.convert_to_numpy(mdn_sample(tile(logits), tile(mu), tile(log_sigma), 1.0, seed))
    frac = (s < -1.5).mean()
    assert abs(frac - 0.2) < 0.03  # mixture weights respected
    high = s[s > -1.5]
    assert abs(high.std() - 0.5) < 0.03  # component scale at tau = 1

    # tau = 2: logits / 2 -> weights proportional to sqrt(.8), sqrt(.2); sigma * sqrt(2)
    s2 = ops.convert_to_numpy(mdn_sample(tile(logits), tile(mu), tile(log_sigma), 2.0, seed))
    w = np.sqrt(0.2) / (np.sqrt(0.8) + np.sqrt(0.2))
    assert abs((s2 < -1.5).mean() - w) < 0.03
    assert abs(s2[s2 > -1.5].std() - 0.5 * np.sqrt(2)) < 0.04
