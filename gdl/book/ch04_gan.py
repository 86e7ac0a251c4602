"""Chapter 4 (GANs): the conditional GAN's view, one row per label with a shared latent.

The GANs' images come from :func:`gdl.book.images.image_data`.
"""

from __future__ import annotations

import numpy as np


def label_rows(model, per_row: int = 10, seed: int | None = 0) -> np.ndarray:
    """``num_classes * per_row`` images of a :class:`~gdl.models.ConditionalWGAN`: row
    ``k`` has label ``k``, and every row uses the same ``per_row`` latent vectors (drawn
    from ``N(0, I)`` with NumPy's generator seeded by ``seed``), so the rows differ only
    in the label (the book's Blond_Hair = 0 / 1 comparison). Show with ``ncols=per_row``.
    """
    k = model.num_classes
    z = np.random.default_rng(seed).standard_normal((per_row, model.latent_dim))
    z = np.tile(z.astype("float32"), (k, 1))
    return model.generate(labels=np.repeat(np.arange(k), per_row), latent=z)


def label_rows_sample(per_row: int = 10):
    """The conditional GAN's epoch sample for :class:`gdl.callbacks.NotebookRun`: the
    :func:`label_rows` grid, one row per label, images in [-1, 1]."""
    from gdl.book.images import grid_sample

    return grid_sample(ncols=per_row, value_range=(-1, 1),
                       images=lambda model: label_rows(model, per_row, seed=0))
