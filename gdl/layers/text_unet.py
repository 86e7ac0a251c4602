"""gdl's DDIM U-Net (chapter 8) conditioned on text or on an embedding (chapter 13).

Same residual blocks, pooling and skips as :func:`gdl.layers.unet.unet`, plus:

* a :class:`~gdl.layers.cross_attention.SpatialCrossAttention` after every residual block
  at the levels from ``attention_from_level`` down (0 is full resolution) and at the
  bottleneck: image positions attend to the condition tokens (Stable Diffusion, Imagen);
* the pooled condition (Imagen adds the pooled text embedding to the time embedding),
  projected to ``embedding_dims`` and concatenated with the noise-variance embedding.

:func:`text_conditioned_unet`: ``[noisy_images, noise_variances, tokens] -> noise``, with a
:class:`~gdl.layers.text_encoder.TextEncoder` inside (trained with the U-Net: gdl's text
encoder is small and learns from the captions; Imagen and Stable Diffusion freeze a large
pretrained one). :func:`embedding_conditioned_unet`: ``[noisy_images, noise_variances,
embedding] -> noise`` for the DALL·E 2 decoder: the embedding becomes ``condition_tokens``
context tokens (DALL·E 2 projects the CLIP image embedding to four extra tokens).
"""

from __future__ import annotations

import keras
from keras import layers

from gdl.layers.cross_attention import SpatialCrossAttention
from gdl.layers.noise_embedding import SinusoidalEmbedding
from gdl.layers.text_encoder import TextEncoder
from gdl.layers.unet import residual_block

__all__ = ["embedding_conditioned_unet", "text_conditioned_unet"]


def _conditioned_body(noisy_images, noise_variances, context, mask, pooled, widths,
                      block_depth, embedding_dims, num_heads, key_dim, attention_from_level):  # fmt: skip
    image_size, channels = noisy_images.shape[1], noisy_images.shape[-1]
    factor = 2 ** (len(widths) - 1)
    if image_size % factor:
        raise ValueError(f"image_size {image_size} must be divisible by {factor} for "
                         f"{len(widths)} widths")  # fmt: skip

    def attend(x):
        return SpatialCrossAttention(num_heads, key_dim)(x, context, mask)

    x = layers.Conv2D(widths[0], kernel_size=1)(noisy_images)
    e = SinusoidalEmbedding(embedding_dims)(noise_variances)
    p = layers.Reshape((1, 1, embedding_dims))(layers.Dense(embedding_dims)(pooled))
    e = layers.UpSampling2D(size=image_size, interpolation="nearest")(
        layers.Concatenate()([e, p]))  # fmt: skip
    x = layers.Concatenate()([x, e])
    skips = []
    for level, width in enumerate(widths[:-1]):
        for _ in range(block_depth):
            x = residual_block(x, width)
            x = attend(x) if level >= attention_from_level else x
            skips.append(x)
        x = layers.AveragePooling2D(pool_size=2)(x)
    for _ in range(block_depth):
        x = attend(residual_block(x, widths[-1]))
    for level in reversed(range(len(widths) - 1)):
        x = layers.UpSampling2D(size=2, interpolation="bilinear")(x)
        for _ in range(block_depth):
            x = residual_block(layers.Concatenate()([x, skips.pop()]), widths[level])
            x = attend(x) if level >= attention_from_level else x
    return layers.Conv2D(channels, kernel_size=1, kernel_initializer="zeros")(x)


def text_conditioned_unet(image_size: int = 16, channels: int = 1, widths=(32, 64, 96),
                          block_depth: int = 2, embedding_dims: int = 32, text_encoder=None,
                          num_heads: int = 2, key_dim: int = 32, attention_from_level: int = 1,
                          name: str = "text_unet") -> keras.Model:  # fmt: skip
    """``[noisy_images (B,H,W,C), noise_variances (B,1,1,1), tokens (B,T) int] -> noise``.

    ``text_encoder``: a :class:`TextEncoder` (or its config dict); default
    ``TextEncoder()`` (vocabulary 64, 16 tokens, width 64).
    """
    if text_encoder is None or isinstance(text_encoder, dict):
        text_encoder = TextEncoder(**(text_encoder or {}), name="text_encoder")
    noisy = keras.Input(shape=(image_size, image_size, channels), name="noisy_images")
    variances = keras.Input(shape=(1, 1, 1), name="noise_variances")
    tokens = keras.Input(shape=(text_encoder.max_len,), dtype="int32", name="tokens")
    context, pooled, mask = text_encoder(tokens)
    out = _conditioned_body(noisy, variances, context, mask, pooled, widths, block_depth,
                            embedding_dims, num_heads, key_dim, attention_from_level)  # fmt: skip
    return keras.Model([noisy, variances, tokens], out, name=name)


def embedding_conditioned_unet(image_size: int = 16, channels: int = 1, widths=(32, 64, 96),
                               block_depth: int = 2, embedding_dims: int = 32,
                               condition_dim: int = 64, condition_tokens: int = 4,
                               num_heads: int = 2, key_dim: int = 32,
                               attention_from_level: int = 1,
                               name: str = "embedding_unet") -> keras.Model:  # fmt: skip
    """``[noisy_images, noise_variances, embedding (B, condition_dim)] -> noise``; the
    embedding is projected to ``condition_tokens`` tokens of width ``condition_dim``."""
    noisy = keras.Input(shape=(image_size, image_size, channels), name="noisy_images")
    variances = keras.Input(shape=(1, 1, 1), name="noise_variances")
    embedding = keras.Input(shape=(condition_dim,), name="embedding")
    context = layers.Reshape((condition_tokens, condition_dim))(
        layers.Dense(condition_tokens * condition_dim)(embedding))  # fmt: skip
    out = _conditioned_body(noisy, variances, context, None, embedding, widths, block_depth,
                            embedding_dims, num_heads, key_dim, attention_from_level)  # fmt: skip
    return keras.Model([noisy, variances, embedding], out, name=name)
