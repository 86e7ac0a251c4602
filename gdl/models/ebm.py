"""Energy-based model trained by contrastive divergence with Langevin sampling
(book: ``07_ebm/01_ebm/ebm.ipynb``, after Phillip Lippe's UvA tutorial 8).

The network outputs a *score*, the negative energy ``-E(x)``: real images should score
high, samples low. Samples are drawn by Langevin dynamics, gradient ascent on the score
with a little noise (:func:`langevin_sample`), started from a replay :class:`Buffer`.

Differences from the book, on purpose:

* The buffer is a ring of Keras variables updated with ``keras.ops`` and drawn from
  with the model's ``SeedGenerator``, so ``fit`` runs as one compiled step on every
  backend (the book needs ``run_eagerly=True`` because its buffer is a Python list
  sampled with NumPy/``random``). It still starts with 128 noise images and grows to
  ``buffer_size``, new samples replacing the oldest (the book prepends and truncates).
  Each image of a batch is fresh uniform noise with probability ``fresh_fraction``
  (the book draws ``binomial(128, 0.05)`` of them: the same distribution).
* The buffer is training state, not weights: it is **not** saved with the model
  (``.keras`` or checkpoints); a loaded model starts a new buffer of noise.
* The step is written once in ``keras.ops``; the input gradients of the Langevin chain
  and the weight gradients come from :mod:`gdl.backend` (``tf.GradientTape``, ``jax``
  transforms inside a stateless ``jax.jit`` step, ``torch.autograd``), so ``fit`` and
  ``generate`` run on TensorFlow, JAX and PyTorch.
* The step is data-parallel (``gdl train --devices N``, :mod:`gdl.distribute`) and
  *exact*: every random number of the step (the noise on real images, the buffer's
  fresh/stored choice, starting noise and indices, the Langevin noise) is drawn for the
  whole global batch and sliced to each replica's examples
  (:class:`gdl.distribute.GlobalBatch`), each replica runs the Langevin chains of its
  own examples (they are independent), and the new samples of all replicas are gathered
  and pushed in global order, so every replica keeps the same buffer as one device
  would. The loss is differentiated as each replica's share of the global-batch mean.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from gdl import backend as B
from gdl.distribute import GlobalBatch
from gdl.models.optimizers import BookCompile

BOOK = dict(
    image_size=32, channels=1, steps=60, step_size=10.0, noise=0.005, alpha=0.1,
    grad_clip=0.03, batch_size=128, buffer_size=8192,
)  # fmt: skip


def _seed_generator(seed):
    """A ``SeedGenerator`` from an int (0 included), a generator, or None (unseeded)."""
    if isinstance(seed, keras.random.SeedGenerator):
        return seed
    return keras.random.SeedGenerator(None if seed is None else int(seed))


def energy_network(image_size: int = 32, channels: int = 1, name: str = "ebm_network"):
    """The book's score network: 4 strided swish convolutions, Dense(64, swish), Dense(1).

    76,993 parameters at 32x32x1. Outputs ``(batch, 1)`` scores (negative energies).
    """
    inp = keras.Input(shape=(image_size, image_size, channels))
    x = layers.Conv2D(16, 5, strides=2, padding="same", activation="swish")(inp)
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="swish")(x)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="swish")(x)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="swish")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="swish")(x)
    out = layers.Dense(1)(x)
    return keras.Model(inp, out, name=name)


def score_gradients(network, x, grad_clip: float | None = 0.03):
    """``d score / d x`` per image, clipped elementwise to ``[-grad_clip, grad_clip]``."""
    _, grads = B.input_gradient(lambda t: network(t, training=False), x)
    if grad_clip is not None:
        grads = ops.clip(grads, -grad_clip, grad_clip)
    return grads


def langevin_sample(
    network,
    x0,
    steps: int = 60,
    step_size: float = 10.0,
    noise: float = 0.005,
    grad_clip: float = 0.03,
    seed=None,
    return_steps: bool = False,
    split: GlobalBatch | None = None,
):
    """The book's ``generate_samples``: ``steps`` Langevin updates of ``x0`` (in [-1, 1]).

    Each step: ``x += N(0, noise)``, clip to [-1, 1]; ``x += step_size * clip(dscore/dx,
    ±grad_clip)``, clip to [-1, 1]. With ``return_steps`` the result has a leading axis
    of length ``steps + 1`` (the start and every step). The chain is one
    :func:`gdl.backend.fori_loop` (a compiled loop inside ``train_step``, the noise's
    seed-generator state carried through it on jax); ``seed`` is an int or a
    ``keras.random.SeedGenerator``. ``split`` (in a data-parallel step): ``x0`` is this
    replica's slice of the global batch and the noise is drawn for the global batch.
    """
    x = ops.convert_to_tensor(x0, dtype="float32")
    seed = _seed_generator(seed)
    shape = tuple(x.shape[1:])

    def gaussian(n):
        return keras.random.normal((n, *shape), stddev=noise, seed=seed)

    def step(x):
        x = x + (gaussian(ops.shape(x)[0]) if split is None else split.draw(gaussian))
        x = ops.clip(x, -1.0, 1.0)
        x = x + step_size * score_gradients(network, x, grad_clip)
        return ops.clip(x, -1.0, 1.0)

    if return_steps:
        history = [x]
        for _ in range(int(steps)):
            history.append(step(history[-1]))
        return ops.stack(history)
    return B.fori_loop(0, steps, lambda i, x: step(x), x, state=[seed.state])


class Buffer:
    """Replay buffer of Langevin samples (the book's ``Buffer``), kept in Keras variables.

    ``buffer_size`` images of ``shape``, of which the first ``count`` are filled; it starts
    with ``initial`` uniform-noise images (book: 128). :meth:`draw` returns ``n`` starting
    points: fresh U(-1, 1) noise with probability ``fresh_fraction`` each, otherwise a
    stored sample drawn uniformly with replacement. :meth:`push` stores new samples over
    the oldest ones. Backend-neutral: ``keras.ops`` on non-trainable ``keras.Variable``s,
    randomness from ``seed`` (an int or a ``SeedGenerator``, e.g. the model's). Not saved
    with the model (training state, not weights); :attr:`variables` lists its state.
    """

    def __init__(self, shape, buffer_size: int = 8192, fresh_fraction: float = 0.05,
                 initial: int = 128, seed=None):  # fmt: skip
        self.shape = tuple(int(s) for s in shape)
        self.buffer_size = int(buffer_size)
        self.fresh_fraction = float(fresh_fraction)
        initial = min(int(initial), self.buffer_size)
        self.seed = _seed_generator(seed)
        images = ops.concatenate(
            [
                keras.random.uniform((initial, *self.shape), -1.0, 1.0, seed=self.seed),
                ops.zeros((self.buffer_size - initial, *self.shape)),
            ],
            axis=0,
        )
        self.images = keras.Variable(images, trainable=False, name="buffer_images")
        self.count = keras.Variable(initial, trainable=False, dtype="int32", name="buffer_count")
        self.position = keras.Variable(
            initial % self.buffer_size, trainable=False, dtype="int32", name="buffer_position"
        )

    @property
    def variables(self) -> list:
        return [self.images, self.count, self.position]

    def draw(self, n: int, return_fresh: bool = False, split: GlobalBatch | None = None):
        """``n`` starting images (and, with ``return_fresh``, the boolean fresh mask);
        with ``split``, this replica's ``n`` of the global batch's draws."""

        def uniform(shape, low=0.0):
            return lambda m: keras.random.uniform((m, *shape), low, 1.0, seed=self.seed)

        def draw(fn):
            return fn(n) if split is None else split.draw(fn)

        fresh = draw(uniform(())) < self.fresh_fraction
        noise = draw(uniform(self.shape, -1.0))
        # uniform integers in [0, count): floor(U * count) (count is a tensor)
        count = ops.cast(self.count.value, "float32")
        u = draw(uniform(()))
        idx = ops.minimum(ops.cast(ops.floor(u * count), "int32"), self.count.value - 1)
        stored = ops.take(self.images.value, idx, axis=0)
        mask = ops.reshape(fresh, (n,) + (1,) * len(self.shape))
        out = ops.where(mask, noise, stored)
        return (out, fresh) if return_fresh else out

    def push(self, samples):
        """Store ``samples`` (ring order: oldest first to be replaced)."""
        n = ops.shape(samples)[0]
        idx = (self.position.value + ops.arange(n, dtype="int32")) % self.buffer_size
        self.images.assign(ops.scatter_update(self.images.value, idx[:, None], samples))
        self.position.assign((self.position.value + n) % self.buffer_size)
        self.count.assign(ops.minimum(self.count.value + n, self.buffer_size))

    def sample(self, network, n: int, steps=60, step_size=10.0, noise=0.005, grad_clip=0.03,
               split: GlobalBatch | None = None):  # fmt: skip
        """The book's ``sample_new_exmps``: draw, run Langevin, push, return the samples.
        With ``split`` (a data-parallel step) each replica samples its ``n`` examples of
        the global batch and pushes the global batch's samples (gathered), so replicas
        keep identical buffers."""
        x = self.draw(n, split=split)
        x = langevin_sample(network, x, steps, step_size, noise, grad_clip, seed=self.seed,
                            split=split)  # fmt: skip
        self.push(x if split is None else split.gather(x))
        return x


class _Chain:
    """The compiled chain of :meth:`EBM.generate` and the generator it draws noise from
    (a plain object, so Keras does not track the generator as the model's state)."""

    def __init__(self, seed, run):
        self.seed, self.run = seed, run


@keras.saving.register_keras_serializable(package="gdl")
class EBM(BookCompile, B.TrainingState, keras.Model):
    """Contrastive-divergence training of :func:`energy_network` (the book's ``EBM``).

    ``train_step`` (the book's, on every backend): real images get ``N(0, noise)`` added;
    fakes come from the buffer after ``steps`` Langevin steps; one pass over
    ``concat([real, fake])`` gives scores; ``cdiv = mean(fake) - mean(real)``,
    ``reg = alpha * mean(real² + fake²)``, ``loss = cdiv + reg``. ``test_step`` scores
    uniform noise as fakes and reports ``cdiv``, ``real`` and ``fake``.

    ``EBM()`` has the book's settings; ``compile()`` uses the book's ``Adam(1e-4)``; fit
    on MNIST padded to 32x32 in [-1, 1], batch 128.
    """

    book_learning_rate = 1e-4

    def __init__(
        self,
        network: keras.Model | None = None,
        image_size: int = 32,
        channels: int = 1,
        steps: int = 60,
        step_size: float = 10.0,
        noise: float = 0.005,
        alpha: float = 0.1,
        grad_clip: float = 0.03,
        buffer_size: int = 8192,
        fresh_fraction: float = 0.05,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(network, dict):
            network = keras.saving.deserialize_keras_object(network)
        self.network = network or energy_network(image_size, channels)
        self.image_size, self.channels = int(image_size), int(channels)
        self.steps, self.step_size, self.noise = int(steps), float(step_size), float(noise)
        self.alpha, self.grad_clip = float(alpha), float(grad_clip)
        self.buffer_size, self.fresh_fraction = int(buffer_size), float(fresh_fraction)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._buffer = None
        self._chain = None  # the compiled Langevin chain of generate (and its seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reg_tracker = keras.metrics.Mean(name="reg")
        self.cdiv_tracker = keras.metrics.Mean(name="cdiv")
        self.real_tracker = keras.metrics.Mean(name="real")
        self.fake_tracker = keras.metrics.Mean(name="fake")
        self.build((None, self.image_size, self.image_size, self.channels))

    def build(self, input_shape):
        self.network.build(input_shape)
        self.built = True

    @property
    def buffer(self) -> Buffer:
        """The replay buffer, created on first use (not saved with the model)."""
        if self._buffer is None:
            shape = (self.image_size, self.image_size, self.channels)
            self._buffer = Buffer(shape, self.buffer_size, self.fresh_fraction, seed=self.seed)
        return self._buffer

    def training_state(self) -> list:
        """The buffer's variables and seed (see :class:`gdl.backend.TrainingState`)."""
        return [] if self._buffer is None else [*self._buffer.variables, self._buffer.seed.state]

    def make_train_function(self, force=False):
        self.buffer  # noqa: B018  (created eagerly, before the step is compiled)
        return super().make_train_function(force)

    @property
    def metrics(self):
        return [self.loss_tracker, self.reg_tracker, self.cdiv_tracker, self.real_tracker,
                self.fake_tracker]  # fmt: skip

    def call(self, x, training=None):
        """Scores (negative energies) ``(batch, 1)`` of images in [-1, 1]."""
        return self.network(x, training=training)

    def energy(self, x):
        """``E(x) = -score(x)``, shape ``(batch,)``."""
        return -keras.ops.squeeze(self.network(x, training=False), axis=-1)

    def _check(self, x):
        want = (self.image_size, self.image_size, self.channels)
        if tuple(x.shape[1:]) != want:
            raise ValueError(f"EBM expects images of shape (batch, {want[0]}, {want[1]}, "
                             f"{want[2]}) in [-1, 1], got {tuple(x.shape)}")  # fmt: skip

    def generate(self, num: int = 10, steps: int = 1000, x0=None, seed=None,
                 return_steps: bool = False):  # fmt: skip
        """``num`` Langevin samples ``(num, H, W, C)`` in [-1, 1] (NumPy) from uniform noise
        (the book's ``ImageGenerator``: 1000 steps), or from ``x0`` when given. A fixed
        ``seed`` (an int, 0 included) gives the same images; ``return_steps`` adds a
        leading axis with the start and every step (an eager loop). The chain is compiled
        once (:func:`gdl.backend.compile_loop`) for any number of steps and seed."""
        seed = self.seed_generator if seed is None else _seed_generator(seed)
        if x0 is None:
            shape = (num, self.image_size, self.image_size, self.channels)
            x0 = keras.random.uniform(shape, -1.0, 1.0, seed=seed)
        x0 = ops.convert_to_tensor(x0, "float32")
        if return_steps:
            out = langevin_sample(self.network, x0, steps, self.step_size, self.noise,
                                  self.grad_clip, seed=seed, return_steps=True)  # fmt: skip
            return ops.convert_to_numpy(out)
        if self._chain is None:
            chain_seed = keras.random.SeedGenerator(0)  # its state is set before each run

            def chain(x, n):
                return langevin_sample(self.network, x, n, self.step_size, self.noise,
                                       self.grad_clip, seed=chain_seed)  # fmt: skip

            compiled = B.compile_loop([*self.network.variables, chain_seed.state], chain)
            self._chain = _Chain(chain_seed, compiled)
        self._chain.seed.state.assign(seed.next())
        steps = ops.convert_to_tensor(int(steps), "int32")
        return ops.convert_to_numpy(self._chain.run(x0, steps))

    def _scores(self, real, fake, training):
        out = self.network(ops.concatenate([real, fake], axis=0), training=training)
        n = ops.shape(real)[0]
        return out[:n], out[n:]

    def train_step(self, *args):
        return B.train_step(self, self._train_step, *args)

    def test_step(self, *args):
        return B.evaluate_step(self, self._test_step, *args)

    def _train_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data
        real = ops.convert_to_tensor(real, "float32")  # torch's train_on_batch passes NumPy
        self._check(real)
        split = GlobalBatch(ops.shape(real)[0])
        shape = tuple(real.shape[1:])
        real = real + split.draw(lambda n: keras.random.normal(
            (n, *shape), stddev=self.noise, seed=self.seed_generator))  # fmt: skip
        real = ops.clip(real, -1.0, 1.0)
        fake = self.buffer.sample(self.network, ops.shape(real)[0], self.steps, self.step_size,
                                  self.noise, self.grad_clip, split=split)  # fmt: skip
        fake = ops.stop_gradient(fake)

        def loss_fn():
            real_out, fake_out = self._scores(real, fake, training=True)
            cdiv = ops.mean(fake_out) - ops.mean(real_out)
            reg = self.alpha * ops.mean(real_out**2 + fake_out**2)
            values = (cdiv + reg, reg, cdiv, ops.mean(real_out), ops.mean(fake_out))
            return split.loss(values[0]), values

        variables = self.network.trainable_variables
        (_, values), grads = B.value_and_grad(loss_fn, variables, has_aux=True)
        self.optimizer.apply_gradients(zip(grads, variables))
        for tracker, value in zip(self.metrics, values):
            tracker.update_state(split.mean(value))
        return {m.name: m.result() for m in self.metrics}

    def _test_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data
        real = ops.convert_to_tensor(real, "float32")
        split, shape = GlobalBatch(ops.shape(real)[0]), tuple(real.shape[1:])
        fake = split.draw(lambda n: keras.random.uniform((n, *shape), -1.0, 1.0,
                                                         seed=self.seed_generator))  # fmt: skip
        real_out, fake_out = self._scores(real, fake, training=False)
        cdiv = ops.mean(fake_out) - ops.mean(real_out)
        for tracker, value in zip(self.metrics[2:], (cdiv, ops.mean(real_out),
                                                     ops.mean(fake_out))):  # fmt: skip
            tracker.update_state(split.mean(value))
        return {m.name: m.result() for m in self.metrics[2:]}

    def build_optimizers(self):
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build(self.network.trainable_variables)

    def get_config(self):
        return {
            **super().get_config(),
            "network": keras.saving.serialize_keras_object(self.network),
            "image_size": self.image_size, "channels": self.channels, "steps": self.steps,
            "step_size": self.step_size, "noise": self.noise, "alpha": self.alpha,
            "grad_clip": self.grad_clip, "buffer_size": self.buffer_size,
            "fresh_fraction": self.fresh_fraction, "seed": self.seed,
        }  # fmt: skip
