"""Chapter 10: StyleGAN2 (Karras et al. 2020) — mapping network, modulated synthesis,
style mixing, truncation, lazy R1 and path-length regularisation.

The book describes StyleGAN and StyleGAN2 without code. gdl follows the StyleGAN2 paper:

* **mapping network** ``z -> w``: pixel norm, ``mapping_layers`` equalised dense layers
  with a 0.01 learning-rate multiplier;
* **synthesis network** from a learned 4x4 constant: per resolution two 3x3
  :class:`gdl.layers.ModulatedConv2D` (demodulated), each followed by
  :class:`gdl.layers.NoiseInjection` and a leaky ReLU; **skip** outputs: a toRGB
  (modulated 1x1, not demodulated) per resolution, upsampled and summed;
* a **residual** discriminator with a minibatch standard-deviation layer;
* the non-saturating logistic loss; **style mixing** regularisation (with probability
  ``mixing_prob`` each image's styles switch from ``w1`` to ``w2`` at a random layer);
* **lazy regularisation**: R1 (``r1_gamma / 2 * ||grad D(x)||^2``) only every
  ``r1_interval`` steps and path-length regularisation only every ``pl_interval`` steps,
  each scaled by its interval; gdl compiles a separate step for each combination, so the
  other steps do not compute them at all;
* the **truncation trick** at sampling: ``w' = w_avg + psi (w - w_avg)`` with ``w_avg``
  tracked during training (moving average, 0.995).

Differences from the paper: nearest-neighbour upsampling (no blur filters), no
generator weight averaging, the regularisers are added to the same optimizer step
instead of separate ones, the path-length gradient is taken with respect to a
``stop_gradient`` copy of ``w`` (so it trains the synthesis network, identically on
every backend), and small widths by default on embedded data.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from gdl.backend import input_gradient
from gdl.distribute import GlobalBatch
from gdl.layers.style import (
    EqualizedConv2D,
    EqualizedDense,
    MinibatchStdDev,
    ModulatedConv2D,
    NoiseInjection,
    PixelNormalization,
)
from gdl.models.adversarial import (
    AdversarialModel,
    logistic_d_loss,
    logistic_g_loss,
    r1_penalty,
    real_images,
)
from gdl.models.progan import ProgressiveStages, upsample2

_REG = keras.saving.register_keras_serializable(package="gdl")
SQRT2 = math.sqrt(2.0)


@keras.saving.register_keras_serializable(package="gdl", name="scaled_leaky_relu")
def _act(x):
    """``leaky_relu(x, 0.2) * sqrt(2)`` (StyleGAN's activation with its gain)."""
    return ops.leaky_relu(x, 0.2) * SQRT2


def half_batch(batch):
    """``max(1, batch // 2)`` for an int or a symbolic batch size (a compiled step
    retraced for the epoch's shorter last batch sees the size as a tensor)."""
    return max(1, batch // 2) if isinstance(batch, int) else ops.maximum(batch // 2, 1)


@_REG
class StyleGenerator(keras.layers.Layer):
    """Mapping + synthesis networks and the running mean of ``w``.

    ``call(z, truncation_psi=1.0, noise_mode="random")`` -> images ``(B, R, R, C)``.
    ``map(z)`` -> ``w``; ``broadcast(w)`` -> per-layer styles ``ws (B, num_ws, w_dim)``;
    ``synthesize(ws, noise_mode)`` -> images (``noise_mode="none"`` leaves the noise out).
    """

    def __init__(self, latent_dim=512, w_dim=512, mapping_layers=8,
                 filters=(512, 512, 512, 256, 128), channels=3, seed=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.latent_dim, self.w_dim = int(latent_dim), int(w_dim)
        self.mapping_layers, self.channels, self.seed = int(mapping_layers), int(channels), seed
        self.stages = ProgressiveStages(filters)
        f, s = self.stages.filters, seed
        self.norm = PixelNormalization()
        self.mapping = [EqualizedDense(self.w_dim, lr_multiplier=0.01, seed=s, name=f"map_{i}")
                        for i in range(self.mapping_layers)]  # fmt: skip
        self.convs = [[ModulatedConv2D(f[k], 3, seed=s, name=f"conv_{k}{ab}") for ab in "ab"]
                      for k in range(len(f))]  # fmt: skip
        self.noises = [[NoiseInjection(seed=None if s is None else s + 2 * k + i,
                                       name=f"noise_{k}{'ab'[i]}") for i in range(2)]
                       for k in range(len(f))]  # fmt: skip
        self.to_rgb = [ModulatedConv2D(self.channels, 1, demodulate=False, seed=s,
                                       name=f"to_rgb_{k}") for k in range(len(f))]  # fmt: skip

    @property
    def num_ws(self) -> int:
        return 2 * len(self.stages)

    @property
    def resolution(self) -> int:
        return self.stages.max_resolution

    def build(self, input_shape=None):
        f, w_shape = self.stages.filters, (None, self.w_dim)
        self.norm.build((None, self.latent_dim))
        d = self.latent_dim
        for layer in self.mapping:
            layer.build((None, d))
            d = self.w_dim
        self.const = self.add_weight(shape=(4, 4, f[0]), name="const",
                                     initializer=keras.initializers.RandomNormal(0, 1, self.seed))
        self.w_avg = self.add_weight(shape=(self.w_dim,), name="w_avg", initializer="zeros",
                                     trainable=False)  # fmt: skip
        c_in = f[0]
        for k in range(len(f)):
            res = self.stages.resolution(k)
            for conv, noise in zip(self.convs[k], self.noises[k]):
                conv.build([(None, res, res, c_in), w_shape])
                noise.build((None, res, res, f[k]))
                c_in = f[k]
            self.to_rgb[k].build([(None, res, res, f[k]), w_shape])

    # -- mapping ------------------------------------------------------------------------
    def map(self, z):
        w = self.norm(z)
        for layer in self.mapping:
            w = ops.leaky_relu(layer(w), 0.2)
        return w

    def truncate(self, w, psi):
        """``w_avg + psi (w - w_avg)`` (``psi = 1``: unchanged, 0: the average image)."""
        return self.w_avg + psi * (w - self.w_avg)

    def broadcast(self, w):
        return ops.repeat(w[:, None, :], self.num_ws, axis=1)

    def ws(self, z, truncation_psi=1.0):
        return self.broadcast(self.truncate(self.map(z), truncation_psi))

    # -- synthesis ----------------------------------------------------------------------
    def synthesize(self, ws, noise_mode: str = "random"):
        batch = ops.shape(ws)[0]
        x = ops.repeat(self.const[None], batch, axis=0)
        rgb = None
        for k in range(len(self.stages)):
            if k:
                x = upsample2(x)
            for i, (conv, noise) in enumerate(zip(self.convs[k], self.noises[k])):
                x = conv([x, ws[:, 2 * k + i]])
                if noise_mode == "random":
                    x = noise(x)
                x = _act(x)
            y = self.to_rgb[k]([x, ws[:, 2 * k + 1]])
            rgb = y if rgb is None else upsample2(rgb) + y
        return rgb

    def call(self, z, truncation_psi=1.0, noise_mode: str = "random"):
        return self.synthesize(self.ws(z, truncation_psi), noise_mode)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.resolution, self.resolution, self.channels)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "w_dim": self.w_dim,
                "mapping_layers": self.mapping_layers, "filters": self.stages.filters,
                "channels": self.channels, "seed": self.seed}  # fmt: skip


def style_discriminator(filters=(512, 512, 512, 256, 128), channels=3, group_size=4, seed=None,
                        name="discriminator") -> keras.Model:  # fmt: skip
    """StyleGAN2's residual discriminator (widths listed from 4x4 up, as the generator)."""
    stages = ProgressiveStages(filters)
    f, res = stages.filters, stages.max_resolution
    img = keras.Input((res, res, channels), name="image")
    x = layers.Activation(_act)(EqualizedConv2D(f[-1], 1, seed=seed, name="from_rgb")(img))
    for k in range(len(f) - 1, 0, -1):
        y = layers.Activation(_act)(EqualizedConv2D(f[k], 3, seed=seed)(x))
        y = layers.Activation(_act)(EqualizedConv2D(f[k - 1], 3, seed=seed)(y))
        y = layers.AveragePooling2D(2)(y)
        skip = EqualizedConv2D(f[k - 1], 1, use_bias=False, gain=1.0, seed=seed)(
            layers.AveragePooling2D(2)(x))
        x = layers.Rescaling(1.0 / SQRT2)(layers.Add()([y, skip]))
    x = MinibatchStdDev(group_size)(x)
    x = layers.Activation(_act)(EqualizedConv2D(f[0], 3, seed=seed)(x))
    x = EqualizedDense(f[0], activation=_act, seed=seed)(layers.Flatten()(x))
    return keras.Model(img, EqualizedDense(1, gain=1.0, seed=seed)(x), name=name)


@_REG
class StyleGAN2(AdversarialModel):
    """StyleGAN2 generator + discriminator with the paper's training; see the module docs.

    ``StyleGAN2(filters=(512, 512, 512, 256, 128), channels=3, latent_dim=512, w_dim=512,
    mapping_layers=8)``: one width per resolution from 4x4 (five: 64x64). Training:
    ``r1_gamma`` 10 every ``r1_interval`` 16 steps, path length weight 2 every
    ``pl_interval`` 4 steps (on half the batch), ``mixing_prob`` 0.9, Adam(2e-3, 0, 0.99).
    Metrics: ``d_loss``, ``g_loss``, ``r1``, ``pl_penalty``, ``pl_mean``.

    Sampling: ``generate(num, seed, truncation_psi=1.0)``, :meth:`mix_styles`,
    :meth:`style_mixing_grid`, :meth:`style_levels` (coarse / middle / fine layers).
    """

    book_learning_rate = 2e-3  # Karras et al. 2020 (config F)
    book_optimizer_kwargs = {"beta_1": 0.0, "beta_2": 0.99, "epsilon": 1e-8}
    _metric_names = ("d_loss", "g_loss", "r1", "pl_penalty", "pl_mean")

    def __init__(self, generator=None, discriminator=None, latent_dim: int = 512,
                 w_dim: int = 512, mapping_layers: int = 8,
                 filters=(512, 512, 512, 256, 128), channels: int = 3,
                 r1_gamma: float = 10.0, r1_interval: int = 16, pl_weight: float = 2.0,
                 pl_interval: int = 4, pl_decay: float = 0.01, mixing_prob: float = 0.9,
                 w_avg_beta: float = 0.995, seed=None, **kwargs):  # fmt: skip
        if generator is None:
            generator = StyleGenerator(latent_dim, w_dim, mapping_layers, filters, channels, seed,
                                       name="generator")  # fmt: skip
        if not generator.built:
            generator.build()
        if discriminator is None:
            discriminator = style_discriminator(filters, channels, seed=seed)
        super().__init__(generator, discriminator, latent_dim, seed=seed, **kwargs)
        self.r1_gamma, self.r1_interval = float(r1_gamma), int(r1_interval)
        self.pl_weight, self.pl_interval = float(pl_weight), int(pl_interval)
        self.pl_decay, self.mixing_prob = float(pl_decay), float(mixing_prob)
        self.w_avg_beta = float(w_avg_beta)
        self.pl_mean = self.add_weight(shape=(), name="pl_mean", initializer="zeros",
                                       trainable=False)  # fmt: skip

    @property
    def image_shape(self) -> tuple:
        g = self.generator
        return (g.resolution, g.resolution, g.channels)

    # -- training -----------------------------------------------------------------------
    def phase(self, step):
        """``(R1 on this step, path length on this step)``."""
        return (step % self.r1_interval == 0, step % self.pl_interval == 0)

    def mixed_ws(self, batch, split: GlobalBatch | None = None):
        """Styles with mixing regularisation: ``w1`` before a random layer, ``w2`` after
        (for a ``mixing_prob`` share of the images; the others use ``w1`` throughout).
        ``split``: ``batch`` is this replica's part of the global batch (noise drawn for
        the global batch, see :class:`gdl.distribute.GlobalBatch`)."""
        g = self.generator
        split = split or GlobalBatch(batch)
        w1 = g.map(split.draw(self.sample_latent))
        w2 = g.map(split.draw(self.sample_latent))
        cutoff = split.draw(lambda n: keras.random.randint((n,), 1, g.num_ws,
                                                           seed=self.seed_generator))  # fmt: skip
        mix = split.draw(lambda n: keras.random.uniform((n,), seed=self.seed_generator))
        mix = mix < self.mixing_prob
        cutoff = ops.where(mix, cutoff, g.num_ws)
        first = ops.arange(g.num_ws)[None, :] < cutoff[:, None]
        return ops.where(first[..., None], w1[:, None, :], w2[:, None, :]), w1

    def path_length_penalty(self, batch, split: GlobalBatch | None = None):
        """``(mean (|J_w^T y| - a)^2, |J_w^T y| batch mean)`` on ``batch`` fresh images, ``y``
        ~ N(0, 1) / sqrt(H W); ``a`` is the running mean ``pl_mean``. ``split``: a
        :class:`gdl.distribute.GlobalBatch` of ``batch`` (data-parallel noise)."""
        g = self.generator
        split = split or GlobalBatch(batch)
        ws = ops.stop_gradient(g.ws(split.draw(self.sample_latent)))
        res, channels = g.resolution, g.channels
        y = split.draw(
            lambda n: keras.random.normal((n, res, res, channels), seed=self.seed_generator)
        )
        y = y / res
        _, grads = input_gradient(lambda t: g.synthesize(t) * y, ws)
        lengths = ops.sqrt(ops.mean(ops.sum(ops.square(grads), axis=2), axis=1))
        return ops.mean(ops.square(lengths - self.pl_mean)), ops.mean(lengths)

    def adversarial_step(self, data, phase):
        do_r1, do_pl = phase
        real = ops.convert_to_tensor(real_images(data))
        batch = ops.shape(real)[0]
        split = GlobalBatch(batch)
        # the path length batch: half of each replica's images (at least one)
        pl_split = GlobalBatch(half_batch(batch)) if do_pl else None
        g, d = self.generator, self.discriminator
        g_state = [*g.non_trainable_variables, self.seed_generator.state]
        fake = ops.stop_gradient(g.synthesize(self.mixed_ws(batch, split)[0]))

        def d_loss():
            loss = logistic_d_loss(d(real, training=True), d(fake, training=True))
            r1 = r1_penalty(d, real) if do_r1 else ops.zeros(())
            return loss + 0.5 * self.r1_gamma * self.r1_interval * r1, (loss, r1)

        _, (d_value, r1) = self.update(d_loss, self.discriminator_variables(), self.d_optimizer,
                                       split=split)  # fmt: skip

        def g_loss():
            ws, w1 = self.mixed_ws(batch, split)
            loss = logistic_g_loss(d(g.synthesize(ws), training=True))
            pl, lengths = (self.path_length_penalty(pl_split.count, pl_split) if do_pl
                           else (ops.zeros(()), ops.zeros(())))  # fmt: skip
            # two means over two batches: each scaled to its global batch
            total = split.loss(loss)
            if do_pl:
                total = total + self.pl_weight * self.pl_interval * pl_split.loss(pl)
            return total, (loss, pl, lengths, ops.mean(w1, axis=0))

        _, (g_value, pl, lengths, w_mean) = self.update(
            g_loss, self.generator_variables(), self.g_optimizer, g_state
        )
        w_mean = split.mean(ops.stop_gradient(w_mean))  # replicas assign the same average
        g.w_avg.assign(w_mean + self.w_avg_beta * (g.w_avg - w_mean))
        values = {"d_loss": split.mean(d_value), "g_loss": split.mean(g_value)}
        if do_r1:
            values["r1"] = split.mean(r1)
        if do_pl:
            lengths = pl_split.mean(ops.stop_gradient(lengths))
            self.pl_mean.assign(self.pl_mean + self.pl_decay * (lengths - self.pl_mean))
            values.update(pl_penalty=pl_split.mean(pl), pl_mean=self.pl_mean)
        self.track(**values)

    # -- sampling -----------------------------------------------------------------------
    def call(self, z, training=False):
        return self.generator(z, noise_mode="none")

    def generate(self, num: int = 10, seed=None, latent=None, truncation_psi: float = 1.0,
                 noise_mode: str = "random") -> np.ndarray:  # fmt: skip
        """Images ``(num, R, R, C)`` clipped to [-1, 1]; ``truncation_psi`` < 1 trades
        variety for typicality; the same ``seed`` gives the same images."""
        if latent is None:
            latent = self.sample_latent(num, seed=seed)
        images = self.generator(ops.convert_to_tensor(latent), truncation_psi=truncation_psi,
                                noise_mode=noise_mode)  # fmt: skip
        return np.clip(ops.convert_to_numpy(images), -1.0, 1.0)

    def style_levels(self) -> dict[str, tuple[int, int]]:
        """Style layer ranges ``[start, stop)``: coarse (resolutions up to 8x8), fine (the
        last resolution) and middle (in between; empty for 16x16 images)."""
        n = len(self.generator.stages)
        coarse = min(2, n - 1)
        return {"coarse": (0, 2 * coarse), "middle": (2 * coarse, 2 * (n - 1)),
                "fine": (2 * (n - 1), 2 * n)}  # fmt: skip

    def mix_styles(self, latent_a, latent_b, level="coarse", truncation_psi: float = 1.0,
                   noise_mode: str = "none") -> np.ndarray:  # fmt: skip
        """Images with the styles of ``latent_a`` except the ``level`` layers (a name of
        :meth:`style_levels` or a ``(start, stop)`` range), taken from ``latent_b``."""
        g = self.generator
        start, stop = self.style_levels()[level] if isinstance(level, str) else level
        wa = g.ws(ops.convert_to_tensor(latent_a), truncation_psi)
        wb = g.ws(ops.convert_to_tensor(latent_b), truncation_psi)
        take_b = (ops.arange(g.num_ws) >= start) & (ops.arange(g.num_ws) < stop)
        ws = ops.where(take_b[None, :, None], wb, wa)
        return np.clip(ops.convert_to_numpy(g.synthesize(ws, noise_mode)), -1.0, 1.0)

    def style_mixing_grid(self, rows: int = 3, cols: int = 3, seed=0,
                          truncation_psi: float = 1.0) -> tuple[np.ndarray, list[str]]:  # fmt: skip
        """The book's figure: for each level (coarse, middle, fine) a block of ``rows``
        destination images whose ``level`` styles come from ``cols`` sources. Returns
        ``(images, labels)``: ``images`` is ``(1 + levels * rows) x (1 + cols)`` tiles in
        row-major order (top row: the sources; first column: the destinations; blank
        corner), ready for :func:`gdl.plotting.save_grid` with ``ncols = cols + 1``."""
        rng = np.random.default_rng(seed)
        src = rng.standard_normal((cols, self.latent_dim)).astype("float32")
        levels = [k for k, (a, b) in self.style_levels().items() if b > a]
        dst = rng.standard_normal((len(levels) * rows, self.latent_dim)).astype("float32")
        gen = lambda z: self.generate(latent=z, truncation_psi=truncation_psi,  # noqa: E731
                                      noise_mode="none")
        src_img, dst_img = gen(src), gen(dst)
        tiles = [np.zeros_like(src_img[0]), *src_img]
        for i, level in enumerate(levels):
            for r in range(rows):
                d = dst[i * rows + r]
                tiles.append(dst_img[i * rows + r])
                tiles.extend(self.mix_styles(np.repeat(d[None], cols, 0), src, level,
                                             truncation_psi))  # fmt: skip
        labels = [f"{level} from source" for level in levels for _ in range(rows)]
        return np.stack(tiles), labels

    def get_config(self):
        return {**super().get_config(), "r1_gamma": self.r1_gamma,
                "r1_interval": self.r1_interval, "pl_weight": self.pl_weight,
                "pl_interval": self.pl_interval, "pl_decay": self.pl_decay,
                "mixing_prob": self.mixing_prob, "w_avg_beta": self.w_avg_beta}  # fmt: skip

