"""``gdl train autoencoder|vae|vae_faces|dcgan|wgan_gp|cgan``: chapters 3 and 4.

Each recipe trains the book's model on the book's dataset by default (Fashion-MNIST,
CelebA faces, LEGO bricks) and on the embedded digits with ``--data digits`` (and in
smoke mode); ``--data PATH`` trains the image models on a folder of your own images.
Samples are PNG grids. The data come from :mod:`gdl.book` (what the notebooks call).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gdl.book.ch03_vae import fashion_images
from gdl.book.images import image_data
from gdl.cli.recipes.base import Recipe, TrainData, register
from gdl.errors import ConfigError
from gdl.plotting import save_grid

# reader_budget keys the recipes apply themselves (the rest go to the model's constructor)
_NOT_MODEL_ARGS = ("epochs", "batch_size", "image_size", "channels")


class _ImageRecipe(Recipe):
    smoke_data = "digits"
    model_class = ""  # the model's name in gdl.models

    def model_kwargs(self, data) -> dict:
        """Constructor arguments that depend on the data (the rest are the book's)."""
        return {}

    def build(self, args, data):
        import gdl.models

        sizes = {k: v for k, v in self.reader(args).items() if k not in _NOT_MODEL_ARGS}
        model = getattr(gdl.models, self.model_class)(**self.model_kwargs(data), **sizes)
        model.compile()  # the book's optimizer(s), from the model class
        return model

    def batch(self, args) -> int:
        return args.batch_size or self.reader(args).get("batch_size", self.batch_size)

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

    def model_kwargs(self, data) -> dict:
        return {"image_shape": data.info["image_shape"]}


@register
class AutoencoderRecipe(_FashionRecipe):
    name = "autoencoder"
    help = "chapter 3 autoencoder on Fashion-MNIST (2-D embedding); sample: reconstructions"
    epochs = 3
    batch_size = 100
    model_class = "Autoencoder"

    def sample(self, model, args, out, info):
        x = info["x_test"][: getattr(args, "num", None) or 10]
        return [save_grid(np.concatenate([x, model.reconstruct(x)]), out, ncols=len(x), scale=2)]


@register
class VAERecipe(_FashionRecipe):
    name = "vae"
    help = (
        "chapter 3 VAE on Fashion-MNIST (2-D latent, beta 500); sample: decoded 15x15 "
        "latent grid (or --num prior samples). --data digits: 16-D latent, samples from a "
        "latent Gaussian mixture fitted after training"
    )
    epochs = 5
    batch_size = 100
    model_class = "VAE"

    def sample_info(self, args):
        return {}  # sampling decodes latent points: no data needed

    def after_fit(self, model, args, data):
        """With a latent mixture (the digits settings), fit it to the training latents."""
        if model.mixture_components:
            model.fit_latent_mixture(data.x)

    def sample(self, model, args, out, info):
        """``--num N``: N images from the model's prior (N(0, I), or its fitted latent
        mixture: the digits settings). Otherwise the book's decoded 15x15 grid for a 2-D
        latent space; for a larger one 10 held-out images over their reconstructions,
        then 40 images from the prior."""
        num, seed = getattr(args, "num", None), getattr(args, "seed", None)
        if num:
            return [save_grid(model.generate(num, seed=seed), out, value_range=(0, 1))]
        if model.latent_dim == 2:
            _, images = model.latent_grid(15)
            return [save_grid(images, out, ncols=15, value_range=(0, 1))]
        rows = [model.generate(40, seed=0 if seed is None else seed)]
        if "x_test" in info:
            x = info["x_test"][:10]
            rows = [x, model.reconstruct(x), *rows]
        return [save_grid(np.concatenate(rows), out, ncols=10, value_range=(0, 1), scale=2)]


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
    model_class = "FacesVAE"

    def load_data(self, args):
        x, _ = image_data(self.data_name(args), 32, 3, (0.0, 1.0), self.batch(args))
        return TrainData(x=x, batch_size=self.batch(args) if isinstance(x, np.ndarray) else None)


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
        """The image size when no reader_budget entry sets one (subclasses may also set
        ``self.channels`` here)."""
        return 32 if name == "digits" else self.image_size

    def load_data(self, args):
        name = self.data_name(args)
        size = self.reader(args).get("image_size", self.image_size_for(name))
        channels = self.reader(args).get("channels", self.channels)
        x, y = image_data(name, size, channels, (-1.0, 1.0), self.batch(args), labels=self.labels)
        info = {
            "image_size": size,
            "channels": channels,
            "num_classes": 10 if name == "digits" else 2,
        }
        if isinstance(x, np.ndarray):
            return TrainData(x=x, y=y, batch_size=self.batch(args), info=info)
        return TrainData(x=x, info=info)

    def model_kwargs(self, data) -> dict:
        return {
            "image_size": data.info["image_size"],
            "channels": data.info.get("channels", self.channels),
        }

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
    model_class = "DCGAN"


@register
class WGANGPRecipe(_GANRecipe):
    name = "wgan_gp"
    help = "chapter 4 WGAN-GP on CelebA (64x64, z 128, 3 critic steps, GP 10); sample: faces"
    epochs = 200
    batch_size = 512
    default_data = "faces"
    model_class = "WGANGP"


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
    model_class = "ConditionalWGAN"

    def load_data(self, args):
        name = self.data_name(args)
        if name in ("digits", "faces"):
            return super().load_data(args)
        return self._class_folders(Path(name), args)

    def _class_folders(self, folder: Path, args) -> TrainData:
        """``--data FOLDER`` of class sub-folders (``FOLDER/<class>/*.jpg``): the label is
        the sub-folder, as ``image_dataset_from_directory(labels="inferred")``."""
        from gdl.data.images import image_folder_dataset, list_images

        classes = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        classes = [c for c in classes if list_images(folder / c)]
        if len(classes) < 2:
            raise ConfigError(
                f"cgan needs labelled images: --data {folder} must hold one sub-folder of "
                "images per class (at least 2), or be faces or digits"
            )
        size = self.image_size
        x = image_folder_dataset(
            folder, image_size=size, batch_size=self.batch(args), value_range=(-1.0, 1.0),
            labels="inferred", color_mode="rgb" if self.channels == 3 else "grayscale",
        )  # fmt: skip
        return TrainData(x=x, info={"image_size": size, "num_classes": len(classes)})

    def model_kwargs(self, data) -> dict:
        return {**super().model_kwargs(data), "num_classes": data.info["num_classes"]}

    def sample(self, model, args, out, info):
        from gdl.book.ch04_gan import label_rows

        per_row = getattr(args, "num", None) or 10
        images = label_rows(model, per_row, seed=getattr(args, "seed", None))
        return [save_grid(images, out, ncols=per_row, value_range=(-1, 1), scale=2)]
