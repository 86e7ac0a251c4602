"""Training texts for the language models (chapter 5's LSTM, chapter 9's GPT)."""

from __future__ import annotations

from pathlib import Path

from gdl.errors import ConfigError, DatasetError


def load_texts(name: str, limit: int | None = None, pad: bool = False) -> list[str]:
    """Training strings of a registered text dataset (``recipes``, ``wines``) or a file.

    A ``.json`` file is read as wine reviews in the Wine Enthusiast format (``country``,
    ``province``, ``variety``, ``description``); any other file holds one text a line.
    ``limit`` keeps the first texts; ``pad=True`` pads punctuation into tokens (the book's
    ``pad_punctuation``, which both chapters apply before vectorizing).
    """
    path = Path(name)
    if path.is_file():
        if path.suffix.lower() == ".json":
            from gdl.data.text_sets import wines_from_json

            texts = wines_from_json(path)
        else:
            raw = path.read_bytes()
            try:
                lines = raw.decode("utf-8").splitlines()
            except UnicodeDecodeError as exc:
                raise DatasetError(
                    f"{path} is not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 4]!r}); "
                    "pass a text file with one training text a line (convert it to UTF-8)"
                ) from None
            texts = [t.strip() for t in lines if t.strip()]
        if not texts:
            raise DatasetError(f"{path} holds no training text (expected one text a line)")
    elif path.suffix:
        raise ConfigError(
            f"no file {path}: give a registered text dataset (recipes, wines), a .txt file with "
            f"one text a line or a .json file of wine reviews"
        )
    else:
        from gdl.data import load

        texts = load(name)
        if not texts:
            raise DatasetError(f"dataset {name!r} holds no text; check it with gdl data check {name}")
    texts = texts[:limit] if limit else texts
    if pad:
        from gdl.data.text import pad_punctuation

        texts = [pad_punctuation(t) for t in texts]
    return texts
