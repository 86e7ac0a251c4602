"""Weight normalisation (Salimans & Kingma, 2016) as dense / convolution layers, with an
optional fixed 0/1 kernel mask, for PixelCNN++ (chapter 5, :class:`PixelCNNPlusPlus`).

The kernel of the forward pass is ``g * v / ||v||``: ``v`` (the ``kernel`` weight) is
first multiplied by the mask, then each output filter is scaled to the norm ``g`` (a
weight with one entry per filter). The book's network, ``tfp.distributions.PixelCNN``,
wraps every layer in ``tfp.layers.WeightNorm`` and masks the kernels with a Keras
``kernel_constraint``; these layers have the same weights (``kernel``, ``g``, ``bias``:
``(kh, kw, in, out)``, ``(out,)``, ``(out,)``) and give the same outputs for the same
weights, with two differences:

* the mask is applied in the forward pass (a constraint only masks ``v`` after an
  optimizer step, so TFP's kernels see the future until the first update);
* ``g`` starts at the norm of the masked initial ``v`` (the forward kernel is then the
  masked initial kernel, TFP's ``data_init=False`` start) and the data-dependent
  initialisation TFP runs on the first batch is explicit: :func:`data_dependent_init`
  (or a model's ``initialize_from_data``), so no variable is assigned inside a compiled
  step and no ``initialized`` flag variable is needed.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

_REG = keras.saving.register_keras_serializable(package="gdl")


def kernel_mask(kernel_size, valid_rows=None, valid_cols=None) -> np.ndarray:
    """The ``(kh, kw)`` 0/1 mask with ones in ``rows[0]:rows[1]``, ``cols[0]:cols[1]``
    (TFP PixelCNN's ``_make_kernel_constraint``); ``None`` means all rows / columns."""
    kh, kw = kernel_size
    r0, r1 = valid_rows if valid_rows is not None else (0, kh)
    c0, c1 = valid_cols if valid_cols is not None else (0, kw)
    mask = np.zeros((kh, kw), dtype="float32")
    mask[r0:r1, c0:c1] = 1.0
    return mask


class _WeightNormMixin:
    """``kernel`` (``v``), ``g`` and ``bias`` weights; subclasses define ``_linear`` (the
    op without bias), ``_filter_axis`` and ``_mask`` (a NumPy array or None)."""

    _filter_axis = -1
    _mask = None

    def _build_weights(self, kernel_shape, units):
        self.kernel = self.add_weight(
            shape=kernel_shape, name="kernel",
            initializer=keras.initializers.get(self.kernel_initializer),
        )  # fmt: skip
        self.g = self.add_weight(shape=(units,), name="g", initializer="ones")
        self.bias = self.add_weight(shape=(units,), name="bias", initializer="zeros")
        self.g.assign(ops.sqrt(ops.sum(ops.square(self._masked(self.kernel)), self._norm_axes)))
        self._data_init_pending = False

    @property
    def _norm_axes(self):
        rank = len(self.kernel.shape)
        return tuple(a for a in range(rank) if a != rank + self._filter_axis)

    def _masked(self, v):
        if self._mask is None:
            return v
        mask = ops.convert_to_tensor(self._mask[:, :, None, None], dtype=v.dtype)
        return v * mask

    def normalized_kernel(self):
        """The forward-pass kernel ``g * mask(v) / ||mask(v)||`` (TF's ``l2_normalize``)."""
        v = self._masked(ops.convert_to_tensor(self.kernel))
        sq = ops.sum(ops.square(v), axis=self._norm_axes, keepdims=True)
        shape = [1] * len(v.shape)
        shape[self._filter_axis] = -1
        return v * ops.rsqrt(ops.maximum(sq, 1e-12)) * ops.reshape(self.g, shape)

    def call(self, inputs):
        if self._data_init_pending:
            # TFP's data-dependent init: unit variance, zero mean per filter on this batch
            y = self._linear(inputs, self.normalized_kernel())
            axes = tuple(range(len(y.shape) - 1))
            mean, var = ops.mean(y, axes), ops.var(y, axes)
            scale = 1.0 / ops.sqrt(var + 1e-10)
            self.g.assign(self.g * scale)
            self.bias.assign(-mean * scale)
            self._data_init_pending = False
        return self._linear(inputs, self.normalized_kernel()) + self.bias


def data_dependent_init(layer: keras.layers.Layer, run):
    """Run ``run()`` (a forward pass, eagerly) with every weight-normalised layer inside
    ``layer`` set to initialise ``g`` and ``bias`` from the batch it sees: each filter's
    pre-activation gets zero mean and unit variance (TFP's ``WeightNorm(data_init=True)``
    on its first call). Layers are initialised in the order the pass reaches them."""
    targets = [sub for sub in layer._flatten_layers() if isinstance(sub, _WeightNormMixin)]
    for sub in targets:
        sub._data_init_pending = True
    try:
        return run()
    finally:
        for sub in targets:
            sub._data_init_pending = False


@_REG
class WeightNormDense(_WeightNormMixin, keras.layers.Layer):
    """``Dense(units)`` (on the last axis, any rank) with a weight-normalised kernel."""

    def __init__(self, units: int, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.kernel_initializer = keras.initializers.serialize(
            keras.initializers.get(kernel_initializer)
        )

    def build(self, input_shape):
        self._build_weights((int(input_shape[-1]), self.units), self.units)

    def _linear(self, x, kernel):
        return ops.matmul(x, kernel)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "kernel_initializer": self.kernel_initializer}  # fmt: skip


class _WeightNormConvBase(_WeightNormMixin, keras.layers.Layer):
    def __init__(self, filters: int, kernel_size, strides=1, valid_rows=None, valid_cols=None,
                 kernel_initializer="glorot_uniform", **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        pair = lambda v: tuple(int(a) for a in ((v, v) if np.isscalar(v) else v))  # noqa: E731
        self.filters = int(filters)
        self.kernel_size = pair(kernel_size)
        self.strides = pair(strides)
        self.valid_rows = None if valid_rows is None else pair(valid_rows)
        self.valid_cols = None if valid_cols is None else pair(valid_cols)
        self.kernel_initializer = keras.initializers.serialize(
            keras.initializers.get(kernel_initializer)
        )
        masked = valid_rows is not None or valid_cols is not None
        self._mask = (
            kernel_mask(self.kernel_size, self.valid_rows, self.valid_cols) if masked else None
        )

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "valid_rows": self.valid_rows, "valid_cols": self.valid_cols,
                "kernel_initializer": self.kernel_initializer}  # fmt: skip


@_REG
class WeightNormConv2D(_WeightNormConvBase):
    """``Conv2D(filters, kernel_size, strides, padding="same")`` (channels last) with a
    weight-normalised kernel; ``valid_rows``/``valid_cols`` (``(start, stop)``) keep only
    that block of the kernel (:func:`kernel_mask`), e.g. the rows above the centre."""

    def build(self, input_shape):
        self._build_weights((*self.kernel_size, int(input_shape[-1]), self.filters), self.filters)

    def _linear(self, x, kernel):
        return ops.conv(x, kernel, self.strides, "same")

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1:3]
        out = [None if d is None else -(-d // s) for d, s in zip((h, w), self.strides)]
        return (input_shape[0], *out, self.filters)


@_REG
class WeightNormConv2DTranspose(_WeightNormConvBase):
    """``Conv2DTranspose(filters, kernel_size, strides, padding="same")`` (channels last)
    with a weight-normalised kernel ``(kh, kw, filters, in)``, masked like
    :class:`WeightNormConv2D`."""

    _filter_axis = -2

    def build(self, input_shape):
        self._build_weights((*self.kernel_size, self.filters, int(input_shape[-1])), self.filters)

    def _linear(self, x, kernel):
        return ops.conv_transpose(x, kernel, self.strides, "same")

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1:3]
        out = [None if d is None else d * s for d, s in zip((h, w), self.strides)]
        return (input_shape[0], *out, self.filters)
