"""Tokenizers that models own and save with themselves (in their ``.keras`` config).

:class:`WordTokenizer` is the book's text preparation for the LSTM (chapter 5) and the
GPT (chapter 9): :func:`pad_punctuation` (a space each side of every punctuation mark),
lower case, whitespace split, then the ``TextVectorization`` vocabulary (index 0 is
padding ``""``, 1 is ``"[UNK]"``). Text conversion is ``tokenize`` (text -> ids) and
``detokenize`` (ids -> text) everywhere in gdl; ``encode``/``decode`` are reserved for
tensors (latent codes).

    tok = WordTokenizer(vectorizer.get_vocabulary())
    tok.tokenize("Recipe for soup.")   # [ids of "recipe", "for", "soup", "."]
    tok.detokenize([5, 6, 0, 0])       # "recipe for" (padding dropped)

:class:`CaptionTokenizer` (chapter 13) is the same word-level tokenizer with two more
special tokens, ``[START]`` (2) and ``[END]`` (3), built from a list of captions and
turning a batch of captions into a padded ``(B, length)`` array
(``[START] words [END] 0 0 ...``): CLIP's text encoder pools at the last real token (the
``[END]``), the captioner starts generating from ``[START]`` and stops at ``[END]``.

The GPT notebook's regex puts ``,`` ``'`` space and newline inside the character class
(a copy-paste slip); :func:`pad_punctuation` uses the recipes' clean class.
"""

from __future__ import annotations

import re
import string

import keras

__all__ = ["CaptionTokenizer", "WordTokenizer", "pad_punctuation"]

_PUNCT = re.compile(f"([{re.escape(string.punctuation)}])")
_SPACES = re.compile(" +")


def pad_punctuation(s: str) -> str:
    """``"chop 1/2 onion."`` -> ``"chop 1 / 2 onion . "``-like: spaces around each mark,
    one space runs."""
    return _SPACES.sub(" ", _PUNCT.sub(r" \1 ", s))


@keras.saving.register_keras_serializable(package="gdl")
class WordTokenizer:
    """Words <-> ids with a fixed vocabulary (serializable, saved with the model).

    Args:
        vocabulary: list of words; index 0 is padding (``""``), 1 is ``"[UNK]"`` (as
            ``TextVectorization.get_vocabulary()`` returns it).
        unknown_id: the id of words not in the vocabulary (1).
    """

    def __init__(self, vocabulary, unknown_id: int = 1):
        self.vocabulary = [str(w) for w in vocabulary]
        if not self.vocabulary:
            raise ValueError("WordTokenizer needs a non-empty vocabulary")
        self.unknown_id = int(unknown_id)
        self._index = {w: i for i, w in enumerate(self.vocabulary)}

    @classmethod
    def from_any(cls, tokenizer=None, vocabulary=None):
        """A tokenizer from a :class:`WordTokenizer`, its serialized config, or a vocabulary
        (``None`` when neither is given)."""
        if tokenizer is None:
            return None if vocabulary is None else cls(vocabulary)
        if isinstance(tokenizer, dict):
            tokenizer = keras.saving.deserialize_keras_object(tokenizer)
        if not isinstance(tokenizer, cls):
            raise TypeError(f"expected a WordTokenizer, got {type(tokenizer).__name__}")
        return tokenizer

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    @staticmethod
    def standardize(text: str) -> str:
        """The book's preparation: ``pad_punctuation(text).lower()``."""
        return pad_punctuation(text).lower()

    def tokenize(self, text: str) -> list[int]:
        """Text -> ids (unknown words -> ``unknown_id``)."""
        return [self._index.get(w, self.unknown_id) for w in self.standardize(text).split()]

    def detokenize(self, ids) -> str:
        """Ids -> text: words joined by spaces, padding (0) left out."""
        return " ".join(self.vocabulary[int(i)] for i in ids if int(i) != 0)

    def words(self, ids) -> list[str]:
        return [self.vocabulary[int(i)] for i in ids if int(i) != 0]

    def get_config(self) -> dict:
        return {"vocabulary": self.vocabulary, "unknown_id": self.unknown_id}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, WordTokenizer) and self.get_config() == other.get_config()

    __hash__ = object.__hash__


@keras.saving.register_keras_serializable(package="gdl")
class CaptionTokenizer(WordTokenizer):
    """Caption words <-> ids, with ``[START]``/``[END]`` (serializable, saved with models).

    ``vocabulary[:4]`` must be ``["", "[UNK]", "[START]", "[END]"]``;
    :meth:`from_texts` builds such a vocabulary (words sorted by count, then
    alphabetically). ``tokenize(text)`` gives the words' ids only;
    :meth:`tokenize_batch` adds ``[START]``/``[END]`` and pads. :meth:`detokenize` drops
    padding and the special tokens (and stops at ``[END]``).
    """

    SPECIALS = ("", "[UNK]", "[START]", "[END]")
    pad_id, start_id, end_id = 0, 2, 3

    def __init__(self, vocabulary, unknown_id: int = 1):
        super().__init__(vocabulary, unknown_id)
        if tuple(self.vocabulary[:4]) != self.SPECIALS:
            raise ValueError(f"a CaptionTokenizer vocabulary starts with {list(self.SPECIALS)}; "
                             f"build one with CaptionTokenizer.from_texts(captions)")  # fmt: skip

    @classmethod
    def from_texts(cls, texts, max_words: int | None = None) -> CaptionTokenizer:
        """A tokenizer whose vocabulary holds the words of ``texts`` (the ``max_words``
        most frequent ones when given)."""
        from collections import Counter

        counts = Counter(w for t in texts for w in cls.standardize(t).split())
        words = sorted(counts, key=lambda w: (-counts[w], w))[:max_words]
        return cls([*cls.SPECIALS, *(w for w in words if w not in cls.SPECIALS)])

    def tokenize_batch(self, texts, length: int):
        """``(len(texts), length)`` int32 array: ``[START] ids [END]`` then zeros (rows
        longer than ``length`` are cut, keeping ``[END]`` as the last token)."""
        import numpy as np

        if isinstance(texts, str):
            texts = [texts]
        out = np.zeros((len(texts), length), dtype="int32")
        for i, text in enumerate(texts):
            ids = [self.start_id, *self.tokenize(text)][: length - 1] + [self.end_id]
            out[i, : len(ids)] = ids
        return out

    def detokenize(self, ids) -> str:
        return " ".join(self.words(ids))

    def words(self, ids) -> list[str]:
        out = []
        for i in ids:
            i = int(i)
            if i == self.end_id:
                break
            if i not in (self.pad_id, self.start_id):
                out.append(self.vocabulary[i])
        return out
