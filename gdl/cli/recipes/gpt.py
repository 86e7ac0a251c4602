"""``gdl train gpt`` / ``gdl sample gpt --prompt "wine review : us"``: chapter 9's GPT.

Data: the book's wine reviews (``gdl data download wines``), or ``--data FILE`` with your
own JSON file in the Wine Enthusiast format (``country``, ``province``, ``variety``,
``description``) or a text file with one training text per line. The vocabulary is stored
inside the saved model, so ``gdl sample gpt`` needs only ``model.keras``.
"""

from __future__ import annotations

import argparse

from gdl.book.ch09_transformer import write_generation
from gdl.book.texts import load_texts
from gdl.cli.recipes.base import (
    Recipe,
    TrainData,
    non_negative_float,
    positive_int,
    probability,
    register,
)
from gdl.config import pick, smoke_mode


@register
class GPTRecipe(Recipe):
    name = "gpt"
    help = "chapter 9 miniature GPT on wine reviews (5,809,168 parameters)"
    chapter = "09"
    epochs = 5
    batch_size = 32
    default_data = "wines"
    sample_suffix = ".txt"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--prompt", default="wine review", help="start of the text")
        parser.add_argument("--temperature", type=non_negative_float, default=1.0, help="0 = greedy")
        parser.add_argument("--top-k", type=positive_int, default=None, help="sample from the k best")
        parser.add_argument("--top-p", type=probability, default=None, help="nucleus sampling")
        parser.add_argument(
            "--max-tokens", type=positive_int, default=80, help="length of prompt + text (<= max_len)"
        )
        parser.add_argument("--limit", type=int, default=None, help="use the first N texts")
        parser.add_argument("--vocab-size", type=int, default=10000, help="book: 10000")
        parser.add_argument("--max-len", type=int, default=80, help="book: 80")

    def load_data(self, args: argparse.Namespace) -> TrainData:
        from gdl.data.text import language_model_dataset, make_vectorizer

        limit = args.limit or (256 if smoke_mode() else None)
        texts = load_texts(args.data or self.default_data, limit, pad=True)
        batch = args.batch_size or self.batch_size
        vectorize = make_vectorizer(texts, args.vocab_size, args.max_len, batch)
        ds = language_model_dataset(texts, vectorize, batch_size=batch)
        return TrainData(x=ds, info={"vocabulary": vectorize.get_vocabulary()})

    def build(self, args, data):
        from gdl.models.gpt import GPT

        vocab = data.info["vocabulary"]
        model = GPT(vocab_size=len(vocab), max_len=args.max_len, vocabulary=vocab)
        model.compile()
        return model

    def sample(self, model, args, out, info):
        gen = model.generate(
            getattr(args, "prompt", "wine review"),
            max_tokens=min(getattr(args, "max_tokens", 80), model.max_len),
            temperature=getattr(args, "temperature", 1.0),
            top_k=getattr(args, "top_k", None),
            top_p=getattr(args, "top_p", None),
            seed=getattr(args, "seed", None),
            num=getattr(args, "num", None) or pick(3, 2),
        )
        return write_generation(gen, out)

    def epoch_sample(self, model, out, info):
        gen = model.generate("wine review", max_tokens=model.max_len, temperature=1.0, seed=0)
        return write_generation(gen, out, html=False)
