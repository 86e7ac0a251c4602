"""Chapter 6 (normalizing flows): RealNVP's two moons and the book's 2x2 figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gdl.book.images import save_figure


def moons_data(n: int = 30000, seed: int = 0):
    """The book's RealNVP data: ``make_moons(n, noise=0.05)`` normalised by a Keras
    ``Normalization`` layer adapted on it. Returns ``(normalized, normalizer)``."""
    import keras

    from gdl.data import load

    data = load("moons", n=n, seed=seed)
    norm = keras.layers.Normalization()
    norm.adapt(data)
    return np.asarray(norm(data)), norm


def held_out_moons(norm, n: int = 3000, seed: int = 1) -> np.ndarray:
    """``n`` fresh two-moons points (another ``seed``) scaled by the training data's
    ``norm``: the held-out set on which ``val_loss``, the book-comparable negative
    log-likelihood, is measured (the book reports the training loss only)."""
    from gdl.data import load

    return np.asarray(norm(load("moons", n=n, seed=seed)))


def flow_figure(model, data, num_samples: int = 3000, seed: int = 0):
    """The book's 2x2 figure: data X, f(X) (red); latent Z, g(Z) (green); all in [-2, 2].
    Returns a matplotlib ``Figure`` (``IPython.display.display(fig)`` in a notebook)."""
    from matplotlib.figure import Figure

    rng = np.random.default_rng(seed)
    x = data[rng.choice(len(data), size=min(num_samples, len(data)), replace=False)]
    fx = np.asarray(model.to_latent(x)[0])
    z = rng.standard_normal((num_samples, model.input_dim)).astype("float32")
    gz = np.asarray(model.inverse(z))
    fig = Figure(figsize=(8, 8))
    for i, (pts, title, color) in enumerate([
        (x, "Data space X", "r"), (fx, "f(X)", "r"), (z, "Latent space Z", "g"), (gz, "g(Z)", "g")
    ]):  # fmt: skip
        ax = fig.add_subplot(2, 2, i + 1)
        ax.scatter(pts[:, 0], pts[:, 1], color=color, s=2)
        ax.set(title=title, xlim=(-2, 2), ylim=(-2, 2))
    return fig


def save_flow_figure(model, data, path, num_samples: int = 3000, seed: int = 0) -> Path:
    """:func:`flow_figure` saved to ``path``."""
    return save_figure(flow_figure(model, data, num_samples, seed), path)
