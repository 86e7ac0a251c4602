"""Chapter 3: variational autoencoders on Fashion-MNIST and on CelebA faces.

Book: ``notebooks/03_vae/02_vae_fashion/vae_fashion.ipynb`` and ``03_vae_faces/vae_faces.ipynb``
(+ ``vae_utils.py``). ``VAE()`` is the Fashion-MNIST model (2-D latent, beta = 500 x BCE;
encoder 100,868 / decoder 246,273 parameters); ``FacesVAE()`` the faces model of the
book's HEAD (32x32x3, latent 200, four 128-filter blocks with batch norm, beta = 2000 x
MSE; 653,584 / 700,803 parameters).

The book's ``train_step`` lives in :meth:`VAE.compute_loss` (the DESIGN's "custom
train_step"): Keras' own train/test steps call it on every backend and it updates the
``reconstruction_loss`` and ``kl_loss`` trackers (``loss`` is the total). The loss is the
book's: ``mean(beta * mean_pixels(recon_err)) + mean(sum_latent(KL))`` with the
closed-form KL of N(mu, sigma^2) from N(0, I).

Where gdl differs from the book:

* ``call`` uses ``self.encoder``/``self.decoder`` (the book's uses notebook globals);
* validation (``test_step``) updates the trackers, so ``val_kl_loss`` etc. are correct (the
  book's returns raw tensors);
* :meth:`VAE.latent_grid` uses finite normal quantiles (the book's ``norm.ppf(linspace(0, 1))``
  puts +-inf at the edges);
* :meth:`VAE.attribute_vector` always returns a unit vector (the book's
  ``get_vector_from_label`` does not normalise when it stops at its 10,000-image cap) and
  by default uses the latent means of all given images (up to ``max_images``); the book's
  running-mean stopping rule is ``tolerance=0.08``;
* :meth:`VAE.morph` includes both end points;
* optionally (``mixture_components=K``, not in the book) an *ex-post* latent density:
  :meth:`VAE.fit_latent_mixture` fits a K-component full-covariance Gaussian mixture to the
  training images' latent means after ``fit`` (Ghosh et al. 2020, "From Variational to
  Deterministic Autoencoders", section 4) and :meth:`VAE.generate` samples from it instead of
  N(0, I). On a small dataset the aggregate posterior fills only part of N(0, I), so most
  prior samples decode to blends; the mixture samples where the data are. The mixture is
  stored in the model as non-trainable weights and saved with it.
"""

from __future__ import annotations

from statistics import NormalDist

import keras
import numpy as np
from keras import ops

from gdl.errors import ConfigError
from gdl.models.autoencoder import (
    FASHION_SHAPE,
    EncoderDecoderModel,
    conv_decoder,
    conv_encoder,
    per_sample_reconstruction,
)
from gdl.models.optimizers import BookCompile

_REG = keras.saving.register_keras_serializable(package="gdl")
FACES_SHAPE = (32, 32, 3)


def kl_divergence(z_mean, z_log_var):
    """Per-sample ``KL(N(mean, exp(log_var)) || N(0, I))``, summed over latent dimensions."""
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


def normal_quantiles(n: int) -> np.ndarray:
    """``n`` finite standard-normal quantiles at probabilities ``(i + 0.5) / n``.

    Replaces the book's ``norm.ppf(np.linspace(0, 1, n))``, whose end points are +-inf.
    """
    nd = NormalDist()
    return np.array([nd.inv_cdf((i + 0.5) / n) for i in range(n)], dtype="float32")


@_REG
class VAE(BookCompile, EncoderDecoderModel):
    """The book's Fashion-MNIST VAE; pass ``encoder``/``decoder`` for other networks.

    ``encoder`` must output ``[z_mean, z_log_var, z]`` (see
    :func:`gdl.models.autoencoder.conv_encoder` with ``variational=True``).
    ``reconstruction_loss``: ``"bce"`` (Fashion-MNIST) or ``"mse"`` (faces), weighted by
    ``beta``. ``call`` returns ``(z_mean, z_log_var, reconstruction)`` as the book's does,
    and :meth:`encode` ``(z_mean, z_log_var, z)`` (the same order in every gdl VAE,
    :class:`gdl.world_models.WorldModelVAE` included).
    Book training: Adam(5e-4) (``compile()`` with no optimizer), batch 100, 5 epochs.

    ``mixture_components`` (default 0: the book's model, which samples from N(0, I)): K > 0
    adds a K-component Gaussian mixture over the latent space (non-trainable weights
    ``prior_logits (K,)``, ``prior_means (K, latent_dim)`` and the Cholesky factors of its
    covariances ``prior_scale_tril (K, latent_dim, latent_dim)``), fitted after training by
    :meth:`fit_latent_mixture`; :meth:`generate` then samples from it (``prior="normal"``
    still gives N(0, I)). Until it is fitted the mixture is K copies of N(0, I).
    """

    book_learning_rate = 5e-4

    def __init__(
        self,
        encoder=None,
        decoder=None,
        beta: float = 500.0,
        reconstruction_loss: str = "bce",
        image_shape=FASHION_SHAPE,
        latent_dim: int = 2,
        seed=None,
        mixture_components: int = 0,
        **kwargs,
    ):
        if reconstruction_loss not in ("bce", "mse"):
            raise ValueError(
                f"reconstruction_loss must be 'bce' or 'mse', got {reconstruction_loss!r}"
            )
        image_shape = tuple(image_shape)
        if encoder is None or decoder is None:
            built_enc, built_dec = self.build_networks(image_shape, latent_dim, seed)
            encoder = built_enc if encoder is None else encoder
            decoder = built_dec if decoder is None else decoder
        super().__init__(encoder, decoder, **kwargs)
        if len(encoder.outputs) != 3:
            raise ValueError(
                "a VAE encoder must output [z_mean, z_log_var, z]; build one with "
                "gdl.models.autoencoder.conv_encoder(..., variational=True)"
            )
        self.beta = float(beta)
        self.reconstruction_loss = reconstruction_loss
        self.seed = seed
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        self.mixture_components = int(mixture_components)
        if self.mixture_components < 0:
            raise ConfigError(f"mixture_components must be >= 0, got {mixture_components}")
        if self.mixture_components:
            self._add_mixture_weights(self.mixture_components, self.latent_dim, seed)

    def _add_mixture_weights(self, k: int, d: int, seed):
        """The latent mixture's weights, initialised to K copies of N(0, I)."""
        eye = np.broadcast_to(np.eye(d, dtype="float32"), (k, d, d))

        def weight(name, shape, init):
            return self.add_weight(name=name, shape=shape, initializer=init, trainable=False)

        self.prior_logits = weight("prior_logits", (k,), "zeros")
        self.prior_means = weight("prior_means", (k, d), "zeros")
        self.prior_scale_tril = weight(
            "prior_scale_tril", (k, d, d), lambda shape, dtype=None: ops.cast(eye, dtype)
        )
        self.seed_generator = keras.random.SeedGenerator(seed)

    @staticmethod
    def build_networks(image_shape, latent_dim, seed=None):
        """The Fashion-MNIST encoder and decoder (three conv blocks 32/64/128, ReLU)."""
        return (
            conv_encoder(image_shape, latent_dim, (32, 64, 128), variational=True, seed=seed),
            conv_decoder(latent_dim, image_shape, (128, 64, 32)),
        )

    # -- training ---------------------------------------------------------
    def call(self, inputs, training=False):
        z_mean, z_log_var, z = self.encoder(inputs, training=training)
        return z_mean, z_log_var, self.decoder(z, training=training)

    def loss_terms(self, x, z_mean, z_log_var, reconstruction):
        """``(total, beta * reconstruction, kl)``, each averaged over the batch."""
        recon = ops.mean(
            self.beta * per_sample_reconstruction(x, reconstruction, self.reconstruction_loss)
        )
        kl = ops.mean(kl_divergence(z_mean, z_log_var))
        return recon + kl, recon, kl

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The book's VAE ``train_step`` loss (the target is the input ``x``; ``y`` is ignored)."""
        z_mean, z_log_var, reconstruction = y_pred
        total, recon, kl = self.loss_terms(x, z_mean, z_log_var, reconstruction)
        self.reconstruction_loss_tracker.update_state(recon)
        self.kl_loss_tracker.update_state(kl)
        return self._total_with_regularisers(total)

    # -- using the model --------------------------------------------------------
    def encode(self, x, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(z_mean, z_log_var, z)`` of images as NumPy, each ``(n, latent_dim)``; ``z`` is
        a draw from the posterior (the book's ``encoder.predict``)."""
        return super().encode(x, batch_size)

    def reconstruct(self, x, batch_size: int = 256, sample: bool = False) -> np.ndarray:
        """Decode the latent mean (``sample=True``: a sampled z, as the book's ``predict``)."""
        z_mean, _, z = self.encode(x, batch_size)
        return self.decode(z if sample else z_mean, batch_size)

    def _prior(self, prior):
        prior = ("mixture" if self.mixture_components else "normal") if prior is None else prior
        if prior not in ("normal", "mixture"):
            raise ConfigError(f"prior must be 'normal' or 'mixture', got {prior!r}")
        if prior == "mixture" and not self.mixture_components:
            raise ConfigError(
                "this VAE has no latent mixture: build it with mixture_components=K (e.g. "
                "VAE(..., mixture_components=10)), train it, call fit_latent_mixture(x_train), "
                "or sample with prior='normal'"
            )
        return prior

    def sample_prior(self, num: int, seed=None, prior: str | None = None) -> np.ndarray:
        """``num`` latent points (NumPy, reproducible with ``seed``, an int).

        ``prior``: ``"normal"`` N(0, I) (the book's), ``"mixture"`` the fitted latent
        mixture (see :meth:`fit_latent_mixture`); ``None``: the mixture when the model has
        one, else N(0, I). Mixture draws use ``keras.random`` (a component from the
        mixture weights, then ``mean + L @ eps``), from the model's ``SeedGenerator`` when
        ``seed`` is None.
        """
        if self._prior(prior) == "normal":
            rng = np.random.default_rng(seed)
            return rng.standard_normal((num, self.latent_dim)).astype("float32")
        gen = self.seed_generator if seed is None else keras.random.SeedGenerator(int(seed))
        num = int(num)
        k = ops.reshape(keras.random.categorical(self.prior_logits[None], num, seed=gen), (-1,))
        eps = keras.random.normal((num, self.latent_dim), seed=gen)
        means = ops.take(self.prior_means, k, axis=0)
        scale = ops.take(self.prior_scale_tril, k, axis=0)
        z = means + ops.einsum("nij,nj->ni", scale, eps)
        return ops.convert_to_numpy(z).astype("float32")

    def generate(self, num: int = 10, seed=None, prior: str | None = None) -> np.ndarray:
        """``num`` images ``(num, H, W, C)`` in [0, 1] decoded from latent points of
        :meth:`sample_prior` (NumPy; the same ``seed`` gives the same images): N(0, I) as
        in the book, or the fitted latent mixture when the model has one."""
        return self.decode(self.sample_prior(num, seed, prior))

    def fit_latent_mixture(self, x, batch_size: int = 256, seed: int = 0, reg_covar: float = 1e-4):
        """Fit the latent mixture to the latent means of ``x`` (the training images) with
        scikit-learn's ``GaussianMixture`` (full covariances, k-means initialisation,
        ``reg_covar`` added to each covariance's diagonal) and store it in the model's
        weights. Ex-post density estimation (Ghosh et al. 2020); not in the book.
        Returns the fitted ``GaussianMixture``."""
        if not self.mixture_components:
            self._prior("mixture")  # raises the ConfigError that says what to do
        from sklearn.mixture import GaussianMixture

        z_mean = self.encode(x, batch_size)[0].astype("float64")
        k = self.mixture_components
        if len(z_mean) < k:
            raise ConfigError(f"fit_latent_mixture needs at least {k} images, got {len(z_mean)}")
        gmm = GaussianMixture(k, covariance_type="full", reg_covar=reg_covar, random_state=seed)
        gmm.fit(z_mean)
        self.prior_logits.assign(np.log(gmm.weights_).astype("float32"))
        self.prior_means.assign(gmm.means_.astype("float32"))
        self.prior_scale_tril.assign(np.linalg.cholesky(gmm.covariances_).astype("float32"))
        return gmm

    def latent_grid(self, n: int = 15, dims=(0, 1)) -> tuple[np.ndarray, np.ndarray]:
        """The book's decoded ``n x n`` grid over normal quantiles: ``(points, images)``.

        ``points`` is ``(n*n, latent_dim)`` (other dimensions 0), rows from high to low
        ``dims[1]`` so the mosaic reads like a plot; quantiles are finite (see
        :func:`normal_quantiles`).
        """
        q = normal_quantiles(n)
        pts = np.zeros((n * n, self.latent_dim), "float32")
        gx, gy = np.meshgrid(q, q[::-1])
        pts[:, dims[0]], pts[:, dims[1]] = gx.ravel(), gy.ravel()
        return pts, self.decode(pts)

    # -- latent arithmetic (book vae_utils.py) -------------------------------
    def attribute_vector(
        self, images, labels=None, max_images: int | None = None, tolerance: float | None = None,
        verbose: bool = False, print_fn=print,
    ) -> np.ndarray:
        """Unit vector from the mean latent of images without to images with an attribute.

        ``images``/``labels`` are arrays (labels 1/True = has it; 0, -1 or False = not) or
        ``images`` is a ``tf.data`` dataset of ``(images, labels)`` batches, e.g.
        ``gdl.data.load("faces", labels="Blond_Hair")``; ``max_images`` bounds how many are
        encoded. Book: ``get_vector_from_label``, which keeps running means of the two
        groups batch by batch, prints ``images : POS move : NEG move : distance : Δ
        distance`` after each (``verbose=True`` here) and stops once the two means moved
        less than 0.08 together (``tolerance=0.08`` here; default: every image up to
        ``max_images``; ``print_fn`` takes the lines). The book returns an unnormalised
        vector when it stops at its 10,000-image cap; gdl always returns the unit vector.
        """
        batches = [(images, labels)] if labels is not None else images
        sums, counts, means = {}, {True: 0, False: 0}, {}
        last_distance, seen = 0.0, 0
        for xb, yb in batches:
            if max_images and seen >= max_images:
                break
            xb = np.asarray(xb)
            yb = np.asarray(yb).reshape(-1)
            if max_images:
                xb, yb = xb[: max_images - seen], yb[: max_images - seen]
            seen += len(yb)
            z = self.encode(xb)[0]
            moves = {}
            for group, mask in ((True, yb > 0), (False, ~(yb > 0))):
                if not mask.any():
                    moves[group] = 0.0
                    continue
                sums[group] = sums.get(group, 0.0) + z[mask].sum(0)
                counts[group] += int(mask.sum())
                new_mean = sums[group] / counts[group]
                moves[group] = float(np.linalg.norm(new_mean - means.get(group, new_mean)))
                means[group] = new_mean
            if len(means) < 2:
                continue
            distance = float(np.linalg.norm(means[True] - means[False]))
            if verbose:
                print_fn(f"{seen:>7} : POS move {moves[True]:.3f} : NEG move {moves[False]:.3f}"
                         f" : distance {distance:.3f} : Δ distance {distance - last_distance:.3f}")
            last_distance = distance
            if tolerance is not None and moves[True] + moves[False] < tolerance:
                break
        if len(means) < 2:
            raise ValueError(
                "attribute_vector needs images both with and without the attribute "
                f"({counts[True]} of {seen} have it)"
            )
        vec = means[True] - means[False]
        return (vec / np.linalg.norm(vec)).astype("float32")

    def add_vector(self, images, vector, factors=(-4, -3, -2, -1, 0, 1, 2, 3, 4)) -> np.ndarray:
        """Decode ``z + f * vector`` for each image and factor: ``(n_images, n_factors, H, W, C)``.

        Book: ``add_vector_to_images``.
        """
        z = self.encode(images)[0]
        factors = np.asarray(factors, "float32")
        pts = z[:, None, :] + factors[None, :, None] * np.asarray(vector, "float32")[None, None]
        out = self.decode(pts.reshape(-1, self.latent_dim))
        return out.reshape(len(z), len(factors), *out.shape[1:])

    def morph(self, image_a, image_b, steps: int = 10) -> np.ndarray:
        """Decode ``z_a * (1 - f) + z_b * f`` for ``f`` in ``linspace(0, 1, steps)``.

        Book: ``morph_faces`` (which stops short of ``f = 1``).
        """
        za, zb = self.encode(image_a)[0][0], self.encode(image_b)[0][0]
        f = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
        return self.decode(za[None] * (1 - f) + zb[None] * f)

    def get_config(self):
        config = super().get_config()
        config.update(
            beta=self.beta,
            reconstruction_loss=self.reconstruction_loss,
            image_shape=self.image_shape,
            latent_dim=self.latent_dim,
            seed=self.seed,
            mixture_components=self.mixture_components,
        )
        return config


@_REG
class FacesVAE(VAE):
    """The book's CelebA VAE (``vae_faces.ipynb`` at HEAD): 32x32x3, latent 200, beta 2000 x MSE.

    Encoder: 4 x [Conv2D(128, 3, s2) -> BN -> LeakyReLU] -> Flatten -> z_mean/z_log_var
    Dense(200) -> Sampling. Decoder: Dense(512) -> BN -> LeakyReLU -> Reshape(2, 2, 128) ->
    4 x [Conv2DTranspose(128, 3, s2) -> BN -> LeakyReLU] -> Conv2DTranspose(3, 3, sigmoid).
    Book training: Adam(5e-4) (as :class:`VAE`), batch 128, 10 epochs. ``num_features``
    (128) sets the width.
    """

    def __init__(
        self,
        encoder=None,
        decoder=None,
        beta: float = 2000.0,
        reconstruction_loss: str = "mse",
        image_shape=FACES_SHAPE,
        latent_dim: int = 200,
        seed=None,
        num_features: int = 128,
        **kwargs,
    ):
        self._num_features = int(num_features)
        super().__init__(
            encoder, decoder, beta, reconstruction_loss, image_shape, latent_dim, seed, **kwargs
        )

    def build_networks(self, image_shape, latent_dim, seed=None):
        n = self._num_features
        blocks = int(np.log2(image_shape[0] // 2))  # down to 2x2, as the book's 32 -> 2
        filters = (n,) * blocks
        return (
            conv_encoder(image_shape, latent_dim, filters, True, variational=True, seed=seed),
            conv_decoder(latent_dim, image_shape, filters, batch_norm=True),
        )

    def get_config(self):
        config = super().get_config()
        config["num_features"] = self._num_features
        return config
