"""A causal Transformer block with attention scores you can look at and a key/value cache.

Book notebooks: ``09_transformer/gpt/gpt.ipynb`` (``causal_attention_mask``,
``TransformerBlock(num_heads, key_dim, embed_dim, ff_dim, dropout_rate=0.1)``) and
``11_music/01_transformer`` (the same block, 5 heads, dropout 0.3). Both are *post-LN*::

    a, scores = MultiHeadAttention(causal)(x)          # scores: (B, heads, T, T)
    x = LayerNorm(eps=1e-6)(x + Dropout(a))
    y = LayerNorm(eps=1e-6)(x + Dropout(Dense(embed)(Dense(ff, relu)(x))))

Where gdl differs from the book:

* the attention is written out in ``keras.ops`` (query/key/value/output ``EinsumDense`` with
  the same shapes and parameter count as ``keras.layers.MultiHeadAttention(num_heads,
  key_dim, output_shape=embed_dim)``: 658,688 parameters for the book's GPT block), so the
  same layer can *also* decode incrementally with a key/value cache;
* no ``tf.*`` (the book's mask used ``tf.tile`` of a dynamic batch size, which is why the
  keras.io example does not run on jax); ``__init__`` takes ``**kwargs`` so the layer loads.

API
---
``block = TransformerBlock(num_heads=2, key_dim=256, embed_dim=256, ff_dim=256,
dropout_rate=0.1)``; inputs ``x`` of shape ``(B, T, embed_dim)``.

``block(x, training=None, return_attention_scores=False)``
    Full causal pass: ``y`` ``(B, T, embed_dim)``, or ``(y, scores)`` with
    ``scores`` ``(B, num_heads, T, T)`` (rows sum to 1, exactly 0 above the diagonal).

``cache = block.init_cache(batch_size, max_len)``
    A zero key/value cache of fixed shape ``(B, 2, max_len, num_heads, key_dim)``
    (``cache[:, 0]`` keys, ``cache[:, 1]`` values). Fixed shape, so a decode step compiles
    once.

``y, scores, cache = block.call_with_cache(x_new, cache, cache_index, training=False)``
    ``x_new`` ``(B, T_new, embed_dim)`` are the inputs at absolute positions
    ``cache_index .. cache_index + T_new - 1`` (``cache_index`` a Python int or a scalar int
    tensor). Their keys/values are written into ``cache`` at those positions, each new query
    attends to every cached position ``<=`` its own, and the updated cache is returned.
    ``scores`` is ``(B, num_heads, T_new, max_len)`` with zeros on positions not yet
    written. Prefill a prompt with ``T_new = prompt length, cache_index=0``, then decode
    one token at a time with ``T_new = 1, cache_index = t``. The outputs equal those of
    the full pass at the same positions (tested to 1e-5).

A model with several embeddings (the music Transformer: notes and durations embedded
separately, concatenated to 256) uses it the same way: embed the new tokens of each stream
with ``TokenAndPositionEmbedding(...)(tokens, start_index=t)``, concatenate, then
``block.call_with_cache``. One cache per block; keep them in a tuple.

:func:`run_cached_blocks` runs a stack of blocks this way. The decoding loop that drives
it (prefill, then one compiled step per token, sampling from host-drawn uniforms) is
:func:`gdl.generation.decode`, compiled through :func:`gdl.backend.compile_loop`.

Reference use: :class:`gdl.models.gpt.GPT` (``_decode_prefill``: the whole prompt buffer
into fresh caches; ``_decode_step``: one token).
"""

from __future__ import annotations

import math

import keras
from keras import ops

__all__ = ["TransformerBlock", "causal_attention_mask", "run_cached_blocks", "transformer_blocks"]

_MASKED = -1e9  # exp(-1e9 - max) is exactly 0 in float32: masked scores are exactly 0


def causal_attention_mask(n_dest: int, n_src: int, offset=None):
    """Boolean ``(n_dest, n_src)`` mask: query ``i`` (absolute position ``offset + i``) may
    see key ``j`` iff ``j <= offset + i``.

    The default ``offset = n_src - n_dest`` is the book's ``causal_attention_mask`` (the
    last ``n_dest`` positions of an ``n_src``-long sequence); it has no batch axis (it
    broadcasts).
    """
    if offset is None:
        offset = n_src - n_dest
    i = ops.expand_dims(ops.arange(n_dest) + offset, 1)
    j = ops.expand_dims(ops.arange(n_src), 0)
    return ops.greater_equal(i, j)


@keras.saving.register_keras_serializable(package="gdl")
class TransformerBlock(keras.layers.Layer):
    """Causal post-LN Transformer block (book's ``TransformerBlock``), with a KV cache.

    Args:
        num_heads: attention heads (GPT 2, music 5).
        key_dim: width of each head's queries/keys/values (256).
        embed_dim: width of the inputs and outputs (256); the residuals need the input's
            last axis to equal it.
        ff_dim: hidden width of the feed-forward network (256).
        dropout_rate: after the attention and after the feed-forward (GPT 0.1, music 0.3).
        epsilon: of both LayerNormalizations (book: 1e-6).
        seed: seed of the dropout layers (reproducible training on jax).

    See the module docstring for ``call``, ``init_cache`` and ``call_with_cache``.
    """

    def __init__(
        self,
        num_heads: int = 2,
        key_dim: int = 256,
        embed_dim: int = 256,
        ff_dim: int = 256,
        dropout_rate: float = 0.1,
        epsilon: float = 1e-6,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.embed_dim = int(embed_dim)
        self.ff_dim = int(ff_dim)
        self.dropout_rate = float(dropout_rate)
        self.epsilon = float(epsilon)
        self.seed = seed
        h, k, d = self.num_heads, self.key_dim, self.embed_dim
        proj = dict(output_shape=(None, h, k), bias_axes="hk")
        self.query_dense = keras.layers.EinsumDense("btd,dhk->bthk", name="query", **proj)
        self.key_dense = keras.layers.EinsumDense("btd,dhk->bthk", name="key", **proj)
        self.value_dense = keras.layers.EinsumDense("btd,dhk->bthk", name="value", **proj)
        self.output_dense = keras.layers.EinsumDense(
            "bthk,hkd->btd", output_shape=(None, d), bias_axes="d", name="attention_output"
        )
        self.dropout_1 = keras.layers.Dropout(self.dropout_rate, seed=seed)
        self.dropout_2 = keras.layers.Dropout(
            self.dropout_rate, seed=None if seed is None else seed + 1
        )
        self.ln_1 = keras.layers.LayerNormalization(epsilon=self.epsilon, name="ln_1")
        self.ln_2 = keras.layers.LayerNormalization(epsilon=self.epsilon, name="ln_2")
        self.ffn_1 = keras.layers.Dense(self.ff_dim, activation="relu", name="ffn_1")
        self.ffn_2 = keras.layers.Dense(d, name="ffn_2")

    def build(self, input_shape=None):
        if input_shape is not None and input_shape[-1] not in (None, self.embed_dim):
            raise ValueError(
                f"TransformerBlock(embed_dim={self.embed_dim}) needs inputs of shape "
                f"(batch, length, {self.embed_dim}) for its residual connections; "
                f"got {tuple(input_shape)}"
            )
        d = self.embed_dim
        for layer in (self.query_dense, self.key_dense, self.value_dense):
            layer.build((None, None, d))
        self.output_dense.build((None, None, self.num_heads, self.key_dim))
        self.ln_1.build((None, None, d))
        self.ln_2.build((None, None, d))
        self.ffn_1.build((None, None, d))
        self.ffn_2.build((None, None, self.ff_dim))
        self.built = True

    # -- pieces shared by the full and the cached pass ----------------------------------
    def _check(self, x):
        shape = ops.shape(x)
        if len(shape) != 3 or shape[-1] not in (None, self.embed_dim):
            raise ValueError(
                f"TransformerBlock expects inputs of shape (batch, length, {self.embed_dim}); "
                f"got {tuple(shape)}"
            )

    def _attend(self, q, keys, values, mask):
        """q ``(B,Tq,H,K)``, keys/values ``(B,Tk,H,K)``, bool mask ``(Tq,Tk)`` ->
        (attention output ``(B,Tq,D)``, scores ``(B,H,Tq,Tk)``)."""
        q = q * ops.cast(1.0 / math.sqrt(self.key_dim), q.dtype)
        logits = ops.einsum("bqhk,bshk->bhqs", q, keys)
        logits = ops.where(mask, logits, ops.cast(_MASKED, logits.dtype))
        scores = ops.softmax(logits, axis=-1)
        out = ops.einsum("bhqs,bshk->bqhk", scores, values)
        return self.output_dense(out), scores

    def _finish(self, x, attn, training):
        x = self.ln_1(x + self.dropout_1(attn, training=training))
        ffn = self.ffn_2(self.ffn_1(x))
        return self.ln_2(x + self.dropout_2(ffn, training=training))

    # -- full causal pass --------------------------------------------------------------
    def call(self, inputs, training=None, return_attention_scores=False):
        self._check(inputs)
        length = ops.shape(inputs)[1]
        q = self.query_dense(inputs)
        k = self.key_dense(inputs)
        v = self.value_dense(inputs)
        attn, scores = self._attend(q, k, v, causal_attention_mask(length, length))
        y = self._finish(inputs, attn, training)
        return (y, scores) if return_attention_scores else y

    # -- key/value cache ----------------------------------------------------------------
    def init_cache(self, batch_size: int, max_len: int, dtype=None):
        """Zero cache ``(batch_size, 2, max_len, num_heads, key_dim)`` (keys, values)."""
        return ops.zeros(
            (batch_size, 2, max_len, self.num_heads, self.key_dim),
            dtype=dtype or self.compute_dtype,
        )

    def call_with_cache(self, inputs, cache, cache_index, training=False):
        """Process new positions ``cache_index ..`` reusing the cached keys/values.

        Returns ``(y, scores, new_cache)``; see the module docstring.
        """
        self._check(inputs)
        cshape = ops.shape(cache)
        if (
            len(cshape) != 5
            or cshape[1] != 2
            or tuple(cshape[3:])
            != (
                self.num_heads,
                self.key_dim,
            )
        ):
            raise ValueError(
                f"cache must have shape (batch, 2, max_len, {self.num_heads}, {self.key_dim}) "
                f"as made by init_cache; got {tuple(cshape)}"
            )
        n_new = ops.shape(inputs)[1]
        q = self.query_dense(inputs)
        k = self.key_dense(inputs)
        v = self.value_dense(inputs)
        index = ops.cast(cache_index, "int32")
        zero = ops.cast(0, "int32")
        kv = ops.stack([k, v], axis=1)  # (B, 2, T_new, H, K)
        cache = ops.slice_update(cache, [zero, zero, index, zero, zero], ops.cast(kv, cache.dtype))
        mask = causal_attention_mask(n_new, cshape[2], offset=index)
        attn, scores = self._attend(q, cache[:, 0], cache[:, 1], mask)
        y = self._finish(inputs, attn, training)
        return y, scores, cache

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "embed_dim": self.embed_dim,
            "ff_dim": self.ff_dim,
            "dropout_rate": self.dropout_rate,
            "epsilon": self.epsilon,
            "seed": self.seed,
        }


def transformer_blocks(
    num_blocks: int,
    num_heads: int,
    key_dim: int,
    embed_dim: int,
    ff_dim: int,
    dropout_rate: float,
    seed: int | None = None,
    name: str = "transformer_block",
) -> list[TransformerBlock]:
    """A stack of ``num_blocks`` blocks: named ``name`` (one block) or ``name_i``; block
    ``i``'s dropout seeds are ``seed + 2 i`` and ``seed + 2 i + 1``."""
    return [
        TransformerBlock(
            num_heads,
            key_dim,
            embed_dim,
            ff_dim,
            dropout_rate,
            seed=None if seed is None else seed + 2 * i,
            name=name if num_blocks == 1 else f"{name}_{i}",
        )  # fmt: skip
        for i in range(num_blocks)
    ]


def run_cached_blocks(blocks, x, index, caches=None, max_len=None):
    """Run a stack of blocks incrementally with their key/value caches.

    ``x`` holds the embedded inputs at positions ``index, index + 1, ...``. With
    ``caches=None`` fresh caches of length ``max_len`` are made (the prefill of a
    prompt at ``index=0``); otherwise ``caches`` is the tuple returned by the previous
    call. Returns ``(y, last_block_scores, caches)``. Used by the GPT (chapter 9) and the
    music Transformer (chapter 11).
    """
    if caches is None:
        batch = ops.shape(x)[0]
        caches = [block.init_cache(batch, max_len) for block in blocks]
    new = []
    scores = None
    for block, cache in zip(blocks, caches):
        x, scores, cache = block.call_with_cache(x, cache, index)
        new.append(cache)
    return x, scores, tuple(new)
