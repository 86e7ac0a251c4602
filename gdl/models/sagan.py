"""Chapter 10: SAGAN, self-attention inside a DCGAN-style generator and discriminator.

The book describes SAGAN (Zhang et al. 2019) and its attention maps without code. gdl
builds the paper's recipe at a size that trains on a CPU: a generator that upsamples
(nearest neighbour + 3x3 convolution, batch norm, ReLU) from a 4x4 projection of ``z``, a
discriminator of stride-2 convolutions (LeakyReLU 0.1), a :class:`gdl.layers.SelfAttention2D`
block in both at ``attention_resolution``, **spectral normalisation on every layer of both
networks** (:class:`gdl.layers.SpectralConv2D` / :class:`gdl.layers.SpectralDense`),
the **hinge loss** and the paper's two time-scale learning rates (Adam(0, 0.9), D 4e-4,
G 1e-4, one D step per G step).

:meth:`SAGAN.attention_maps` returns, for generated images, the attention of every
query pixel over all the pixels of the attention block (the book's figure of where a
pixel "looks").

Differences from the paper: no conditional batch norm / projection discriminator (the
chapter's examples are unconditional), plain (not residual) blocks, and spectral
normalisation from :mod:`gdl.layers.spectral`, not ``keras.layers.SpectralNormalization``,
which assigns the normalised kernel to the trainable variable inside the forward pass
and so behaves differently on JAX and PyTorch.
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from gdl.distribute import GlobalBatch
from gdl.layers.self_attention import SelfAttention2D
from gdl.layers.spectral import SpectralConv2D, SpectralDense
from gdl.models.adversarial import AdversarialModel, hinge_d_loss, hinge_g_loss, real_images

_REG = keras.saving.register_keras_serializable(package="gdl")


def widths_for(filters, image_size: int) -> tuple:
    """The last ``log2(image_size / 4)`` entries of ``filters`` (one per doubling)."""
    n = int(round(math.log2(image_size / 4)))
    if n < 1 or 4 * 2**n != image_size or n > len(filters):
        raise ValueError(f"image_size must be 4 * 2**k with 1 <= k <= {len(filters)} "
                         f"(e.g. 32 or 64), got {image_size}")  # fmt: skip
    return tuple(int(f) for f in filters[len(filters) - n :])


def sagan_generator(latent_dim=128, image_size=64, channels=3, filters=(512, 256, 128, 64),
                    attention_resolution=32, seed=None, name="generator") -> keras.Model:  # fmt: skip
    """z -> SN-Dense(4*4*f0) -> [up x2 -> SN-Conv3 -> BN -> ReLU] per width (self-attention
    after the block reaching ``attention_resolution``) -> SN-Conv3(channels) -> tanh."""
    widths = widths_for(filters, image_size)
    z = keras.Input((latent_dim,), name="z")
    x = SpectralDense(4 * 4 * widths[0], seed=seed)(z)
    x = layers.Reshape((4, 4, widths[0]))(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    size = 4
    for f in widths:
        x = layers.UpSampling2D()(x)
        size *= 2
        x = SpectralConv2D(f, 3, use_bias=False, seed=seed)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        if size == attention_resolution:
            x = SelfAttention2D(seed=seed, name="self_attention")(x)
    out = SpectralConv2D(channels, 3, activation="tanh", seed=seed, name="to_image")(x)
    return keras.Model(z, out, name=name)


def sagan_discriminator(image_size=64, channels=3, filters=(64, 128, 256, 512),
                        attention_resolution=32, seed=None,
                        name="discriminator") -> keras.Model:  # fmt: skip
    """image -> [SN-Conv4 stride 2 -> LeakyReLU(0.1)] per width (self-attention after the
    block reaching ``attention_resolution``) -> flatten -> SN-Dense(1): a hinge score."""
    widths = tuple(reversed(widths_for(tuple(reversed(filters)), image_size)))
    img = keras.Input((image_size, image_size, channels), name="image")
    x, size = img, image_size
    for f in widths:
        x = SpectralConv2D(f, 4, strides=2, seed=seed)(x)
        x = layers.LeakyReLU(0.1)(x)
        size //= 2
        if size == attention_resolution:
            x = SelfAttention2D(seed=seed, name="self_attention")(x)
    out = SpectralDense(1, seed=seed)(layers.Flatten()(x))
    return keras.Model(img, out, name=name)


@_REG
class SAGAN(AdversarialModel):
    """Self-attention GAN with spectral normalisation and the hinge loss.

    ``SAGAN(image_size=64, channels=3, latent_dim=128)`` builds both networks; pass your
    own ``generator``/``discriminator`` to change them. Train with ``compile()`` then
    ``fit(images in [-1, 1])``; metrics ``d_loss``, ``g_loss``. ``generate(num, seed)``.
    """

    book_learning_rate = 1e-4  # Zhang et al. 2019: TTUR, D at 4e-4, betas (0, 0.9)
    discriminator_learning_rate = 4e-4
    book_optimizer_kwargs = {"beta_1": 0.0, "beta_2": 0.9}
    _metric_names = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(self, generator=None, discriminator=None, latent_dim: int = 128,
                 image_size: int = 64, channels: int = 3, g_filters=(512, 256, 128, 64),
                 d_filters=(64, 128, 256, 512), attention_resolution: int = 32, seed=None,
                 **kwargs):  # fmt: skip
        if generator is None:
            generator = sagan_generator(latent_dim, image_size, channels, g_filters,
                                        attention_resolution, seed)  # fmt: skip
        if discriminator is None:
            discriminator = sagan_discriminator(image_size, channels, d_filters,
                                                attention_resolution, seed)  # fmt: skip
        super().__init__(generator, discriminator, latent_dim, seed=seed, **kwargs)
        self._attention_feature_model = None

    def adversarial_step(self, data, phase):
        real = real_images(data)
        split = GlobalBatch(ops.shape(real)[0])
        fake = ops.stop_gradient(self.generator(split.draw(self.sample_latent), training=True))
        d_state = self.discriminator.non_trainable_variables

        def d_loss():
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            return hinge_d_loss(real_logits, fake_logits), (real_logits, fake_logits)

        d_value, (real_logits, fake_logits) = self.update(
            d_loss, self.discriminator_variables(), self.d_optimizer, d_state, split
        )
        z = split.draw(self.sample_latent)

        def g_loss():
            loss = hinge_g_loss(self.discriminator(self.generator(z, training=True),
                                                   training=True))  # fmt: skip
            return loss, loss

        g_value, _ = self.update(g_loss, self.generator_variables(), self.g_optimizer,
                                 self.generator.non_trainable_variables + d_state, split)  # fmt: skip
        self.track(split, d_loss=d_value, g_loss=g_value, d_real=ops.mean(real_logits),
                   d_fake=ops.mean(fake_logits))  # fmt: skip

    def attention_maps(self, latent=None, num: int = 4, seed=None):
        """``(images (n, H, W, C), attention (n, N, N))`` for generated images: row ``q`` of
        ``attention[i]`` is the attention of query pixel ``q`` (row-major over the
        ``attention_resolution`` grid) over every pixel of the generator's attention block."""
        attention = self.generator.get_layer("self_attention")
        if self._attention_feature_model is None:
            self._attention_feature_model = keras.Model(self.generator.input, attention.input)
        if latent is None:
            latent = self.sample_latent(num, seed=seed)
        _, beta = attention(self._attention_feature_model(latent), return_attention=True)
        images = self.generator(latent, training=False)
        return ops.convert_to_numpy(images), ops.convert_to_numpy(beta)
