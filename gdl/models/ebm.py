"""Energy-based model trained by contrastive divergence with Langevin sampling
(book: ``07_ebm/01_ebm/ebm.ipynb``, after Phillip Lippe's UvA tutorial 8).

The network outputs a *score*, the negative energy ``-E(x)``: real images should score
high, samples low. Samples are drawn by Langevin dynamics, gradient ascent on the score
with a little noise (:func:`langevin_sample`), started from a replay :class:`Buffer`.

Differences from the book, on purpose:

* The buffer is a ring of TensorFlow variables with TF random ops, so ``fit`` runs as a
  compiled graph (the book needs ``run_eagerly=True`` because its buffer is a Python list
  sampled with NumPy/``random``). It still starts with 128 noise images and grows to
  ``buffer_size``, new samples replacing the oldest (the book prepends and truncates).
  Each image of a batch is fresh uniform noise with probability ``fresh_fraction``
  (the book draws ``binomial(128, 0.05)`` of them: the same distribution).
* The buffer is training state, not weights: it is **not** saved with the model
  (``.keras`` or checkpoints); a loaded model starts a new buffer of noise.
* ``train_step`` needs input gradients inside the training step, so it uses
  ``tf.GradientTape``: TensorFlow backend only (a clear error elsewhere).
"""

from __future__ import annotations

import keras
from keras import layers

from gdl.models.optimizers import BookCompile

BOOK = dict(
    image_size=32, channels=1, steps=60, step_size=10.0, noise=0.005, alpha=0.1,
    grad_clip=0.03, batch_size=128, buffer_size=8192,
)  # fmt: skip


def _require_tensorflow(what: str):
    if keras.config.backend() != "tensorflow":
        raise NotImplementedError(
            f"{what} needs input gradients inside the training step and is written with "
            f"tf.GradientTape; set KERAS_BACKEND=tensorflow (current backend: "
            f"{keras.config.backend()})."
        )
    import tensorflow as tf

    return tf


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
    tf = _require_tensorflow("score_gradients")
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = network(x, training=False)
    grads = tape.gradient(score, x)
    if grad_clip is not None:
        grads = tf.clip_by_value(grads, -grad_clip, grad_clip)
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
):
    """The book's ``generate_samples``: ``steps`` Langevin updates of ``x0`` (in [-1, 1]).

    Each step: ``x += N(0, noise)``, clip to [-1, 1]; ``x += step_size * clip(dscore/dx,
    ±grad_clip)``, clip to [-1, 1]. With ``return_steps`` the result has a leading axis
    of length ``steps + 1`` (the start and every step). Runs as a ``tf.while_loop``, so
    it compiles inside ``train_step``; ``seed`` is an int or a
    ``keras.random.SeedGenerator``.
    """
    tf = _require_tensorflow("langevin_sample")
    x = tf.convert_to_tensor(x0, dtype="float32")
    seed = _seed_generator(seed)

    def step(x):
        x = x + keras.random.normal(tf.shape(x), stddev=noise, seed=seed)
        x = tf.clip_by_value(x, -1.0, 1.0)
        x = x + step_size * score_gradients(network, x, grad_clip)
        return tf.clip_by_value(x, -1.0, 1.0)

    if return_steps:
        history = [x]
        for _ in range(int(steps)):
            history.append(step(history[-1]))
        return tf.stack(history)
    _, x = tf.while_loop(lambda i, _: i < steps, lambda i, x: (i + 1, step(x)), (tf.constant(0), x))
    return x


class Buffer:
    """Replay buffer of Langevin samples (the book's ``Buffer``), kept in TF variables.

    ``buffer_size`` images of ``shape``, of which the first ``count`` are filled; it starts
    with ``initial`` uniform-noise images (book: 128). :meth:`draw` returns ``n`` starting
    points: fresh U(-1, 1) noise with probability ``fresh_fraction`` each, otherwise a
    stored sample drawn uniformly with replacement. :meth:`push` stores new samples over
    the oldest ones. Not saved with the model (training state, not weights).
    """

    def __init__(self, shape, buffer_size: int = 8192, fresh_fraction: float = 0.05,
                 initial: int = 128, seed: int | None = None):  # fmt: skip
        tf = _require_tensorflow("Buffer")
        self.shape = tuple(int(s) for s in shape)
        self.buffer_size = int(buffer_size)
        self.fresh_fraction = float(fresh_fraction)
        initial = min(int(initial), self.buffer_size)
        self.seed = keras.random.SeedGenerator(seed)
        images = tf.concat(
            [
                tf.random.uniform((initial, *self.shape), -1.0, 1.0, seed=seed),
                tf.zeros((self.buffer_size - initial, *self.shape)),
            ],
            axis=0,
        )
        self.images = tf.Variable(images, trainable=False, name="buffer_images")
        self.count = tf.Variable(initial, trainable=False, dtype="int32", name="buffer_count")
        self.position = tf.Variable(
            initial % self.buffer_size, trainable=False, dtype="int32", name="buffer_position"
        )

    def draw(self, n: int, return_fresh: bool = False):
        """``n`` starting images (and, with ``return_fresh``, the boolean fresh mask)."""
        import tensorflow as tf

        fresh = keras.random.uniform((n,), seed=self.seed) < self.fresh_fraction
        noise = keras.random.uniform((n, *self.shape), -1.0, 1.0, seed=self.seed)
        idx = keras.random.randint((n,), 0, self.count, seed=self.seed)
        stored = tf.gather(self.images, idx)
        mask = tf.reshape(fresh, (n,) + (1,) * len(self.shape))
        out = tf.where(mask, noise, stored)
        return (out, fresh) if return_fresh else out

    def push(self, samples):
        """Store ``samples`` (ring order: oldest first to be replaced)."""
        import tensorflow as tf

        n = tf.shape(samples)[0]
        idx = (self.position + tf.range(n)) % self.buffer_size
        self.images.scatter_nd_update(tf.expand_dims(idx, 1), samples)
        self.position.assign((self.position + n) % self.buffer_size)
        self.count.assign(tf.minimum(self.count + n, self.buffer_size))

    def sample(self, network, n: int, steps=60, step_size=10.0, noise=0.005, grad_clip=0.03):
        """The book's ``sample_new_exmps``: draw, run Langevin, push, return the samples."""
        x = self.draw(n)
        x = langevin_sample(network, x, steps, step_size, noise, grad_clip, seed=self.seed)
        self.push(x)
        return x


@keras.saving.register_keras_serializable(package="gdl")
class EBM(BookCompile, keras.Model):
    """Contrastive-divergence training of :func:`energy_network` (the book's ``EBM``).

    ``train_step`` (the book's, TensorFlow only): real images get ``N(0, noise)`` added;
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
        leading axis with the start and every step."""
        tf = _require_tensorflow("EBM.generate")
        seed = self.seed_generator if seed is None else _seed_generator(seed)
        if x0 is None:
            shape = (num, self.image_size, self.image_size, self.channels)
            x0 = keras.random.uniform(shape, -1.0, 1.0, seed=seed)
        run = tf.function(lambda x: langevin_sample(
            self.network, x, steps, self.step_size, self.noise, self.grad_clip,
            seed=seed, return_steps=return_steps))  # fmt: skip
        return run(tf.convert_to_tensor(x0, "float32")).numpy()

    def _scores(self, real, fake, training):
        import tensorflow as tf

        out = self.network(tf.concat([real, fake], axis=0), training=training)
        n = tf.shape(real)[0]
        return out[:n], out[n:]

    def train_step(self, data):
        tf = _require_tensorflow("EBM.train_step")
        real = data[0] if isinstance(data, (tuple, list)) else data
        self._check(real)
        real = real + keras.random.normal(tf.shape(real), stddev=self.noise,
                                          seed=self.seed_generator)  # fmt: skip
        real = tf.clip_by_value(real, -1.0, 1.0)
        fake = self.buffer.sample(self.network, tf.shape(real)[0], self.steps, self.step_size,
                                  self.noise, self.grad_clip)  # fmt: skip
        with tf.GradientTape() as tape:
            real_out, fake_out = self._scores(real, fake, training=True)
            cdiv = tf.reduce_mean(fake_out) - tf.reduce_mean(real_out)
            reg = self.alpha * tf.reduce_mean(real_out**2 + fake_out**2)
            loss = cdiv + reg
        grads = tape.gradient(loss, self.network.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.network.trainable_variables))
        for tracker, value in zip(self.metrics, (loss, reg, cdiv, tf.reduce_mean(real_out),
                                                 tf.reduce_mean(fake_out))):  # fmt: skip
            tracker.update_state(value)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        tf = _require_tensorflow("EBM.test_step")
        real = data[0] if isinstance(data, (tuple, list)) else data
        fake = keras.random.uniform(tf.shape(real), -1.0, 1.0, seed=self.seed_generator)
        real_out, fake_out = self._scores(real, fake, training=False)
        cdiv = tf.reduce_mean(fake_out) - tf.reduce_mean(real_out)
        for tracker, value in zip(self.metrics[2:], (cdiv, tf.reduce_mean(real_out),
                                                     tf.reduce_mean(fake_out))):  # fmt: skip
            tracker.update_state(value)
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
