"""gdl.generation: the Sampler (temperature, top-k, top-p on logits) against its NumPy
reference, and the one cached decoding loop on other backends (subprocess)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from gdl.generation import (
    Generation,
    Sampler,
    filter_logits,
    filter_probs,
    prompt_buffer,
    sample_from_probs,
)

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


SAMPLINGS = [
    dict(temperature=1.0),
    dict(temperature=0.5),
    dict(temperature=1.7, top_k=2),
    dict(temperature=1.0, top_p=0.6),
    dict(temperature=0.8, top_k=3, top_p=0.9),
]


@pytest.mark.parametrize("kw", SAMPLINGS)
def test_sampler_probs_and_choice_match_the_numpy_reference(kw):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (64, 7))
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    sampler = Sampler(**kw, seed=0)
    expected = filter_probs(p, kw["temperature"], kw.get("top_k"), kw.get("top_p"))
    probs = keras.ops.convert_to_numpy(sampler.probs(logits))
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    u = sampler.uniforms((64, 1))
    token, _ = sampler.choose(logits, u)
    ref = np.minimum((np.cumsum(expected, -1) < u).sum(-1), 6)  # inverse CDF, as NumPy
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(token), ref)
    # ... which is what sample_from_probs draws from the same generator
    again = sample_from_probs(p, kw["temperature"], kw.get("top_k"), kw.get("top_p"), rng=0)
    np.testing.assert_array_equal(again, ref)


def test_sampler_mask_greedy_and_seed_zero():
    logits = np.array([[5.0, 1.0, 0.0, -1.0], [0.0, 0.0, 3.0, 2.0]])
    mask = np.array([False, True, True, True])
    greedy = Sampler(0.0)
    tok, probs = greedy.choose(logits, np.zeros((2, 1)), mask)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(tok), [1, 2])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(probs).sum(-1), [1, 1])
    draws = [
        int(keras.ops.convert_to_numpy(Sampler(seed=s).choose(logits[:1], u, mask)[0])[0])
        for s in range(40)
        for u in [Sampler(seed=s).uniforms((1, 1))]
    ]
    assert 0 not in draws and len(set(draws)) > 1
    np.testing.assert_array_equal(Sampler(seed=0).uniforms(5), Sampler(seed=0).uniforms(5))
    assert not np.array_equal(Sampler(seed=0).uniforms(5), Sampler(seed=1).uniforms(5))
    with pytest.raises(ValueError, match="temperature"):
        Sampler(-1.0)


def test_prompt_buffer_and_generation_views():
    buf, lengths, start = prompt_buffer([[5, 6, 7], [5]], 6, 4)
    assert buf.tolist() == [[5, 6, 7, 0, 0, 0], [5, 0, 0, 0, 0, 0]]
    assert lengths.tolist() == [3, 1] and start == 1
    with pytest.raises(ValueError, match="max_tokens"):
        prompt_buffer([[1] * 5], 6, 4)
    gen = Generation(tokens=buf[:, :4], prompt_lengths=lengths, start=1, texts=["a b"])
    assert gen.num_steps == 3 and gen.text == "a b"


_OTHER_BACKEND = textwrap.dedent(
    """
    import numpy as np
    import keras
    from tests.models.test_gpt import tiny
    from tests.models.test_music_transformer import small
    from gdl.models.lstm import LSTMTextGenerator

    # GPT: cached == full re-run, then generate -> fit -> generate uses the new weights
    gpt = tiny(dropout_rate=0.0)
    kw = dict(max_tokens=20, seed=0, temperature=1.2, top_p=0.9, stop_at_end=False,
              return_logits=True)
    a = gpt.generate(["wine review", "wine review : us"], **kw)
    b = gpt.generate(["wine review", "wine review : us"], use_cache=False, **kw)
    np.testing.assert_array_equal(a.tokens, b.tokens)
    np.testing.assert_allclose(a.logits, b.logits, atol=1e-4)
    before = gpt.generate("wine review", max_tokens=12, temperature=0.0).texts[0]
    gpt.compile(optimizer=keras.optimizers.Adam(1e-2))
    text = gpt.tokenize("wine review : italy : red cherry .")
    x = np.zeros((16 * 20, 12), "int32")
    x[:, : len(text)] = text
    gpt.fit(x[:, :-1], x[:, 1:], epochs=1, batch_size=16, verbose=0)
    after = gpt.generate("wine review", max_tokens=12, temperature=0.0).texts[0]
    assert after == "wine review : italy : red cherry .", (before, after)

    # LSTM: carried state == full re-run
    vocab = ["", "[UNK]"] + [f"w{i}" for i in range(30)]
    lstm = LSTMTextGenerator(vocabulary=vocab, embedding_dim=8, units=16, num_layers=2)
    kw = dict(max_tokens=16, seed=0, stop_at_end=False, return_logits=True)
    a = lstm.generate([[2, 3], [4, 5, 6]], **kw)
    b = lstm.generate([[2, 3], [4, 5, 6]], use_cache=False, **kw)
    np.testing.assert_array_equal(a.tokens, b.tokens)
    np.testing.assert_allclose(a.logits, b.logits, atol=1e-5)

    # music Transformer: both streams
    mt = small()
    a = mt.generate(max_len=30, temperature=1.0, seed=0)
    b = mt.generate(max_len=30, temperature=1.0, seed=0, use_cache=False)
    assert a.notes == b.notes and a.durations == b.durations
    print("OK")
    """
)


@pytest.mark.parametrize("backend", ["jax"])
def test_cached_loop_on_another_backend(backend):
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(root)}
    proc = subprocess.run(
        [sys.executable, "-c", _OTHER_BACKEND], cwd=root, env=env, capture_output=True,
        text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr[-3000:]
