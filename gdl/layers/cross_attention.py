"""Cross-attention: queries from one stream, keys and values from another (chapter 13).

The chapter's models all condition one thing on another with attention: Stable
Diffusion's and Imagen's U-Net attends from image positions to the text encoder's tokens
(:class:`SpatialCrossAttention`), Flamingo's language model attends to image features
through *gated* cross-attention layers whose ``tanh`` gates start at 0, so the frozen
language model is unchanged at initialisation (:class:`GatedCrossAttentionBlock`), and
Flamingo's Perceiver resampler turns any number of image features into a fixed number of
latents that cross-attend to them (:class:`PerceiverResampler`). The book describes them
in prose only; these are small ``keras.ops`` versions, serializable, every backend.

``CrossAttention(num_heads, key_dim)(x, context, key_mask=None)``::

    q = x Wq, k = context Wk, v = context Wv                 (per head, width key_dim)
    a = softmax(q kᵀ / sqrt(key_dim), masked where key_mask == 0) v
    out = concat_heads(a) Wo                                  (B, Tq, output_dim)

``key_mask`` ``(B, Tk)`` (1 = real token, 0 = padding; bool or float) removes
padding keys exactly (their weight is 0).
"""

from __future__ import annotations

import math

import keras
from keras import ops

__all__ = ["CrossAttention", "GatedCrossAttentionBlock", "PerceiverResampler",
           "SpatialCrossAttention"]  # fmt: skip

_MASKED = -1e9


def _dims(shape):
    return int(shape[-1])


@keras.saving.register_keras_serializable(package="gdl")
class CrossAttention(keras.layers.Layer):
    """Multi-head attention of ``x`` ``(B, Tq, Dx)`` to ``context`` ``(B, Tk, Dc)``.

    Args:
        num_heads, key_dim: heads and per-head width.
        output_dim: width of the output (default: ``Dx``).
        output_initializer: of the output projection (``"zeros"`` makes a residual
            branch start as the identity).
        dropout_rate: on the attention weights.
        seed: of the dropout.

    ``layer(x, context, key_mask=None, training=None, return_attention_scores=False)``
    returns ``(B, Tq, output_dim)`` (and scores ``(B, heads, Tq, Tk)``, rows summing to 1).
    """

    def __init__(self, num_heads: int = 2, key_dim: int = 32, output_dim: int | None = None,
                 output_initializer="glorot_uniform", dropout_rate: float = 0.0,
                 seed: int | None = None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.output_dim = None if output_dim is None else int(output_dim)
        self.output_initializer = keras.initializers.get(output_initializer)
        self.dropout_rate, self.seed = float(dropout_rate), seed
        proj = dict(output_shape=(None, self.num_heads, self.key_dim), bias_axes="hk")
        self.query_dense = keras.layers.EinsumDense("btd,dhk->bthk", name="query", **proj)
        self.key_dense = keras.layers.EinsumDense("btd,dhk->bthk", name="key", **proj)
        self.value_dense = keras.layers.EinsumDense("btd,dhk->bthk", name="value", **proj)
        self.dropout = keras.layers.Dropout(self.dropout_rate, seed=seed)
        self.output_dense = None

    def build(self, x_shape, context_shape, key_mask_shape=None):
        out = self.output_dim or _dims(x_shape)
        self.output_dense = keras.layers.EinsumDense(
            "bthk,hkd->btd", output_shape=(None, out), bias_axes="d",
            kernel_initializer=self.output_initializer, name="attention_output",
        )  # fmt: skip
        self.query_dense.build((None, None, _dims(x_shape)))
        self.key_dense.build((None, None, _dims(context_shape)))
        self.value_dense.build((None, None, _dims(context_shape)))
        self.output_dense.build((None, None, self.num_heads, self.key_dim))
        self.built = True

    def call(self, x, context, key_mask=None, training=None, return_attention_scores=False):
        q = self.query_dense(x) * ops.cast(1.0 / math.sqrt(self.key_dim), x.dtype)
        k, v = self.key_dense(context), self.value_dense(context)
        logits = ops.einsum("bqhk,bshk->bhqs", q, k)
        if key_mask is not None:
            keep = ops.cast(key_mask, "bool")[:, None, None, :]
            logits = ops.where(keep, logits, ops.cast(_MASKED, logits.dtype))
        scores = ops.softmax(logits, axis=-1)
        out = ops.einsum("bhqs,bshk->bqhk", self.dropout(scores, training=training), v)
        out = self.output_dense(out)
        return (out, scores) if return_attention_scores else out

    def compute_output_shape(self, x_shape, context_shape, key_mask_shape=None):
        return (*x_shape[:-1], self.output_dim or x_shape[-1])

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "output_dim": self.output_dim,
                "output_initializer": keras.initializers.serialize(self.output_initializer),
                "dropout_rate": self.dropout_rate, "seed": self.seed}  # fmt: skip


@keras.saving.register_keras_serializable(package="gdl")
class SpatialCrossAttention(keras.layers.Layer):
    """Image features attend to a token sequence, as in Stable Diffusion's U-Net.

    ``layer(x, context, key_mask=None)`` with ``x`` ``(B, H, W, C)``:
    ``x + reshape(CrossAttention(LayerNorm(flatten(x)), context))``. The output projection
    starts at zero, so an untrained layer is the identity (the U-Net starts as gdl's
    unconditional one, like Stable Diffusion's zero-initialised ``proj_out``).
    """

    def __init__(self, num_heads: int = 2, key_dim: int = 32, epsilon: float = 1e-5,
                 **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.num_heads, self.key_dim, self.epsilon = int(num_heads), int(key_dim), float(epsilon)
        self.norm = keras.layers.LayerNormalization(epsilon=self.epsilon, name="norm")
        self.attention = CrossAttention(self.num_heads, self.key_dim,
                                        output_initializer="zeros", name="cross_attention")  # fmt: skip

    def build(self, x_shape, context_shape, key_mask_shape=None):
        c = _dims(x_shape)
        self.norm.build((None, None, c))
        self.attention.build((None, None, c), context_shape)
        self.built = True

    def call(self, x, context, key_mask=None, training=None):
        shape = ops.shape(x)
        flat = ops.reshape(x, (shape[0], shape[1] * shape[2], shape[3]))
        out = self.attention(self.norm(flat), context, key_mask, training=training)
        return x + ops.reshape(out, shape)

    def compute_output_shape(self, x_shape, context_shape, key_mask_shape=None):
        return x_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "epsilon": self.epsilon}  # fmt: skip


def _feed_forward(width: int, hidden: int, name: str) -> keras.Sequential:
    return keras.Sequential([keras.layers.Dense(hidden, activation="gelu"),
                             keras.layers.Dense(width)], name=name)  # fmt: skip


@keras.saving.register_keras_serializable(package="gdl")
class GatedCrossAttentionBlock(keras.layers.Layer):
    """Flamingo's gated cross-attention dense block (Alayrac et al. 2022)::

        x = x + tanh(alpha_attn) * CrossAttention(LayerNorm(x), media)
        x = x + tanh(alpha_ff)   * FeedForward(LayerNorm(x))

    Both gates are scalars initialised at 0: the block is exactly the identity at
    initialisation, so inserting it into a trained language model changes nothing until
    training opens the gates. ``layer(x, media, key_mask=None)``.
    """

    def __init__(self, num_heads: int = 2, key_dim: int = 32, ff_dim: int = 128,
                 epsilon: float = 1e-5, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.num_heads, self.key_dim, self.ff_dim = int(num_heads), int(key_dim), int(ff_dim)
        self.epsilon = float(epsilon)
        self.norm_attn = keras.layers.LayerNormalization(epsilon=self.epsilon, name="norm_attn")
        self.norm_ff = keras.layers.LayerNormalization(epsilon=self.epsilon, name="norm_ff")
        self.attention = CrossAttention(self.num_heads, self.key_dim, name="cross_attention")
        self.ff = None

    def build(self, x_shape, media_shape, key_mask_shape=None):
        d = _dims(x_shape)
        self.norm_attn.build((None, None, d))
        self.norm_ff.build((None, None, d))
        self.attention.build((None, None, d), media_shape)
        self.ff = _feed_forward(d, self.ff_dim, "feed_forward")
        self.ff.build((None, None, d))
        self.alpha_attn = self.add_weight(shape=(), initializer="zeros", name="alpha_attn")
        self.alpha_ff = self.add_weight(shape=(), initializer="zeros", name="alpha_ff")
        self.built = True

    def call(self, x, media, key_mask=None, training=None):
        attn = self.attention(self.norm_attn(x), media, key_mask, training=training)
        x = x + ops.tanh(self.alpha_attn) * attn
        return x + ops.tanh(self.alpha_ff) * self.ff(self.norm_ff(x))

    def compute_output_shape(self, x_shape, media_shape, key_mask_shape=None):
        return x_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "ff_dim": self.ff_dim, "epsilon": self.epsilon}  # fmt: skip


@keras.saving.register_keras_serializable(package="gdl")
class PerceiverResampler(keras.layers.Layer):
    """Flamingo's Perceiver resampler: ``num_latents`` learned queries cross-attend to the
    image features (and to themselves), ``depth`` times; any number of features in,
    ``(B, num_latents, embed_dim)`` out.

    Per layer: ``z = z + Attn(q=LN(z), kv=[LN(f); LN(z)])``, ``z = z + FF(LN(z))``; the
    features ``(B, N, Df)`` are first projected to ``embed_dim``; a final LayerNorm.
    """

    def __init__(self, num_latents: int = 8, embed_dim: int = 64, num_heads: int = 2,
                 key_dim: int = 32, ff_dim: int = 128, depth: int = 1, epsilon: float = 1e-5,
                 **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.num_latents, self.embed_dim = int(num_latents), int(embed_dim)
        self.num_heads, self.key_dim, self.ff_dim = int(num_heads), int(key_dim), int(ff_dim)
        self.depth, self.epsilon = int(depth), float(epsilon)
        d = self.embed_dim
        ln = lambda n: keras.layers.LayerNormalization(epsilon=self.epsilon, name=n)  # noqa: E731
        self.project = keras.layers.Dense(d, name="project")
        r = range(self.depth)
        self.norms_features = [ln(f"norm_features_{i}") for i in r]
        self.norms_latents = [ln(f"norm_latents_{i}") for i in r]
        self.attentions = [CrossAttention(self.num_heads, self.key_dim, name=f"attention_{i}")
                           for i in r]  # fmt: skip
        self.norms_ff = [ln(f"norm_ff_{i}") for i in r]
        self.ffs = [_feed_forward(d, self.ff_dim, f"feed_forward_{i}") for i in r]
        self.final_norm = ln("final_norm")

    def _stack(self):
        return zip(self.norms_features, self.norms_latents, self.attentions, self.norms_ff,
                   self.ffs)  # fmt: skip

    def build(self, input_shape):
        d = self.embed_dim
        self.latents = self.add_weight(shape=(self.num_latents, d), name="latents",
                                       initializer=keras.initializers.RandomNormal(stddev=0.02))  # fmt: skip
        self.project.build((None, None, _dims(input_shape)))
        for norm_f, norm_z, attn, norm_ff, ff in self._stack():
            for layer in (norm_f, norm_z, norm_ff, ff):
                layer.build((None, None, d))
            attn.build((None, None, d), (None, None, d))
        self.final_norm.build((None, None, d))
        self.built = True

    def call(self, features, training=None):
        f = self.project(features)
        batch = ops.shape(f)[0]
        z = ops.broadcast_to(ops.cast(self.latents, f.dtype)[None],
                             (batch, self.num_latents, self.embed_dim))  # fmt: skip
        for norm_f, norm_z, attn, norm_ff, ff in self._stack():
            zn = norm_z(z)
            z = z + attn(zn, ops.concatenate([norm_f(f), zn], axis=1), training=training)
            z = z + ff(norm_ff(z))
        return self.final_norm(z)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_latents, self.embed_dim)

    def get_config(self):
        return {**super().get_config(), "num_latents": self.num_latents,
                "embed_dim": self.embed_dim, "num_heads": self.num_heads,
                "key_dim": self.key_dim, "ff_dim": self.ff_dim, "depth": self.depth,
                "epsilon": self.epsilon}  # fmt: skip
