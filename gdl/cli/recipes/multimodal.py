"""``gdl train clip|text2image|prior|unclip_decoder|captioner``: chapter 13 on captioned
digits (embedded, offline; ``--data FOLDER`` with a ``captions.csv`` for your own pairs).

``prior``, ``unclip_decoder`` and ``captioner`` build on a trained CLIP (``--clip PATH``,
default ``runs/clip/model.keras``: run ``gdl train clip`` first). ``gdl sample text2image
--prompt "a thick seven" --guidance 3`` writes a grid of generated digits. The data and
measures are :mod:`gdl.book.ch13_multimodal`'s, shared with the notebooks.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gdl.cli.recipes.base import Recipe, TrainData, register
from gdl.config import pick, runs_dir


def _data(args):
    from gdl.book.ch13_multimodal import caption_data

    data = getattr(args, "data", None)
    return caption_data(data, limit=pick(None, 128))


def _load_clip(args):
    import keras

    path = Path(getattr(args, "clip", None) or runs_dir() / "clip" / "model.keras")
    if not path.exists():
        raise SystemExit(f"no trained CLIP at {path}: run `gdl train clip` first or pass "
                         f"--clip PATH")  # fmt: skip
    return keras.saving.load_model(path)


def _default(cls, name: str):
    """A constructor default of ``cls`` (book defaults live once, in the models)."""
    import inspect

    return inspect.signature(cls).parameters[name].default


def _clip_argument(parser):
    parser.add_argument("--clip", help="a trained CLIP .keras (default: runs/clip/model.keras)")


class _CaptionRecipe(Recipe):
    chapter = "13"
    batch_size = 64
    default_data = "captioned_digits"

    def sample_info(self, args):
        return {"test": _data(args)[1]}


@register
class CLIPRecipe(_CaptionRecipe):
    name = "clip"
    help = "chapter 13 CLIP: text Transformer + CNN, contrastive loss, zero-shot digits"
    epochs = 30

    def load_data(self, args):
        from gdl.models.clip import CLIP

        train, test, tok = _data(args)
        tokens = tok.tokenize_batch(train.captions, _default(CLIP, "max_len"))
        return TrainData(x=(train.images, tokens), batch_size=args.batch_size or self.batch_size,
                         info={"test": test, "tokenizer": tok})  # fmt: skip

    def build(self, args, data):
        from gdl.models.clip import CLIP

        model = CLIP(tokenizer=data.info["tokenizer"], seed=args.seed)
        model.compile()
        return model

    def sample(self, model, args, out, info):
        """The similarity matrix of 8 held-out images and their captions (PNG)."""
        from gdl.book.ch13_multimodal import similarity_figure

        test = info["test"]
        n = min(getattr(args, "num", None) or 8, len(test))
        fig = similarity_figure(model, test.images[:n], test.captions[:n])
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)
        return [out]


@register
class TextToImageRecipe(_CaptionRecipe):
    name = "text2image"
    help = "chapter 13 text-to-image diffusion (pixel space) with classifier-free guidance"
    epochs = 60

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--prompt", default="a thick seven", help="the caption to draw")
        parser.add_argument("--guidance", type=float, default=3.0,
                            help="classifier-free guidance scale w (0: unconditional)")  # fmt: skip
        parser.add_argument("--diffusion-steps", type=int, default=20, help="DDIM steps")

    def load_data(self, args):
        from gdl.models.text2image import TextToImageDiffusion

        train, test, tok = _data(args)
        tokens = tok.tokenize_batch(train.captions, _default(TextToImageDiffusion, "max_len"))
        return TrainData(x=(train.images, tokens),
                         batch_size=args.batch_size or self.batch_size,
                         info={"tokenizer": tok, "images": train.images})  # fmt: skip

    def build(self, args, data):
        from gdl.models.text2image import TextToImageDiffusion

        model = TextToImageDiffusion(tokenizer=data.info["tokenizer"], seed=args.seed)
        model.adapt(data.info["images"])
        model.compile()
        return model

    def sample(self, model, args, out, info):
        from gdl.plotting import save_grid

        n = getattr(args, "num", None) or 8
        images = model.generate(getattr(args, "prompt", None) or "a thick seven", num=n,
                                guidance=getattr(args, "guidance", 3.0),
                                diffusion_steps=getattr(args, "diffusion_steps", None) or 20,
                                seed=getattr(args, "seed", None))  # fmt: skip
        return [save_grid(images, out, ncols=min(n, 8), value_range=(0, 1), scale=4)]

    def sample_info(self, args):
        return {}


@register
class PriorRecipe(_CaptionRecipe):
    name = "prior"
    help = "chapter 13 DALL·E 2 diffusion prior: CLIP text embedding -> image embedding"
    epochs = 100

    @classmethod
    def add_arguments(cls, parser):
        _clip_argument(parser)
        parser.add_argument("--prompt", default="a photo of the digit seven",
                            help="caption for the sample")  # fmt: skip

    def load_data(self, args):
        clip = _load_clip(args)
        train, test, _ = _data(args)
        x = (clip.encode_text(train.captions), clip.encode_images(train.images))
        return TrainData(x=x, batch_size=args.batch_size or self.batch_size,
                         info={"clip": clip, "test": test})  # fmt: skip

    def build(self, args, data):
        from gdl.models.unclip import DiffusionPrior

        model = DiffusionPrior(embedding_dim=data.info["clip"].embed_dim, seed=args.seed)
        model.compile()
        return model

    def sample_info(self, args):
        return {"clip": _load_clip(args), "test": _data(args)[1]}

    def sample(self, model, args, out, info):
        """The held-out images nearest to 8 prior samples for the prompt (PNG)."""
        from gdl.plotting import save_grid

        clip, test = info["clip"], info["test"]
        n = getattr(args, "num", None) or 8
        prompt = getattr(args, "prompt", None) or "a photo of the digit seven"
        text = np.repeat(clip.encode_text([prompt]), n, axis=0)
        emb = model.generate(text, seed=getattr(args, "seed", None))
        nearest = (emb @ clip.encode_images(test.images).T).argmax(axis=1)
        return [save_grid(test.images[nearest], out, ncols=n, value_range=(0, 1), scale=4)]


@register
class UnCLIPDecoderRecipe(_CaptionRecipe):
    name = "unclip_decoder"
    help = "chapter 13 DALL·E 2 decoder: images from CLIP image embeddings, variations"
    epochs = 60

    @classmethod
    def add_arguments(cls, parser):
        _clip_argument(parser)

    def load_data(self, args):
        clip = _load_clip(args)
        train, test, _ = _data(args)
        return TrainData(x=(train.images, clip.encode_images(train.images)),
                         batch_size=args.batch_size or self.batch_size,
                         info={"clip": clip, "test": test, "images": train.images})  # fmt: skip

    def build(self, args, data):
        from gdl.models.text2image import UnCLIPDecoder

        model = UnCLIPDecoder(embedding_dim=data.info["clip"].embed_dim, seed=args.seed)
        model.adapt(data.info["images"])
        model.compile()
        return model

    def sample_info(self, args):
        return {"clip": _load_clip(args), "test": _data(args)[1]}

    def sample(self, model, args, out, info):
        """A held-out image, then 7 variations decoded from its CLIP embedding (PNG)."""
        from gdl.plotting import save_grid

        image = info["test"].images[:1]
        emb = info["clip"].encode_images(image)
        n = getattr(args, "num", None) or 7
        variations = model.variations(emb, num=n, seed=getattr(args, "seed", None))
        return [save_grid(np.concatenate([image, variations]), out, ncols=n + 1,
                          value_range=(0, 1), scale=4)]  # fmt: skip


@register
class CaptionerRecipe(_CaptionRecipe):
    name = "captioner"
    help = "chapter 13 Flamingo-style captioner: frozen CLIP image CNN, resampler, gated GPT"
    epochs = 40
    sample_suffix = ".txt"

    @classmethod
    def add_arguments(cls, parser):
        _clip_argument(parser)

    def load_data(self, args):
        clip = _load_clip(args)
        train, test, _ = _data(args)
        from gdl.models.flamingo import FlamingoCaptioner

        length = _default(FlamingoCaptioner, "max_len") + 1
        tokens = clip.tokenizer.tokenize_batch(train.captions, length)
        return TrainData(x=(train.images, tokens[:, :-1]), y=tokens[:, 1:],
                         batch_size=args.batch_size or self.batch_size,
                         info={"clip": clip, "test": test})  # fmt: skip

    def build(self, args, data):
        from gdl.models.flamingo import FlamingoCaptioner

        clip = data.info["clip"]
        model = FlamingoCaptioner(image_encoder=clip.image_features, tokenizer=clip.tokenizer,
                                  vocab_size=clip.vocab_size, image_size=clip.image_size,
                                  channels=clip.channels, seed=args.seed)  # fmt: skip
        model.compile()
        return model

    def sample(self, model, args, out, info):
        """Greedy captions of held-out images, one per line, with the true caption."""
        test = info["test"]
        n = min(getattr(args, "num", None) or 10, len(test))
        texts = model.caption(test.images[:n])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(f"{t}\t(true: {c})\n" for t, c in zip(texts, test.captions)))
        print(out.read_text(), end="")
        return [out]

    def epoch_sample(self, model, out, info):
        return self.sample(model, argparse.Namespace(num=5), out, info)
