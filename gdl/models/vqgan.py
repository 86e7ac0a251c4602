"""Chapter 10: VQ-VAE -> VQ-GAN, and a Transformer prior over the code indices.

The book describes VQ-VAE (a discrete codebook replaces the VAE's Gaussian latent; loss =
reconstruction + codebook + commitment) and VQ-GAN (adds a PatchGAN discriminator and a
perceptual loss, and replaces the PixelCNN prior by a Transformer). gdl implements:

* :class:`VQVAE`: convolutional encoder -> :class:`gdl.layers.VectorQuantizer` ->
  decoder, trained with ``fit`` (MSE reconstruction + the quantiser's losses); metrics
  ``reconstruction_loss``, ``vq_loss``, ``perplexity``.
* :class:`VQGAN`: the same autoencoder plus a PatchGAN discriminator (one hinge score per
  patch), an optional perceptual loss (``perceptual_model``: any Keras model mapping
  images to features, e.g. the first layers of a classifier gdl trained on the same
  data; nothing is downloaded) and the **adaptive weight** of the adversarial term,
  ``lambda = ||grad_L rec|| / (||grad_L adv|| + 1e-4)`` at the decoder's last layer
  ``L`` (Esser et al. 2021), switched on after ``adversarial_start`` steps.
* The prior: :func:`make_prior` (a :class:`gdl.models.GPT` over the code grid read in
  raster order), :func:`prior_tokens` (training pairs) and :func:`sample_from_prior`
  (code by code through gdl's cached generation loop, then decoded). Code ``k`` is token
  ``k + 2``; token 1 starts every sequence (token 0 is GPT's padding). The grids here
  are small enough for a full context, so there is no sliding window.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from gdl.backend import value_and_grad
from gdl.distribute import GlobalBatch
from gdl.layers.vector_quantizer import VectorQuantizer
from gdl.models.adversarial import AdversarialModel, hinge_d_loss, hinge_g_loss, real_images
from gdl.models.optimizers import BookCompile

_REG = keras.saving.register_keras_serializable(package="gdl")
FIRST_CODE_TOKEN, START_TOKEN = 2, 1


def vq_encoder(image_shape=(32, 32, 1), filters=(32, 64), embedding_dim=16, name="encoder"):
    """Stride-2 ReLU convolutions (one per entry of ``filters``) -> 1x1 conv to ``embedding_dim``."""
    inp = keras.Input(image_shape)
    x = inp
    for f in filters:
        x = layers.Conv2D(f, 4, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(filters[-1], 3, padding="same", activation="relu")(x)
    return keras.Model(inp, layers.Conv2D(embedding_dim, 1)(x), name=name)


def vq_decoder(grid_shape=(8, 8, 16), channels=1, filters=(64, 32), name="decoder"):
    """3x3 conv -> stride-2 transposed convolutions -> 3x3 conv to ``channels`` (linear)."""
    inp = keras.Input(grid_shape)
    x = layers.Conv2D(filters[0], 3, padding="same", activation="relu")(inp)
    for f in filters:
        x = layers.Conv2DTranspose(f, 4, strides=2, padding="same", activation="relu")(x)
    return keras.Model(inp, layers.Conv2D(channels, 3, padding="same", name="last")(x), name=name)


def patch_discriminator(image_shape=(32, 32, 1), filters=(32, 64), name="discriminator"):
    """PatchGAN: stride-2 LeakyReLU convolutions, then a 3x3 conv to one score per patch."""
    inp = keras.Input(image_shape)
    x = inp
    for f in filters:
        x = layers.LeakyReLU(0.2)(layers.Conv2D(f, 4, strides=2, padding="same")(x))
    return keras.Model(inp, layers.Conv2D(1, 3, padding="same")(x), name=name)


@_REG
class VQVAE(BookCompile, keras.Model):
    """Encoder -> vector quantiser -> decoder; ``model(x)`` is the reconstruction.

    ``VQVAE(image_shape=(32, 32, 1), num_embeddings=64, embedding_dim=16, beta=0.25,
    ema=False)``. ``encode_indices(x)`` -> code grid ``(B, h, w)`` (NumPy ints);
    ``decode_indices(grid)`` -> images; ``reconstruct(x)`` -> images (NumPy).
    """

    book_learning_rate = 1e-3  # gdl's; van den Oord et al. 2017 used 2e-4 on larger batches

    def __init__(self, encoder=None, decoder=None, quantizer=None, image_shape=(32, 32, 1),
                 num_embeddings: int = 64, embedding_dim: int = 16, beta: float = 0.25,
                 ema: bool = False, filters=(32, 64), seed=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.encoder = encoder or vq_encoder(tuple(image_shape), filters, embedding_dim)
        grid = tuple(self.encoder.output.shape[1:])
        self.decoder = decoder or vq_decoder(grid, image_shape[-1], tuple(reversed(filters)))
        self.quantizer = quantizer or VectorQuantizer(num_embeddings, embedding_dim, beta, ema,
                                                      seed=seed, name="quantizer")  # fmt: skip
        if not self.quantizer.built:
            self.quantizer.build((None, *grid))
        self.seed = seed
        self.rec_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.vq_tracker = keras.metrics.Mean(name="vq_loss")
        self.perplexity_tracker = keras.metrics.Mean(name="perplexity")
        self.built = True

    @property
    def image_shape(self):
        return tuple(self.encoder.input.shape[1:])

    @property
    def grid_shape(self):
        return tuple(self.encoder.output.shape[1:3])

    @property
    def metrics(self):
        return [self.rec_tracker, self.vq_tracker, self.perplexity_tracker]

    def reconstruct_and_quantize(self, x, training=False):
        """``(reconstruction, quantiser outputs dict)``."""
        out = self.quantizer.quantize_vectors(self.encoder(x, training=training), training)
        return self.decoder(out["quantized"], training=training), out

    def call(self, x, training=False):
        return self.reconstruct_and_quantize(x, training)[0]

    def vq_losses(self, x, training=True):
        """``(reconstruction MSE, quantiser loss, quantiser outputs, reconstruction)``."""
        rec, out = self.reconstruct_and_quantize(x, training)
        return ops.mean(ops.square(x - rec)), out["loss"], out, rec

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        rec, vq, out, _ = self.vq_losses(x, training)
        self.rec_tracker.update_state(rec)
        self.vq_tracker.update_state(vq)
        self.perplexity_tracker.update_state(out["perplexity"])
        return rec + vq

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return {m.name: m.result() for m in self.metrics}

    def encode_indices(self, x) -> np.ndarray:
        z = self.encoder(ops.convert_to_tensor(x), training=False)
        return ops.convert_to_numpy(self.quantizer.quantize_vectors(z)["indices"])

    def decode_indices(self, indices) -> np.ndarray:
        return ops.convert_to_numpy(self.decoder(self.quantizer.lookup(indices)))

    def reconstruct(self, x) -> np.ndarray:
        return ops.convert_to_numpy(self(ops.convert_to_tensor(x)))

    def get_config(self):
        return {**super().get_config(), "seed": self.seed,
                **{k: keras.saving.serialize_keras_object(getattr(self, k))
                   for k in ("encoder", "decoder", "quantizer")}}  # fmt: skip

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for k in ("encoder", "decoder", "quantizer"):
            config[k] = keras.saving.deserialize_keras_object(config[k])
        return cls(**config)


@_REG
class VQGAN(AdversarialModel):
    """A :class:`VQVAE` (the generator) trained against a PatchGAN; see the module docs.

    ``VQGAN(autoencoder=None, discriminator=None, adversarial_weight=0.1,
    adversarial_start=0, perceptual_model=None, perceptual_weight=1.0, **vqvae_kwargs)``.
    ``fit(images in [-1, 1] or [0, 1])``. Metrics: ``reconstruction_loss``, ``vq_loss``,
    ``perplexity``, ``g_adv``, ``adaptive_weight``, ``d_loss``. ``model(x)``: reconstruction.
    """

    book_learning_rate = 2e-4  # betas of Esser et al. 2021
    book_optimizer_kwargs = {"beta_1": 0.5, "beta_2": 0.9}
    _metric_names = ("reconstruction_loss", "vq_loss", "perplexity", "g_adv", "adaptive_weight",
                     "d_loss")  # fmt: skip
    _nested = ("generator", "discriminator", "perceptual_model")

    def __init__(self, generator=None, discriminator=None, perceptual_model=None,
                 adversarial_weight: float = 0.1, adversarial_start: int = 0,
                 perceptual_weight: float = 1.0, latent_dim: int = 0, seed=None,
                 image_shape=(32, 32, 1), **vqvae_kwargs):  # fmt: skip
        model_kwargs = {k: vqvae_kwargs.pop(k) for k in ("name", "trainable", "dtype")
                        if k in vqvae_kwargs}  # fmt: skip
        generator = generator or VQVAE(image_shape=image_shape, seed=seed, name="autoencoder",
                                       **vqvae_kwargs)  # fmt: skip
        discriminator = discriminator or patch_discriminator(generator.image_shape)
        super().__init__(generator, discriminator, latent_dim, seed=seed, **model_kwargs)
        self.perceptual_model = perceptual_model
        if perceptual_model is not None:
            perceptual_model.trainable = False
        self.adversarial_weight = float(adversarial_weight)
        self.adversarial_start = int(adversarial_start)
        self.perceptual_weight = float(perceptual_weight)

    @property
    def image_shape(self):
        return self.generator.image_shape

    def call(self, x, training=False):
        return self.generator(x, training=training)

    def perceptual_loss(self, x, rec):
        if self.perceptual_model is None:
            return ops.zeros(())
        fx, fr = self.perceptual_model(x), self.perceptual_model(rec)
        return sum(ops.mean(ops.square(a - b)) for a, b in zip(keras.tree.flatten(fx),
                                                                keras.tree.flatten(fr)))

    def adaptive_weight(self, x, split: GlobalBatch | None = None):
        """``||grad_L rec|| / (||grad_L adv|| + 1e-4)`` at the decoder's last kernel (the
        gradients of the global-batch losses: summed over replicas with ``split``).

        Its forward passes run in inference mode: with ``ema=True`` a training pass
        updates the codebook, and the step's own pass already does that once (the
        encoder and decoder have no dropout or batch norm, so the outputs are the same).
        """
        last = self.generator.decoder.get_layer("last").kernel
        split = split or GlobalBatch(ops.shape(x)[0])

        def norm_of(loss_of_rec):
            def loss():
                return split.loss(loss_of_rec(self.generator.reconstruct_and_quantize(x, False)[0]))

            _, (g,) = value_and_grad(loss, [last])
            g = split.sum(g)
            return ops.sqrt(ops.sum(ops.square(g)))

        rec_norm = norm_of(lambda r: ops.mean(ops.square(x - r)) + self.perceptual_weight
                           * self.perceptual_loss(x, r))  # fmt: skip
        adv_norm = norm_of(lambda r: hinge_g_loss(self.discriminator(r, training=True)))
        return ops.stop_gradient(rec_norm / (adv_norm + 1e-4))

    def adversarial_step(self, data, phase):
        x = ops.convert_to_tensor(real_images(data))
        split = GlobalBatch(ops.shape(x)[0])
        on = ops.cast(self.g_optimizer.iterations >= self.adversarial_start, "float32")
        lam = self.adaptive_weight(x, split) * self.adversarial_weight * on
        g_state = self.generator.non_trainable_variables

        def g_loss():
            rec_loss, vq, out, rec = self.generator.vq_losses(x, training=True)
            adv = hinge_g_loss(self.discriminator(rec, training=True))
            total = rec_loss + vq + self.perceptual_weight * self.perceptual_loss(x, rec) + lam * adv
            return total, (rec_loss, vq, out["perplexity"], adv, ops.stop_gradient(rec))

        _, (rec_loss, vq, perplexity, adv, rec) = self.update(
            g_loss, self.generator_variables(), self.g_optimizer, g_state, split
        )

        def d_loss():
            loss = hinge_d_loss(self.discriminator(x, training=True),
                                self.discriminator(rec, training=True))  # fmt: skip
            return loss, loss

        d_value, _ = self.update(d_loss, self.discriminator_variables(), self.d_optimizer,
                                 split=split)  # fmt: skip
        # perplexity and the adaptive weight are already global: their mean is themselves
        self.track(split, reconstruction_loss=rec_loss, vq_loss=vq, perplexity=perplexity, g_adv=adv,
                   adaptive_weight=lam, d_loss=d_value)  # fmt: skip

    def get_config(self):
        return {**super().get_config(), "adversarial_weight": self.adversarial_weight,
                "adversarial_start": self.adversarial_start,
                "perceptual_weight": self.perceptual_weight}  # fmt: skip


# ---------------------------------------------------------------------------- the prior
def make_prior(num_embeddings: int, grid_shape, embed_dim=64, num_heads=4, key_dim=16,
               ff_dim=128, num_blocks=2, seed=None):  # fmt: skip
    """A :class:`gdl.models.GPT` over ``h * w`` codes (+ the start token)."""
    from gdl.models.gpt import GPT

    length = int(np.prod(grid_shape))
    return GPT(vocab_size=num_embeddings + FIRST_CODE_TOKEN, max_len=length + 1,
               embed_dim=embed_dim, num_heads=num_heads, key_dim=key_dim, ff_dim=ff_dim,
               num_blocks=num_blocks, dropout_rate=0.0, seed=seed)  # fmt: skip


def prior_tokens(indices) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, targets)`` for the prior from code grids ``(B, h, w)``: raster order,
    codes shifted to tokens ``k + 2``, the start token prepended."""
    flat = np.asarray(indices).reshape(len(indices), -1) + FIRST_CODE_TOKEN
    seq = np.concatenate([np.full((len(flat), 1), START_TOKEN), flat], axis=1).astype("int32")
    return seq[:, :-1], seq[:, 1:]


def sample_from_prior(prior, autoencoder, num: int = 16, temperature: float = 1.0,
                      top_k=None, seed=None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Sample ``num`` code grids code by code (gdl's cached decoding loop) and decode them;
    returns ``(images, code grids)``."""
    h, w = autoencoder.grid_shape
    gen = prior.generate([START_TOKEN], max_tokens=h * w + 1, temperature=temperature,
                         top_k=top_k, seed=seed, num=num, stop_at_end=False)  # fmt: skip
    codes = np.clip(np.asarray(gen.tokens)[:, 1 : h * w + 1] - FIRST_CODE_TOKEN, 0,
                    autoencoder.quantizer.num_embeddings - 1).reshape(num, h, w)  # fmt: skip
    return autoencoder.decode_indices(codes), codes


def unigram_perplexity(train_indices, test_indices, num_embeddings: int) -> float:
    """Perplexity of held-out codes under the training codes' frequencies (add-one)."""
    counts = np.bincount(np.asarray(train_indices).ravel(), minlength=num_embeddings) + 1.0
    p = counts / counts.sum()
    return float(np.exp(-np.log(p[np.asarray(test_indices).ravel()]).mean()))
