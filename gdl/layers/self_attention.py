"""SAGAN's self-attention over the pixels of a feature map (Zhang et al. 2019).

The book (chapter 10) describes SAGAN's attention maps, which let a GAN relate distant
parts of an image; gdl implements the paper's block:

``f = x W_f``, ``g = x W_g`` (``C / key_ratio`` channels), ``h = x W_h`` (``C / value_ratio``),
``beta = softmax(f g^T)`` over the ``N = H W`` pixels, ``o = (beta h) W_o`` (back to C) and
``y = x + gamma * o`` with ``gamma`` learned and starting at 0 (the network first relies
on local convolutions, then learns to use attention). The ``W`` are 1x1 convolutions,
spectrally normalised as in SAGAN (``spectral_norm=False`` for plain ones).
``call(x, return_attention=True)`` also returns ``beta`` ``(B, N, N)``: row ``q`` is how
much query pixel ``q`` attends to every pixel (rows sum to 1), for the book's figure.
"""

from __future__ import annotations

import keras
from keras import ops

from gdl.layers.spectral import SpectralConv2D


@keras.saving.register_keras_serializable(package="gdl")
class SelfAttention2D(keras.layers.Layer):
    """SAGAN self-attention block; see the module docstring."""

    def __init__(self, key_ratio: int = 8, value_ratio: int = 2, spectral_norm: bool = True,
                 seed=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.key_ratio, self.value_ratio = int(key_ratio), int(value_ratio)
        self.spectral_norm = bool(spectral_norm)
        self.seed = seed

    def _conv(self, filters, name):
        if self.spectral_norm:
            return SpectralConv2D(filters, 1, use_bias=False, seed=self.seed, name=name)
        return keras.layers.Conv2D(filters, 1, use_bias=False, name=name)

    def build(self, input_shape):
        c = int(input_shape[-1])
        key, value = max(1, c // self.key_ratio), max(1, c // self.value_ratio)
        self.f, self.g = self._conv(key, "f"), self._conv(key, "g")
        self.h, self.o = self._conv(value, "h"), self._conv(c, "o")
        for conv, c_in in ((self.f, c), (self.g, c), (self.h, c), (self.o, value)):
            conv.build((*input_shape[:-1], c_in))
        self.gamma = self.add_weight(shape=(), name="gamma", initializer="zeros")

    def _apply(self, conv, x, training):
        return conv(x, training=training) if self.spectral_norm else conv(x)

    def call(self, x, training=False, return_attention=False):
        shape = ops.shape(x)
        b, h, w = shape[0], shape[1], shape[2]

        def flat(t):
            return ops.reshape(t, (b, h * w, ops.shape(t)[-1]))

        f = flat(self._apply(self.f, x, training))
        g = flat(self._apply(self.g, x, training))
        v = flat(self._apply(self.h, x, training))
        beta = ops.softmax(ops.matmul(f, ops.transpose(g, (0, 2, 1))), axis=-1)
        o = ops.reshape(ops.matmul(beta, v), (b, h, w, ops.shape(v)[-1]))
        y = x + self.gamma * self._apply(self.o, o, training)
        return (y, beta) if return_attention else y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "key_ratio": self.key_ratio,
                "value_ratio": self.value_ratio, "spectral_norm": self.spectral_norm,
                "seed": self.seed}  # fmt: skip
