"""RealNVP normalising flow on two moons (book: ``06_normflow/01_realnvp/realnvp.ipynb``).

Differences from the book, on purpose:

* The book's ``call(x, training)`` uses the *training flag* to pick the direction of the
  flow. gdl has explicit methods: :meth:`RealNVP.to_latent` (data -> latent, with the log
  determinant of the Jacobian) and :meth:`RealNVP.inverse` (latent -> data); ``call`` is
  ``to_latent``. (Not ``forward``: on PyTorch every Keras layer is a ``torch.nn.Module``,
  whose ``__call__`` runs ``forward``.)
* The prior is a standard normal written in ``keras.ops`` (no TensorFlow Probability,
  which does not support Keras 3), so the model trains on every backend: the book's
  ``train_step``/``test_step`` become one ``compute_loss`` override.
* The L2 penalties of the coupling layers are added to the objective the optimizer
  minimises (the book's ``train_step`` drops them). The headline metric ``loss`` that
  ``fit`` prints (and ``val_loss`` on held-out points) is the negative log-likelihood
  alone, in nats per point, exactly what the book's ``loss`` measures, so the two can be
  compared; the penalty is tracked on its own as ``l2_penalty`` (objective = ``loss`` +
  ``l2_penalty``).
* :meth:`log_prob` and :meth:`generate` (the book's sampling from the prior) are methods
  of the model.

Capacity (``python -m benchmarks flows_ebm_diffusion.realnvp_nll realnvp_capacity``):
trained as the book trains it, the default 2 coupling layers plateau at a held-out NLL
of 1.71 nats per point (300 epochs) while a 10-component Gaussian mixture reaches 1.21;
``coupling_layers=6`` (the keras.io example the book adapts) reaches 1.22 in 60 epochs.
Two couplings transform each coordinate once, which is too little to straighten the
moons: pass ``coupling_layers=6`` for a flow that matches the mixture.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from gdl.distribute import global_batch_loss
from gdl.layers.coupling import Coupling
from gdl.models.optimizers import BookCompile

LOG_2PI = math.log(2.0 * math.pi)


def standard_normal_log_prob(z):
    """``log N(z; 0, I)`` summed over the last axis, in ``keras.ops``."""
    d = ops.shape(z)[-1]
    return -0.5 * ops.sum(ops.square(z), axis=-1) - 0.5 * d * LOG_2PI


def alternating_masks(input_dim: int, coupling_layers: int) -> np.ndarray:
    """The book's masks: ``[[0, 1], [1, 0]] * (coupling_layers // 2)`` generalised to any
    dimension (first half / second half of the coordinates, alternating)."""
    half = input_dim // 2
    a = np.array([0.0] * half + [1.0] * (input_dim - half), dtype="float32")
    return np.stack([a if i % 2 == 0 else 1.0 - a for i in range(coupling_layers)])


@keras.saving.register_keras_serializable(package="gdl")
class RealNVP(BookCompile, keras.Model):
    """A stack of affine couplings with alternating masks and a standard-normal prior.

    ``RealNVP()`` is the book's model: 2 couplings of 2x(4x256 + 1) Dense layers,
    794,632 parameters. Train with ``compile()`` (the book's ``Adam(1e-4)``) and
    ``fit(normalized_data, batch_size=256, epochs=300)``.

    For each coupling with mask ``m`` (1 = passed through), ``s, t = net(x*m)``
    (both multiplied by ``1-m``) and the data->latent map is
    ``y = x*m + (1-m) * (x - t) * exp(-s)`` with ``log|det| = -sum(s)``.

    ``shared_trunk=True`` (not the book's) gives every coupling one hidden stack with
    two heads instead of separate scale and translation stacks: half the parameters and
    FLOPs (:class:`~gdl.layers.coupling.Coupling`; measured by the benchmark
    ``flows_ebm_diffusion.realnvp_shared_trunk``).
    """

    book_learning_rate = 1e-4

    def __init__(
        self,
        input_dim: int = 2,
        coupling_dim: int = 256,
        coupling_layers: int = 2,
        num_hidden: int = 4,
        regularization: float = 1e-4,
        seed: int | None = None,
        shared_trunk: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.shared_trunk = bool(shared_trunk)
        self.input_dim = int(input_dim)
        self.coupling_dim = int(coupling_dim)
        self.coupling_layers = int(coupling_layers)
        self.num_hidden = int(num_hidden)
        self.regularization = float(regularization)
        self.seed = seed
        self.masks = alternating_masks(self.input_dim, self.coupling_layers)
        self.layers_list = [
            Coupling(
                self.input_dim,
                self.coupling_dim,
                self.num_hidden,
                self.regularization,
                shared_trunk=self.shared_trunk,
                name=f"coupling_{i}",
            )  # fmt: skip
            for i in range(self.coupling_layers)
        ]
        self.seed_generator = keras.random.SeedGenerator(seed)
        # "loss" is the book-comparable NLL (nats per point); the L2 penalty on its own
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.l2_tracker = keras.metrics.Mean(name="l2_penalty")
        self.build((None, self.input_dim))

    def build(self, input_shape):
        for layer in self.layers_list:
            if not layer.built:
                layer.build((None, self.input_dim))
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.l2_tracker]

    def _check(self, x):
        if len(x.shape) != 2 or x.shape[-1] != self.input_dim:
            raise ValueError(
                f"RealNVP expects points of shape (batch, {self.input_dim}), got {tuple(x.shape)}"
            )

    def _st(self, i, x):
        mask = ops.convert_to_tensor(self.masks[i], self.compute_dtype)  # NumPy * torch fails
        s, t = self.layers_list[i](x * mask)
        return s * (1.0 - mask), t * (1.0 - mask)

    def to_latent(self, x):
        """Data -> latent: ``(z, log|det dz/dx|)`` (the book's ``model(x, training=True)``)."""
        x = ops.convert_to_tensor(x, dtype=self.compute_dtype)
        self._check(x)
        log_det = ops.zeros(ops.shape(x)[:1], dtype=x.dtype)
        for i in reversed(range(self.coupling_layers)):
            s, t = self._st(i, x)
            mask = ops.convert_to_tensor(self.masks[i], self.compute_dtype)  # NumPy * torch fails
            x = x * mask + (1.0 - mask) * (x - t) * ops.exp(-s)
            log_det = log_det - ops.sum(s, axis=1)
        return x, log_det

    def inverse(self, z):
        """Latent -> data (the book's ``model(z, training=False)``)."""
        z = ops.convert_to_tensor(z, dtype=self.compute_dtype)
        self._check(z)
        for i in range(self.coupling_layers):
            s, t = self._st(i, z)
            mask = ops.convert_to_tensor(self.masks[i], self.compute_dtype)  # NumPy * torch fails
            z = z * mask + (1.0 - mask) * (z * ops.exp(s) + t)
        return z

    def call(self, x, training=None):
        """:meth:`to_latent`: ``(z, log_det)`` for data points ``x`` ``(batch, input_dim)``."""
        return self.to_latent(x)

    def log_prob(self, x):
        """Exact log density of ``x`` (in the space the model was trained on)."""
        z, log_det = self.to_latent(x)
        return standard_normal_log_prob(z) + log_det

    def generate(self, num: int = 10, seed=None):
        """``num`` points ``(num, input_dim)`` (NumPy): standard-normal latents pushed
        through :meth:`inverse`. A fixed ``seed`` (an int, 0 included) gives the same points;
        ``None`` draws from the model's own ``SeedGenerator``."""
        seed = self.seed_generator if seed is None else seed
        z = keras.random.normal((int(num), self.input_dim), seed=seed)
        return ops.convert_to_numpy(self.inverse(z))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        z, log_det = y_pred if y_pred is not None else self.to_latent(x)
        nll = -ops.mean(standard_normal_log_prob(z) + log_det)
        penalty = ops.sum(ops.stack(self.losses)) if self.losses else 0.0 * nll
        self.loss_tracker.update_state(nll)  # the book's loss: NLL only
        self.l2_tracker.update_state(penalty)
        return global_batch_loss(nll + penalty)  # what the optimizer minimises

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "coupling_dim": self.coupling_dim,
            "coupling_layers": self.coupling_layers,
            "num_hidden": self.num_hidden,
            "regularization": self.regularization,
            "seed": self.seed,
            "shared_trunk": self.shared_trunk,
        }
