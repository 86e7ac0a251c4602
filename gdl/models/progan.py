"""Chapter 10: ProGAN, progressive growing of GANs (Karras et al. 2018).

The book describes ProGAN without code: training starts on 4x4 images and the resolution
doubles in stages; each new block is first *faded in* (the **transition** phase: its
output is blended with the upsampled output of the previous resolution by a weight
``alpha`` rising linearly from 0 to 1) and then trained alone (**stabilisation**). Both
networks use the equalised learning rate, the generator pixelwise feature normalisation
and the critic a minibatch standard-deviation feature (:mod:`gdl.layers.style`); the loss
is WGAN-GP (penalty 10, drift 0.001 x ``D(x)^2``, Adam(1e-3, 0, 0.99), one critic step).

gdl builds every block up front (so the ``.keras`` file, the optimizers and a checkpoint
hold the whole model at any stage) and derives the stage and ``alpha`` from the number of
training steps done (:func:`progressive_schedule`, ``phase_steps`` steps per phase), so
``gdl train progan --resume`` continues in the right stage and at the right ``alpha``.
Real images are downsampled (average pooling) to the stage's resolution and faded the
same way, as in the paper. ``ProgressiveStages`` below names the resolutions.

Differences from the paper: ``phase_steps`` counts steps, not images (800k images per
phase in the paper); no generator weight averaging; the widths are small by default.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from gdl.distribute import GlobalBatch
from gdl.layers.style import EqualizedConv2D, EqualizedDense, MinibatchStdDev, PixelNormalization
from gdl.losses import random_alpha
from gdl.models.adversarial import AdversarialModel, gradient_penalty_neutral, real_images

_REG = keras.saving.register_keras_serializable(package="gdl")


def progressive_schedule(step: int, phase_steps: int, num_stages: int) -> tuple[int, float]:
    """``(stage, alpha)`` after ``step`` training steps: stage 0 (4x4) for ``phase_steps``,
    then for each later stage ``s`` a transition (``alpha`` 0 -> 1 over ``phase_steps``)
    and a stabilisation (``alpha = 1``) of ``phase_steps`` each; the last stage stays."""
    stage = min(num_stages - 1, (step + phase_steps) // (2 * phase_steps))
    if stage == 0:
        return 0, 1.0
    return stage, float(np.clip((step - (2 * stage - 1) * phase_steps) / phase_steps, 0.0, 1.0))


class ProgressiveStages:
    """The resolutions of a progressive GAN: ``4 * 2**stage`` for each width in ``filters``."""

    def __init__(self, filters):
        self.filters = tuple(int(f) for f in filters)

    def __len__(self):
        return len(self.filters)

    def resolution(self, stage: int) -> int:
        return 4 * 2**stage

    @property
    def max_resolution(self) -> int:
        return self.resolution(len(self) - 1)


def upsample2(x):
    """Nearest-neighbour x2 upsampling."""
    return ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2)


def downsample(x, factor: int):
    """Average pooling by ``factor`` (1: unchanged)."""
    return x if factor == 1 else ops.average_pool(x, factor, factor, padding="valid")


def _lrelu(x):
    return ops.leaky_relu(x, 0.2)


def fade(old, new, alpha):
    """``old + alpha * (new - old)``: the transition blend."""
    return old + alpha * (new - old)


@_REG
class ProGenerator(keras.layers.Layer):
    """ProGAN's generator at every stage: ``call(z, stage=None, alpha=1.0)`` returns images
    at ``4 * 2**stage`` (default: the last stage), linear output (about [-1, 1])."""

    def __init__(self, latent_dim=128, filters=(256, 256, 256, 128, 64), channels=3,
                 seed=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.latent_dim, self.channels, self.seed = int(latent_dim), int(channels), seed
        self.stages = ProgressiveStages(filters)
        f, s = self.stages.filters, seed
        self.norm = PixelNormalization()
        self.dense = EqualizedDense(16 * f[0], gain=math.sqrt(2) / 4, seed=s, name="dense")
        self.convs = [[EqualizedConv2D(f[0], 3, seed=s, name="conv_0")]] + [
            [EqualizedConv2D(f[k], 3, seed=s, name=f"conv_{k}a"),
             EqualizedConv2D(f[k], 3, seed=s, name=f"conv_{k}b")] for k in range(1, len(f))
        ]  # fmt: skip
        self.to_rgb = [EqualizedConv2D(self.channels, 1, gain=1.0, seed=s, name=f"to_rgb_{k}")
                       for k in range(len(f))]  # fmt: skip

    def build(self, input_shape=None):
        f = self.stages.filters
        self.norm.build((None, self.latent_dim))
        self.dense.build((None, self.latent_dim))
        for k, convs in enumerate(self.convs):
            res = self.stages.resolution(k)
            c_in = f[0] if k == 0 else f[k - 1]
            for conv in convs:
                conv.build((None, res, res, c_in))
                c_in = conv.filters
            self.to_rgb[k].build((None, res, res, f[k]))

    def block(self, k, x):
        if k > 0:
            x = upsample2(x)
        for conv in self.convs[k]:
            x = self.norm(_lrelu(conv(x)))
        return x

    def call(self, z, stage=None, alpha=1.0):
        stage = len(self.stages) - 1 if stage is None else int(stage)
        x = _lrelu(self.dense(self.norm(z)))
        x = self.block(0, self.norm(ops.reshape(x, (-1, 4, 4, self.stages.filters[0]))))
        for k in range(1, stage):
            x = self.block(k, x)
        if stage == 0:
            return self.to_rgb[0](x)
        old = upsample2(self.to_rgb[stage - 1](x))
        return fade(old, self.to_rgb[stage](self.block(stage, x)), alpha)

    def compute_output_shape(self, input_shape):
        r = self.stages.max_resolution
        return (input_shape[0], r, r, self.channels)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim,
                "filters": self.stages.filters, "channels": self.channels,
                "seed": self.seed}  # fmt: skip


@_REG
class ProDiscriminator(keras.layers.Layer):
    """ProGAN's critic at every stage: ``call(images at 4 * 2**stage, stage, alpha)``."""

    def __init__(self, filters=(256, 256, 256, 128, 64), channels=3, group_size=4, seed=None,
                 **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.channels, self.group_size, self.seed = int(channels), int(group_size), seed
        self.stages = ProgressiveStages(filters)
        f, s = self.stages.filters, seed
        self.from_rgb = [EqualizedConv2D(f[k], 1, seed=s, name=f"from_rgb_{k}")
                         for k in range(len(f))]  # fmt: skip
        self.convs = [None] + [
            [EqualizedConv2D(f[k], 3, seed=s, name=f"conv_{k}a"),
             EqualizedConv2D(f[k - 1], 3, seed=s, name=f"conv_{k}b")] for k in range(1, len(f))
        ]  # fmt: skip
        self.mbstd = MinibatchStdDev(self.group_size)
        self.final_conv = EqualizedConv2D(f[0], 3, seed=s, name="final_conv")
        self.final_dense = EqualizedDense(f[0], seed=s, name="final_dense")
        self.out = EqualizedDense(1, gain=1.0, seed=s, name="score")

    def build(self, input_shape=None):
        f = self.stages.filters
        for k in range(len(f)):
            res = self.stages.resolution(k)
            self.from_rgb[k].build((None, res, res, self.channels))
            if k:
                self.convs[k][0].build((None, res, res, f[k]))
                self.convs[k][1].build((None, res, res, f[k]))
        self.mbstd.build((None, 4, 4, f[0]))
        self.final_conv.build((None, 4, 4, f[0] + 1))
        self.final_dense.build((None, 16 * f[0]))
        self.out.build((None, f[0]))

    def block(self, k, x):
        for conv in self.convs[k]:
            x = _lrelu(conv(x))
        return downsample(x, 2)

    def call(self, images, stage=None, alpha=1.0, training=False):
        stage = len(self.stages) - 1 if stage is None else int(stage)
        x = _lrelu(self.from_rgb[stage](images))
        if stage > 0:
            old = _lrelu(self.from_rgb[stage - 1](downsample(images, 2)))
            x = fade(old, self.block(stage, x), alpha)
            for k in range(stage - 1, 0, -1):
                x = self.block(k, x)
        x = _lrelu(self.final_conv(self.mbstd(x)))
        x = _lrelu(self.final_dense(ops.reshape(x, (-1, 16 * self.stages.filters[0]))))
        return self.out(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        return {**super().get_config(), "filters": self.stages.filters,
                "channels": self.channels, "group_size": self.group_size,
                "seed": self.seed}  # fmt: skip


@_REG
class ProGAN(AdversarialModel):
    """Progressive growing with fade-in, WGAN-GP; see the module docstring.

    ``ProGAN(filters=(256, 256, 256, 128, 64), channels=3, latent_dim=128,
    phase_steps=2000)``: one width per resolution from 4x4 (five widths: 64x64).
    ``fit`` on images at the full resolution in [-1, 1]; the model trains the stage the
    step count says (:meth:`stage_and_alpha`). Metrics: ``d_loss``, ``g_loss``, ``gp``,
    ``alpha``, ``resolution``. ``generate(num, seed, stage=None)`` draws at the current
    stage's resolution (``upsample=True``: at the full resolution). ``model(z)`` is the
    full-resolution generator.
    """

    book_learning_rate = 1e-3  # Karras et al. 2018
    book_optimizer_kwargs = {"beta_1": 0.0, "beta_2": 0.99, "epsilon": 1e-8}
    _metric_names = ("d_loss", "g_loss", "gp", "alpha", "resolution")

    def __init__(self, generator=None, discriminator=None, latent_dim: int = 128,
                 filters=(256, 256, 256, 128, 64), channels: int = 3, phase_steps: int = 2000,
                 gp_weight: float = 10.0, drift_weight: float = 0.001, seed=None,
                 **kwargs):  # fmt: skip
        self.stages = ProgressiveStages(filters)
        generator = generator or ProGenerator(latent_dim, filters, channels, seed, name="generator")
        discriminator = discriminator or ProDiscriminator(filters, channels, seed=seed,
                                                          name="discriminator")  # fmt: skip
        if not generator.built:
            generator.build()
        if not discriminator.built:
            discriminator.build()
        super().__init__(generator, discriminator, latent_dim, seed=seed, **kwargs)
        self.filters, self.channels = self.stages.filters, int(channels)
        self.phase_steps = int(phase_steps)
        self.gp_weight, self.drift_weight = float(gp_weight), float(drift_weight)

    @property
    def image_shape(self) -> tuple:
        r = self.stages.max_resolution
        return (r, r, self.channels)

    # -- schedule ---------------------------------------------------------------------
    def stage_and_alpha(self, step=None) -> tuple[int, float]:
        """``(stage, alpha)`` at ``step`` (default: the steps trained so far)."""
        if step is None:
            step = int(ops.convert_to_numpy(self.g_optimizer.iterations)) if self.compiled else 0
        return progressive_schedule(step, self.phase_steps, len(self.stages))

    def phase(self, step):
        return self.stage_and_alpha(step)[0]

    def _alpha_tensor(self, stage):
        if stage == 0:
            return ops.convert_to_tensor(1.0)
        done = ops.cast(self.g_optimizer.iterations, "float32")
        return ops.clip((done - (2 * stage - 1) * self.phase_steps) / self.phase_steps, 0.0, 1.0)

    def real_at(self, real, stage, alpha):
        """Real images at the stage's resolution, faded like the generator's output."""
        factor = self.stages.max_resolution // self.stages.resolution(stage)
        new = downsample(real, factor)
        if stage == 0:
            return new
        return fade(upsample2(downsample(new, 2)), new, alpha)

    # -- training ---------------------------------------------------------------------
    def adversarial_step(self, data, stage):
        real = ops.convert_to_tensor(real_images(data))
        alpha = self._alpha_tensor(stage)
        real = self.real_at(real, stage, alpha)
        split = GlobalBatch(ops.shape(real)[0])
        fake = ops.stop_gradient(self.generator(split.draw(self.sample_latent), stage=stage,
                                                alpha=alpha))  # fmt: skip
        mix = split.draw(lambda n: random_alpha(n, 4, seed=self.seed_generator))

        def critic(x, training=False):
            return self.discriminator(x, stage=stage, alpha=alpha)

        def d_loss():
            real_score, fake_score = critic(real), critic(fake)
            gp = gradient_penalty_neutral(critic, real, fake, alpha=mix)
            loss = (ops.mean(fake_score) - ops.mean(real_score) + self.gp_weight * gp
                    + self.drift_weight * ops.mean(ops.square(real_score)))  # fmt: skip
            return loss, gp

        d_value, gp = self.update(d_loss, self.discriminator_variables(), self.d_optimizer,
                                  split=split)  # fmt: skip
        z = split.draw(self.sample_latent)

        def g_loss():
            loss = -ops.mean(critic(self.generator(z, stage=stage, alpha=alpha)))
            return loss, loss

        g_value, _ = self.update(g_loss, self.generator_variables(), self.g_optimizer,
                                 split=split)  # fmt: skip
        self.track(split, d_loss=d_value, g_loss=g_value, gp=gp, alpha=alpha,
                   resolution=float(self.stages.resolution(stage)))  # fmt: skip

    def call(self, z, training=False):
        return self.generator(z)

    def generate(self, num: int = 10, seed=None, latent=None, stage=None, alpha=None,
                 upsample: bool = False) -> np.ndarray:  # fmt: skip
        """Images ``(num, r, r, C)`` clipped to [-1, 1] at the training stage (or ``stage``,
        with ``alpha``); ``upsample=True`` repeats pixels up to the full resolution."""
        now_stage, now_alpha = self.stage_and_alpha()
        stage = now_stage if stage is None else int(stage)
        alpha = (now_alpha if stage == now_stage else 1.0) if alpha is None else float(alpha)
        if latent is None:
            latent = self.sample_latent(num, seed=seed)
        images = self.generator(ops.convert_to_tensor(latent), stage=stage, alpha=alpha)
        if upsample:
            factor = self.stages.max_resolution // self.stages.resolution(stage)
            images = ops.repeat(ops.repeat(images, factor, axis=1), factor, axis=2)
        return np.clip(ops.convert_to_numpy(images), -1.0, 1.0)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "channels": self.channels,
                "phase_steps": self.phase_steps, "gp_weight": self.gp_weight,
                "drift_weight": self.drift_weight}  # fmt: skip
