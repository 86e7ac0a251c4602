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

from gdl.book.images import first_images
from gdl.cli.recipes.base import TrainData, register
from gdl.cli.recipes.vae_gan import _GANRecipe
from gdl.config import runs_dir
from gdl.plotting import save_grid


class _AdvancedRecipe(_GANRecipe):
    chapter = "10"
    default_data = "faces"
    epochs = 20
    batch_size = 32

    def small(self, data) -> bool:
        return data.info["image_size"] == 32

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

    def build(self, args, data):
        from gdl.models.progan import ProGAN

        filters = (64, 64, 32, 16) if self.small(data) else (256, 256, 256, 128, 64)
        model = ProGAN(filters=filters, channels=data.info["channels"], latent_dim=64
                       if self.small(data) else 128, phase_steps=200 if self.small(data)
                       else 2000)  # fmt: skip
        model.compile()
        return model

    def sample(self, model, args, out, info):
        images = model.generate(getattr(args, "num", None) or 30,
                                seed=getattr(args, "seed", None), upsample=True)  # fmt: skip
        return [save_grid(images, out, ncols=10, value_range=(-1, 1), scale=2)]


@register
class SAGANRecipe(_AdvancedRecipe):
    name = "sagan"
    help = "chapter 10 SAGAN (self-attention, spectral norm, hinge loss); sample: images"

    def build(self, args, data):
        from gdl.models.sagan import SAGAN

        kw = dict(g_filters=(128, 64, 32), d_filters=(32, 64, 128), attention_resolution=16,
                  latent_dim=64) if self.small(data) else {}  # fmt: skip
        model = SAGAN(image_size=data.info["image_size"], channels=data.info["channels"], **kw)
        model.compile()
        return model


@register
class StyleGANRecipe(_AdvancedRecipe):
    name = "stylegan"
    help = ("chapter 10 StyleGAN2 (mapping, modulated convs, mixing, lazy R1 + path length); "
            "sample: style-mixing grid (--truncation psi)")  # fmt: skip

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--truncation", type=float, default=1.0,
                            help="truncation psi for sampling (1: none)")  # fmt: skip

    def build(self, args, data):
        from gdl.models.stylegan import StyleGAN2

        kw = dict(filters=(64, 64, 32, 16), latent_dim=64, w_dim=64, mapping_layers=4,
                  r1_gamma=0.1) if self.small(data) else {}  # fmt: skip
        model = StyleGAN2(channels=data.info["channels"], **kw)
        model.compile()
        return model

    def sample(self, model, args, out, info):
        tiles, _ = model.style_mixing_grid(3, 4, seed=getattr(args, "seed", None) or 0,
                                           truncation_psi=getattr(args, "truncation", 1.0))
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

    def build(self, args, data):
        from gdl.models.vqgan import VQGAN

        size, c = data.info["image_size"], data.info["channels"]
        model = VQGAN(image_shape=(size, size, c), filters=(32, 64) if size == 32 else
                      (64, 128, 128))  # fmt: skip
        model.compile()
        return model

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
            raise SystemExit(f"no trained VQ-GAN at {path}: run `gdl train vqgan` first or "
                             f"pass --autoencoder PATH")  # fmt: skip
        model = keras.saving.load_model(path)
        return getattr(model, "generator", model)

    def load_data(self, args):
        ae = self.autoencoder(args)
        images = super().load_data(args).x
        if not isinstance(images, np.ndarray):
            images = np.concatenate([np.asarray(b) for b in images])
        from gdl.models.vqgan import prior_tokens

        x, y = prior_tokens(ae.encode_indices(images))
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
