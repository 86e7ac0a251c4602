"""PixelCNN building blocks (book: ``05_autoregressive/02_pixelcnn``, ``ResidualBlock``)."""

from __future__ import annotations

import keras
from keras import layers

from gdl.layers.masked_conv import MaskedConv2D


@keras.saving.register_keras_serializable(package="gdl")
class PixelResidualBlock(layers.Layer):
    """The book's ``ResidualBlock(filters)``: ``Conv2D(f/2, 1, relu)`` ->
    ``MaskedConv2D("B", f/2, 3, relu, same)`` -> ``Conv2D(f, 1, relu)`` -> add the input.

    ``dropout`` (0 in the book's PixelCNN) adds dropout before the last 1x1 conv, as the
    PixelCNN++ of the mixture notebook does (``dropout_p=0.3``).
    """

    def __init__(self, filters: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.dropout = dropout
        self.conv1 = layers.Conv2D(filters // 2, 1, activation="relu")
        self.pixel_conv = MaskedConv2D("B", filters // 2, 3, activation="relu", padding="same")
        self.drop = layers.Dropout(dropout) if dropout else None
        self.conv2 = layers.Conv2D(filters, 1, activation="relu")

    def build(self, input_shape):
        if input_shape[-1] != self.filters:
            raise ValueError(
                f"PixelResidualBlock({self.filters}) needs inputs with {self.filters} channels, "
                f"got shape {tuple(input_shape)}"
            )
        half = tuple(input_shape[:-1]) + (self.filters // 2,)
        self.conv1.build(input_shape)
        self.pixel_conv.build(half)
        self.conv2.build(half)

    def call(self, inputs, training=None):
        x = self.pixel_conv(self.conv1(inputs))
        if self.drop is not None:
            x = self.drop(x, training=training)
        return inputs + self.conv2(x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "dropout": self.dropout}
