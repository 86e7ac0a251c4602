"""A small text Transformer encoder, as in CLIP (chapter 13), from gdl's chapter 9 layers.

CLIP's text encoder is a GPT-style Transformer with a *causal* mask whose output at the
end-of-text token is the sentence embedding (Radford et al. 2021, section 2.4). gdl's is
the same at small scale: :class:`~gdl.layers.embeddings.TokenAndPositionEmbedding` plus
``num_blocks`` :class:`~gdl.layers.transformer.TransformerBlock` (post-LN, causal), pooled
at the last real token (the ``[END]`` of :class:`gdl.preprocessing.CaptionTokenizer`).
Because the mask is causal, padding after ``[END]`` changes nothing before it.

``features, pooled, mask = TextEncoder(vocab_size, max_len)(tokens)``:
per-token features ``(B, T, D)`` (what a U-Net cross-attends to), the pooled embedding
``(B, D)`` and the float token mask ``(B, T)`` (1 for real tokens, 0 for padding id 0).
"""

from __future__ import annotations

import keras
from keras import ops

from gdl.layers.embeddings import TokenAndPositionEmbedding
from gdl.layers.transformer import transformer_blocks

__all__ = ["TextEncoder", "pool_at_token", "token_mask"]


def token_mask(tokens, pad_id: int = 0):
    """Float ``(B, T)``: 1 where ``tokens != pad_id``."""
    return ops.cast(ops.not_equal(tokens, pad_id), "float32")


def pool_at_token(x, tokens, pad_id: int = 0):
    """``x`` ``(B, T, D)`` at each row's last non-padding position (CLIP's end-of-text
    pooling) -> ``(B, D)``. A row of padding only gives position 0."""
    last = ops.maximum(ops.sum(ops.cast(ops.not_equal(tokens, pad_id), "int32"), axis=1) - 1, 0)
    index = ops.reshape(last, (-1, 1, 1))
    return ops.take_along_axis(x, ops.cast(index, "int32"), axis=1)[:, 0]


@keras.saving.register_keras_serializable(package="gdl")
class TextEncoder(keras.layers.Layer):
    """Token ids ``(B, T)`` -> ``(features (B, T, D), pooled (B, D), mask (B, T))``.

    Args: ``vocab_size``, ``max_len`` (learned position table), ``embed_dim`` (D),
    ``num_heads``, ``key_dim``, ``ff_dim``, ``num_blocks``, ``dropout_rate``, ``seed``.
    """

    def __init__(self, vocab_size: int = 64, max_len: int = 16, embed_dim: int = 64,
                 num_heads: int = 2, key_dim: int = 32, ff_dim: int = 128, num_blocks: int = 2,
                 dropout_rate: float = 0.0, seed: int | None = None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.vocab_size, self.max_len, self.embed_dim = int(vocab_size), int(max_len), int(embed_dim)
        self.num_heads, self.key_dim, self.ff_dim = int(num_heads), int(key_dim), int(ff_dim)
        self.num_blocks, self.dropout_rate, self.seed = int(num_blocks), float(dropout_rate), seed
        self.embedding = TokenAndPositionEmbedding(self.vocab_size, self.embed_dim, self.max_len,
                                                   name="token_and_position")  # fmt: skip
        self.blocks = transformer_blocks(self.num_blocks, self.num_heads, self.key_dim,
                                         self.embed_dim, self.ff_dim, self.dropout_rate, seed,
                                         name="text_block")  # fmt: skip

    def build(self, input_shape=None):
        self.embedding.build()
        for block in self.blocks:
            block.build((None, None, self.embed_dim))
        self.built = True

    def call(self, tokens, training=None):
        x = self.embedding(tokens)
        for block in self.blocks:
            x = block(x, training=training)
        return x, pool_at_token(x, tokens), token_mask(tokens)

    def compute_output_shape(self, input_shape):
        b, t = input_shape
        return (b, t, self.embed_dim), (b, self.embed_dim), (b, t)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "max_len": self.max_len,
                "embed_dim": self.embed_dim, "num_heads": self.num_heads,
                "key_dim": self.key_dim, "ff_dim": self.ff_dim, "num_blocks": self.num_blocks,
                "dropout_rate": self.dropout_rate, "seed": self.seed}  # fmt: skip
