"""Chapter 2's hand-made convolution demo (``convolutions.ipynb``), in NumPy.

The book slides a 3x3 filter over a zero-padded grey image with two Python loops;
:func:`convolve2d` does exactly that (so it can be read line by line), and
:func:`convolve2d_fast` is the vectorised equivalent used to check it.
"""

from __future__ import annotations

import numpy as np

HORIZONTAL_EDGE = np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], dtype="float32")
VERTICAL_EDGE = np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], dtype="float32")


def convolve2d(image: np.ndarray, kernel: np.ndarray, stride: int = 1) -> np.ndarray:
    """'same'-padded cross-correlation of a 2-D image with a square kernel, like Conv2D."""
    k = kernel.shape[0]
    pad = k // 2
    padded = np.pad(image, pad)
    h = (image.shape[0] + stride - 1) // stride
    w = (image.shape[1] + stride - 1) // stride
    out = np.zeros((h, w), dtype="float32")
    for i in range(h):
        for j in range(w):
            patch = padded[i * stride : i * stride + k, j * stride : j * stride + k]
            out[i, j] = float(np.sum(patch * kernel))
    return out


def convolve2d_fast(image: np.ndarray, kernel: np.ndarray, stride: int = 1) -> np.ndarray:
    """Vectorised :func:`convolve2d` (sliding windows)."""
    k = kernel.shape[0]
    padded = np.pad(image, k // 2)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k))
    windows = windows[: image.shape[0], : image.shape[1]][::stride, ::stride]
    return np.einsum("ijkl,kl->ij", windows, kernel).astype("float32")


def sample_grey_image(size: int = 64) -> np.ndarray:
    """A grey ``size x size`` photo in [0, 1]: scikit-learn's bundled 'china.jpg'
    (the book uses scikit-image's coffee cup, which gdl does not depend on)."""
    from sklearn.datasets import load_sample_image

    from gdl.data.images import resize_images

    rgb = load_sample_image("china.jpg").astype("float32") / 255.0
    grey = rgb @ np.array([0.2125, 0.7154, 0.0721], dtype="float32")  # skimage's rgb2gray weights
    side = min(grey.shape)
    top, left = (grey.shape[0] - side) // 2, (grey.shape[1] - side) // 2
    grey = grey[top : top + side, left : left + side]
    return resize_images(grey[None, :, :, None], size)[0, :, :, 0]
