"""Chapter 3: the autoencoder on Fashion-MNIST, and the conv encoder/decoder builders the
VAEs share.

Book: ``notebooks/03_vae/01_autoencoder/autoencoder.ipynb``. The encoder (96,770
parameters) maps a 32x32x1 image through three stride-2 convolutions (32, 64, 128) to a
2-D embedding; the decoder (246,273) mirrors it with transposed convolutions. The book
compiles the functional model with ``loss="binary_crossentropy"``; here the model is a
subclass whose :meth:`Autoencoder.compute_loss` computes the same per-pixel BCE and
reports it through a tracker, so Keras' own ``train_step``/``test_step`` train it on every
backend (``fit(x)`` is enough: the target is the input).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from gdl.distribute import global_batch_loss
from gdl.layers.sampling import Sampling
from gdl.models.inference import predict_numpy, to_numpy
from gdl.models.optimizers import BookCompile

_REG = keras.saving.register_keras_serializable(package="gdl")
FASHION_SHAPE = (32, 32, 1)


def _stride2_block(x, conv, filters: int, batch_norm: bool):
    """One stride-2 3x3 ``conv`` (Conv2D or Conv2DTranspose): ``-> BN -> LeakyReLU`` for the
    faces VAE (``batch_norm``), ``relu`` for the Fashion-MNIST models."""
    if batch_norm:
        x = conv(filters, 3, strides=2, padding="same")(x)
        x = layers.BatchNormalization()(x)
        return layers.LeakyReLU()(x)
    return conv(filters, 3, strides=2, padding="same", activation="relu")(x)


def _shape_before_flatten(image_shape, filters):
    h, w = image_shape[0], image_shape[1]
    n = len(filters)
    if h % 2**n or w % 2**n:
        raise ValueError(
            f"image size {h}x{w} must be divisible by 2**{n} for {n} stride-2 convolutions"
        )
    return (h // 2**n, w // 2**n, filters[-1])


def conv_encoder(
    image_shape=FASHION_SHAPE,
    latent_dim: int = 2,
    filters=(32, 64, 128),
    batch_norm: bool = False,
    variational: bool = False,
    seed=None,
    name: str = "encoder",
) -> keras.Model:
    """Stride-2 3x3 convolutions, Flatten, then the latent head.

    ``batch_norm=False`` is the Fashion-MNIST encoder: Conv2D(f, relu) blocks.
    ``batch_norm=True`` is the faces encoder: Conv2D(f) -> BatchNorm -> LeakyReLU.
    ``variational=False`` ends in ``Dense(latent_dim)`` (autoencoder); ``True`` in
    ``z_mean``, ``z_log_var`` Dense layers and a :class:`~gdl.layers.Sampling` layer, with
    outputs ``[z_mean, z_log_var, z]`` (the book's VAE encoder).
    """
    inp = layers.Input(shape=tuple(image_shape), name="encoder_input")
    _shape_before_flatten(image_shape, filters)
    x = inp
    for f in filters:
        x = _stride2_block(x, layers.Conv2D, f, batch_norm)
    x = layers.Flatten()(x)
    if not variational:
        return keras.Model(inp, layers.Dense(latent_dim, name="encoder_output")(x), name=name)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling(seed=seed, name="sampling")([z_mean, z_log_var])
    return keras.Model(inp, [z_mean, z_log_var, z], name=name)


def conv_decoder(
    latent_dim: int = 2,
    image_shape=FASHION_SHAPE,
    filters=(128, 64, 32),
    batch_norm: bool = False,
    name: str = "decoder",
) -> keras.Model:
    """Dense -> Reshape -> stride-2 3x3 transposed convolutions -> sigmoid image.

    ``batch_norm=False`` (Fashion-MNIST): Dense(prod) -> Reshape -> Conv2DTranspose(f,
    relu) blocks -> Conv2D(channels, 3, sigmoid). ``batch_norm=True`` (faces): Dense ->
    BN -> LeakyReLU -> Reshape -> [Conv2DTranspose(f) -> BN -> LeakyReLU] blocks ->
    Conv2DTranspose(channels, 3, sigmoid).
    """
    before = _shape_before_flatten(image_shape, filters[::-1])
    channels = image_shape[-1]
    inp = layers.Input(shape=(latent_dim,), name="decoder_input")
    x = layers.Dense(int(np.prod(before)))(inp)
    if batch_norm:
        x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU()(x)
    x = layers.Reshape(before)(x)
    for f in filters:
        x = _stride2_block(x, layers.Conv2DTranspose, f, batch_norm)
    final = layers.Conv2DTranspose if batch_norm else layers.Conv2D
    out = final(
        channels, 3, strides=1, padding="same", activation="sigmoid", name="decoder_output"
    )(x)
    return keras.Model(inp, out, name=name)


def per_sample_reconstruction(x, reconstruction, kind: str = "bce"):
    """Per-image mean over pixels and channels of BCE (``"bce"``) or squared error (``"mse"``)."""
    axes = list(range(1, len(x.shape)))
    if kind == "bce":
        err = ops.binary_crossentropy(x, reconstruction)
    elif kind == "mse":
        err = ops.square(ops.subtract(x, reconstruction))  # x may be NumPy (torch: train_on_batch)
    else:
        raise ValueError(f"reconstruction loss must be 'bce' or 'mse', got {kind!r}")
    return ops.mean(err, axis=axes)


class EncoderDecoderModel(keras.Model):
    """Base of :class:`Autoencoder`, :class:`~gdl.models.vae.VAE` and
    :class:`~gdl.models.vae.FacesVAE`: an ``encoder`` and a ``decoder`` sub-model, saved
    with the model, and the verbs every encoder/decoder model shares:

    * :meth:`encode` ``(images) ->`` what the encoder outputs, as NumPy (the autoencoder's
      embedding; a VAE's ``(z_mean, z_log_var, z)``);
    * :meth:`decode` ``(latents) -> images`` as NumPy;
    * :meth:`reconstruct` ``(images) -> decode(encode(images))``.

    All three accept NumPy arrays or tensors of any backend, a single image or a batch,
    and run batches of ``batch_size`` (see :func:`gdl.models.inference.predict_numpy`).
    """

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.built = True

    @property
    def image_shape(self) -> tuple:
        return tuple(self.encoder.input.shape[1:])

    @property
    def latent_dim(self) -> int:
        return int(self.decoder.input.shape[-1])

    def _check(self, x):
        x = to_numpy(x)
        if x.ndim == len(self.image_shape):
            x = x[None]
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(
                f"{type(self).__name__} expects images of shape (batch, "
                f"{', '.join(map(str, self.image_shape))}), got {x.shape}"
            )
        return x

    def encode(self, x, batch_size: int = 256):
        """The encoder's output(s) for images ``(n, H, W, C)`` (NumPy; a tuple if several)."""
        out = predict_numpy(self.encoder, self._check(x), batch_size)
        return tuple(out) if isinstance(out, list) else out

    def decode(self, z, batch_size: int = 256) -> np.ndarray:
        """Images ``(n, H, W, C)`` for latent points ``(n, latent_dim)`` (NumPy)."""
        z = to_numpy(z).reshape(-1, self.latent_dim)
        return predict_numpy(self.decoder, z, batch_size)

    def reconstruct(self, x, batch_size: int = 256) -> np.ndarray:
        """``decode(encode(x))``: the decoded embeddings (VAE: the decoded latent means)."""
        encoded = self.encode(x, batch_size)
        return self.decode(encoded[0] if isinstance(encoded, tuple) else encoded, batch_size)

    def _total_with_regularisers(self, total):
        if self.losses:
            total = total + ops.sum(ops.stack(self.losses))
        return global_batch_loss(total)  # a replica's share under tf.distribute

    def get_config(self):
        config = super().get_config()
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            decoder=keras.saving.serialize_keras_object(self.decoder),
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@_REG
class Autoencoder(BookCompile, EncoderDecoderModel):
    """The book's autoencoder: ``Autoencoder()`` is the Fashion-MNIST model (2-D embedding).

    ``compute_loss`` is the book's ``binary_crossentropy`` between the input and its
    reconstruction (mean over pixels and batch), tracked as ``reconstruction_loss``.
    Book: ``compile(optimizer="adam")`` (``compile()`` here: Adam at
    :attr:`book_learning_rate`), batch 100, 3 epochs. ``encode(images)`` returns the
    embeddings ``(n, embedding_dim)``; ``model(images)`` the reconstructions.
    """

    book_learning_rate = 1e-3  # Keras' "adam"

    def __init__(
        self,
        encoder=None,
        decoder=None,
        image_shape=FASHION_SHAPE,
        embedding_dim: int = 2,
        filters=(32, 64, 128),
        **kwargs,
    ):
        image_shape, filters = tuple(image_shape), tuple(filters)
        if encoder is None:
            encoder = conv_encoder(image_shape, embedding_dim, filters)
        if decoder is None:
            decoder = conv_decoder(embedding_dim, image_shape, filters[::-1])
        super().__init__(encoder, decoder, **kwargs)
        self.filters = filters
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")

    def call(self, inputs, training=False):
        return self.decoder(self.encoder(inputs, training=training), training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean per-pixel BCE between ``x`` and ``y_pred`` (the target is the input)."""
        recon = ops.mean(per_sample_reconstruction(x, y_pred, "bce"))
        self.reconstruction_loss_tracker.update_state(recon)
        return self._total_with_regularisers(recon)

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=self.image_shape, embedding_dim=self.latent_dim, filters=self.filters
        )
        return config
