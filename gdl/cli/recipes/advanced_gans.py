"""``gdl train progan|stylegan|sagan|vqgan|vqgan_prior``: chapter 10 (advanced GANs).

CelebA faces at 64x64 by default (the book's dataset for these models), the embedded
digits at 32x32 with ``--data digits`` and in smoke mode (smaller widths). ``gdl sample
stylegan --truncation 0.7`` writes the style-mixing grid; ``vqgan_prior`` trains a
Transformer over the codes of a trained ``vqgan`` run (``--autoencoder PATH``, default
``$GDL_RUNS_DIR/vqgan/model.keras``) and samples images code by code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gdl.book import ch10_advanced_gans as ch10
from gdl.book.images import first_images
from gdl.cli.recipes.base import TrainData, register
from gdl.cli.recipes.vae_gan import _GANRecipe
from gdl.config import runs_dir
from gdl.errors import RunError
from gdl.plotting import save_grid


class _AdvancedRecipe(_GANRecipe):
    chapter = "10"
    default_data = "faces"
    epochs = 20
    batch_size = 32

    def build(self, args, data):
        """The chapter's model at the data's size (:func:`gdl.book.ch10_advanced_gans
        .build_model`: CPU widths at 32x32, the papers' at 64x64), compiled."""
        return ch10.build_model(self.name, data.info["image_size"], data.info["channels"])

    def load_data(self, args):
        data = super().load_data(args)
        data.info["channels"] = 1 if data.info["image_size"] == 32 else 3
        return data

    def image_size_for(self, name):
        self.channels = 1 if name == "digits" else 3
        return super().image_size_for(name)


@register
class ProGANRecipe(_AdvancedRecipe):
    name = "progan"
    help = "chapter 10 ProGAN (progressive growing, fade-in, WGAN-GP); sample: current stage"

    def sample(self, model, args, out, info):
        images = model.generate(getattr(args, "num", None) or 30,
                                seed=getattr(args, "seed", None), upsample=True)  # fmt: skip
        return [save_grid(images, out, ncols=10, value_range=(-1, 1), scale=2)]


@register
class SAGANRecipe(_AdvancedRecipe):
    name = "sagan"
    help = "chapter 10 SAGAN (self-attention, spectral norm, hinge loss); sample: images"


@register
class StyleGANRecipe(_AdvancedRecipe):
    name = "stylegan"
    help = ("chapter 10 StyleGAN2 (mapping, modulated convs, mixing, lazy R1 + path length); "
            "sample: style-mixing grid (--truncation psi)")  # fmt: skip

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--truncation", type=float, default=1.0,
                            help="truncation psi for sampling (1: none)")  # fmt: skip

    def sample(self, model, args, out, info):
        tiles, _ = model.style_mixing_grid(3, 4, seed=getattr(args, "seed", None) or 0,
                                           truncation_psi=getattr(args, "truncation", 1.0))  # fmt: skip
        return [save_grid(tiles, out, ncols=5, value_range=(-1, 1), scale=2)]


@register
class VQGANRecipe(_AdvancedRecipe):
    name = "vqgan"
    help = "chapter 10 VQ-GAN (VQ-VAE + PatchGAN, adaptive weight); sample: reconstructions"

    def load_data(self, args):
        data = super().load_data(args)
        data.info["x_test"] = first_images(data.x, 10)
        return data

    def sample_info(self, args):
        return {"x_test": first_images(self.load_data(args).x, 10)}

    def sample(self, model, args, out, info):
        x = info["x_test"][: getattr(args, "num", None) or 10]
        rec = np.clip(model.generator.reconstruct(x), -1, 1)
        return [save_grid(np.concatenate([x, rec]), out, ncols=len(x), value_range=(-1, 1),
                          scale=2)]  # fmt: skip


@register
class VQGANPriorRecipe(_AdvancedRecipe):
    name = "vqgan_prior"
    help = ("chapter 10 Transformer prior over a trained vqgan run's codes (--autoencoder); "
            "sample: images decoded code by code")  # fmt: skip

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--autoencoder", help="the vqgan/VQVAE .keras file "
                            "(default: $GDL_RUNS_DIR/vqgan/model.keras)")  # fmt: skip

    def autoencoder(self, args):
        import keras

        path = Path(getattr(args, "autoencoder", None) or runs_dir() / "vqgan" / "model.keras")
        if not path.exists():
            raise RunError(f"no trained VQ-GAN at {path}: run `gdl train vqgan` first or "
                           f"pass --autoencoder PATH")  # fmt: skip
        model = keras.saving.load_model(path)
        return getattr(model, "generator", model)

    def load_data(self, args):
        ae = self.autoencoder(args)
        images = super().load_data(args).x
        if not isinstance(images, np.ndarray):
            images = np.concatenate([np.asarray(b) for b in images])
        x, y = ch10.prior_data(ae, images)
        return TrainData(x=x, y=y, batch_size=self.batch(args), info={"autoencoder": ae})

    def sample_info(self, args):
        return {"autoencoder": self.autoencoder(args)}

    def build(self, args, data):
        import keras

        from gdl.models.vqgan import make_prior

        ae = data.info["autoencoder"]
        model = make_prior(ae.quantizer.num_embeddings, ae.grid_shape)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        return model

    def sample(self, model, args, out, info):
        from gdl.models.vqgan import sample_from_prior

        images, _ = sample_from_prior(model, info["autoencoder"], getattr(args, "num", None)
                                      or 20, seed=getattr(args, "seed", None))  # fmt: skip
        return [save_grid(np.clip(images, -1, 1), out, ncols=10, value_range=(-1, 1), scale=2)]
