"""PixelCNN building blocks: the book's ``ResidualBlock`` (``05_autoregressive/02_pixelcnn``)
and PixelCNN++'s gated residual block (``03_pixelcnn_md``, ``tfp.distributions.PixelCNN``)."""

from __future__ import annotations

import keras
from keras import layers, ops

from gdl.layers.masked_conv import MaskedConv2D
from gdl.layers.weight_norm import WeightNormConv2D, WeightNormDense


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


# -- PixelCNN++ (the network of tfp.distributions.PixelCNN) ---------------------------
def concat_elu(x):
    """PixelCNN++'s activation: ``elu(concat([x, -x]))`` (doubles the channels)."""
    return ops.elu(ops.concatenate([x, -x], axis=-1))


def stack_conv_kwargs(stack: str, receptive_field=(3, 3)) -> dict:
    """Kernel size and mask of the convolutions in PixelCNN++'s two stacks (TFP's
    ``kernel_sizes`` / ``kernel_valid_dims``). With ``"same"`` padding the ``"vertical"``
    kernel keeps the rows above and the centre row (its input is already shifted down a
    row), the ``"horizontal"`` one the row above and the centre row, up to the centre
    column (its input is shifted right)."""
    rows, cols = receptive_field
    if stack == "vertical":
        return {"kernel_size": (2 * rows - 3, cols), "valid_rows": (0, rows - 1),
                "valid_cols": (0, cols)}  # fmt: skip
    if stack == "horizontal":
        return {"kernel_size": (3, cols), "valid_rows": (0, 2), "valid_cols": (0, cols // 2 + 1)}
    raise ValueError(f"stack must be 'vertical' or 'horizontal', got {stack!r}")


@keras.saving.register_keras_serializable(package="gdl")
class GatedResidualBlock(layers.Layer):
    """PixelCNN++'s gated residual block on one stack, as ``tfp.distributions.PixelCNN``
    builds it (van den Oord et al. 2016, Fig. 2; Salimans et al. 2017)::

        h = conv(concat_elu(x))                          # masked, `filters` channels
        h = h + nin(concat_elu(aux))                     # when the block has an aux input
        a, b = split(conv2(dropout(concat_elu(h))))      # masked, 2 * filters channels
        return x + a * sigmoid(b)

    ``stack`` (``"vertical"``/``"horizontal"``) picks the masks (:func:`stack_conv_kwargs`);
    ``aux`` is the other input TFP adds through a 1x1 ``Dense`` (the vertical stack for the
    horizontal one, the skip connection of the upward pass on the way down). All three
    layers are weight-normalised (:mod:`gdl.layers.weight_norm`). ``call(x, aux=None)``.
    """

    def __init__(self, filters: int, stack: str, with_aux: bool = False,
                 dropout: float = 0.0, receptive_field=(3, 3), **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.filters, self.stack = int(filters), stack
        self.with_aux, self.dropout = bool(with_aux), float(dropout)
        self.receptive_field = tuple(int(r) for r in receptive_field)
        conv = stack_conv_kwargs(stack, self.receptive_field)
        self.conv1 = WeightNormConv2D(self.filters, **conv)
        self.nin = WeightNormDense(self.filters) if self.with_aux else None
        self.drop = layers.Dropout(self.dropout)
        self.conv2 = WeightNormConv2D(2 * self.filters, **conv)

    def build(self, x_shape, aux_shape=None):
        # TFP's creation order: conv, nin, conv2 (weights map one to one)
        double = (*x_shape[:-1], 2 * self.filters)
        self.conv1.build(double)
        if self.nin is not None:
            aux = aux_shape if aux_shape is not None else x_shape
            self.nin.build((*aux[:-1], 2 * aux[-1]))
        self.conv2.build(double)

    def call(self, x, aux=None, training=None):
        if (aux is None) == self.with_aux:
            raise ValueError(
                f"GatedResidualBlock(with_aux={self.with_aux}) called with"
                f"{'out' if aux is None else ''} an aux input"
            )
        h = self.conv1(concat_elu(x))
        if aux is not None:
            h = h + self.nin(concat_elu(aux))
        h = self.conv2(self.drop(concat_elu(h), training=training))
        a, b = h[..., : self.filters], h[..., self.filters :]
        return x + a * ops.sigmoid(b)

    def compute_output_shape(self, x_shape, aux_shape=None):
        return x_shape

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "stack": self.stack,
                "with_aux": self.with_aux, "dropout": self.dropout,
                "receptive_field": self.receptive_field}  # fmt: skip
