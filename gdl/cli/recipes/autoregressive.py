"""``gdl train lstm|pixelcnn|pixelcnn_md``: chapter 5's autoregressive models.

Offline data: ``--data digits`` (embedded) for the PixelCNNs; for the LSTM, any
registered text dataset (``recipes`` by default, ``wines``) or a ``.txt`` file with one
document per line. ``gdl sample lstm`` prints the generated text and writes it to a file;
the PixelCNN samplers write PNG grids.
"""

from __future__ import annotations

from pathlib import Path

from gdl.book.ch05_autoregressive import load_pixel_values
from gdl.book.texts import load_texts
from gdl.cli.recipes.base import (
    Recipe,
    TrainData,
    non_negative_float,
    positive_float,
    positive_int,
    probability,
    register,
)


# -- LSTM -------------------------------------------------------------------
@register
class LSTMRecipe(Recipe):
    name = "lstm"
    help = "chapter 5 LSTM text generator on Epicurious recipes (2,407,248 parameters)"
    chapter = "05"
    epochs = 25
    batch_size = 32
    default_data = "recipes"
    sample_suffix = ".txt"

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--vocab-size", type=int, default=10000, help="book: 10000")
        parser.add_argument("--seq-len", type=int, default=200, help="book: 200")
        parser.add_argument("--cell", choices=("lstm", "gru"), default="lstm")
        parser.add_argument("--layers", type=int, default=1, help="stacked recurrent layers")
        parser.add_argument("--bidirectional", action="store_true")
        parser.add_argument("--prompt", default="recipe for", help="sampling prompt")
        parser.add_argument("--max-tokens", type=positive_int, default=100)
        parser.add_argument("--temperature", type=non_negative_float, default=1.0)
        parser.add_argument("--top-k", type=positive_int, default=None)
        parser.add_argument("--top-p", type=probability, default=None)

    def load_data(self, args):
        from gdl.data.text import language_model_dataset, make_vectorizer

        texts = load_texts(args.data or self.default_data, pad=True)
        batch = args.batch_size or self.batch_size
        vectorize = make_vectorizer(texts, args.vocab_size, args.seq_len, batch)
        ds = language_model_dataset(texts, vectorize, batch_size=batch, seed=args.seed or 42)
        return TrainData(x=ds, info={"vocabulary": vectorize.get_vocabulary()})

    def build(self, args, data):
        from gdl.models.lstm import LSTMTextGenerator, compile_lstm

        model = LSTMTextGenerator(
            vocabulary=data.info["vocabulary"],
            cell=args.cell,
            num_layers=args.layers,
            bidirectional=args.bidirectional,
        )
        return compile_lstm(model)

    def sample(self, model, args, out, info):
        g = lambda k, d: getattr(args, k, d)  # noqa: E731  (epoch samples pass few options)
        seed = g("seed", None)
        texts = model.generate(
            g("prompt", "recipe for"),
            g("max_tokens", 100),
            g("temperature", 1.0),
            g("top_k", None),
            g("top_p", None),
            seed=seed,
            num=g("num", None) or 1,
        ).texts
        text = "\n\n".join(texts) + "\n"
        print(text)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        return [out]


# -- PixelCNNs --------------------------------------------------------------
class _PixelRecipe(Recipe):
    chapter = "05"
    batch_size = 128
    default_data = "fashion_mnist"
    image_size = 16
    default_num = 10

    filters = 128
    blocks = 5

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument(
            "--image-size",
            type=int,
            default=None,
            help=f"default {cls.image_size} ({cls.digits_size} with --data digits)",
        )
        parser.add_argument("--filters", type=int, default=cls.filters, help=f"book: {cls.filters}")
        parser.add_argument(
            "--blocks", type=int, default=cls.blocks, help=f"residual blocks (book: {cls.blocks})"
        )
        parser.add_argument("--temperature", type=positive_float, default=1.0)

    #: the image size on the embedded digits (8x8 originals; sized for a CPU)
    digits_size = 16

    def levels(self):
        return None

    def size(self, args) -> int:
        if args.image_size:
            return args.image_size
        return self.digits_size if args.data == "digits" else self.image_size

    def load_data(self, args):
        args.image_size = self.size(args)
        train, test = load_pixel_values(
            args.data or self.default_data, args.image_size, self.levels(), seed=args.seed or 0
        )
        return TrainData(
            x=train,
            validation=(test,),
            batch_size=args.batch_size or self.batch_size,
            info={"x_test": test},
        )

    def model(self, args):  # pragma: no cover - overridden
        raise NotImplementedError

    def build(self, args, data):
        from gdl.models.pixelcnn import compile_pixelcnn

        return compile_pixelcnn(self.model(args))

    def sample(self, model, args, out, info):
        from gdl.plotting import save_grid

        n = getattr(args, "num", None) or self.default_num
        images = model.generate(
            n, temperature=getattr(args, "temperature", 1.0), seed=getattr(args, "seed", None)
        )
        top = (model.pixel_levels - 1) if hasattr(model, "pixel_levels") else 255
        return [save_grid(images, out, ncols=min(n, 10), value_range=(0, top), scale=4)]


@register
class PixelCNNRecipe(_PixelRecipe):
    name = "pixelcnn"
    help = "chapter 5 PixelCNN, 16x16 Fashion-MNIST with 4 pixel levels (307,460 parameters)"
    epochs = 150

    def levels(self):
        return 4

    def model(self, args):
        from gdl.models.pixelcnn import PixelCNN

        return PixelCNN(args.image_size, 4, args.filters, args.blocks)


@register
class PixelCNNMixtureRecipe(_PixelRecipe):
    name = "pixelcnn_md"
    help = ("chapter 5 PixelCNN++ (the book's tfp PixelCNN network, 624,990 parameters), "
            "a mixture of 5 discretized logistics, 32x32 Fashion-MNIST")  # fmt: skip
    epochs = 10
    image_size = 32
    default_num = 4
    filters = 32
    blocks = 1

    @classmethod
    def add_arguments(cls, parser):
        super().add_arguments(parser)
        parser.add_argument("--components", type=int, default=5, help="book: 5")
        parser.add_argument("--hierarchies", type=int, default=2, help="book: 2")
        parser.add_argument("--dropout", type=float, default=0.3, help="book: 0.3")

    def model(self, args):
        from gdl.models.pixelcnn import PixelCNNPlusPlus

        return PixelCNNPlusPlus(args.image_size, args.components, args.filters, args.blocks,
                                args.hierarchies, args.dropout)  # fmt: skip

    def build(self, args, data):
        model = super().build(args, data)
        # TFP's data-dependent init on the first batch (a resumed run then loads its weights)
        return model.initialize_from_data(data.x[: data.batch_size])
