"""The diffusion model's U-Net (book: ``08_diffusion/01_ddm/ddm.ipynb``, after the keras.io
DDIM example).

Built from standard Keras layers plus :class:`~gdl.layers.noise_embedding.SinusoidalEmbedding`,
so it is a plain functional model: ``keras.models.clone_model`` (the EMA copy) and
``.keras`` files work without custom code. With the book's settings (64x64x3, widths
32/64/96/128, block depth 2, 32-dim embedding) it has 1,953,507 parameters, 2,880 of them
non-trainable batch-norm statistics.
"""

from __future__ import annotations

import keras
from keras import layers

from gdl.layers.noise_embedding import SinusoidalEmbedding


def residual_block(x, width: int):
    """BN(no centre/scale) -> Conv3x3 swish -> Conv3x3, plus a (1x1-projected) skip."""
    residual = x if x.shape[-1] == width else layers.Conv2D(width, kernel_size=1)(x)
    x = layers.BatchNormalization(center=False, scale=False)(x)
    x = layers.Conv2D(width, kernel_size=3, padding="same", activation="swish")(x)
    x = layers.Conv2D(width, kernel_size=3, padding="same")(x)
    return layers.Add()([x, residual])


def down_block(x, skips: list, width: int, block_depth: int = 2):
    """``block_depth`` residual blocks (each output kept for the skip connections), then
    2x2 average pooling."""
    for _ in range(block_depth):
        x = residual_block(x, width)
        skips.append(x)
    return layers.AveragePooling2D(pool_size=2)(x)


def up_block(x, skips: list, width: int, block_depth: int = 2):
    """Bilinear 2x upsampling, then ``block_depth`` x [concatenate a skip, residual block]."""
    x = layers.UpSampling2D(size=2, interpolation="bilinear")(x)
    for _ in range(block_depth):
        x = layers.Concatenate()([x, skips.pop()])
        x = residual_block(x, width)
    return x


def unet(
    image_size: int = 64,
    channels: int = 3,
    widths=(32, 64, 96, 128),
    block_depth: int = 2,
    embedding_dims: int = 32,
    name: str = "unet",
) -> keras.Model:
    """``[noisy_images (B,H,W,C), noise_variances (B,1,1,1)] -> predicted noise (B,H,W,C)``.

    Down blocks on ``widths[:-1]``, ``block_depth`` residual blocks at ``widths[-1]``, up
    blocks mirrored; the last 1x1 convolution starts at zero (so the untrained network
    predicts no noise). ``image_size`` must be divisible by ``2**(len(widths)-1)``.
    """
    factor = 2 ** (len(widths) - 1)
    if image_size % factor:
        raise ValueError(
            f"image_size {image_size} must be divisible by {factor} for {len(widths)} widths"
        )
    noisy_images = keras.Input(shape=(image_size, image_size, channels), name="noisy_images")
    noise_variances = keras.Input(shape=(1, 1, 1), name="noise_variances")

    x = layers.Conv2D(widths[0], kernel_size=1)(noisy_images)
    e = SinusoidalEmbedding(embedding_dims)(noise_variances)
    e = layers.UpSampling2D(size=image_size, interpolation="nearest")(e)
    x = layers.Concatenate()([x, e])

    skips: list = []
    for width in widths[:-1]:
        x = down_block(x, skips, width, block_depth)
    for _ in range(block_depth):
        x = residual_block(x, widths[-1])
    for width in reversed(widths[:-1]):
        x = up_block(x, skips, width, block_depth)
    x = layers.Conv2D(channels, kernel_size=1, kernel_initializer="zeros")(x)
    return keras.Model([noisy_images, noise_variances], x, name=name)
