"""``gdl train gpt`` / ``gdl sample gpt --prompt "wine review : us"``: chapter 9's GPT.

Data: the book's wine reviews (``gdl data download wines``), or ``--data FILE`` with your
own JSON file in the Wine Enthusiast format (``country``, ``province``, ``variety``,
``description``) or a text file with one training text per line. The vocabulary is stored
inside the saved model, so ``gdl sample gpt`` needs only ``model.keras``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gdl.cli.recipes.base import Recipe, TrainData, register
from gdl.config import pick, smoke_mode


def load_texts(data: str, limit: int | None = None) -> list[str]:
    """Training strings from a dataset name or a file (``.json`` wine reviews, else lines)."""
    path = Path(data)
    if path.is_file():
        if path.suffix.lower() == ".json":
            from gdl.data.text_sets import wines_from_json

            texts = wines_from_json(path)
        else:
            texts = [t.strip() for t in path.read_text(encoding="utf-8").splitlines()]
            texts = [t for t in texts if t]
        if not texts:
            raise SystemExit(f"{path} holds no training text")
    else:
        from gdl.data import load

        texts = load(data)
    return texts[:limit] if limit else texts


def write_generation(model, gen, path: Path, html: bool = True) -> list[Path]:
    """The texts of a :class:`~gdl.generation.Generation` (one per line) and, next to it,
    the attention view and top-5 table of the first row as HTML."""
    from gdl.models.gpt import attention_html, top_k_table

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(gen.texts) + "\n", encoding="utf-8")
    paths = [path]
    if html:
        rows = "".join(
            f"<tr><td>{r['chosen']}</td><td>"
            + ", ".join(f"{w} {100 * p:.1f}%" for w, p in r["candidates"])
            + "</td></tr>"
            for r in top_k_table(gen, max_steps=gen.num_steps)
        )
        page = (
            "<html><body><h3>attention of each generated word</h3>"
            + attention_html(gen, max_steps=gen.num_steps)
            + "<h3>top-5 next words</h3><table>"
            + rows
            + "</table></body></html>"
        )
        html_path = path.with_suffix(".html")
        html_path.write_text(page, encoding="utf-8")
        paths.append(html_path)
    return paths


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
        parser.add_argument("--temperature", type=float, default=1.0, help="0 = greedy")
        parser.add_argument("--top-k", type=int, default=None, help="sample from the k best")
        parser.add_argument("--top-p", type=float, default=None, help="nucleus sampling")
        parser.add_argument(
            "--max-tokens", type=int, default=80, help="length of prompt + text (<= max_len)"
        )
        parser.add_argument("--limit", type=int, default=None, help="use the first N texts")
        parser.add_argument("--vocab-size", type=int, default=10000, help="book: 10000")
        parser.add_argument("--max-len", type=int, default=80, help="book: 80")

    def load_data(self, args: argparse.Namespace) -> TrainData:
        from gdl.data.text import language_model_dataset, make_vectorizer, pad_punctuation

        limit = args.limit or (256 if smoke_mode() else None)
        texts = [pad_punctuation(t) for t in load_texts(args.data or self.default_data, limit)]
        batch = args.batch_size or self.batch_size
        vectorize = make_vectorizer(texts, args.vocab_size, args.max_len, batch)
        ds = language_model_dataset(texts, vectorize, batch_size=batch)
        return TrainData(x=ds, info={"vocabulary": vectorize.get_vocabulary()})

    def build(self, args, data):
        from gdl.models.gpt import GPT

        vocab = data.info["vocabulary"]
        model = GPT(vocab_size=len(vocab), max_len=args.max_len, vocabulary=vocab)
        model.compile(optimizer="adam")
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
        return write_generation(model, gen, Path(out))

    def epoch_sample(self, model, out, info):
        gen = model.generate("wine review", max_tokens=model.max_len, temperature=1.0, seed=0)
        return write_generation(model, gen, Path(out), html=False)
