"""Token sampling: temperature, top-k, top-p, in NumPy and keras.ops."""

import keras
import numpy as np
import pytest

from gdl.sampling import filter_logits, filter_probs, sample_from_probs

P = np.array([[0.5, 0.3, 0.15, 0.05], [0.1, 0.2, 0.3, 0.4]])


def test_temperature_matches_the_books_power_rule():
    for t in (0.2, 0.5, 1.0, 2.0):
        expected = P ** (1 / t)
        expected /= expected.sum(-1, keepdims=True)
        np.testing.assert_allclose(filter_probs(P, t), expected, rtol=1e-9)


def test_temperature_zero_is_greedy():
    out = sample_from_probs(np.repeat(P, 50, axis=0), temperature=0, rng=1)
    assert set(out[:50]) == {0} and set(out[50:]) == {3}


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_only_samples_allowed_tokens(k):
    draws = sample_from_probs(np.repeat(P[:1], 2000, axis=0), top_k=k, rng=2)
    assert set(np.unique(draws)) == set(range(k))


def test_top_p_keeps_smallest_set_reaching_p():
    # mass before tokens (sorted): 0, .5, .8, .95 -> top_p=0.6 keeps the first two
    np.testing.assert_allclose(filter_probs(P[:1], top_p=0.6), [[0.625, 0.375, 0, 0]])
    draws = sample_from_probs(np.repeat(P[:1], 2000, axis=0), top_p=0.6, rng=3)
    assert set(np.unique(draws)) == {0, 1}
    # the most likely token is always kept
    np.testing.assert_allclose(filter_probs(P[:1], top_p=0.01), [[1, 0, 0, 0]])


def test_sampling_frequencies_match_probabilities():
    draws = sample_from_probs(np.repeat(P[:1], 20000, axis=0), rng=4)
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / 20000, P[0], atol=0.015)


@pytest.mark.parametrize(
    "kw", [dict(temperature=0.5), dict(top_k=2), dict(top_p=0.6), dict(top_k=3, top_p=0.9)]
)
def test_keras_ops_filter_matches_numpy(kw):
    got = keras.ops.convert_to_numpy(keras.ops.softmax(filter_logits(np.log(P), **kw)))
    np.testing.assert_allclose(got, filter_probs(P, **kw), atol=1e-6)
