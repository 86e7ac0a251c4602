"""gdl.layers.cross_attention / text_encoder / text_unet: the maths against NumPy by hand."""

import keras
import numpy as np
from keras import ops

from gdl.layers.cross_attention import (
    CrossAttention,
    GatedCrossAttentionBlock,
    PerceiverResampler,
    SpatialCrossAttention,
)
from gdl.layers.text_encoder import TextEncoder, pool_at_token, token_mask
from gdl.layers.text_unet import embedding_conditioned_unet, text_conditioned_unet

RNG = np.random.default_rng(0)


def np_(x):
    return np.asarray(ops.convert_to_numpy(x))


def softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def reference_attention(layer, x, ctx, mask=None):
    """Multi-head cross-attention written out in NumPy from the layer's weights."""
    wq, bq = np_(layer.query_dense.kernel), np_(layer.query_dense.bias)
    wk, bk = np_(layer.key_dense.kernel), np_(layer.key_dense.bias)
    wv, bv = np_(layer.value_dense.kernel), np_(layer.value_dense.bias)
    wo, bo = np_(layer.output_dense.kernel), np_(layer.output_dense.bias)
    b, h = x.shape[0], layer.num_heads
    out = np.zeros((b, x.shape[1], wo.shape[-1]))
    scores = np.zeros((b, h, x.shape[1], ctx.shape[1]))
    for i in range(b):
        for j in range(h):
            q = x[i] @ wq[:, j] + bq[j]
            k = ctx[i] @ wk[:, j] + bk[j]
            v = ctx[i] @ wv[:, j] + bv[j]
            logits = q @ k.T / np.sqrt(layer.key_dim)
            if mask is not None:
                logits = np.where(mask[i][None] > 0, logits, -np.inf)
            s = softmax(logits)
            scores[i, j] = s
            out[i] += (s @ v) @ wo[j]
        out[i] += bo
    return out, scores


def test_cross_attention_matches_numpy_softmax_and_masks_padding_exactly():
    layer = CrossAttention(num_heads=2, key_dim=4)
    x = RNG.normal(size=(2, 3, 6)).astype("float32")
    ctx = RNG.normal(size=(2, 5, 7)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "float32")
    out, scores = layer(x, ctx, mask, return_attention_scores=True)
    for w in layer.weights:  # non-zero biases so the reference sees them
        w.assign(np_(w) + RNG.normal(scale=0.2, size=w.shape).astype("float32"))
    out, scores = layer(x, ctx, mask, return_attention_scores=True)
    ref_out, ref_scores = reference_attention(layer, x, ctx, mask)
    np.testing.assert_allclose(np_(scores), ref_scores, atol=1e-5)
    np.testing.assert_allclose(np_(out), ref_out, atol=1e-4)
    assert np.all(np_(scores)[0, :, :, 3:] == 0.0)  # padding gets exactly zero weight
    # changing padded context entries changes nothing
    ctx2 = ctx.copy()
    ctx2[0, 3:] = 100.0
    np.testing.assert_allclose(np_(layer(x, ctx2, mask))[0], np_(out)[0], atol=1e-5)


def test_spatial_cross_attention_starts_as_identity_and_then_attends():
    layer = SpatialCrossAttention(num_heads=2, key_dim=4)
    x = RNG.normal(size=(2, 4, 4, 3)).astype("float32")
    ctx = RNG.normal(size=(2, 5, 6)).astype("float32")
    np.testing.assert_array_equal(np_(layer(x, ctx)), x)  # zero-initialised output projection
    layer.attention.output_dense.kernel.assign(RNG.normal(size=(2, 4, 3)).astype("float32"))
    flat = x.reshape(2, 16, 3)
    mu, var = flat.mean(-1, keepdims=True), flat.var(-1, keepdims=True)
    normed = (flat - mu) / np.sqrt(var + 1e-5)
    ref, _ = reference_attention(layer.attention, normed, ctx)
    np.testing.assert_allclose(np_(layer(x, ctx)), x + ref.reshape(x.shape), atol=1e-4)


def test_gated_block_is_identity_at_gate_zero_and_tanh_gated_after():
    block = GatedCrossAttentionBlock(num_heads=2, key_dim=4, ff_dim=8)
    x = RNG.normal(size=(2, 3, 6)).astype("float32")
    media = RNG.normal(size=(2, 4, 5)).astype("float32")
    np.testing.assert_array_equal(np_(block(x, media)), x)
    block.alpha_attn.assign(0.5)  # feed-forward gate still closed
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    ref, _ = reference_attention(block.attention, (x - mu) / np.sqrt(var + 1e-5), media)
    np.testing.assert_allclose(np_(block(x, media)), x + np.tanh(0.5) * ref, atol=1e-4)


def test_perceiver_resampler_gives_a_fixed_number_of_latents():
    layer = PerceiverResampler(num_latents=3, embed_dim=8, num_heads=2, key_dim=4, ff_dim=8)
    for n in (5, 11):
        out = np_(layer(RNG.normal(size=(2, n, 6)).astype("float32")))
        assert out.shape == (2, 3, 8)
        np.testing.assert_allclose(out.mean(-1), 0.0, atol=1e-5)  # final LayerNorm


def test_text_encoder_pools_at_the_last_real_token_and_ignores_padding():
    tokens = np.array([[2, 5, 6, 3, 0, 0], [2, 7, 3, 0, 0, 0]], "int32")
    np.testing.assert_array_equal(np_(token_mask(tokens)), (tokens != 0).astype("float32"))
    x = RNG.normal(size=(2, 6, 4)).astype("float32")
    np.testing.assert_array_equal(np_(pool_at_token(x, tokens)), x[[0, 1], [3, 2]])
    enc = TextEncoder(vocab_size=10, max_len=6, embed_dim=8, num_heads=2, key_dim=4, ff_dim=8,
                      num_blocks=1)
    feats, pooled, mask = enc(tokens)
    assert np_(feats).shape == (2, 6, 8) and np_(pooled).shape == (2, 8)
    other = tokens.copy()
    other[:, 4:] = 9  # anything after [END] is invisible to it (causal mask)
    np.testing.assert_allclose(np_(enc(other)[0])[:, :4], np_(feats)[:, :4], atol=1e-5)


def test_conditioned_unets_start_at_zero_and_depend_on_the_condition():
    enc = {"vocab_size": 10, "max_len": 6, "embed_dim": 8, "num_heads": 1, "key_dim": 4,
           "ff_dim": 8, "num_blocks": 1}
    net = text_conditioned_unet(8, 1, widths=(4, 8), block_depth=1, embedding_dims=4,
                                text_encoder=enc, num_heads=1, key_dim=4)
    x = RNG.normal(size=(2, 8, 8, 1)).astype("float32")
    v = np.full((2, 1, 1, 1), 0.5, "float32")
    t = np.array([[2, 5, 3, 0, 0, 0], [2, 6, 3, 0, 0, 0]], "int32")
    np.testing.assert_array_equal(np_(net([x, v, t])), 0.0)  # zero last conv, as gdl's unet
    last = net.layers[-1]
    last.kernel.assign(RNG.normal(size=last.kernel.shape).astype("float32"))
    a = np_(net([x, v, t]))
    b = np_(net([x, v, t[::-1]]))
    assert not np.allclose(a, b)  # the text reaches the output
    clone = keras.models.clone_model(net)  # the EMA copy of the diffusion models
    clone.set_weights(net.get_weights())
    np.testing.assert_allclose(np_(clone([x, v, t])), a, atol=1e-5)
    net2 = embedding_conditioned_unet(8, 1, widths=(4, 8), block_depth=1, embedding_dims=4,
                                      condition_dim=6, condition_tokens=2, num_heads=1, key_dim=4)
    assert np_(net2([x, v, RNG.normal(size=(2, 6)).astype("float32")])).shape == (2, 8, 8, 1)
