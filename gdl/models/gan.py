"""Chapter 4: GANs — DCGAN (LEGO bricks), WGAN-GP (CelebA faces) and the conditional WGAN.

Book notebooks: ``notebooks/04_gan/01_dcgan/dcgan.ipynb``, ``02_wgan_gp/wgan_gp.ipynb`` and
``03_cgan/cgan.ipynb``. The network builders reproduce the book's layers and parameter
counts (DCGAN D/G 2,765,312 / 3,576,576; WGAN-GP critic/generator 2,764,737 / 3,808,003;
CGAN critic/generator 662,977 / 729,859). The output size follows from the number of
filter blocks: ``image_size = 4 * 2 ** len(filters)`` (64 for the book's four blocks, 32
with three, which is what the embedded digits use).

The training models hold the generator and the discriminator/critic as separate,
reusable functional sub-models and train them with an explicit ``train_step`` written
once in ``keras.ops`` (gradients through :mod:`gdl.backend`: ``tf.GradientTape``,
``jax.vjp`` in a stateless step compiled by ``jax.jit``, ``torch.autograd``), so ``fit``
runs on TensorFlow, JAX and PyTorch. Each has two optimizers: ``compile(d_optimizer,
g_optimizer)`` / ``compile(c_optimizer, g_optimizer)`` default to the book's Adam
settings (the class attributes ``book_learning_rate`` and ``book_optimizer_kwargs``, see
:mod:`gdl.models.optimizers`), are saved in the ``.keras`` file (``get_compile_config``) and rebuilt on load,
and :meth:`build_optimizers` lets ``gdl train --resume`` restore their state.

Where gdl differs from the book:

* the gradient penalty's interpolation weight is U(0, 1), not N(0, 1), and the norm has an
  epsilon inside the square root (:func:`gdl.losses.gradient_penalty`);
* gradients are applied to ``self.generator``/``self.discriminator`` (the book's DCGAN
  uses the notebook's global models), and random numbers come from the model's own
  ``keras.random.SeedGenerator``;
* the book's ``steps_per_epoch=2`` (WGAN-GP) and ``epochs=2000, steps_per_epoch=1`` (CGAN)
  debug settings are not kept: notebooks and the CLI train on whole epochs;
* the CGAN accepts integer labels or one-hot labels and checks their shape;
* the steps are data-parallel (``gdl train --devices N``, :mod:`gdl.distribute`): each
  loss is differentiated as this replica's share of the global-batch mean, metrics are
  global-batch means, and the latents, label noise and interpolation weights are drawn
  for the whole global batch and sliced (:class:`gdl.distribute.GlobalBatch`), so one
  step on N devices is one step on one device with the same batch and seed. Two things
  stay per device, as in Keras: batch normalisation statistics on TensorFlow (unless
  :func:`gdl.distribute.sync_batch_norm`) and dropout masks (Keras' ``Dropout`` draws
  the same mask on every replica).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from gdl import backend as B
from gdl.distribute import GlobalBatch
from gdl.losses import binary_crossentropy, gradient_penalty, random_alpha
from gdl.models.inference import predict_numpy
from gdl.models.optimizers import TwoOptimizers

_REG = keras.saving.register_keras_serializable(package="gdl")


# ---------------------------------------------------------------------------
# Network builders
# ---------------------------------------------------------------------------
def _image_size(filters) -> int:
    return 4 * 2 ** len(filters)


def conv_generator(
    latent_dim: int = 100,
    channels: int = 1,
    filters=(512, 256, 128, 64),
    final_bias: bool = False,
    num_classes: int = 0,
    name: str = "generator",
) -> keras.Model:
    """The book's DCGAN-style generator (``image_size = 4 * 2**len(filters)``).

    Input(latent_dim) [+ one-hot(num_classes), concatenated] -> Reshape(1, 1, .) ->
    Conv2DTranspose(filters[0], 4, s1, valid, no bias) -> BN(0.9) -> LeakyReLU(0.2) ->
    for f in filters[1:]: Conv2DTranspose(f, 4, s2, same, no bias) -> BN -> LeakyReLU(0.2)
    -> Conv2DTranspose(channels, 4, s2, same, tanh). DCGAN drops the last bias
    (``final_bias=False``), WGAN-GP and CGAN keep it.
    """
    z_in = layers.Input(shape=(latent_dim,), name="z")
    inputs = [z_in]
    x = z_in
    if num_classes:
        label_in = layers.Input(shape=(num_classes,), name="label")
        inputs.append(label_in)
        x = layers.Concatenate(axis=-1)([z_in, label_in])
    x = layers.Reshape((1, 1, latent_dim + num_classes))(x)
    for i, f in enumerate(filters):
        x = layers.Conv2DTranspose(
            f, 4, strides=1 if i == 0 else 2, padding="valid" if i == 0 else "same", use_bias=False
        )(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.LeakyReLU(0.2)(x)
    out = layers.Conv2DTranspose(
        channels, 4, strides=2, padding="same", use_bias=final_bias, activation="tanh"
    )(x)
    return keras.Model(inputs if num_classes else z_in, out, name=name)


def dcgan_discriminator(
    image_size: int = 64, channels: int = 1, filters=(64, 128, 256, 512), dropout: float = 0.3
) -> keras.Model:
    """The book's DCGAN discriminator (2,765,312 parameters at the defaults).

    Conv2D(64, 4, s2, no bias) -> LeakyReLU(0.2) -> Dropout(0.3); then for 128, 256, 512:
    Conv2D(f, 4, s2, no bias) -> BN(0.9) -> LeakyReLU(0.2) -> Dropout(0.3); then
    Conv2D(1, 4, valid, no bias, sigmoid) -> Flatten: one probability per image.
    """
    _check_size(image_size, filters, "discriminator")
    inp = layers.Input(shape=(image_size, image_size, channels), name="image")
    x = inp
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 4, strides=2, padding="same", use_bias=False)(x)
        if i > 0:
            x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.LeakyReLU(0.2)(x)
        x = layers.Dropout(dropout)(x)
    x = layers.Conv2D(1, 4, strides=1, padding="valid", use_bias=False, activation="sigmoid")(x)
    return keras.Model(inp, layers.Flatten()(x), name="discriminator")


def wgan_critic(
    image_size: int = 64,
    channels: int = 3,
    filters=(64, 128, 256, 512),
    dropout: float = 0.3,
    num_classes: int = 0,
    name: str = "critic",
) -> keras.Model:
    """The book's WGAN-GP critic (2,764,737 parameters) or, with ``num_classes``, CGAN critic.

    Conv2D(f, 4, s2, same) blocks with LeakyReLU, Dropout(0.3) after all but the first,
    then Conv2D(1, 4, valid) -> Flatten: a linear score, **no batch normalisation** (the
    gradient penalty is per sample). As in the book, the second block's LeakyReLU keeps
    Keras' default slope 0.3 while the others use 0.2. With ``num_classes`` the critic
    takes ``[image, label_maps]`` (label maps: the one-hot label repeated over the image,
    ``(H, W, num_classes)``) concatenated on channels; the CGAN uses
    ``filters=(64, 128, 128, 128)`` (662,977 parameters).
    """
    _check_size(image_size, filters, "critic")
    img_in = layers.Input(shape=(image_size, image_size, channels), name="image")
    x = img_in
    inputs = img_in
    if num_classes:
        lab_in = layers.Input(shape=(image_size, image_size, num_classes), name="label_maps")
        inputs = [img_in, lab_in]
        x = layers.Concatenate(axis=-1)([img_in, lab_in])
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 4, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.3 if i == 1 else 0.2)(x)
        if i > 0:
            x = layers.Dropout(dropout)(x)
    x = layers.Conv2D(1, 4, strides=1, padding="valid")(x)
    return keras.Model(inputs, layers.Flatten()(x), name=name)


def _check_size(image_size, filters, what):
    if image_size != _image_size(filters):
        raise ValueError(
            f"a {what} with {len(filters)} filter blocks works on "
            f"{_image_size(filters)}x{_image_size(filters)} images, not {image_size}; "
            f"pass filters with log2(image_size / 4) entries (e.g. 3 for 32x32)"
        )


def book_filters(book, image_size: int):
    """The book's filter list trimmed to ``image_size`` (keeps the last, narrowest blocks)."""
    n = int(round(np.log2(image_size / 4)))
    if n < 1 or 4 * 2**n != image_size or n > len(book):
        raise ValueError(
            f"image_size must be 8, 16, 32 or 64 (4 * 2**k, k <= {len(book)}), got {image_size}"
        )
    return tuple(book[len(book) - n :])


# ---------------------------------------------------------------------------
# Shared two-player machinery
# ---------------------------------------------------------------------------
class _TwoPlayerGAN(TwoOptimizers, B.TrainingState, keras.Model):
    """Two sub-models, two optimizers, trackers, generation, saving. Not used directly.

    Subclasses write ``_train_step(data) -> logs`` once in ``keras.ops``;
    :func:`gdl.backend.train_step` runs it as Keras' ``train_step`` on every backend. The
    judge's optimizer is training state (:class:`gdl.backend.TrainingState`): the
    generator's is the model's ``optimizer``.
    """

    #: attribute names of the judge network and of the two optimizers
    _judge_attr = "critic"
    _opt_names = ("c_optimizer", "g_optimizer")
    #: the book's optimizer of both players (``compile`` with none given)
    book_learning_rate = 2e-4
    book_optimizer_kwargs = {"beta_1": 0.5, "beta_2": 0.9}

    def __init__(self, generator, judge, latent_dim: int, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        setattr(self, self._judge_attr, judge)
        self.latent_dim = int(latent_dim)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    @property
    def judge(self) -> keras.Model:
        return getattr(self, self._judge_attr)

    @property
    def image_shape(self) -> tuple:
        return tuple(self.generator.output.shape[1:])

    # -- networks ---------------------------------------------------------
    def sample_latent(self, batch_size, seed=None):
        """Latent input(s) of the generator: ``(batch_size, latent_dim)`` ~ N(0, 1).

        ``seed`` (an int or a ``SeedGenerator``) defaults to the model's own generator.
        Subclasses with several latent inputs (MuseGAN) return a list of tensors.
        """
        return keras.random.normal(
            (batch_size, self.latent_dim), seed=self.seed_generator if seed is None else seed
        )

    def call(self, inputs, training=False):
        """``model(z)`` is ``generator(z)``: images from latent input(s)."""
        return self.generator(inputs, training=training)

    def generate(self, num: int = 10, seed=None, latent=None, batch_size: int = 256) -> np.ndarray:
        """``num`` generated images ``(num, H, W, C)`` as NumPy (tanh range [-1, 1]); a fixed
        ``seed`` (an int, 0 included) gives the same images; ``latent`` fixes the input."""
        if latent is None:
            latent = self.sample_latent(num, seed=seed)
        return predict_numpy(self.generator, latent, batch_size)

    # -- compile / optimizers ------------------------------------------------
    def player_variables(self):
        return self.judge.trainable_variables, self.generator.trainable_variables

    def training_state(self) -> list:
        j_opt = getattr(self, self._opt_names[0], None)
        return list(j_opt.variables) if j_opt is not None else []

    def train_step(self, *args):
        return B.train_step(self, self._train_step, *args)

    @property
    def metrics(self):
        return list(self._trackers)

    def _results(self):
        return {m.name: m.result() for m in self._trackers}

    def _check_images(self, real):
        if tuple(real.shape[1:]) != self.image_shape:
            raise ValueError(
                f"{type(self).__name__} expects images of shape (batch, "
                f"{', '.join(map(str, self.image_shape))}), got {tuple(real.shape)}"
            )

    # -- saving -----------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            generator=keras.saving.serialize_keras_object(self.generator),
            latent_dim=self.latent_dim,
            seed=self.seed,
        )
        config[self._judge_attr] = keras.saving.serialize_keras_object(self.judge)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", cls._judge_attr):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


# ---------------------------------------------------------------------------
# DCGAN
# ---------------------------------------------------------------------------
@_REG
class DCGAN(_TwoPlayerGAN):
    """The book's DCGAN on LEGO bricks (``dcgan.ipynb``): z = 100, 64x64x1 in [-1, 1].

    ``train_step`` is the book's: one z batch, ``d_loss = (BCE(1 + 0.1 U, D(x)) +
    BCE(-0.1 U, D(G(z)))) / 2`` with noisy labels (``noise_param=0.1``) and ``g_loss =
    BCE(1, D(G(z)))``; each network gets an Adam(2e-4, 0.5, 0.999) step. Metrics: d_loss,
    d_real_acc, d_fake_acc, d_acc, g_loss, g_acc (accuracies against the clean labels).
    """

    _judge_attr = "discriminator"
    _opt_names = ("d_optimizer", "g_optimizer")
    book_learning_rate = 2e-4
    book_optimizer_kwargs = {"beta_1": 0.5, "beta_2": 0.999}

    def __init__(
        self,
        discriminator=None,
        generator=None,
        latent_dim: int = 100,
        noise_param: float = 0.1,
        image_size: int = 64,
        channels: int = 1,
        seed=None,
        **kwargs,
    ):
        if discriminator is None:
            discriminator = dcgan_discriminator(
                image_size, channels, book_filters((64, 128, 256, 512), image_size)
            )
        if generator is None:
            generator = conv_generator(
                latent_dim, channels, book_filters((512, 256, 128, 64), image_size)
            )
        super().__init__(generator, discriminator, latent_dim, seed=seed, **kwargs)
        self.noise_param = float(noise_param)
        self.loss_fn = binary_crossentropy  # noisy labels leave [0, 1]: see its docstring
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.d_real_acc_metric = keras.metrics.BinaryAccuracy(name="d_real_acc")
        self.d_fake_acc_metric = keras.metrics.BinaryAccuracy(name="d_fake_acc")
        self.d_acc_metric = keras.metrics.BinaryAccuracy(name="d_acc")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")
        self.g_acc_metric = keras.metrics.BinaryAccuracy(name="g_acc")
        self._trackers = [
            self.d_loss_metric,
            self.d_real_acc_metric,
            self.d_fake_acc_metric,
            self.d_acc_metric,
            self.g_loss_metric,
            self.g_acc_metric,
        ]

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Book: ``Adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.999)`` for both."""
        self.compile_players(d_optimizer, g_optimizer, **kwargs)

    def _train_step(self, data):
        """The book's ``DCGAN.train_step``: one forward pass, each network differentiated
        on its own loss (two tapes in the book; :func:`gdl.backend.value_and_grads`)."""
        real = data[0] if isinstance(data, (tuple, list)) else data
        self._check_images(real)
        split = GlobalBatch(ops.shape(real)[0])
        z = split.draw(self.sample_latent)

        def label_noise(like):
            shape = tuple(like.shape[1:])
            return split.draw(lambda n: keras.random.uniform((n, *shape), seed=self.seed_generator))

        def losses():
            fake = self.generator(z, training=True)
            real_pred = self.discriminator(real, training=True)
            fake_pred = self.discriminator(fake, training=True)
            real_labels = ops.ones_like(real_pred)
            fake_labels = ops.zeros_like(fake_pred)
            noise = self.noise_param
            real_noisy = real_labels + noise * label_noise(real_pred)
            fake_noisy = fake_labels - noise * label_noise(fake_pred)
            d_loss = (self.loss_fn(real_noisy, real_pred) + self.loss_fn(fake_noisy, fake_pred)) / 2
            g_loss = self.loss_fn(real_labels, fake_pred)
            return (split.loss(d_loss), split.loss(g_loss)), (d_loss, g_loss, real_pred, fake_pred)

        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        (_, (d_loss, g_loss, real_pred, fake_pred)), (d_grads, g_grads) = B.value_and_grads(
            losses, [d_vars, g_vars], has_aux=True
        )
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars))
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        real_labels = ops.ones_like(real_pred)
        fake_labels = ops.zeros_like(fake_pred)

        # accuracies: Keras sums their counts over replicas; losses: global-batch means
        self.d_loss_metric.update_state(split.mean(d_loss))
        self.d_real_acc_metric.update_state(real_labels, real_pred)
        self.d_fake_acc_metric.update_state(fake_labels, fake_pred)
        self.d_acc_metric.update_state(
            ops.concatenate([real_labels, fake_labels]), ops.concatenate([real_pred, fake_pred])
        )
        self.g_loss_metric.update_state(split.mean(g_loss))
        self.g_acc_metric.update_state(real_labels, fake_pred)
        return self._results()

    def get_config(self):
        config = super().get_config()
        config["noise_param"] = self.noise_param
        return config


# ---------------------------------------------------------------------------
# WGAN-GP
# ---------------------------------------------------------------------------
@_REG
class WGANGP(_TwoPlayerGAN):
    """The book's WGAN-GP on CelebA (``wgan_gp.ipynb``): z = 128, 64x64x3 in [-1, 1].

    ``train_step`` is the book's ``WGANGP.train_step``: ``critic_steps`` (3) critic updates,
    each with a fresh latent batch and ``c_loss = mean(C(G(z))) - mean(C(x)) + gp_weight * GP``,
    then one generator update with ``g_loss = -mean(C(G(z)))``; Adam(2e-4, 0.5, 0.9) for
    both. Metrics: c_loss, c_wass_loss, c_gp, g_loss. The gradient penalty is
    :func:`gdl.losses.gradient_penalty` (interpolation weight U(0, 1) — the book's N(0, 1)
    is a bug inherited from an old keras.io example).

    Subclassing (MuseGAN, the conditional WGAN): the step is generic over

    * :meth:`sample_latent` ``(batch_size, seed=None)`` -> a tensor or a list of tensors,
      the generator's input;
    * :meth:`split_batch` ``(data)`` -> ``(real_images, condition)`` (``condition`` is None
      here);
    * :meth:`generator_inputs` ``(latent, condition)`` and :meth:`critic_extra_inputs`
      ``(real, condition)`` -> extra critic inputs (None: the critic takes the images only).

    Constructor: ``WGANGP(critic, generator, latent_dim, critic_steps=3, gp_weight=10.0)``;
    with ``critic``/``generator`` left out the book's networks are built for
    ``image_size``/``channels``.
    """

    _judge_attr = "critic"
    _opt_names = ("c_optimizer", "g_optimizer")
    book_learning_rate = 2e-4
    book_optimizer_kwargs = {"beta_1": 0.5, "beta_2": 0.9}

    def __init__(
        self,
        critic=None,
        generator=None,
        latent_dim: int = 128,
        critic_steps: int = 3,
        gp_weight: float = 10.0,
        image_size: int = 64,
        channels: int = 3,
        seed=None,
        **kwargs,
    ):
        if critic is None:
            critic = wgan_critic(
                image_size, channels, book_filters((64, 128, 256, 512), image_size)
            )
        if generator is None:
            generator = conv_generator(
                latent_dim,
                channels,
                book_filters((512, 256, 128, 64), image_size),
                final_bias=True,
            )
        super().__init__(generator, critic, latent_dim, seed=seed, **kwargs)
        if int(critic_steps) < 1:
            raise ValueError(f"critic_steps must be >= 1, got {critic_steps}")
        self.critic_steps = int(critic_steps)
        self.gp_weight = float(gp_weight)
        self.c_loss_metric = keras.metrics.Mean(name="c_loss")
        self.c_wass_loss_metric = keras.metrics.Mean(name="c_wass_loss")
        self.c_gp_metric = keras.metrics.Mean(name="c_gp")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")
        self._trackers = [
            self.c_loss_metric,
            self.c_wass_loss_metric,
            self.c_gp_metric,
            self.g_loss_metric,
        ]

    def compile(self, c_optimizer=None, g_optimizer=None, **kwargs):
        """Book: ``Adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.9)`` for both."""
        self.compile_players(c_optimizer, g_optimizer, **kwargs)

    # -- hooks for subclasses -------------------------------------------------
    def split_batch(self, data):
        """``(real_images, condition)`` from a batch: images, or ``(images, ...)``."""
        real = data[0] if isinstance(data, (tuple, list)) else data
        return real, None

    def generator_inputs(self, latent, condition):
        return latent

    def critic_extra_inputs(self, real, condition):
        return None

    def critic_score(self, images, extra=None, training=True):
        inputs = images if extra is None else [images, *extra]
        return self.critic(inputs, training=training)

    # -- the step ---------------------------------------------------------------
    def critic_loss(self, real, fake, extra=None, alpha=None):
        """``(c_loss, wasserstein_loss, gp)`` for one batch (differentiable w.r.t. the
        critic's weights: call it inside :func:`gdl.backend.value_and_grad`); ``alpha``:
        the penalty's interpolation weights ``(B, 1, ..., 1)`` (drawn when None)."""
        fake_score = self.critic_score(fake, extra)
        real_score = self.critic_score(real, extra)
        wass = ops.mean(fake_score) - ops.mean(real_score)
        gp = gradient_penalty(self.critic, real, fake, alpha=alpha, seed=self.seed_generator,
                              extra_inputs=extra)  # fmt: skip
        return wass + self.gp_weight * gp, wass, gp

    def _train_step(self, data):
        """``critic_steps`` critic updates then one generator update (book ``train_step``),
        each through :func:`gdl.backend.value_and_grad`; each replica differentiates its
        share of the global-batch losses (:class:`gdl.distribute.GlobalBatch`)."""
        real, condition = self.split_batch(data)
        self._check_images(real)
        split = GlobalBatch(ops.shape(real)[0])
        extra = self.critic_extra_inputs(real, condition)
        c_vars = self.critic.trainable_variables
        ndim = len(real.shape)
        for _ in range(self.critic_steps):
            latent = split.draw(self.sample_latent)
            alpha = split.draw(lambda n: random_alpha(n, ndim, seed=self.seed_generator))

            def critic_loss(latent=latent, alpha=alpha):
                fake = self.generator(self.generator_inputs(latent, condition), training=True)
                c_loss, wass, gp = self.critic_loss(real, fake, extra, alpha)
                return split.loss(c_loss), (c_loss, wass, gp)

            (_, (c_loss, wass, gp)), grads = B.value_and_grad(critic_loss, c_vars, has_aux=True)
            self.c_optimizer.apply_gradients(zip(grads, c_vars))

        g_vars = self.generator.trainable_variables
        latent = split.draw(self.sample_latent)

        def generator_loss():
            fake = self.generator(self.generator_inputs(latent, condition), training=True)
            loss = -ops.mean(self.critic_score(fake, extra))
            return split.loss(loss), loss

        (_, g_loss), grads = B.value_and_grad(generator_loss, g_vars, has_aux=True)
        self.g_optimizer.apply_gradients(zip(grads, g_vars))

        for tracker, value in zip(self._trackers, (c_loss, wass, gp, g_loss)):
            tracker.update_state(split.mean(value))
        return self._results()

    def get_config(self):
        config = super().get_config()
        config.update(critic_steps=self.critic_steps, gp_weight=self.gp_weight)
        return config


# ---------------------------------------------------------------------------
# Conditional WGAN (CGAN)
# ---------------------------------------------------------------------------
@_REG
class ConditionalWGAN(WGANGP):
    """The book's conditional WGAN-GP on CelebA Blond_Hair (``cgan.ipynb``).

    The one-hot label is concatenated to z (32 + 2) for the generator and repeated over
    the image as ``num_classes`` extra channels for the critic. Batches are
    ``(images, labels)`` with integer labels ``(B,)`` or one-hot labels ``(B, num_classes)``.
    Book defaults: z = 32, 2 classes, critic (64, 128, 128, 128), generator
    (128, 128, 128, 64), Adam(5e-5, 0.5, 0.9), 3 critic steps, GP weight 10.
    ``generate(labels=[0, 1, ...])`` draws images of the given classes.
    ``model([z, one_hot])`` is ``generator([z, one_hot])``.

    The book sets ``run_eagerly=True`` for this model; gdl does not need it.
    """

    book_learning_rate = 5e-5

    def __init__(
        self,
        critic=None,
        generator=None,
        latent_dim: int = 32,
        num_classes: int = 2,
        critic_steps: int = 3,
        gp_weight: float = 10.0,
        image_size: int = 64,
        channels: int = 3,
        seed=None,
        **kwargs,
    ):
        if critic is None:
            critic = wgan_critic(
                image_size,
                channels,
                book_filters((64, 128, 128, 128), image_size),
                num_classes=num_classes,
            )
        if generator is None:
            generator = conv_generator(
                latent_dim,
                channels,
                book_filters((128, 128, 128, 64), image_size),
                final_bias=True,
                num_classes=num_classes,
            )
        super().__init__(
            critic, generator, latent_dim, critic_steps, gp_weight, seed=seed, **kwargs
        )
        self.num_classes = int(num_classes)

    def one_hot(self, labels):
        """Integer labels ``(B,)`` or one-hot ``(B, num_classes)`` -> float one-hot."""
        labels = ops.convert_to_tensor(labels)
        if len(labels.shape) == 2 and labels.shape[-1] == 1:
            labels = ops.squeeze(labels, -1)
        if len(labels.shape) == 1:
            return ops.one_hot(ops.cast(labels, "int32"), self.num_classes)
        if len(labels.shape) == 2 and labels.shape[-1] == self.num_classes:
            return ops.cast(labels, "float32")
        raise ValueError(
            f"labels must be integers of shape (batch,) or one-hot of shape "
            f"(batch, {self.num_classes}), got shape {tuple(labels.shape)}"
        )

    def label_maps(self, one_hot):
        """One-hot labels repeated over the image: ``(B, H, W, num_classes)``."""
        h, w = self.image_shape[:2]
        return ops.tile(one_hot[:, None, None, :], (1, h, w, 1))

    def split_batch(self, data):
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise ValueError(
                "ConditionalWGAN trains on (images, labels) batches: fit(dataset_of_pairs) "
                "or fit(x=images, y=labels)"
            )
        return data[0], self.one_hot(data[1])

    def generator_inputs(self, latent, condition):
        return [latent, condition]

    def critic_extra_inputs(self, real, condition):
        return [self.label_maps(condition)]

    def call(self, inputs, training=False):
        """``model([z, one_hot])`` is ``generator([z, one_hot])``."""
        return self.generator(inputs, training=training)

    def generate(self, num: int = 10, seed=None, labels=None, latent=None, batch_size: int = 256):
        """Images ``(n, H, W, C)`` in [-1, 1] for ``labels`` (ints or one-hot; default ``num``
        of class 0, else ``n = len(labels)``), as NumPy; a fixed ``seed`` -> the same images.

        With ``latent`` given (``(len(labels), latent_dim)``), the same z can be shown with
        different labels, as the book's generator callback does.
        """
        if labels is None:
            labels = np.zeros((num,), "int32")
        one_hot = self.one_hot(labels)
        n = int(one_hot.shape[0])
        if latent is None:
            latent = self.sample_latent(n, seed=seed)
        latent = ops.convert_to_tensor(latent)
        if tuple(latent.shape) != (n, self.latent_dim):
            raise ValueError(
                f"latent must have shape ({n}, {self.latent_dim}) to match the labels, "
                f"got {tuple(latent.shape)}"
            )
        return predict_numpy(self.generator, [latent, one_hot], batch_size)

    def get_config(self):
        config = super().get_config()
        config["num_classes"] = self.num_classes
        return config


def nearest_images(queries, data, chunk: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """The closest image of ``data`` to each query by mean absolute difference.

    The book's DCGAN check that generated bricks are not copies of training images. ``data``
    is an array or a batched dataset (``(images, labels)`` batches too); it is streamed, so
    the training set is never held in memory at once (the book loads all of it into a list
    and loops in Python). Returns ``(closest_images, distances)``.
    """
    q = np.asarray(queries, "float32")
    flat_q = q.reshape(len(q), -1)
    best_d = np.full(len(q), np.inf, "float32")
    best = np.zeros_like(q)

    def batches():
        if isinstance(data, np.ndarray):
            for i in range(0, len(data), chunk):
                yield data[i : i + chunk]
        else:
            for b in data:
                yield np.asarray(b[0] if isinstance(b, (tuple, list)) else b)

    for b in batches():
        b = np.asarray(b, "float32")
        if b.shape[1:] != q.shape[1:]:
            raise ValueError(f"data images have shape {b.shape[1:]}, queries {q.shape[1:]}")
        d = np.abs(flat_q[:, None, :] - b.reshape(len(b), -1)[None]).mean(-1)
        idx = d.argmin(1)
        closer = d[np.arange(len(q)), idx] < best_d
        best_d[closer] = d[np.arange(len(q)), idx][closer]
        best[closer] = b[idx[closer]]
    return best, best_d
