"""``TakeAlong``: one index along axis 1 as a serializable layer (chapter 11, MuseGAN).

The book slices its MuseGAN inputs with ``Lambda(lambda x: x[:, i])`` layers, which
Keras 3 refuses to load from a ``.keras`` file (arbitrary code); this layer does the same
and saves its index.
"""

from __future__ import annotations

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="gdl")
class TakeAlong(layers.Layer):
    """``x[:, index]`` along axis 1 (the book's ``Lambda`` slices, serializable)."""

    def __init__(self, index: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, x):
        return x[:, self.index]

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "index": self.index}
