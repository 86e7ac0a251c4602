"""The shared machinery of chapter 10's GANs (ProGAN, StyleGAN2, SAGAN, VQ-GAN).

:class:`AdversarialModel` holds a generator and a discriminator, one optimizer each, and a
training step written **once in keras.ops** (:meth:`adversarial_step`) with gradients from
:func:`gdl.backend.value_and_grad`, so it trains on TensorFlow, JAX and PyTorch alike.
``model.fit`` runs it through :func:`gdl.backend.train_function`, one compiled step per
*phase*: :meth:`phase` returns, before each step, a hashable such as "apply the lazy R1
penalty now" (StyleGAN2), so regularisers are computed only on their own steps.

The losses the chapter's GANs use are functions here: :func:`hinge_d_loss` /
:func:`hinge_g_loss` (SAGAN, VQ-GAN), :func:`logistic_d_loss` / :func:`logistic_g_loss`
(StyleGAN2's non-saturating loss), :func:`gradient_penalty_neutral` (WGAN-GP, ProGAN;
the maths of :func:`gdl.losses.gradient_penalty`, computed with
:func:`gdl.backend.input_gradient` so it runs on every backend) and :func:`r1_penalty`.

Data-parallel (``gdl train --devices N``, :mod:`gdl.distribute`): a step opens a
:class:`gdl.distribute.GlobalBatch` on its real images, draws its noise through
``split.draw`` (the global batch's draws, sliced), passes ``split`` to :meth:`update`
(each replica differentiates its share of the global-batch mean) and to :meth:`track`
(metrics are global-batch means). On TensorFlow the step runs on every replica
(:func:`gdl.backend.train_function`); on JAX it sees the global batch.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from gdl.backend import input_gradient, train_function, value_and_grad
from gdl.distribute import GlobalBatch
from gdl.losses import interpolate, random_alpha
from gdl.models.inference import predict_numpy
from gdl.models.optimizers import TwoOptimizers


# --------------------------------------------------------------------------- losses
def hinge_d_loss(real_logits, fake_logits):
    """``mean(relu(1 - D(x))) + mean(relu(1 + D(G(z))))`` (SAGAN)."""
    return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))


def hinge_g_loss(fake_logits):
    """``-mean(D(G(z)))`` (SAGAN)."""
    return -ops.mean(fake_logits)


def logistic_d_loss(real_logits, fake_logits):
    """``mean(softplus(D(G(z)))) + mean(softplus(-D(x)))`` (StyleGAN2)."""
    return ops.mean(ops.softplus(fake_logits)) + ops.mean(ops.softplus(-real_logits))


def logistic_g_loss(fake_logits):
    """Non-saturating ``mean(softplus(-D(G(z))))``."""
    return ops.mean(ops.softplus(-fake_logits))


def _gradient_square_norms(critic, x):
    """``||d critic(x_i) / d x_i||^2`` per example (the critic in inference mode)."""
    _, grads = input_gradient(lambda t: critic(t, training=False), x)
    return ops.sum(ops.square(grads), axis=list(range(1, len(grads.shape))))


def gradient_penalty_neutral(critic, real, fake, alpha=None, seed=None, eps: float = 1e-12):
    """WGAN-GP's ``mean((||grad C(x_hat)|| - 1)^2)`` with ``x_hat`` between real and fake
    (``alpha ~ U(0, 1)`` per example unless given, as :func:`gdl.losses.gradient_penalty`)."""
    real = ops.convert_to_tensor(real)
    if alpha is None:
        alpha = random_alpha(ops.shape(real)[0], len(real.shape), seed=seed)
    x_hat = interpolate(real, ops.cast(fake, real.dtype), alpha)
    norm = ops.sqrt(_gradient_square_norms(critic, x_hat) + eps)
    return ops.mean(ops.square(norm - 1.0))


def r1_penalty(discriminator, real):
    """R1 (Mescheder et al. 2018): ``mean ||grad D(x)||^2`` on real images (multiply by
    ``gamma / 2``)."""
    return ops.mean(_gradient_square_norms(discriminator, ops.convert_to_tensor(real)))


def real_images(data):
    """The images of a batch: ``x`` or the first element of ``(x, ...)``."""
    return data[0] if isinstance(data, (tuple, list)) else data


# ---------------------------------------------------------------------------- model
class AdversarialModel(TwoOptimizers, keras.Model):
    """Generator + discriminator, two optimizers, one backend-neutral step. Not used directly.

    Subclasses set ``_metric_names`` and the paper's optimizer as
    :class:`gdl.models.optimizers.TwoOptimizers` attributes (the book has no code for
    chapter 10, so these are the papers' settings; ``discriminator_learning_rate`` is
    SAGAN's two time-scale rule), and write :meth:`adversarial_step`.
    ``compile(d_optimizer=None, g_optimizer=None)`` defaults to those settings.
    """

    book_learning_rate = 2e-4
    book_optimizer_kwargs = {"beta_1": 0.0, "beta_2": 0.99}
    _metric_names: tuple = ("d_loss", "g_loss")

    def __init__(self, generator, discriminator, latent_dim: int, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._trackers = [keras.metrics.Mean(name=n) for n in self._metric_names]
        self._step_counter = 0
        self.built = True

    # -- networks and sampling -------------------------------------------------------
    @property
    def image_shape(self) -> tuple:
        return tuple(self.generator.output.shape[1:])

    def sample_latent(self, batch_size, seed=None):
        """``(batch_size, latent_dim)`` ~ N(0, 1) (the model's own seed generator by default)."""
        return keras.random.normal((batch_size, self.latent_dim),
                                   seed=self.seed_generator if seed is None else seed)  # fmt: skip

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def generate(self, num: int = 10, seed=None, latent=None, batch_size: int = 256) -> np.ndarray:
        """``num`` images ``(num, H, W, C)`` in [-1, 1] as NumPy; the same ``seed`` (0
        included) gives the same images; ``latent`` fixes the generator's input."""
        if latent is None:
            latent = self.sample_latent(num, seed=seed)
        return predict_numpy(self.generator, latent, batch_size)

    def generator_variables(self):
        return self.generator.trainable_variables

    def discriminator_variables(self):
        return self.discriminator.trainable_variables

    # -- the step -----------------------------------------------------------------------
    def update(self, loss_fn, variables, optimizer, state=(), split: GlobalBatch | None = None):
        """One gradient step of ``optimizer`` on ``variables`` for ``loss_fn() -> (loss,
        aux)``, ``loss`` a mean over this replica's examples: with ``split`` the gradient
        is that of ``split.loss(loss)`` (this replica's share of the global-batch mean;
        the optimizer sums the replicas' gradients). Variables the forward pass assigns
        (spectral norm's ``u``, batch-norm statistics, seed generators) are handed back by
        :func:`gdl.backend.value_and_grad` itself; ``state`` is accepted for callers that
        list them. Returns ``(loss, aux)`` (``loss`` unscaled)."""
        variables = list(variables)

        def scaled():
            loss, aux = loss_fn()
            return (loss if split is None else split.loss(loss)), (loss, aux)

        (_, (loss, aux)), grads = value_and_grad(scaled, variables, has_aux=True)
        optimizer.apply_gradients(zip(grads, variables))
        return loss, aux

    def track(self, split: GlobalBatch | None = None, **values):
        """Add this step's values to the metric trackers named like the keywords; with
        ``split``, each value (a mean over this replica's examples) is first made the
        global-batch mean."""
        by_name = {t.name: t for t in self._trackers}
        for name, value in values.items():
            by_name[name].update_state(value if split is None else split.mean(value))

    def adversarial_step(self, data, phase) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def phase(self, step: int):
        """The hashable phase of training step ``step`` (0-based); one compiled step each."""
        return ()

    def _logs(self, data, phase):
        self.adversarial_step(data, phase)
        return {m.name: m.result() for m in self._trackers}

    def train_step(self, data):
        """One step, eagerly (``fit`` uses :func:`gdl.backend.train_function`)."""
        out = self._logs(data, self.phase(self._step_counter))
        self._step_counter += 1
        return out

    def _next_phase(self):
        phase = self.phase(self._step_counter)
        self._step_counter += 1
        return phase

    def make_train_function(self, force=False):
        if self.train_function is not None and not force:
            return self.train_function
        extra, seen = [], {id(v) for v in self.optimizer.variables}
        for name in self._opt_names:
            for v in getattr(self, name).variables:
                if id(v) not in seen:
                    extra.append(v)
                    seen.add(id(v))
        self.train_function = train_function(self, self._logs, self._next_phase, extra)
        return self.train_function

    def fit(self, *args, **kwargs):
        """Keras' ``fit``; the step counter (lazy regularisers, fade-in) continues from the
        generator optimizer's ``iterations`` (so a resumed run picks up where it stopped)."""
        if self.compiled:
            self._step_counter = int(ops.convert_to_numpy(self.optimizer.iterations))
        return super().fit(*args, **kwargs)

    # -- compile / optimizers -----------------------------------------------------------
    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """The paper's optimizer (:meth:`book_optimizer`) for each network unless given."""
        self.compile_players(d_optimizer, g_optimizer, **kwargs)

    def player_variables(self):
        return self.discriminator_variables(), self.generator_variables()

    @property
    def metrics(self):
        return list(self._trackers)

    # -- saving -------------------------------------------------------------------------
    _nested = ("generator", "discriminator")

    def get_config(self):
        config = {**super().get_config(), "latent_dim": self.latent_dim, "seed": self.seed}
        for key in self._nested:
            config[key] = keras.saving.serialize_keras_object(getattr(self, key))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in cls._nested:
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
