"""Chapter 7 (energy-based models): the EBM's MNIST and the book's per-epoch view."""

from __future__ import annotations

import numpy as np

from gdl.book.images import digits
from gdl.errors import ConfigError


def ebm_data(name: str = "mnist"):
    """``(x_train, x_test)`` as the EBM notebook prepares them: 32x32x1 in [-1, 1], MNIST
    padded by 2 pixels of -1 (``digits``: the embedded digits the same way, 80/20 split)."""
    if name == "mnist":
        from gdl.data import load

        (x_train, _), (x_test, _) = load("mnist")

        def prep(x):
            x = (x.astype("float32") - 127.5) / 127.5
            x = np.pad(x, ((0, 0), (2, 2), (2, 2)), constant_values=-1.0)
            return x[..., None]

        return prep(x_train), prep(x_test)
    if name == "digits":
        (x_train, _), (x_test, _) = digits(32, 1, (-1.0, 1.0), pad=2)
        return x_train, x_test
    raise ConfigError(f"the EBM trains on mnist or digits, not {name!r}")


def generated_and_buffer(model, num: int = 10, steps: int = 1000, seed: int = 0) -> np.ndarray:
    """The book's ``ImageGenerator`` view: ``num`` images generated from noise with
    ``steps`` Langevin steps, then ``num`` random examples of the replay buffer
    (``(2 * num, 32, 32, 1)`` in [-1, 1]; show them ``ncols=num``)."""
    generated = model.generate(num, steps=steps, seed=seed)
    idx = np.random.default_rng(seed).integers(0, int(model.buffer.count.numpy()), num)
    return np.concatenate([generated, model.buffer.images.numpy()[idx]])


def buffer_sample(num: int = 10, steps: int = 1000, scale: int = 2):
    """The EBM's epoch sample for :class:`gdl.callbacks.NotebookRun` (the book's
    ``ImageGenerator``): the :func:`generated_and_buffer` grid, generated on top, replay
    buffer below."""
    from gdl.book.images import grid_sample

    return grid_sample(ncols=num, value_range=(-1, 1), scale=scale,
                       images=lambda model: generated_and_buffer(model, num, steps=steps, seed=0))
