"""``gdl train realnvp|ebm|ddim``: chapters 6-8 (normalising flow, energy-based model,
diffusion). Offline data: ``moons`` (RealNVP's own, embedded) and ``--data digits``
(EBM, DDIM). The data helpers are shared with the chapter notebooks.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gdl.cli.recipes.base import Recipe, TrainData, register
from gdl.config import pick


def split(x: np.ndarray, test_fraction: float = 0.2, seed: int = 0):
    """Shuffle ``x`` and split off ``test_fraction`` of it: ``(train, test)``."""
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(round(len(x) * (1 - test_fraction)))
    return x[order[:cut]], x[order[cut:]]


def moons_data(n: int = 30000, seed: int = 0):
    """The book's RealNVP data: ``make_moons(n, noise=0.05)`` normalised by a Keras
    ``Normalization`` layer adapted on it. Returns ``(normalized, normalizer)``."""
    import keras

    from gdl.data import load

    data = load("moons", n=n, seed=seed)
    norm = keras.layers.Normalization()
    norm.adapt(data)
    return np.asarray(norm(data)), norm


def ebm_data(name: str = "mnist"):
    """``(x_train, x_test)`` as the EBM notebook prepares them: 32x32x1 in [-1, 1], MNIST
    padded by 2 pixels of -1 (``digits``: scikit-learn's digits the same way, 80/20 split)."""
    from gdl.data import load

    if name == "mnist":
        (x_train, _), (x_test, _) = load("mnist")

        def prep(x):
            x = (x.astype("float32") - 127.5) / 127.5
            x = np.pad(x, ((0, 0), (2, 2), (2, 2)), constant_values=-1.0)
            return x[..., None]

        return prep(x_train), prep(x_test)
    if name == "digits":
        return split(load("digits", size=32, channels=1, value_range=(-1, 1), pad=2))
    raise SystemExit(f"the EBM trains on mnist or digits, not {name!r}")


def diffusion_data(name: str = "flowers", batch_size: int = 64, repetitions: int = 5,
                   image_size: int = 64):  # fmt: skip
    """``(train, validation, image_shape)`` for the DDIM, images in [0, 1].

    ``flowers`` (book): a ``tf.data`` pipeline of 64x64 RGB images repeated
    ``repetitions`` times, batched by ``batch_size`` (the book drops the remainder; gdl
    does not need to), plus one batch for validation (KID). ``digits``: scikit-learn's
    digits as 32x32x1 arrays, 80/20 split.
    """
    from gdl.data import load

    if name == "flowers":
        train = load("flowers", image_size=image_size, batch_size=batch_size, repeat=repetitions)
        valid = load("flowers", image_size=image_size, batch_size=batch_size, seed=7).take(1)
        return train, valid, (image_size, image_size, 3)
    if name == "digits":
        x_train, x_test = split(load("digits", size=32, channels=1, value_range=(0, 1)))
        return x_train, x_test[: pick(len(x_test), batch_size)], (32, 32, 1)
    raise SystemExit(f"the diffusion model trains on flowers or digits, not {name!r}")


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


def scatter_flow(model, data, path: Path, num_samples: int = 3000, seed: int = 0) -> Path:
    """Save :func:`flow_figure` to ``path``."""
    fig = flow_figure(model, data, num_samples, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


@register
class RealNVPRecipe(Recipe):
    name = "realnvp"
    help = "chapter 6 RealNVP normalising flow on two moons (794,632 parameters)"
    chapter = "06"
    epochs = 300
    batch_size = 256
    default_data = "moons"

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--coupling-layers", type=int, default=2,
                            help="coupling layers (book: 2; 6 matches a Gaussian mixture's "
                            "likelihood, see gdl.models.realnvp)")  # fmt: skip

    def load_data(self, args):
        if (args.data or "moons") != "moons":
            raise SystemExit("RealNVP trains on the embedded two moons (--data moons)")
        data, _ = moons_data(pick(30000, 2000))
        return TrainData(x=data, batch_size=args.batch_size or self.batch_size,
                         info={"data": data})  # fmt: skip

    def build(self, args, data):
        import keras

        from gdl.models.realnvp import RealNVP

        model = RealNVP(coupling_layers=getattr(args, "coupling_layers", 2), seed=args.seed)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-4))
        return model

    def sample_info(self, args):
        return {"data": moons_data(3000)[0]}

    def sample(self, model, args, out, info):
        return [
            scatter_flow(
                model,
                info["data"],
                out,
                getattr(args, "num", None) or 3000,
                getattr(args, "seed", None) or 0,
            )
        ]


@register
class EBMRecipe(Recipe):
    name = "ebm"
    help = "chapter 7 energy-based model with Langevin sampling on MNIST (76,993 parameters)"
    chapter = "07"
    epochs = 60
    batch_size = 128
    default_data = "mnist"

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--langevin-steps", type=int, default=None,
                            help="Langevin steps when sampling from noise (book: 1000)")  # fmt: skip

    def load_data(self, args):
        x_train, x_test = ebm_data(args.data or self.default_data)
        x_test = x_test[: pick(len(x_test), 256)]
        return TrainData(x=x_train, validation=(x_test,),
                         batch_size=args.batch_size or self.batch_size)  # fmt: skip

    def build(self, args, data):
        import keras

        from gdl.models.ebm import EBM

        model = EBM(seed=args.seed)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-4))
        return model

    def sample(self, model, args, out, info):
        from gdl.plotting import save_grid

        n = getattr(args, "num", None) or 10
        steps = getattr(args, "langevin_steps", None) or pick(1000, 20)
        images = model.generate(n, steps=steps, seed=getattr(args, "seed", None))
        return [save_grid(images, out, ncols=min(n, 10), value_range=(-1, 1), scale=2)]

    def epoch_sample(self, model, out, info):
        """Book's ``ImageGenerator``: 10 images from noise, then 10 buffer examples."""
        from gdl.plotting import save_grid

        generated = model.generate(10, steps=pick(1000, 20), seed=0)
        idx = np.random.default_rng(0).integers(0, int(model.buffer.count.numpy()), 10)
        examples = model.buffer.images.numpy()[idx]
        grid = np.concatenate([generated, examples])
        return [save_grid(grid, out, ncols=10, value_range=(-1, 1), scale=2)]


@register
class DDIMRecipe(Recipe):
    name = "ddim"
    help = "chapter 8 diffusion model (U-Net, DDIM sampling) on Oxford flowers (1,953,507 params)"
    chapter = "08"
    epochs = 50
    batch_size = 64
    default_data = "flowers"

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--diffusion-steps", type=int, default=20,
                            help="DDIM steps when sampling (book: 20)")  # fmt: skip

    def load_data(self, args):
        train, valid, shape = diffusion_data(
            args.data or self.default_data, args.batch_size or self.batch_size
        )
        is_array = isinstance(train, np.ndarray)
        return TrainData(x=train, validation=(valid,) if is_array else valid,
                         batch_size=(args.batch_size or self.batch_size) if is_array else None,
                         info={"image_shape": shape})  # fmt: skip

    def build(self, args, data):
        import keras

        from gdl.models.diffusion import DiffusionModel

        size, _, channels = data.info["image_shape"]
        model = DiffusionModel(image_size=size, channels=channels, seed=args.seed)
        model.adapt(data.x)
        model.compile(optimizer=keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=1e-4))
        return model

    def sample(self, model, args, out, info):
        from gdl.plotting import save_grid

        n = getattr(args, "num", None) or 10
        steps = getattr(args, "diffusion_steps", None) or 20
        images = model.generate(n, diffusion_steps=steps, seed=getattr(args, "seed", None))
        return [save_grid(images, out, ncols=min(n, 10), value_range=(0, 1), scale=2)]

    def epoch_sample(self, model, out, info):
        return self.sample(model, argparse.Namespace(num=10, seed=0, diffusion_steps=20), out, info)
