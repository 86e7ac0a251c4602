"""gdl.layers.transformer / gdl.layers.embeddings: maths, causality, KV cache, serialisation.

Backend-agnostic: ``tests/layers/test_transformer_jax.py`` runs this file again under
``KERAS_BACKEND=jax``.
"""

import keras
import numpy as np
import pytest
from keras import ops

from gdl.layers.embeddings import (
    SinePositionEncoding,
    TokenAndPositionEmbedding,
    sine_position_encoding,
)
from gdl.layers.transformer import TransformerBlock, causal_attention_mask

RNG = np.random.default_rng(0)


def np_(x):
    return np.asarray(ops.convert_to_numpy(x))


def small_block(**kw):
    kw = {"num_heads": 2, "key_dim": 8, "embed_dim": 16, "ff_dim": 12, "dropout_rate": 0.0, **kw}
    block = TransformerBlock(**kw)
    block.build((None, None, kw["embed_dim"]))
    # non-trivial biases and LayerNorm parameters so the reference check sees them
    for w in block.weights:
        if "kernel" not in w.path:
            w.assign(RNG.normal(scale=0.3, size=w.shape).astype("float32") + np_(w))
    return block


def x_of(b=3, t=7, d=16):
    return RNG.normal(size=(b, t, d)).astype("float32")


# -- embeddings ------------------------------------------------------------------------
def test_sine_encoding_matches_the_closed_form_at_any_length():
    d, length = 6, 500
    pos = np.arange(length)[:, None]
    i = np.arange(d)[None, :]
    angle = pos / 10000.0 ** ((2 * (i // 2)) / d)
    expected = np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
    out = np_(SinePositionEncoding()(np.zeros((2, length, d), "float32")))
    assert out.shape == (2, length, d)
    np.testing.assert_allclose(out[1], expected, atol=2e-4)
    # start_index gives the later rows (what cached decoding needs)
    part = np_(SinePositionEncoding()(np.zeros((1, 5, d), "float32"), start_index=300))
    np.testing.assert_allclose(part[0], out[0, 300:305], atol=1e-4)
    np.testing.assert_allclose(np_(sine_position_encoding(np.arange(3), d)), expected[:3], 1e-5)


def test_learned_token_and_position_embedding_is_the_sum_of_two_tables():
    emb = TokenAndPositionEmbedding(vocab_size=11, embed_dim=4, max_len=6)
    tokens = np.array([[3, 0, 10, 3], [1, 2, 3, 4]])
    out = np_(emb(tokens))
    tok, pos = np_(emb.token_emb.embeddings), np_(emb.pos_emb.embeddings)
    np.testing.assert_allclose(out, tok[tokens] + pos[None, :4], rtol=1e-6)
    shifted = np_(emb(tokens[:, 1:3], start_index=ops.convert_to_tensor(2)))
    np.testing.assert_allclose(shifted, tok[tokens[:, 1:3]] + pos[None, 2:4], rtol=1e-6)
    assert emb.count_params() == 11 * 4 + 6 * 4


def test_book_gpt_embedding_parameter_count():
    emb = TokenAndPositionEmbedding()
    emb.build()
    assert emb.count_params() == 2_580_480  # book: TPE(80, 10000, 256)


def test_sine_token_and_position_embedding_any_length():
    emb = TokenAndPositionEmbedding(
        vocab_size=7,
        embed_dim=6,
        max_len=None,
        positions="sine",
        embeddings_initializer="he_uniform",
    )
    tokens = RNG.integers(0, 7, size=(2, 300))
    out = np_(emb(tokens))
    expected = np_(emb.token_emb.embeddings)[tokens] + np_(
        sine_position_encoding(np.arange(300), 6)
    )
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert emb.count_params() == 7 * 6


def test_embedding_errors_are_actionable():
    with pytest.raises(ValueError, match="max_len"):
        TokenAndPositionEmbedding(vocab_size=5, embed_dim=2, max_len=3)(np.zeros((1, 4), "int32"))
    with pytest.raises(ValueError, match=r"\(batch, length\)"):
        TokenAndPositionEmbedding(vocab_size=5, embed_dim=2, max_len=3)(np.zeros((4,), "int32"))
    with pytest.raises(ValueError, match="learned' or 'sine"):
        TokenAndPositionEmbedding(positions="rotary")


# -- transformer block -----------------------------------------------------------------
def test_book_gpt_block_parameter_count():
    block = TransformerBlock()
    block.build((None, None, 256))
    assert block.count_params() == 658_688  # book: TransformerBlock(2, 256, 256, 256)


def test_book_music_block_parameter_count():
    block = TransformerBlock(num_heads=5, key_dim=256, embed_dim=256, ff_dim=256, dropout_rate=0.3)
    block.build((None, None, 256))
    assert block.count_params() == 1_447_424  # book: music Transformer without its vocabularies


def _layer_norm(x, gamma, beta, eps):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


def test_block_matches_a_numpy_post_ln_reference():
    block = small_block()
    x = x_of()
    y, scores = block(x, return_attention_scores=True)
    w = {v.path.split("/", 1)[1]: np_(v) for v in block.weights}
    q = np.einsum("btd,dhk->bthk", x, w["query/kernel"]) + w["query/bias"]
    k = np.einsum("btd,dhk->bthk", x, w["key/kernel"]) + w["key/bias"]
    v = np.einsum("btd,dhk->bthk", x, w["value/kernel"]) + w["value/bias"]
    logits = np.einsum("bqhk,bshk->bhqs", q, k) / np.sqrt(8)
    t = x.shape[1]
    logits = np.where(np.tril(np.ones((t, t), bool)), logits, -np.inf)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    attn = np.einsum("bhqs,bshk->bqhk", p, v)
    attn = np.einsum("bqhk,hkd->bqd", attn, w["attention_output/kernel"])
    attn = attn + w["attention_output/bias"]
    h = _layer_norm(x + attn, w["ln_1/gamma"], w["ln_1/beta"], 1e-6)
    f = np.maximum(h @ w["ffn_1/kernel"] + w["ffn_1/bias"], 0) @ w["ffn_2/kernel"] + w["ffn_2/bias"]
    expected = _layer_norm(h + f, w["ln_2/gamma"], w["ln_2/beta"], 1e-6)
    np.testing.assert_allclose(np_(scores), p, atol=1e-6)
    np.testing.assert_allclose(np_(y), expected, atol=2e-5)


def test_attention_equals_keras_multi_head_attention_with_causal_mask():
    block = small_block()
    x = x_of()
    mha = keras.layers.MultiHeadAttention(2, 8, output_shape=16)
    mha(x, x, use_causal_mask=True)
    mha.set_weights(
        [
            np_(w)
            for layer in (block.query_dense, block.key_dense, block.value_dense, block.output_dense)
            for w in (layer.kernel, layer.bias)
        ]
    )
    expected, expected_scores = mha(x, x, use_causal_mask=True, return_attention_scores=True)
    q, k, v = block.query_dense(x), block.key_dense(x), block.value_dense(x)
    attn, scores = block._attend(q, k, v, causal_attention_mask(7, 7))
    np.testing.assert_allclose(np_(attn), np_(expected), atol=1e-5)
    np.testing.assert_allclose(np_(scores), np_(expected_scores), atol=1e-6)


def test_causal_mask_is_the_books():
    mask = np_(causal_attention_mask(3, 5))
    i, j = np.arange(3)[:, None], np.arange(5)[None, :]
    np.testing.assert_array_equal(mask, i >= j - 5 + 3)


def test_changing_a_later_position_changes_no_earlier_output():
    block = small_block()
    x = x_of(b=2, t=9)
    y = np_(block(x))
    for t in range(8):
        x2 = x.copy()
        x2[:, t + 1 :] = RNG.normal(size=x2[:, t + 1 :].shape)
        y2 = np_(block(x2))
        np.testing.assert_allclose(y2[:, : t + 1], y[:, : t + 1], atol=1e-6)
        assert np.abs(y2[:, t + 1] - y[:, t + 1]).max() > 1e-3


def test_attention_scores_sum_to_one_and_are_zero_on_the_future():
    _, scores = small_block()(x_of(), return_attention_scores=True)
    scores = np_(scores)
    assert scores.shape == (3, 2, 7, 7)
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-6)
    future = np.triu(np.ones((7, 7), bool), k=1)
    assert np.all(scores[..., future] == 0.0)
    assert np.all(scores[..., ~future] > 0.0)


@pytest.mark.parametrize("prefill", [1, 4])
def test_kv_cache_reproduces_the_full_pass(prefill):
    block = small_block()
    x = x_of(t=7)
    y_full, s_full = (np_(a) for a in block(x, return_attention_scores=True))
    max_len = 10
    cache = block.init_cache(3, max_len)
    assert tuple(ops.shape(cache)) == (3, 2, max_len, 2, 8)
    y, s, cache = block.call_with_cache(x[:, :prefill], cache, 0)
    ys, ss = [np_(y)], [np_(s)]
    for t in range(prefill, 7):
        y, s, cache = block.call_with_cache(x[:, t : t + 1], cache, ops.convert_to_tensor(t))
        ys.append(np_(y))
        ss.append(np_(s))
    np.testing.assert_allclose(np.concatenate(ys, 1), y_full, atol=1e-5)
    scores = np.concatenate(ss, 2)  # (B, H, 7, max_len)
    np.testing.assert_allclose(scores[..., :7], s_full, atol=1e-6)
    assert np.all(scores[..., 7:] == 0.0)
    # the cache holds exactly the keys/values of the 7 positions, zeros after
    cache = np_(cache)
    np.testing.assert_allclose(cache[:, 0, :7], np_(block.key_dense(x)), atol=1e-5)
    np.testing.assert_allclose(cache[:, 1, :7], np_(block.value_dense(x)), atol=1e-5)
    assert np.all(cache[:, :, 7:] == 0.0)


def test_dropout_only_in_training():
    block = small_block(dropout_rate=0.5, seed=3)
    x = x_of()
    np.testing.assert_allclose(np_(block(x)), np_(block(x, training=False)))
    assert np.abs(np_(block(x, training=True)) - np_(block(x))).max() > 1e-3


def test_block_shape_errors_name_the_expected_shape():
    with pytest.raises(ValueError, match=r"\(batch, length, 16\)"):
        small_block()(np.zeros((2, 3, 5), "float32"))
    block = small_block()
    with pytest.raises(ValueError, match=r"\(batch, 2, max_len, 2, 8\)"):
        block.call_with_cache(x_of(), ops.zeros((3, 10, 2, 8)), 0)


def test_layers_round_trip_through_a_keras_file(tmp_path):
    tokens = keras.Input((None,), dtype="int32")
    h = TokenAndPositionEmbedding(vocab_size=13, embed_dim=16, max_len=12)(tokens)
    h2 = TokenAndPositionEmbedding(
        vocab_size=5, embed_dim=16, max_len=None, positions="sine", max_wavelength=100.0
    )(tokens)
    y, scores = TransformerBlock(2, 8, 16, 12, dropout_rate=0.2, seed=1)(
        h + h2, return_attention_scores=True
    )
    model = keras.Model(tokens, [y, scores])
    x = RNG.integers(0, 5, size=(2, 12))
    before = [np_(a) for a in model(x)]
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    for a, b in zip(before, loaded(x)):
        np.testing.assert_allclose(a, np_(b), atol=1e-6)
    cfg = loaded.layers[-1].get_config()
    assert {k: cfg[k] for k in ("num_heads", "key_dim", "embed_dim", "ff_dim", "seed")} == {
        "num_heads": 2,
        "key_dim": 8,
        "embed_dim": 16,
        "ff_dim": 12,
        "seed": 1,
    }
    assert cfg["dropout_rate"] == 0.2
