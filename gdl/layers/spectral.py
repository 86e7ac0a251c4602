"""Spectral normalisation (Miyato et al. 2018) as dense / convolution layers, for SAGAN.

The kernel used in the forward pass is ``W / sigma(W)``, with ``sigma`` the largest
singular value of ``W`` reshaped to ``(fan_in, units)``, estimated by power iteration
with a persistent vector ``u`` (one iteration per training call, as in the paper).

Why not ``keras.layers.SpectralNormalization``: it *assigns* the normalised value back to
the wrapped layer's trainable kernel during the forward pass, so the gradient skips
``sigma`` and, inside a JAX ``StatelessScope`` or a torch autograd graph, the update of a
variable that is being differentiated differs by backend. Here the division is part of
the graph (the paper's gradient) and only ``u`` (not trainable) is updated.
"""

from __future__ import annotations

import keras
from keras import ops

_REG = keras.saving.register_keras_serializable(package="gdl")


def _normalize(v, eps=1e-12):
    return v * ops.rsqrt(ops.sum(ops.square(v)) + eps)


class _SpectralMixin:
    """Adds ``u`` and :meth:`normalized_kernel` to a layer with ``self.kernel``."""

    def _build_u(self, units):
        self.u = self.add_weight(
            shape=(1, units), name="u", trainable=False,
            initializer=keras.initializers.RandomNormal(0.0, 1.0, self.seed),
        )  # fmt: skip

    def sigma(self, training=False):
        """Estimated largest singular value of the kernel (``u`` is updated when training)."""
        w = ops.reshape(self.kernel, (-1, ops.shape(self.kernel)[-1]))
        u = self.u.value
        for _ in range(self.power_iterations):
            v = _normalize(ops.matmul(u, ops.transpose(w)))
            u = _normalize(ops.matmul(v, w))
        u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        if training:
            self.u.assign(u)
        return ops.sum(ops.matmul(v, w) * u)

    def normalized_kernel(self, training=False):
        return self.kernel / self.sigma(training)


@_REG
class SpectralDense(_SpectralMixin, keras.layers.Layer):
    """``Dense`` with a spectrally normalised kernel."""

    def __init__(self, units: int, use_bias: bool = True, power_iterations: int = 1,
                 activation=None, seed=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.units, self.use_bias = int(units), bool(use_bias)
        self.power_iterations = int(power_iterations)
        self.activation = keras.activations.get(activation)
        self.seed = seed

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(int(input_shape[-1]), self.units), name="kernel",
            initializer=keras.initializers.GlorotUniform(self.seed),
        )  # fmt: skip
        self.bias = self.add_weight(shape=(self.units,), name="bias",
                                    initializer="zeros") if self.use_bias else None  # fmt: skip
        self._build_u(self.units)

    def call(self, x, training=False):
        y = ops.matmul(x, self.normalized_kernel(training))
        return self.activation(y + self.bias if self.use_bias else y)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "use_bias": self.use_bias,
                "power_iterations": self.power_iterations,
                "activation": keras.activations.serialize(self.activation),
                "seed": self.seed}  # fmt: skip


@_REG
class SpectralConv2D(_SpectralMixin, keras.layers.Layer):
    """``Conv2D`` with a spectrally normalised kernel (reshaped to ``(k*k*C_in, filters)``)."""

    def __init__(self, filters: int, kernel_size=3, strides=1, padding: str = "same",
                 use_bias: bool = True, power_iterations: int = 1, activation=None,
                 seed=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.filters, self.use_bias = int(filters), bool(use_bias)
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)
        self.padding = padding
        self.power_iterations = int(power_iterations)
        self.activation = keras.activations.get(activation)
        self.seed = seed

    def build(self, input_shape):
        k = self.kernel_size
        self.kernel = self.add_weight(
            shape=(k, k, int(input_shape[-1]), self.filters), name="kernel",
            initializer=keras.initializers.GlorotUniform(self.seed),
        )  # fmt: skip
        self.bias = self.add_weight(shape=(self.filters,), name="bias",
                                    initializer="zeros") if self.use_bias else None  # fmt: skip
        self._build_u(self.filters)

    def call(self, x, training=False):
        y = ops.conv(x, self.normalized_kernel(training), self.strides, self.padding)
        return self.activation(y + self.bias if self.use_bias else y)

    def compute_output_shape(self, input_shape):
        return keras.layers.Conv2D(self.filters, self.kernel_size, self.strides,
                                   self.padding).compute_output_shape(input_shape)  # fmt: skip

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "use_bias": self.use_bias,
                "power_iterations": self.power_iterations,
                "activation": keras.activations.serialize(self.activation),
                "seed": self.seed}  # fmt: skip
