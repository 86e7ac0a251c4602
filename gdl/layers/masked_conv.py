"""Masked convolutions for PixelCNN (book: ``05_autoregressive/02_pixelcnn``).

The book's ``MaskedConv2D`` wraps a ``Conv2D`` and *assigns* ``kernel * mask`` to the
kernel variable on every call. That mutates a variable inside the forward pass, which
breaks under XLA/jit and on the jax backend. Here the mask is a constant multiplied
into the kernel inside :meth:`MaskedConv2D.convolution_op` (``keras.ops.conv``), so the
stored kernel is never changed and the layer runs under every backend and compiler.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops


def causal_mask(kernel_size, mask_type: str) -> np.ndarray:
    """The ``(kh, kw)`` 0/1 mask of the book: rows above the centre are 1, the centre row
    is 1 left of the centre, and the centre itself is 1 only for type ``"B"``."""
    kh, kw = kernel_size
    mask = np.zeros((kh, kw), dtype="float32")
    mask[: kh // 2, :] = 1.0
    mask[kh // 2, : kw // 2] = 1.0
    if mask_type == "B":
        mask[kh // 2, kw // 2] = 1.0
    return mask


@keras.saving.register_keras_serializable(package="gdl")
class MaskedConv2D(layers.Conv2D):
    """A ``Conv2D`` whose kernel only sees pixels above and to the left of the centre.

    ``mask_type="A"`` also hides the centre pixel (first layer: a pixel must not see
    itself); ``"B"`` lets it through (later layers). The channels of a pixel are treated
    together (the book's grayscale case); all other ``Conv2D`` arguments pass through.
    Weights have the same names and shapes as a plain ``Conv2D``.
    """

    def __init__(self, mask_type: str, filters: int, kernel_size, **kwargs):
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
        super().__init__(filters, kernel_size, **kwargs)
        if self.strides != (1, 1) or self.dilation_rate != (1, 1):
            raise ValueError("MaskedConv2D supports strides=1 and dilation_rate=1 only")
        self.mask_type = mask_type
        self.mask = causal_mask(self.kernel_size, mask_type)

    def convolution_op(self, inputs, kernel):
        mask = ops.convert_to_tensor(self.mask[:, :, None, None], dtype=kernel.dtype)
        return super().convolution_op(inputs, kernel * mask)

    def get_config(self):
        config = super().get_config()
        config["mask_type"] = self.mask_type
        return config
