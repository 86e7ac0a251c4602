"""Image helpers shared by the image datasets."""

from __future__ import annotations

import numpy as np


def resize_images(
    x: np.ndarray, size: int | tuple[int, int], method: str = "bilinear"
) -> np.ndarray:
    """Resize a batch ``(N, H, W, C)`` of float images (keras.ops, any backend)."""
    import keras

    if isinstance(size, int):
        size = (size, size)
    out = keras.ops.image.resize(
        keras.ops.convert_to_tensor(x, "float32"), size, interpolation=method
    )
    return np.asarray(keras.ops.convert_to_numpy(out))
