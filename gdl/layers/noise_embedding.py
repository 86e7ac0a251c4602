"""Sinusoidal embedding of the noise variance (book: ``08_diffusion/01_ddm/ddm.ipynb``,
``sinusoidal_embedding``; also ``sinusoidal_embedding.ipynb``).

The book wraps a free function in ``layers.Lambda``, which Keras 3 cannot clone or load
unless the function is registered; here it is a registered layer with no weights.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops


def sinusoidal_frequencies(embedding_dims: int = 32, min_frequency: float = 1.0,
                           max_frequency: float = 1000.0) -> np.ndarray:  # fmt: skip
    """``exp(linspace(log min, log max, embedding_dims // 2))``: the book's 16 frequencies."""
    return np.exp(
        np.linspace(math.log(min_frequency), math.log(max_frequency), embedding_dims // 2)
    ).astype("float32")


@keras.saving.register_keras_serializable(package="gdl")
class SinusoidalEmbedding(keras.layers.Layer):
    """``x -> concat([sin(2*pi*f*x), cos(2*pi*f*x)], axis=-1)`` for geometrically spaced ``f``.

    Input ``(..., 1)`` (the U-Net gets noise variances of shape ``(batch, 1, 1, 1)``),
    output ``(..., embedding_dims)``: the first half sines, the second half cosines.
    """

    def __init__(self, embedding_dims: int = 32, min_frequency: float = 1.0,
                 max_frequency: float = 1000.0, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        if embedding_dims % 2:
            raise ValueError(f"embedding_dims must be even, got {embedding_dims}")
        self.embedding_dims = int(embedding_dims)
        self.min_frequency = float(min_frequency)
        self.max_frequency = float(max_frequency)
        self.frequencies = sinusoidal_frequencies(
            self.embedding_dims, self.min_frequency, self.max_frequency
        )

    def call(self, x):
        if x.shape[-1] != 1:
            raise ValueError(f"SinusoidalEmbedding expects a last axis of size 1, got {x.shape}")
        angular = 2.0 * math.pi * ops.convert_to_tensor(self.frequencies, dtype=x.dtype)
        return ops.concatenate([ops.sin(angular * x), ops.cos(angular * x)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.embedding_dims)

    def get_config(self):
        return {
            **super().get_config(),
            "embedding_dims": self.embedding_dims,
            "min_frequency": self.min_frequency,
            "max_frequency": self.max_frequency,
        }
