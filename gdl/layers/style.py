"""Chapter 10 building blocks of ProGAN, StyleGAN and StyleGAN2 (``keras.ops`` only).

The book describes these ideas without code (chapter 10, "Advanced GANs"); gdl follows
the papers (Karras et al. 2018 ProGAN, 2019 StyleGAN, 2020 StyleGAN2):

* :class:`EqualizedDense`, :class:`EqualizedConv2D`: *equalised learning rate*: weights
  are drawn from N(0, 1) and scaled at run time by ``gain / sqrt(fan_in)`` (He's
  constant), so every weight learns at the same speed under Adam. ``lr_multiplier``
  (StyleGAN's mapping network uses 0.01) scales weights and biases further.
* :class:`PixelNormalization`: each pixel's feature vector divided by its RMS (ProGAN).
* :class:`MinibatchStdDev`: the standard deviation of each feature over a group of
  images, averaged into one number per group and appended as an extra feature map
  (ProGAN): a critic can then see a lack of variety.
* :class:`AdaIN`: instance normalisation whose scale and bias come from the style ``w``
  (StyleGAN).
* :class:`ModulatedConv2D`: StyleGAN2's weight modulation and demodulation (replaces
  AdaIN and removes its droplet artefacts).
* :class:`NoiseInjection`: per-pixel Gaussian noise times a learned per-channel scale.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from gdl.distribute import GlobalBatch

_REG = keras.saving.register_keras_serializable(package="gdl")
SQRT2 = math.sqrt(2.0)


def _pair(v):
    return (int(v), int(v)) if isinstance(v, int) else tuple(int(i) for i in v)


@_REG
class EqualizedDense(keras.layers.Layer):
    """Dense layer with the equalised learning rate: ``y = x @ (W * c) + b * lr_multiplier``.

    ``W ~ N(0, 1 / lr_multiplier)`` and ``c = gain / sqrt(fan_in) * lr_multiplier`` applied
    at every call (``runtime_scale``). ``bias_init`` is the bias' initial value *after*
    scaling (StyleGAN's style affines start at 1).
    """

    def __init__(self, units: int, gain: float = SQRT2, lr_multiplier: float = 1.0,
                 use_bias: bool = True, bias_init: float = 0.0, activation=None,
                 seed=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.units = int(units)
        self.gain = float(gain)
        self.lr_multiplier = float(lr_multiplier)
        self.use_bias = bool(use_bias)
        self.bias_init = float(bias_init)
        self.activation = keras.activations.get(activation)
        self.seed = seed

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.runtime_scale = self.gain / math.sqrt(fan_in) * self.lr_multiplier
        self.kernel = self.add_weight(
            shape=(fan_in, self.units), name="kernel",
            initializer=keras.initializers.RandomNormal(0.0, 1.0 / self.lr_multiplier, self.seed),
        )  # fmt: skip
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,), name="bias",
                initializer=keras.initializers.Constant(self.bias_init / self.lr_multiplier),
            )  # fmt: skip

    def call(self, x):
        y = ops.matmul(x, self.kernel * self.runtime_scale)
        if self.use_bias:
            y = y + self.bias * self.lr_multiplier
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "gain": self.gain,
                "lr_multiplier": self.lr_multiplier, "use_bias": self.use_bias,
                "bias_init": self.bias_init,
                "activation": keras.activations.serialize(self.activation),
                "seed": self.seed}  # fmt: skip


@_REG
class EqualizedConv2D(keras.layers.Layer):
    """2-D convolution with the equalised learning rate (``c = gain / sqrt(k*k*C_in)``)."""

    def __init__(self, filters: int, kernel_size=3, strides=1, padding: str = "same",
                 gain: float = SQRT2, use_bias: bool = True, activation=None, seed=None,
                 **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size)
        self.strides = _pair(strides)
        self.padding = padding
        self.gain = float(gain)
        self.use_bias = bool(use_bias)
        self.activation = keras.activations.get(activation)
        self.seed = seed

    def build(self, input_shape):
        c_in = int(input_shape[-1])
        self.runtime_scale = self.gain / math.sqrt(self.kernel_size[0] * self.kernel_size[1] * c_in)
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, c_in, self.filters), name="kernel",
            initializer=keras.initializers.RandomNormal(0.0, 1.0, self.seed),
        )  # fmt: skip
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")

    def call(self, x):
        y = ops.conv(x, self.kernel * self.runtime_scale, self.strides, self.padding)
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return keras.layers.Conv2D(self.filters, self.kernel_size, self.strides,
                                   self.padding).compute_output_shape(input_shape)  # fmt: skip

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "gain": self.gain, "use_bias": self.use_bias,
                "activation": keras.activations.serialize(self.activation),
                "seed": self.seed}  # fmt: skip


@_REG
class PixelNormalization(keras.layers.Layer):
    """ProGAN's pixelwise feature normalisation: ``x / sqrt(mean(x**2, channels) + eps)``."""

    def __init__(self, epsilon: float = 1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, x):
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@_REG
class MinibatchStdDev(keras.layers.Layer):
    """ProGAN's minibatch standard deviation: one extra feature map per image.

    Images ``i`` are grouped ``i // group_size`` (the last group may be smaller, so any
    batch size works, also an unknown one); in each group, the (biased) standard
    deviation of every feature and pixel is taken over the group's images, averaged
    over features and pixels, and appended to each image of the group as a constant
    channel. The group mask is a ``(B, B)`` matrix (cheap at GAN batch sizes).
    """

    def __init__(self, group_size: int = 4, epsilon: float = 1e-8, **kwargs):
        super().__init__(**kwargs)
        self.group_size = int(group_size)
        self.epsilon = float(epsilon)

    def call(self, x):
        shape = ops.shape(x)
        batch = shape[0]
        flat = ops.reshape(x, (batch, -1))
        group = ops.arange(batch) // self.group_size
        same = ops.cast(ops.equal(group[:, None], group[None, :]), x.dtype)
        count = ops.sum(same, axis=1, keepdims=True)
        mean = ops.matmul(same, flat) / count
        var = ops.matmul(same, ops.square(flat - mean)) / count
        std = ops.mean(ops.sqrt(var + self.epsilon), axis=1)
        feature = ops.ones_like(x[..., :1]) * ops.reshape(std, (-1, 1, 1, 1))
        return ops.concatenate([x, feature], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size, "epsilon": self.epsilon}


def _style_affine(units, name, seed):
    """StyleGAN's learned affine map from ``w`` to per-channel styles, starting at 1."""
    return EqualizedDense(units, gain=1.0, bias_init=1.0, seed=seed, name=name)


@_REG
class AdaIN(keras.layers.Layer):
    """StyleGAN's adaptive instance normalisation: ``call([x, w])``.

    ``(y_s, y_b) = A(w)`` (a learned :class:`EqualizedDense` to ``2 C``; ``y_s`` starts at
    1, ``y_b`` at 0) and ``AdaIN(x, w) = y_s * (x - mu(x)) / sigma(x) + y_b`` with the
    mean and standard deviation over each image's pixels, per channel.
    """

    def __init__(self, epsilon: float = 1e-8, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.seed = seed

    def build(self, input_shape):
        x_shape, w_shape = input_shape
        self.channels = int(x_shape[-1])
        self.scale = _style_affine(self.channels, "scale", self.seed)
        self.scale.build(w_shape)
        self.shift = EqualizedDense(self.channels, gain=1.0, seed=self.seed, name="shift")
        self.shift.build(w_shape)

    def styles(self, w):
        """``(y_s, y_b)``, each ``(B, C)``."""
        return self.scale(w), self.shift(w)

    def call(self, inputs):
        x, w = inputs
        mean = ops.mean(x, axis=(1, 2), keepdims=True)
        var = ops.var(x, axis=(1, 2), keepdims=True)
        y_s, y_b = self.styles(w)
        normed = (x - mean) * ops.rsqrt(var + self.epsilon)
        return y_s[:, None, None, :] * normed + y_b[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "seed": self.seed}


@_REG
class ModulatedConv2D(keras.layers.Layer):
    """StyleGAN2's modulated convolution: ``call([x, w])``, ``stride 1, same padding``.

    ``s = A(w)`` (per input channel, starting at 1); the per-image kernel is
    ``w'_ijk = s_i * W_ijk`` (W with the equalised-LR scale) and, with ``demodulate``,
    ``w''_ijk = w'_ijk / sqrt(sum_{i,k} w'_ijk**2 + eps)`` so each output channel has unit
    expected variance. Computed as in the paper's non-fused path: scale the input
    channels by ``s``, convolve with the shared ``W``, scale the output channels by the
    demodulation factor: exactly the per-image convolution, with one shared kernel.
    :meth:`modulated_kernel` gives the per-image kernels (for tests and plots).
    ``demodulate=False`` is the toRGB layer.
    """

    def __init__(self, filters: int, kernel_size: int = 3, demodulate: bool = True,
                 use_bias: bool = True, epsilon: float = 1e-8, seed=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.demodulate = bool(demodulate)
        self.use_bias = bool(use_bias)
        self.epsilon = float(epsilon)
        self.seed = seed

    def build(self, input_shape):
        x_shape, w_shape = input_shape
        c_in = int(x_shape[-1])
        k = self.kernel_size
        self.runtime_scale = 1.0 / math.sqrt(k * k * c_in)
        self.kernel = self.add_weight(
            shape=(k, k, c_in, self.filters), name="kernel",
            initializer=keras.initializers.RandomNormal(0.0, 1.0, self.seed),
        )  # fmt: skip
        self.affine = _style_affine(c_in, "affine", self.seed)
        self.affine.build(w_shape)
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")

    def _demodulation(self, s):
        """``1 / sqrt(sum_{i,k} (s_i W_ijk)**2 + eps)`` per image and output channel."""
        w2 = ops.sum(ops.square(self.kernel * self.runtime_scale), axis=(0, 1))  # (C_in, C_out)
        return ops.rsqrt(ops.matmul(ops.square(s), w2) + self.epsilon)

    def modulated_kernel(self, w):
        """The per-image kernels ``(B, k, k, C_in, C_out)`` the layer convolves with."""
        s = self.affine(w)
        kernel = self.kernel[None] * self.runtime_scale * s[:, None, None, :, None]
        if self.demodulate:
            kernel = kernel * self._demodulation(s)[:, None, None, None, :]
        return kernel

    def call(self, inputs):
        x, w = inputs
        s = self.affine(w)
        y = ops.conv(x * s[:, None, None, :], self.kernel * self.runtime_scale, 1, "same")
        if self.demodulate:
            y = y * self._demodulation(s)[:, None, None, :]
        if self.use_bias:
            y = y + self.bias
        return y

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "demodulate": self.demodulate,
                "use_bias": self.use_bias, "epsilon": self.epsilon,
                "seed": self.seed}  # fmt: skip


@_REG
class NoiseInjection(keras.layers.Layer):
    """``x + scale_c * noise`` with one learned scale per channel (starts at 0) and
    per-pixel noise ``(B, H, W, 1)`` ~ N(0, 1), shared by the channels (StyleGAN).

    ``call(x)`` draws the noise from the layer's seed generator (on several TensorFlow
    replicas: the global batch's noise, sliced, see :class:`gdl.distribute.GlobalBatch`);
    ``call([x, noise])`` uses the given noise (fixed noise for the book's "stochastic
    variation" figure).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        x_shape = input_shape[0] if isinstance(input_shape[0], (list, tuple)) else input_shape
        self.scale = self.add_weight(shape=(int(x_shape[-1]),), name="scale",
                                     initializer="zeros")  # fmt: skip

    def call(self, inputs):
        if isinstance(inputs, (list, tuple)):
            x, noise = inputs
        else:
            x = inputs
            shape = ops.shape(x)
            # drawn for the global batch on several replicas (else each draws the same)
            noise = GlobalBatch(shape[0]).draw(lambda n: keras.random.normal(
                (n, shape[1], shape[2], 1), seed=self.seed_generator, dtype=x.dtype))  # fmt: skip
        return x + self.scale * noise

    def compute_output_shape(self, input_shape):
        return input_shape[0] if isinstance(input_shape[0], (list, tuple)) else input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
