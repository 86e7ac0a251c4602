"""``gdl train realnvp|ebm|ddim``: chapters 6-8 (normalising flow, energy-based model,
diffusion). Offline data: ``moons`` (RealNVP's own, embedded) and ``--data digits``
(EBM, DDIM). The data and figures come from :mod:`gdl.book` (what the notebooks call).
"""

from __future__ import annotations

import argparse

import numpy as np

from gdl.book.ch06_normflow import held_out_moons, moons_data, save_flow_figure
from gdl.book.ch07_ebm import buffer_sample, ebm_data
from gdl.book.ch08_diffusion import diffusion_data
from gdl.cli.recipes.base import Recipe, TrainData, register
from gdl.config import pick
from gdl.errors import ConfigError


@register
class RealNVPRecipe(Recipe):
    name = "realnvp"
    help = (
        "chapter 6 RealNVP normalising flow on two moons (794,632 parameters); loss / "
        "val_loss: the book's NLL in nats per point (train / held out), l2_penalty apart"
    )
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
            raise ConfigError("RealNVP trains on the embedded two moons: pass --data moons")
        data, norm = moons_data(pick(30000, 2000))
        # val_loss: the book-comparable NLL (nats per point) on held-out moons
        return TrainData(x=data, validation=(held_out_moons(norm, pick(3000, 500)),),
                         batch_size=args.batch_size or self.batch_size,
                         info={"data": data})  # fmt: skip

    def build(self, args, data):

        from gdl.models.realnvp import RealNVP

        model = RealNVP(coupling_layers=getattr(args, "coupling_layers", 2), seed=args.seed)
        model.compile()
        return model

    def sample_info(self, args):
        return {"data": moons_data(3000)[0]}

    def sample(self, model, args, out, info):
        return [
            save_flow_figure(
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

        from gdl.models.ebm import EBM

        model = EBM(seed=args.seed)
        model.compile()
        return model

    def sample(self, model, args, out, info):
        from gdl.plotting import save_grid

        n = getattr(args, "num", None) or 10
        steps = getattr(args, "langevin_steps", None) or pick(1000, 20)
        images = model.generate(n, steps=steps, seed=getattr(args, "seed", None))
        return [save_grid(images, out, ncols=min(n, 10), value_range=(-1, 1), scale=2)]

    def epoch_sample(self, model, out, info):
        """Book's ``ImageGenerator``: 10 images from noise, then 10 buffer examples."""
        return [buffer_sample(10, steps=pick(1000, 20))(model, out)]


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

        from gdl.models.diffusion import DiffusionModel

        size, _, channels = data.info["image_shape"]
        sizes = {k: v for k, v in self.reader(args).items() if k == "ema"}  # book: 0.999
        model = DiffusionModel(image_size=size, channels=channels, seed=args.seed, **sizes)
        model.adapt(data.x)
        model.compile()
        return model

    def sample(self, model, args, out, info):
        from gdl.plotting import save_grid

        n = getattr(args, "num", None) or 10
        steps = getattr(args, "diffusion_steps", None) or 20
        images = model.generate(n, diffusion_steps=steps, seed=getattr(args, "seed", None))
        return [save_grid(images, out, ncols=min(n, 10), value_range=(0, 1), scale=2)]

    def epoch_sample(self, model, out, info):
        return self.sample(model, argparse.Namespace(num=10, seed=0, diffusion_steps=20), out, info)
