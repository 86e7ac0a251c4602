"""Data-parallel training on several devices (GPUs, or CPUs for testing).

    import gdl
    with gdl.distribute.data_parallel(2):          # the first 2 GPUs (or CPUs)
        model = gdl.models.VAE()
        model.compile(optimizer="adam")
        model.fit(x, batch_size=256, epochs=5)   # global batch 256: 128 per device

On TensorFlow this is ``tf.distribute.MirroredStrategy`` (the model must be built and
compiled inside the scope; ``fit`` may run inside or after it); on JAX it is
``keras.distribution.DataParallel`` (set for the duration of the block, so build,
compile **and fit** inside it). Keras' PyTorch backend has no data-parallel
``fit``: use TensorFlow or JAX for several GPUs. ``gdl train MODEL --devices N`` is
this block around the CLI's whole training run.

**The loss is an average over the global batch.** Under MirroredStrategy each replica
computes the loss of its own slice and the gradients are *summed* across replicas,
so a replica's batch-mean must be divided by the number of replicas (Keras' built-in
losses do it); every gdl ``compute_loss`` returns :func:`global_batch_loss` of its
batch-mean for that reason. Metrics go through ``keras.metrics.Mean`` trackers,
which Keras aggregates over replicas. JAX runs one program over the sharded global
batch, so there is nothing to divide. ``tests/test_distribute.py`` checks, on 2
simulated CPU devices, that one step on 2 replicas gives the loss and the updated
weights of one step on 1 device with the same batch.

**Hand-written steps** (GANs, EBM, MuseGAN, chapter 10's GANs) open a
:class:`GlobalBatch` on their batch: each replica differentiates its share of the
global-batch mean, reports global-batch means, draws its noise for the global batch
(replicas share their seed generators, so per-replica draws would repeat the same
numbers on every replica) and gathers what every replica must store alike (the EBM's
replay buffer). On TensorFlow :func:`gdl.backend.train_function` runs such a step on
every replica as Keras' own train function does. The result is the one-device step,
with the same seed, to float rounding; what stays per replica is Keras' dropout mask
(the same on every replica) and a minibatch standard deviation over each replica's
share (ProGAN, StyleGAN2: its groups are consecutive images, so a per-replica batch
divisible by the group size groups as on one device).

Batch normalisation (FacesVAE, DDIM's U-Net) normalises each replica's slice with its
own statistics under TensorFlow (Keras' default, ``synchronized=False``, as most
multi-GPU training does) but the global batch under JAX. :func:`sync_batch_norm` makes
TensorFlow use global-batch statistics too (one all-reduce per layer per step).
"""

from __future__ import annotations

import contextlib

import keras
from keras import ops

from gdl.errors import ConfigError

__all__ = ["GlobalBatch", "cross_replica_sum", "data_parallel", "device_count",
           "global_batch_loss", "sync_batch_norm"]  # fmt: skip


def _tf_devices():
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]


def _jax_devices():
    try:
        gpus = keras.distribution.list_devices("gpu")
    except RuntimeError:  # jax without a GPU backend
        gpus = []
    return gpus or keras.distribution.list_devices("cpu")


def device_count() -> int:
    """Devices :func:`data_parallel` can use: GPUs if any, else (logical) CPUs."""
    backend = keras.config.backend()
    if backend == "tensorflow":
        return len(_tf_devices())
    if backend == "jax":
        return len(_jax_devices())
    return 1


@contextlib.contextmanager
def data_parallel(devices: int | None = None):
    """A block in which models are built, compiled and fitted data-parallel.

    ``devices``: how many (the first N GPUs, or logical CPUs without GPUs); None: all.
    1 (or one device available) is a plain block, so code can always use it. Yields
    the ``tf.distribute.Strategy`` (TensorFlow), the ``keras.distribution.DataParallel``
    (JAX) or None. The global batch (``fit``'s ``batch_size``) is split over the
    devices and must be divisible by their number.
    """
    available = device_count()
    n = available if devices is None else int(devices)
    if n < 1:
        raise ConfigError(f"--devices must be >= 1, got {devices}")
    if n == 1:
        yield None
        return
    backend = keras.config.backend()
    if backend == "torch":
        raise ConfigError(
            "Keras' torch backend has no data-parallel fit: use KERAS_BACKEND=tensorflow or "
            "jax for several devices, or --devices 1"
        )
    if n > available:
        raise ConfigError(
            f"{n} devices asked for but {available} found on the {backend} backend; "
            "pass --devices with at most that many (CUDA_VISIBLE_DEVICES selects GPUs)"
        )
    if backend == "tensorflow":
        import tensorflow as tf

        names = _tf_devices()[:n]
        cross = None if "GPU" in names[0].upper() else tf.distribute.ReductionToOneDevice()
        strategy = tf.distribute.MirroredStrategy(names, cross_device_ops=cross)
        with strategy.scope():
            yield strategy
        return
    distribution = keras.distribution.DataParallel(devices=_jax_devices()[:n])
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(distribution)
    try:
        yield distribution
    finally:
        keras.distribution.set_distribution(previous)


def cross_replica_sum(value):
    """``value`` summed over the replicas of a TensorFlow ``tf.distribute`` step;
    ``value`` itself elsewhere (one device, or JAX, whose step sees the global batch)."""
    if keras.config.backend() != "tensorflow":
        return value
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def _replica_context():
    """The TensorFlow replica context of a step running on several replicas, else None
    (one device, cross-replica context, JAX, torch)."""
    if keras.config.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


class GlobalBatch:
    """This replica's slice of the global batch, for training steps written by hand.

    ``split = GlobalBatch(count)`` at the start of a step, ``count`` being the number of
    examples this replica holds. Under a TensorFlow ``tf.distribute`` strategy the
    replicas exchange their counts once (one small all-reduce); everywhere else (one
    device, JAX's ``DataParallel`` whose step sees the whole global batch, torch) every
    method is the identity and costs nothing.

    * :meth:`loss` -- what to differentiate: this replica's batch-mean loss times
      ``count / total``. ``optimizer.apply_gradients`` sums the gradients over replicas
      (all-reduce), so the update is the gradient of the global-batch mean, also when
      the last batch of an epoch splits unevenly.
    * :meth:`mean` -- the global-batch mean of a per-replica mean (for metric trackers and
      for state every replica assigns, e.g. a running average: replicas stay equal).
    * :meth:`sum` -- a sum over replicas (a gradient, code counts).
    * :meth:`draw` -- noise for the global batch, sliced to this replica's examples.
      Replicas share their ``SeedGenerator`` state (a mirrored variable), so a plain
      ``keras.random.normal((count, ...), seed)`` gives *every replica the same numbers*:
      the latents, interpolation weights or Langevin noise of example ``k`` would repeat
      on each replica. ``split.draw(lambda n: keras.random.normal((n, ...), seed))``
      draws for all ``total`` examples (the same numbers one device draws for the same
      batch) and keeps rows ``offset : offset + count``: example ``i`` of the global
      batch gets the same noise on 1 or N devices, and the generator advances alike
      everywhere.
    * :meth:`gather` -- the global batch from every replica's slice, in order (a replay
      buffer every replica keeps identical).
    """

    def __init__(self, count):
        self.count = count
        self.context = _replica_context()
        if self.context is None:
            self.total, self.offset = count, 0
            return
        import tensorflow as tf

        replicas = self.context.num_replicas_in_sync
        me = tf.cast(self.context.replica_id_in_sync_group, "int32")
        mine = tf.one_hot(me, replicas, dtype="int32") * tf.cast(count, "int32")
        sizes = self.context.all_reduce(tf.distribute.ReduceOp.SUM, mine)
        self.total = tf.reduce_sum(sizes)
        self.offset = tf.reduce_sum(sizes[:me])

    @property
    def distributed(self) -> bool:
        """True inside a step running on several TensorFlow replicas."""
        return self.context is not None

    def share(self, dtype="float32"):
        """``count / total``: this replica's share of the global batch (1 elsewhere)."""
        if self.context is None:
            return ops.ones((), dtype)
        return ops.cast(self.count, dtype) / ops.cast(self.total, dtype)

    def loss(self, loss):
        """This replica's part of the global-batch mean, from its own mean ``loss``."""
        return loss if self.context is None else loss * self.share(loss.dtype)

    def sum(self, value):
        """``value`` summed over the replicas (unchanged elsewhere)."""
        if self.context is None:
            return value
        import tensorflow as tf

        return self.context.all_reduce(tf.distribute.ReduceOp.SUM, value)

    def mean(self, value):
        """The global-batch mean from this replica's mean ``value`` over its examples."""
        if self.context is None:
            return value
        value = ops.convert_to_tensor(value)
        return self.sum(value * self.share(value.dtype))

    def draw(self, draw):
        """``draw(n)`` (a tensor or a structure of tensors with ``n`` rows) for the global
        batch, cut to this replica's rows; ``draw(count)`` elsewhere."""
        if self.context is None:
            return draw(self.count)
        out = draw(self.total)
        return keras.tree.map_structure(
            lambda t: ops.slice(
                t, [self.offset] + [0] * (len(t.shape) - 1),
                [self.count] + list(ops.shape(t)[1:]),
            ),
            out,
        )  # fmt: skip

    def gather(self, x):
        """The replicas' ``x`` (``count`` rows each) concatenated in replica order."""
        if self.context is None:
            return x
        x = ops.convert_to_tensor(x)
        rest = list(ops.shape(x)[1:])
        before = ops.zeros([self.offset] + rest, x.dtype)
        after = ops.zeros([self.total - self.offset - self.count] + rest, x.dtype)
        return self.sum(ops.concatenate([before, x, after], axis=0))


def global_batch_loss(loss, count=None):
    """This replica's share of the global-batch mean, from its own mean ``loss``.

    What ``compute_loss`` must return under a TensorFlow ``tf.distribute`` strategy,
    where gradients are summed over replicas and Keras multiplies the reported loss
    back by the number of replicas: ``loss / replicas`` when every replica averages
    over an equal slice (``count`` None), ``loss * count / sum of counts`` when
    ``loss`` is a mean over ``count`` items that vary by replica (masked tokens).
    Unchanged on one device and on JAX.
    """
    if count is None:
        from keras.src.losses.loss import scale_loss_for_distribution

        return scale_loss_for_distribution(loss)
    count = ops.cast(count, loss.dtype)
    return loss * count / ops.maximum(cross_replica_sum(count), 1.0)


def sync_batch_norm(model, synchronized: bool = True):
    """Switch every ``BatchNormalization`` of ``model`` to global-batch statistics under
    TensorFlow's ``tf.distribute`` (no effect on one device; JAX already does this).

    TensorFlow only: Keras refuses ``synchronized=True`` on the other backends, and the
    flag is saved in the ``.keras`` config, so call ``sync_batch_norm(model, False)``
    before saving a model meant to be loaded on JAX or PyTorch. Returns ``model``.
    """
    if keras.config.backend() != "tensorflow":
        return model
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = bool(synchronized)
    return model
