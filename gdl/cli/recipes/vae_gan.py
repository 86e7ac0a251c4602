"""``gdl train autoencoder|vae|vae_faces|dcgan|wgan_gp|cgan``: chapters 3 and 4.

Each recipe trains the book's model on the book's dataset by default (Fashion-MNIST,
CelebA faces, LEGO bricks) and on the embedded digits with ``--data digits`` (and in
smoke mode); ``--data PATH`` trains the image models on a folder of your own images.
Samples are PNG grids. The data helpers here are what the chapter notebooks call too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gdl.cli.recipes.base import Recipe, TrainData, register
from gdl.config import smoke_mode
from gdl.plotting import save_grid

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
DIGIT_CLASSES = tuple(str(i) for i in range(10))


# ---------------------------------------------------------------------------
# Data (shared with the notebooks)
# ---------------------------------------------------------------------------
def _digits(size: int, channels: int, value_range, seed: int = 0):
    from gdl.data import load

    x, y = load("digits", size=size, channels=channels, value_range=value_range, with_labels=True)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    return (x[order[:cut]], y[order[:cut]]), (x[order[cut:]], y[order[cut:]])


def fashion_images(name: str = "fashion_mnist"):
    """``(x_train, y_train), (x_test, y_test), class_names`` as the book prepares them.

    ``fashion_mnist``: /255, zero-padded 28 -> 32, ``(N, 32, 32, 1)`` float32 in [0, 1].
    ``digits``: the embedded digits at 32x32 (80/20 split).
    """
    if name == "digits":
        (xt, yt), (xv, yv) = _digits(32, 1, (0.0, 1.0))
        return (xt, yt), (xv, yv), DIGIT_CLASSES
    from gdl.data import load

    (x_train, y_train), (x_test, y_test) = load(name)

    def prep(x):
        x = x.astype("float32") / 255.0
        return np.pad(x, ((0, 0), (2, 2), (2, 2)), constant_values=0.0)[..., None]

    classes = FASHION_CLASSES if name == "fashion_mnist" else DIGIT_CLASSES
    return (prep(x_train), y_train), (prep(x_test), y_test), classes


def image_data(
    name: str,
    image_size: int,
    channels: int,
    value_range,
    batch_size: int,
    labels: str | None = None,
    shuffle: bool = True,
):
    """Training images for the faces VAE and the GANs.

    ``faces`` / ``bricks`` load the book's dataset (a batched ``tf.data.Dataset``; with
    ``labels="Blond_Hair"`` it yields ``(images, labels)``); ``digits`` returns NumPy
    ``(x, y_or_None)`` at ``image_size`` with ``channels`` (labels: the digit); any other
    value is a folder of images of your own.
    """
    if name == "digits":
        (x, y), _ = _digits(image_size, channels, value_range)
        return x, (y if labels else None)
    from gdl.data import load

    if name == "faces":
        return load(
            "faces",
            image_size=image_size,
            batch_size=batch_size,
            value_range=value_range,
            labels=labels,
            shuffle=shuffle,
        ), None
    if name == "bricks":
        return load(
            "bricks",
            image_size=image_size,
            batch_size=batch_size,
            value_range=value_range,
            shuffle=shuffle,
        ), None
    folder = Path(name)
    if not folder.is_dir():
        raise SystemExit(
            f"--data must be faces, bricks, digits or a folder of images; {name!r} is none of these"
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


# ---------------------------------------------------------------------------
# Recipes
# ---------------------------------------------------------------------------
class _ImageRecipe(Recipe):
    smoke_data = "digits"

    def data_name(self, args) -> str:
        return args.data or (self.smoke_data if smoke_mode() else self.default_data)

    def batch(self, args) -> int:
        return args.batch_size or self.batch_size

    def epoch_sample(self, model, out, info):
        return self.sample(model, argparse.Namespace(num=None, seed=0), out, info)


class _FashionRecipe(_ImageRecipe):
    chapter = "03"
    default_data = "fashion_mnist"

    def load_data(self, args):
        (x_train, _), (x_test, y_test), classes = fashion_images(self.data_name(args))
        return TrainData(
            x=x_train,
            validation=(x_test, x_test),
            batch_size=self.batch(args),
            info={"x_test": x_test[:10], "image_shape": x_train.shape[1:]},
        )

    def sample_info(self, args):
        (_, _), (x_test, _), _ = fashion_images(self.data_name(args))
        return {"x_test": x_test[:10]}


@register
class AutoencoderRecipe(_FashionRecipe):
    name = "autoencoder"
    help = "chapter 3 autoencoder on Fashion-MNIST (2-D embedding); sample: reconstructions"
    epochs = 3
    batch_size = 100

    def build(self, args, data):
        from gdl.models.autoencoder import Autoencoder

        model = Autoencoder(image_shape=data.info["image_shape"])
        model.compile(optimizer="adam")
        return model

    def sample(self, model, args, out, info):
        x = info["x_test"][: getattr(args, "num", None) or 10]
        return [save_grid(np.concatenate([x, model.reconstruct(x)]), out, ncols=len(x), scale=2)]


@register
class VAERecipe(_FashionRecipe):
    name = "vae"
    help = (
        "chapter 3 VAE on Fashion-MNIST (2-D latent, beta 500); sample: decoded 15x15 "
        "latent grid (or --num prior samples)"
    )
    epochs = 5
    batch_size = 100

    def build(self, args, data):
        import keras

        from gdl.models.vae import VAE

        model = VAE(image_shape=data.info["image_shape"])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.0005))
        return model

    def sample_info(self, args):
        return {}  # sampling decodes latent points: no data needed

    def sample(self, model, args, out, info):
        if getattr(args, "num", None):
            images, ncols = (
                model.generate(getattr(args, "num", None), seed=getattr(args, "seed", None)),
                None,
            )
        else:
            _, images = model.latent_grid(15)
            ncols = 15
        return [save_grid(images, out, ncols=ncols, value_range=(0, 1))]


@register
class FacesVAERecipe(_ImageRecipe):
    name = "vae_faces"
    help = (
        "chapter 3 VAE on CelebA faces (32x32, latent 200, beta 2000); sample: faces from N(0, I)"
    )
    chapter = "03"
    epochs = 10
    batch_size = 128
    default_data = "faces"

    def load_data(self, args):
        x, _ = image_data(self.data_name(args), 32, 3, (0.0, 1.0), self.batch(args))
        return TrainData(x=x, batch_size=self.batch(args) if isinstance(x, np.ndarray) else None)

    def build(self, args, data):
        import keras

        from gdl.models.vae import FacesVAE

        model = FacesVAE()
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.0005))
        return model

    def sample(self, model, args, out, info):
        return [
            save_grid(
                model.generate(getattr(args, "num", None) or 30, seed=getattr(args, "seed", None)),
                out,
                ncols=10,
                scale=2,
            )
        ]


class _GANRecipe(_ImageRecipe):
    chapter = "04"
    image_size = 64
    channels = 3
    labels: str | None = None

    def image_size_for(self, name: str) -> int:
        return 32 if name == "digits" else self.image_size

    def load_data(self, args):
        name = self.data_name(args)
        size = self.image_size_for(name)
        x, y = image_data(
            name, size, self.channels, (-1.0, 1.0), self.batch(args), labels=self.labels
        )
        info = {"image_size": size, "num_classes": 10 if name == "digits" else 2}
        if isinstance(x, np.ndarray):
            return TrainData(x=x, y=y, batch_size=self.batch(args), info=info)
        return TrainData(x=x, info=info)

    def sample(self, model, args, out, info):
        images = model.generate(getattr(args, "num", None) or 30, seed=getattr(args, "seed", None))
        return [save_grid(images, out, ncols=10, value_range=(-1, 1), scale=2)]


@register
class DCGANRecipe(_GANRecipe):
    name = "dcgan"
    help = "chapter 4 DCGAN on LEGO bricks (64x64 grey, z 100); sample: generated bricks"
    epochs = 300
    batch_size = 128
    channels = 1
    default_data = "bricks"

    def build(self, args, data):
        from gdl.models.gan import DCGAN

        model = DCGAN(image_size=data.info["image_size"], channels=self.channels)
        model.compile()
        return model


@register
class WGANGPRecipe(_GANRecipe):
    name = "wgan_gp"
    help = "chapter 4 WGAN-GP on CelebA (64x64, z 128, 3 critic steps, GP 10); sample: faces"
    epochs = 200
    batch_size = 512
    default_data = "faces"

    def build(self, args, data):
        from gdl.models.gan import WGANGP

        model = WGANGP(image_size=data.info["image_size"], channels=self.channels)
        model.compile()
        return model


@register
class CGANRecipe(_GANRecipe):
    name = "cgan"
    help = (
        "chapter 4 conditional WGAN-GP on CelebA Blond_Hair (z 32); sample: one row per "
        "label with shared z (digits: one row per digit)"
    )
    epochs = 20
    batch_size = 128
    default_data = "faces"
    labels = "Blond_Hair"

    def build(self, args, data):
        from gdl.models.gan import ConditionalWGAN

        model = ConditionalWGAN(
            image_size=data.info["image_size"], num_classes=data.info["num_classes"]
        )
        model.compile()
        return model

    def sample(self, model, args, out, info):
        per_row = getattr(args, "num", None) or 10
        k = model.num_classes
        z = np.random.default_rng(getattr(args, "seed", None)).standard_normal(
            (per_row, model.latent_dim)
        )
        z = np.tile(z.astype("float32"), (k, 1))
        labels = np.repeat(np.arange(k), per_row)
        images = model.generate(labels=labels, latent=z)
        return [save_grid(images, out, ncols=per_row, value_range=(-1, 1), scale=2)]
