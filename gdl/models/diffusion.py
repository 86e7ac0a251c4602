"""Denoising diffusion with DDIM sampling (book: ``08_diffusion/01_ddm/ddm.ipynb``, after
the keras.io DDIM example by A. Béres).

Differences from the book, on purpose:

* The noise loss lives in ``compute_loss`` (Keras' own ``train_step`` runs it); the EMA
  update of the generation network follows every step in a ``train_step`` that calls
  ``super().train_step`` (TensorFlow, torch) or updates the returned state (JAX). Checked
  on TensorFlow and JAX (torch is not installed here).
* The batch size is not a global constant, so no ``drop_remainder`` is needed.
* :meth:`DiffusionModel.generate` runs the DDIM loop compiled once for every number of
  steps (:func:`gdl.backend.compile_loop`: ``tf.function``, or ``jax.jit`` with the EMA
  weights as arguments) and
  :meth:`DiffusionModel.interpolate` is the book's spherical-interpolation figure.
* A KID metric (:class:`gdl.metrics.KID`, no downloaded Inception weights: see there) is
  computed on generated images during ``evaluate``/validation, as in keras.io.
* The EMA network and the adapted normalisation are part of the model, so
  ``model.save("x.keras")`` / ``keras.saving.load_model`` restores both.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from gdl.backend import compile_loop
from gdl.distribute import global_batch_loss
from gdl.layers.unet import unet
from gdl.metrics import KID
from gdl.models.optimizers import BookCompile


def linear_diffusion_schedule(diffusion_times, min_rate: float = 1e-4, max_rate: float = 0.02):
    """The DDPM schedule, ``beta`` linear in ``t`` and ``alpha_bar = cumprod(1 - beta)``.

    Like the book's, it only makes sense evaluated on the whole grid of ``T`` times at
    once (``diffusion_times = arange(T) / T``). Returns ``(noise_rates, signal_rates)``.
    """
    betas = min_rate + ops.convert_to_tensor(diffusion_times) * (max_rate - min_rate)
    alpha_bars = ops.cumprod(1.0 - betas)
    return ops.sqrt(1.0 - alpha_bars), ops.sqrt(alpha_bars)


def cosine_diffusion_schedule(diffusion_times):
    """``signal = cos(t*pi/2)``, ``noise = sin(t*pi/2)``; returns ``(noise, signal)``."""
    t = ops.convert_to_tensor(diffusion_times)
    return ops.sin(t * math.pi / 2.0), ops.cos(t * math.pi / 2.0)


def offset_cosine_diffusion_schedule(diffusion_times, min_signal_rate: float = 0.02,
                                     max_signal_rate: float = 0.95):  # fmt: skip
    """The schedule the book uses: the cosine schedule's angle interpolated between
    ``acos(max_signal_rate)`` (t=0) and ``acos(min_signal_rate)`` (t=1).
    Returns ``(noise_rates, signal_rates)``; ``noise² + signal² = 1``."""
    start, end = math.acos(max_signal_rate), math.acos(min_signal_rate)
    angles = start + ops.convert_to_tensor(diffusion_times) * (end - start)
    return ops.sin(angles), ops.cos(angles)


def spherical_interpolation(a, b, t):
    """The book's ``sin(t*pi/2) * a + cos(t*pi/2) * b`` (``b`` at t=0, ``a`` at t=1).

    For independent unit-variance ``a`` and ``b`` every frame has unit variance, so every
    frame is a plausible initial noise for the reverse diffusion.
    """
    t = ops.convert_to_tensor(t, dtype="float32")
    return ops.sin(t * math.pi / 2.0) * a + ops.cos(t * math.pi / 2.0) * b


@keras.saving.register_keras_serializable(package="gdl")
class DiffusionModel(BookCompile, keras.Model):
    """The book's ``DiffusionModel``: noise-prediction U-Net, EMA copy, DDIM sampling.

    ``DiffusionModel()`` has the book's settings (64x64x3, widths 32/64/96/128, block
    depth 2, 32-dim noise embedding, EMA 0.999, offset-cosine schedule 0.02..0.95).
    Use it as the book does::

        model = DiffusionModel()
        model.adapt(images)                       # the Normalization layer (book: ``adapt``)
        model.compile()                            # the book's AdamW(1e-3, weight_decay=1e-4)
        model.fit(images, batch_size=64, epochs=50)
        model.generate(10, diffusion_steps=20)    # (10, 64, 64, 3) in [0, 1]
        model.predict([noisy_images, noise_rates])  # the denoiser: predicted noise

    ``model([noisy_images, noise_rates])`` is the denoiser (the predicted noise);
    ``model(images)`` is one step of the training task: normalise, draw ``t ~ U(0, 1)`` and
    noise, and return ``(noises, predicted_noises)`` (see :meth:`call`); the loss is
    their mean absolute error (the book's ``loss=mean_absolute_error``), tracked as
    ``n_loss``. ``evaluate`` also reports ``kid`` between the batch and as many images
    generated with ``kid_diffusion_steps`` steps.
    """

    book_optimizer_class = "AdamW"
    book_learning_rate = 1e-3
    book_optimizer_kwargs = {"weight_decay": 1e-4}

    def __init__(
        self,
        image_size: int = 64,
        channels: int = 3,
        widths=(32, 64, 96, 128),
        block_depth: int = 2,
        embedding_dims: int = 32,
        ema: float = 0.999,
        min_signal_rate: float = 0.02,
        max_signal_rate: float = 0.95,
        kid_diffusion_steps: int = 5,
        kid_features: str | None = None,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_size, self.channels = int(image_size), int(channels)
        self.widths, self.block_depth = tuple(int(w) for w in widths), int(block_depth)
        self.embedding_dims, self.ema = int(embedding_dims), float(ema)
        self.min_signal_rate, self.max_signal_rate = float(min_signal_rate), float(max_signal_rate)
        self.kid_diffusion_steps, self.kid_features = int(kid_diffusion_steps), kid_features
        self.seed = seed
        self.normalizer = layers.Normalization(axis=-1, name="normalizer")
        self.network = self.build_network()
        self.ema_network = keras.models.clone_model(self.network)
        self.ema_network.name = "ema_network"
        self.ema_network.set_weights(self.network.get_weights())
        self.ema_network.trainable = False
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.noise_loss_tracker = keras.metrics.Mean(name="n_loss")
        self.kid = KID(self.image_size, self.channels, feature_extractor=kid_features)
        self._evaluating = False
        self._compiled_reverse = None
        self.build((None, self.image_size, self.image_size, self.channels))

    # -- structure ---------------------------------------------------------------
    def build_network(self) -> keras.Model:
        """The noise-prediction network (the book's U-Net); conditional subclasses
        (:mod:`gdl.models.text2image`) return one with a condition input."""
        return unet(self.image_size, self.channels, self.widths, self.block_depth,
                    self.embedding_dims, name="network")  # fmt: skip

    def build(self, input_shape):
        self.normalizer.build(tuple(input_shape))
        self.built = True

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, self.channels)

    @property
    def metrics(self):
        return [self.noise_loss_tracker, self.kid]

    def adapt(self, data, **kwargs):
        """Adapt the Normalization layer on the training images (the book's
        ``model.normalizer.adapt(train)``). ``data``: an array or a ``tf.data`` dataset."""
        self.normalizer.adapt(data, **kwargs)

    def diffusion_schedule(self, diffusion_times):
        return offset_cosine_diffusion_schedule(
            diffusion_times, self.min_signal_rate, self.max_signal_rate
        )

    def denormalize(self, images):
        """Back to the data range: ``mean + x * std``, clipped to [0, 1]."""
        mean = ops.reshape(self.normalizer.adapt_mean, (1, 1, 1, self.channels))
        var = ops.reshape(self.normalizer.adapt_variance, (1, 1, 1, self.channels))
        return ops.clip(mean + images * ops.sqrt(var), 0.0, 1.0)

    def denoise(self, noisy_images, noise_rates, signal_rates, training, *condition):
        """``(pred_noises, pred_images)``: the training network or, when not training, the
        EMA network predicts the noise; the image follows from the schedule.
        ``condition``: extra tensors a conditional subclass's ``denoise`` takes (passed
        through every sampling loop below)."""
        net = self.network if training else self.ema_network
        pred_noises = net([noisy_images, noise_rates**2], training=training)
        pred_images = (noisy_images - noise_rates * pred_noises) / signal_rates
        return pred_noises, pred_images

    # -- training ---------------------------------------------------------------
    def _check(self, images):
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(f"DiffusionModel expects images of shape (batch, "
                             f"{', '.join(map(str, self.image_shape))}) in [0, 1], "
                             f"got {tuple(images.shape)}")  # fmt: skip

    def call(self, inputs, training=False):
        """Two uses, told apart by the input:

        * ``model([noisy_images, noise_rates])`` -> the predicted noise ``(B, H, W, C)``: the
          denoiser (the EMA network, or the training network when ``training``), on
          normalised ``noisy_images`` and ``noise_rates`` ``(B, 1, 1, 1)``, as in
          :meth:`denoise`; ``predict([noisy, rates])`` runs it in batches;
        * ``model(images)`` -> ``(noises, predicted_noises)``: the training task ``fit``
          runs (normalise, draw ``t ~ U(0, 1)`` and noise per image, predict the noise).
        """
        if isinstance(inputs, (list, tuple)):
            noisy_images, noise_rates = inputs
            net = self.network if training else self.ema_network
            return net([noisy_images, ops.square(noise_rates)], training=training)
        images = inputs
        self._check(images)
        noises, noisy, noise_rates, signal_rates = self.add_noise(images, training)
        pred_noises, _ = self.denoise(noisy, noise_rates, signal_rates, training=training)
        return noises, pred_noises

    def add_noise(self, images, training=False):
        """The forward process on a batch: normalise, draw ``t ~ U(0, 1)`` and noise per
        image; returns ``(noises, noisy_images, noise_rates, signal_rates)``."""
        images = self.normalizer(images, training=training)
        batch = ops.shape(images)[0]
        noises = keras.random.normal(ops.shape(images), seed=self.seed_generator)
        times = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator)
        noise_rates, signal_rates = self.diffusion_schedule(times)
        return noises, signal_rates * images + noise_rates * noises, noise_rates, signal_rates

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        noises, pred_noises = y_pred if y_pred is not None else self(x, training=training)
        loss = ops.mean(ops.abs(noises - pred_noises))
        self.noise_loss_tracker.update_state(loss)
        self._evaluating = not training
        if not training:
            batch = ops.shape(x)[0]
            noise = keras.random.normal((batch, *self.image_shape), seed=self.seed_generator)
            generated = self.denormalize(self.reverse_diffusion(noise, self.kid_diffusion_steps))
            self.kid.update_state(x, generated)
        return global_batch_loss(loss)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        metrics = self.metrics if self._evaluating else self.metrics[:1]
        return {m.name: m.result() for m in metrics}

    def update_ema(self):
        """``ema_w <- ema * ema_w + (1 - ema) * w`` for every weight of the network
        (batch-norm statistics included, as in the book)."""
        for w, ema_w in zip(self.network.weights, self.ema_network.weights):
            ema_w.assign(self.ema * ema_w + (1.0 - self.ema) * w)

    def train_step(self, *args, **kwargs):
        if keras.config.backend() == "jax":
            return self._jax_train_step(*args, **kwargs)
        logs = super().train_step(*args, **kwargs)
        self.update_ema()
        return logs

    def _jax_train_step(self, state, data):
        logs, state = super().train_step(state, data)
        trainable, non_trainable, *rest = state
        values = {id(v): val for v, val in zip(self.trainable_variables, trainable)}
        values.update({id(v): val for v, val in zip(self.non_trainable_variables, non_trainable)})
        position = {id(v): i for i, v in enumerate(self.non_trainable_variables)}
        non_trainable = list(non_trainable)
        for w, ema_w in zip(self.network.weights, self.ema_network.weights):
            i = position[id(ema_w)]
            non_trainable[i] = self.ema * non_trainable[i] + (1.0 - self.ema) * values[id(w)]
        return logs, (trainable, non_trainable, *rest)

    # -- generation ---------------------------------------------------------------
    def _reverse_step(self, step, steps, current, pred_images, *condition):
        step_size = 1.0 / ops.cast(steps, "float32")
        batch = ops.shape(current)[0]
        t = ops.ones((batch, 1, 1, 1)) - ops.cast(step, "float32") * step_size
        noise_rates, signal_rates = self.diffusion_schedule(t)
        pred_noises, pred_images = self.denoise(current, noise_rates, signal_rates, False,
                                                *condition)  # fmt: skip
        next_noise, next_signal = self.diffusion_schedule(t - step_size)
        return next_signal * pred_images + next_noise * pred_noises, pred_images

    def reverse_diffusion(self, initial_noise, diffusion_steps: int, *condition):
        """The deterministic DDIM loop (eager Python loop; the book's ``reverse_diffusion``).
        Returns the last predicted images, still normalised."""
        current = pred = ops.convert_to_tensor(initial_noise, dtype="float32")
        for step in range(int(diffusion_steps)):
            current, pred = self._reverse_step(step, diffusion_steps, current, pred, *condition)
        return pred

    def _loop(self, initial_noise, diffusion_steps, *condition):
        _, pred = ops.fori_loop(
            0, diffusion_steps,
            lambda i, c: self._reverse_step(i, diffusion_steps, *c, *condition),
            (initial_noise, initial_noise),
        )  # fmt: skip
        return pred

    def compiled_reverse_diffusion(self, initial_noise, diffusion_steps: int, *condition):
        """:meth:`reverse_diffusion` as one compiled loop (:func:`gdl.backend.compile_loop`):
        traced once for any number of steps (a tensor), with the EMA network's weights as
        arguments on JAX; eager on torch."""
        if self._compiled_reverse is None:
            self._compiled_reverse = compile_loop(self.ema_network, self._loop)
        return self._compiled_reverse(
            ops.convert_to_tensor(initial_noise, "float32"),
            ops.convert_to_tensor(int(diffusion_steps), "int32"),
            *condition,
        )

    def generate(self, num: int = 10, diffusion_steps: int = 20, initial_noise=None,
                 seed=None, compiled: bool = True):  # fmt: skip
        """``num`` images ``(num, H, W, C)`` in [0, 1] (NumPy) from ``initial_noise`` (or fresh
        N(0, 1) noise, seeded by ``seed``, 0 included); as in the book, ``num`` is ignored
        when ``initial_noise`` is given. The same initial noise always gives the same images."""
        if initial_noise is None:
            seed = seed if seed is not None else self.seed_generator
            initial_noise = keras.random.normal((int(num), *self.image_shape), seed=seed)
        if diffusion_steps < 1:
            raise ValueError(f"diffusion_steps must be >= 1, got {diffusion_steps}")
        initial_noise = ops.convert_to_tensor(initial_noise, dtype="float32")
        run = self.compiled_reverse_diffusion if compiled else self.reverse_diffusion
        return ops.convert_to_numpy(self.denormalize(run(initial_noise, diffusion_steps)))

    def interpolate(self, start=None, end=None, frames: int = 11, diffusion_steps: int = 20,
                    seed=None):  # fmt: skip
        """The book's latent interpolation: ``frames`` images generated from
        :func:`spherical_interpolation` of two noise images (``end`` at frame 0, ``start``
        at the last frame; both drawn from N(0, 1) when not given)."""
        rng = np.random.default_rng(seed)
        shape = (1, *self.image_shape)
        a = rng.standard_normal(shape).astype("float32") if start is None else start
        b = rng.standard_normal(shape).astype("float32") if end is None else end
        t = np.linspace(0.0, 1.0, frames, dtype="float32").reshape(-1, 1, 1, 1)
        noise = spherical_interpolation(a, b, t)
        return self.generate(initial_noise=noise, diffusion_steps=diffusion_steps)

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size, "channels": self.channels,
            "widths": list(self.widths), "block_depth": self.block_depth,
            "embedding_dims": self.embedding_dims, "ema": self.ema,
            "min_signal_rate": self.min_signal_rate, "max_signal_rate": self.max_signal_rate,
            "kid_diffusion_steps": self.kid_diffusion_steps, "kid_features": self.kid_features,
            "seed": self.seed,
        }  # fmt: skip
