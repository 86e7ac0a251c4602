"""Token and position embeddings for the chapter 9 GPT and the chapter 11 music Transformer.

Book notebooks: ``09_transformer/gpt/gpt.ipynb`` (``TokenAndPositionEmbedding`` with a
*learned* position table) and ``11_music/01_transformer/transformer_utils.py``
(``SinePositionEncoding``, a TF-ops copy of the keras-nlp layer, and a token embedding with
``he_uniform`` initialiser plus the fixed sinusoid).

Both are plain ``keras.ops`` here, so they run on the tensorflow, jax and torch backends,
accept ``**kwargs`` and serialise (the book's ``__init__`` took no ``**kwargs``, so
``load_model`` failed on them).

API
---
``SinePositionEncoding(max_wavelength=10000)``
    ``layer(x, start_index=0)`` returns the sinusoid for positions
    ``start_index .. start_index + T - 1`` broadcast to ``x.shape`` (``(B, T, D)``): even
    feature ``2i`` is ``sin(p / w^(2i/D))``, odd feature ``2i+1`` is ``cos(p / w^(2i/D))``.
    It has no weights and works for any length.

``TokenAndPositionEmbedding(vocab_size=10000, embed_dim=256, max_len=80, positions="learned")``
    ``layer(tokens, start_index=0)``: ``(B, T)`` int ids -> ``(B, T, embed_dim)``, the token
    embedding plus the embedding of positions ``start_index ..``. ``positions="learned"`` is
    the GPT's ``Embedding(max_len, embed_dim)`` table; ``positions="sine"`` uses
    :class:`SinePositionEncoding` (``max_len`` may then be ``None``: any length). The music
    Transformer is ``TokenAndPositionEmbedding(vocab, 128, max_len=None, positions="sine",
    embeddings_initializer="he_uniform")``.

``start_index`` (a Python int or a scalar int tensor) is what key/value-cached decoding
needs: a new token at position ``t`` is embedded with ``start_index=t`` (see
:mod:`gdl.layers.transformer`).
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["SinePositionEncoding", "TokenAndPositionEmbedding", "sine_position_encoding"]


def sine_position_encoding(positions, dim: int, max_wavelength: float = 10000.0, dtype="float32"):
    """The sinusoid of ``positions`` (any int/float tensor of shape ``S``) -> shape ``S + (dim,)``.

    Same formula as keras-hub's ``SinePositionEncoding`` (and the book's copy of it).
    """
    positions = ops.cast(positions, dtype)
    idx = ops.arange(dim)
    # w^(-2i/D) for the pair (2i, 2i+1)
    timescales = ops.power(
        ops.cast(1.0 / max_wavelength, dtype),
        ops.cast(2 * (idx // 2), dtype) / ops.cast(dim, dtype),
    )
    angles = ops.expand_dims(positions, -1) * timescales
    cos_mask = ops.cast(idx % 2, dtype)
    return ops.sin(angles) * (1 - cos_mask) + ops.cos(angles) * cos_mask


@keras.saving.register_keras_serializable(package="gdl")
class SinePositionEncoding(keras.layers.Layer):
    """Fixed sinusoidal position encoding (no weights, any sequence length).

    ``layer(x, start_index=0)`` with ``x`` of shape ``(B, T, D)`` (or ``(T, D)``) returns the
    encoding of positions ``start_index .. start_index+T-1`` broadcast to ``x``'s shape;
    add it to ``x`` yourself (as the book does).
    """

    def __init__(self, max_wavelength: float = 10000.0, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = max_wavelength
        self.built = True

    def call(self, inputs, start_index=0):
        shape = ops.shape(inputs)
        if len(shape) < 2:
            raise ValueError(
                f"SinePositionEncoding expects inputs of shape (batch, length, dim) or "
                f"(length, dim); got shape {tuple(shape)}"
            )
        length, dim = shape[-2], shape[-1]
        positions = ops.arange(length) + ops.cast(start_index, "int32")
        enc = sine_position_encoding(positions, dim, self.max_wavelength, self.compute_dtype)
        return ops.broadcast_to(enc, shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_wavelength": self.max_wavelength}


@keras.saving.register_keras_serializable(package="gdl")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embedding plus position embedding (book's ``TokenAndPositionEmbedding``).

    Args:
        vocab_size: number of token ids (book GPT: 10000).
        embed_dim: embedding width (book GPT: 256; music Transformer: 128 per stream).
        max_len: longest sequence (book GPT: 80). Required for ``positions="learned"``;
            with ``"sine"`` it may be ``None`` (no limit).
        positions: ``"learned"`` (GPT: an ``Embedding(max_len, embed_dim)``) or ``"sine"``
            (music Transformer: :class:`SinePositionEncoding`).
        embeddings_initializer: initialiser of the token table (``"uniform"`` is Keras'
            default, the GPT's; the music Transformer uses ``"he_uniform"``).
        max_wavelength: of the sinusoid (``"sine"`` only).

    Call: ``layer(tokens, start_index=0)`` with int ``tokens`` of shape ``(B, T)`` returns
    ``(B, T, embed_dim)``; ``start_index`` offsets the positions (cached decoding).
    """

    def __init__(
        self,
        vocab_size: int = 10000,
        embed_dim: int = 256,
        max_len: int | None = 80,
        positions: str = "learned",
        embeddings_initializer="uniform",
        max_wavelength: float = 10000.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if positions not in ("learned", "sine"):
            raise ValueError(f"positions must be 'learned' or 'sine', got {positions!r}")
        if positions == "learned" and not max_len:
            raise ValueError("positions='learned' needs max_len (the size of the position table)")
        self.vocab_size = int(vocab_size)
        self.embed_dim = int(embed_dim)
        self.max_len = None if max_len is None else int(max_len)
        self.positions = positions
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.max_wavelength = max_wavelength
        self.token_emb = keras.layers.Embedding(
            self.vocab_size,
            self.embed_dim,
            embeddings_initializer=self.embeddings_initializer,
            name="token_embedding",
        )
        if positions == "learned":
            self.pos_emb = keras.layers.Embedding(
                self.max_len, self.embed_dim, name="position_embedding"
            )
        else:
            self.pos_emb = SinePositionEncoding(max_wavelength, name="position_encoding")

    def build(self, input_shape=None):
        self.token_emb.build((None, None))
        if self.positions == "learned":
            self.pos_emb.build((None,))
        self.built = True

    def call(self, inputs, start_index=0):
        shape = ops.shape(inputs)
        if len(shape) != 2:
            raise ValueError(
                f"TokenAndPositionEmbedding expects int token ids of shape (batch, length); "
                f"got shape {tuple(shape)}"
            )
        length = shape[1]
        if (
            self.positions == "learned"
            and isinstance(length, int)
            and isinstance(start_index, int)
            and start_index + length > self.max_len
        ):
            raise ValueError(
                f"sequence positions {start_index}..{start_index + length - 1} exceed the "
                f"learned position table (max_len={self.max_len}); crop the input to "
                f"{self.max_len} tokens or build the layer with a larger max_len"
            )
        x = self.token_emb(inputs)
        if self.positions == "learned":
            pos = ops.arange(length) + ops.cast(start_index, "int32")
            return x + ops.expand_dims(self.pos_emb(pos), 0)
        return x + ops.cast(self.pos_emb(x, start_index=start_index), x.dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.embed_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
            "max_len": self.max_len,
            "positions": self.positions,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            "max_wavelength": self.max_wavelength,
        }
