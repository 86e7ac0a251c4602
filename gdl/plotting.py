"""Pictures a reader looks at: image grids, the book's ``display`` helper, PNG files.

The book's ``notebooks/utils.py::display`` guesses the value range of the images
(``/255`` if max > 1, ``(x+1)/2`` if min < 0). Here the range can be given
explicitly (``value_range=(-1, 1)``); the guess is kept as the default.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def to_unit_range(images, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Map images to [0, 1] floats: from ``value_range`` if given, else the book's guess."""
    x = np.asarray(images, dtype="float32")
    if value_range is None:
        if x.size and x.max() > 1.0:
            value_range = (0.0, 255.0)
        elif x.size and x.min() < 0.0:
            value_range = (-1.0, 1.0)
        else:
            value_range = (0.0, 1.0)
    lo, hi = value_range
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def image_grid(images, ncols: int | None = None, value_range=None, pad: int = 1) -> np.ndarray:
    """Tile ``(N, H, W[, C])`` images into one ``(rows*H, cols*W, C)`` array in [0, 1]."""
    x = to_unit_range(images, value_range)
    if x.ndim == 3:
        x = x[..., None]
    n, h, w, c = x.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    grid = np.ones((nrows * (h + pad) - pad, ncols * (w + pad) - pad, c), dtype="float32")
    for i in range(n):
        r, col = divmod(i, ncols)
        grid[r * (h + pad) : r * (h + pad) + h, col * (w + pad) : col * (w + pad) + w] = x[i]
    return grid


def save_grid(
    images, path: str | Path, ncols: int | None = None, value_range=None, scale: int = 1
) -> Path:
    """Write ``images`` as one PNG grid (no matplotlib needed); return the path."""
    from PIL import Image

    grid = image_grid(images, ncols=ncols, value_range=value_range)
    arr = (grid * 255).round().astype("uint8")
    if arr.shape[-1] == 1:
        arr = arr[..., 0]
    img = Image.fromarray(arr)
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def display(
    images, n: int = 10, size=(20, 3), cmap="gray_r", value_range=None, titles=None, save_to=None
):
    """The book's ``display``: show the first ``n`` images in one row (and save them)."""
    import matplotlib.pyplot as plt

    x = to_unit_range(images, value_range)[:n]
    fig = plt.figure(figsize=size)
    for i, img in enumerate(x):
        ax = fig.add_subplot(1, len(x), i + 1)
        ax.imshow(img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img, cmap=cmap)
        ax.axis("off")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=10)
    if save_to:
        Path(save_to).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(save_to)
    plt.show()
    return fig
