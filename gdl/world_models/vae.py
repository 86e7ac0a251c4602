"""The World Models VAE ("V"): 64x64x3 CarRacing frames <-> 32-dimensional z.

Chapter 12 of the book describes it in prose (no notebook); the architecture is Ha &
Schmidhuber's (2018): four convolutions 32/64/128/256 with kernel 4 and stride 2 and
ReLU, a dense ``mu`` and ``log_var`` of size 32, and a decoder Dense(1024) ->
1x1x1024 -> transposed convolutions 128 (k5), 64 (k5), 32 (k6), 3 (k6, sigmoid), all
stride 2. Loss as in the paper: summed squared reconstruction error per frame plus
the KL term with "free bits" (``kl_tolerance`` nats per dimension are not penalised).

Where gdl differs: the book-style custom ``train_step`` is written as
``compute_loss`` (one optimizer; DESIGN.md), so ``fit`` runs it on every backend.
The reparameterisation is chapter 3's ``gdl.layers.sampling.Sampling`` and the KL term
chapter 3's closed form (``gdl.models.vae.kl_divergence``).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from gdl.distribute import global_batch_loss
from gdl.layers.sampling import Sampling
from gdl.models.inference import predict_numpy, to_numpy
from gdl.models.optimizers import BookCompile
from gdl.models.vae import kl_divergence

FRAME_SHAPE = (64, 64, 3)


def build_encoder(z_dim: int = 32, input_shape=FRAME_SHAPE, seed=None) -> keras.Model:
    """Conv 32/64/128/256, kernel 4, stride 2 -> ``(mu, log_var, z)``, each ``(B, z_dim)``
    (the order of every gdl VAE encoder; ``z`` is drawn by a seeded ``Sampling``)."""
    x_in = keras.Input(shape=input_shape, name="frame")
    x = x_in
    for i, filters in enumerate((32, 64, 128, 256)):
        x = layers.Conv2D(filters, 4, strides=2, activation="relu", name=f"conv{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    mu = layers.Dense(z_dim, name="mu")(x)
    log_var = layers.Dense(z_dim, name="log_var")(x)
    z = Sampling(seed=seed, name="sampling")([mu, log_var])
    return keras.Model(x_in, [mu, log_var, z], name="encoder")


def build_decoder(z_dim: int = 32) -> keras.Model:
    """Dense(1024) -> 1x1x1024 -> deconv 128k5, 64k5, 32k6, 3k6 (stride 2) -> 64x64x3."""
    z_in = keras.Input(shape=(z_dim,), name="z")
    x = layers.Dense(1024, name="dense")(z_in)
    x = layers.Reshape((1, 1, 1024))(x)
    for i, (filters, kernel) in enumerate(((128, 5), (64, 5), (32, 6))):
        x = layers.Conv2DTranspose(
            filters, kernel, strides=2, activation="relu", name=f"deconv{i}"
        )(x)
    x = layers.Conv2DTranspose(3, 6, strides=2, activation="sigmoid", name="deconv3")(x)
    return keras.Model(z_in, x, name="decoder")


@keras.saving.register_keras_serializable(package="gdl")
class WorldModelVAE(BookCompile, keras.Model):
    """VAE on 64x64x3 frames in [0, 1] (uint8 frames are scaled by 1/255).

    ``model(x)`` returns ``(mu, log_var, reconstruction)`` and :meth:`encode`
    ``(mu, log_var, z)``, the order of :class:`gdl.models.VAE`; ``decode``,
    ``reconstruct`` and ``generate`` complete the verbs of gdl's VAEs.
    """

    book_learning_rate = 1e-4  # Ha & Schmidhuber's

    def __init__(self, z_dim: int = 32, kl_tolerance: float = 0.5, seed: int | None = None, **kw):
        super().__init__(**kw)
        self.z_dim = int(z_dim)
        self.kl_tolerance = float(kl_tolerance)
        self.seed = seed
        self.encoder = build_encoder(self.z_dim, seed=seed)
        self.decoder = build_decoder(self.z_dim)
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        self.build((None, *FRAME_SHAPE))

    def build(self, input_shape):
        self.encoder.build(input_shape)
        self.decoder.build((None, self.z_dim))
        self.built = True

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    @staticmethod
    def _as_float(x):
        x = ops.convert_to_tensor(x)
        if x.dtype == "uint8":
            return ops.cast(x, "float32") / 255.0
        return ops.cast(x, "float32")

    def call(self, x, training=False):
        x = self._as_float(x)
        mu, log_var, z = self.encoder(x, training=training)
        return mu, log_var, self.decoder(z, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Book/paper train_step maths: sum of squared errors per frame + free-bits KL."""
        x = self._as_float(x)
        mu, log_var, recon = y_pred
        reconstruction = ops.mean(ops.sum(ops.square(x - recon), axis=(1, 2, 3)))
        kl = ops.mean(ops.maximum(kl_divergence(mu, log_var), self.kl_tolerance * self.z_dim))
        total = reconstruction + kl
        self.total_loss_tracker.update_state(total)
        self.reconstruction_loss_tracker.update_state(reconstruction)
        self.kl_loss_tracker.update_state(kl)
        return global_batch_loss(total)

    def _check(self, frames):
        frames = to_numpy(frames, dtype=None)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.shape[1:] != FRAME_SHAPE:
            raise ValueError(
                f"WorldModelVAE expects frames of shape (N, 64, 64, 3); got {frames.shape}"
            )
        return frames

    def encode(self, frames, batch_size: int = 256):
        """``(mu, log_var, z)`` as NumPy arrays ``(N, z_dim)`` for frames ``(N, 64, 64, 3)``
        (uint8 or [0, 1] floats; arrays or tensors)."""
        frames = self._check(frames)
        x = ops.convert_to_numpy(self._as_float(frames))
        return tuple(predict_numpy(self.encoder, x, batch_size))

    def decode(self, z, batch_size: int = 256):
        """Frames in [0, 1], ``(N, 64, 64, 3)``, for latents ``(N, z_dim)``."""
        return predict_numpy(self.decoder, to_numpy(z).reshape(-1, self.z_dim), batch_size)

    def reconstruct(self, frames, batch_size: int = 256):
        """Decode the posterior means of ``frames``: ``(N, 64, 64, 3)`` in [0, 1]."""
        return self.decode(self.encode(frames, batch_size)[0], batch_size)

    def generate(self, num: int = 10, seed=None):
        """``num`` frames ``(num, 64, 64, 3)`` in [0, 1] decoded from N(0, I) latents."""
        z = np.random.default_rng(seed).standard_normal((num, self.z_dim)).astype("float32")
        return self.decode(z)

    def get_config(self):
        return {
            **super().get_config(),
            "z_dim": self.z_dim,
            "kl_tolerance": self.kl_tolerance,
            "seed": self.seed,
        }
