"""Image data the chapters share: the embedded digits split, the book's image sets or a
folder of your own, and a look at the first images of an array or a dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gdl.errors import ConfigError

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
DIGIT_CLASSES = tuple(str(i) for i in range(10))


def digits(size: int, channels: int = 1, value_range=(0.0, 1.0), seed: int = 0, **kwargs):
    """The embedded digits with labels, split 80/20 by :func:`gdl.data.split
    .train_validation_split`: ``(x_train, y_train), (x_test, y_test)``.

    ``size``, ``channels``, ``value_range`` and ``kwargs`` (e.g. ``pad=2``) go to
    ``gdl.data.load("digits", ...)``. Every chapter's ``digits`` option uses this split.
    """
    from gdl.data import load
    from gdl.data.split import train_validation_split

    x, y = load("digits", size=size, channels=channels, value_range=value_range,
                with_labels=True, **kwargs)  # fmt: skip
    return train_validation_split(x, y, seed=seed)


def image_data(
    name: str,
    image_size: int,
    channels: int,
    value_range,
    batch_size: int,
    labels: str | None = None,
    shuffle: bool = True,
):
    """Training images for the faces VAE (chapter 3) and the GANs (chapter 4).

    ``faces`` / ``bricks`` load the book's dataset (a batched ``tf.data.Dataset``; with
    ``labels="Blond_Hair"`` it yields ``(images, labels)``), returned as ``(dataset,
    None)``; ``digits`` returns NumPy ``(x, y_or_None)`` (the training part of
    :func:`digits`, labels the digit); any other value is a folder of images of your own.
    """
    if name == "digits":
        (x, y), _ = digits(image_size, channels, value_range)
        return x, (y if labels else None)
    from gdl.data import load

    if name in ("faces", "bricks"):
        kwargs = {"labels": labels} if name == "faces" else {}
        ds = load(name, image_size=image_size, batch_size=batch_size, value_range=value_range,
                  shuffle=shuffle, **kwargs)  # fmt: skip
        return ds, None
    folder = Path(name)
    if not folder.is_dir():
        raise ConfigError(
            f"image data must be faces, bricks, digits or a folder of images; {name!r} is none "
            f"of these (pass --data with one of them)"
        )
    from gdl.data.images import image_folder_dataset

    ds = image_folder_dataset(
        folder,
        image_size=image_size,
        batch_size=batch_size,
        value_range=value_range,
        color_mode="rgb" if channels == 3 else "grayscale",
        shuffle=shuffle,
    )
    return ds, None


def first_images(data, n: int) -> np.ndarray:
    """The first ``n`` images of an array or a (possibly labelled) batched dataset."""
    if isinstance(data, np.ndarray):
        return data[:n]
    out, have = [], 0
    for batch in data:
        batch = batch[0] if isinstance(batch, (tuple, list)) else batch
        out.append(np.asarray(batch))
        have += len(out[-1])
        if have >= n:
            break
    return np.concatenate(out)[:n]


def grid_sample(n: int = 10, ncols: int | None = None, value_range=None, scale: int = 1,
                images=None, **generate_kwargs):
    """A ``sample`` callback for :class:`gdl.callbacks.NotebookRun` (and ``gdl train``):
    ``(model, path) -> path`` saving one PNG grid of ``model.generate(n, seed=0,
    **generate_kwargs)``, or of ``images(model)`` when given, with the same seed at every
    epoch so the grids show the model changing, not the noise (the book's
    ``ImageGenerator`` callbacks)."""
    from gdl.plotting import save_grid

    def sample(model, path):
        shown = images(model) if images is not None else model.generate(n, seed=0, **generate_kwargs)
        return save_grid(shown, path, ncols=ncols or n, value_range=value_range, scale=scale)

    return sample


def save_figure(fig, path) -> Path:
    """Save a matplotlib ``Figure`` to ``path`` (folders created); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
