"""Chapter 5 LSTM text generator (book: ``05_autoregressive/01_lstm``).

``Embedding(10000, 100) -> LSTM(128, return_sequences=True) -> Dense(10000, softmax)``,
2,407,248 parameters with the defaults, trained with Adam and sparse categorical
cross-entropy on ``x = tokens[:-1]``, ``y = tokens[1:]`` (:func:`compile_lstm`,
:func:`gdl.data.text.language_model_dataset`). Options the chapter discusses: ``cell="gru"``,
``num_layers`` (stacked), ``bidirectional`` (the chapter's bidirectional cells; such a
model reads the tokens it must predict, so it is for comparison only and its
``generate`` is not a language model's).

Differences from the book: the vocabulary is part of the model (its config), so a
saved ``.keras`` file generates text on its own; ``generate`` adds top-k / top-p
(:mod:`gdl.sampling`) and ``temperature=0`` (greedy); the ``TextGenerator`` callback's
``top_k`` is honoured (the book ignores it).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from gdl.data.text import pad_punctuation
from gdl.sampling import filter_probs, sample_from_probs

_CELLS = {"lstm": layers.LSTM, "gru": layers.GRU}


@keras.saving.register_keras_serializable(package="gdl")
class LSTMTextGenerator(keras.Model):
    """Next-token model over a vocabulary (index 0 = padding ``""``, 1 = ``"[UNK]"``).

    ``vocabulary`` (list of str) sets ``vocab_size``; without it the model has
    ``vocab_size`` tokens and cannot map words (``generate`` needs a vocabulary).
    Call it on int token ids ``(batch, time)``; it returns next-token probabilities
    ``(batch, time, vocab_size)``.
    """

    def __init__(
        self,
        vocabulary=None,
        vocab_size: int = 10000,
        embedding_dim: int = 100,
        units: int = 128,
        cell: str = "lstm",
        num_layers: int = 1,
        bidirectional: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
        self.vocabulary = list(vocabulary) if vocabulary is not None else None
        self.vocab_size = len(self.vocabulary) if self.vocabulary else int(vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.units = int(units)
        self.cell = cell
        self.num_layers = int(num_layers)
        self.bidirectional = bool(bidirectional)
        self._word_index = {w: i for i, w in enumerate(self.vocabulary or [])}
        self.embedding = layers.Embedding(self.vocab_size, self.embedding_dim)
        self.recurrent = []
        for _ in range(self.num_layers):
            rnn = _CELLS[cell](self.units, return_sequences=True)
            self.recurrent.append(layers.Bidirectional(rnn) if bidirectional else rnn)
        self.classifier = layers.Dense(self.vocab_size, activation="softmax")
        self.build((None, None))

    def build(self, input_shape):
        self.embedding.build(input_shape)
        width = self.embedding_dim
        for rnn in self.recurrent:
            rnn.build((None, None, width))
            width = self.units * (2 if self.bidirectional else 1)
        self.classifier.build((None, None, width))
        self.built = True

    def call(self, tokens, training=None):
        if len(tokens.shape) != 2:
            raise ValueError(
                f"LSTMTextGenerator expects token ids of shape (batch, time), got {tuple(tokens.shape)}"
            )
        x = self.embedding(tokens)
        for rnn in self.recurrent:
            x = rnn(x, training=training)
        return self.classifier(x)

    # -- text ------------------------------------------------------------
    def _require_vocabulary(self):
        if not self.vocabulary:
            raise ValueError(
                "this model has no vocabulary; build it with "
                "LSTMTextGenerator(vocabulary=vectorizer.get_vocabulary())"
            )

    def tokenize(self, text: str) -> list[int]:
        """Words of ``pad_punctuation(text).lower()`` to ids (unknown words -> 1, ``[UNK]``)."""
        self._require_vocabulary()
        return [self._word_index.get(w, 1) for w in pad_punctuation(text).lower().split()]

    def detokenize(self, ids) -> str:
        self._require_vocabulary()
        return " ".join(self.vocabulary[int(i)] for i in ids)

    def generate(
        self,
        prompt: str,
        max_tokens: int = 100,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed=None,
        return_info: bool = False,
    ):
        """Continue ``prompt`` one token at a time, like the book's ``TextGenerator.generate``.

        Stops when the text holds ``max_tokens`` tokens (prompt included, as in the book)
        or the padding token 0 is drawn. ``temperature`` reshapes ``p`` to ``p**(1/T)``
        (0 = greedy); ``top_k``/``top_p`` restrict the candidates. With
        ``return_info=True`` also returns the book's ``info`` list:
        ``[{"prompt": text so far, "word_probs": distribution sampled from}, ...]``.
        """
        rng = np.random.default_rng(seed)
        tokens = self.tokenize(prompt)
        info = []
        sample = None
        while len(tokens) < max_tokens and sample != 0:
            probs = ops.convert_to_numpy(self(np.array([tokens], "int32"), training=False))[0, -1]
            probs = filter_probs(probs, temperature, top_k, top_p)
            sample = int(sample_from_probs(probs, rng=rng))
            info.append({"prompt": self.detokenize(tokens), "word_probs": probs})
            tokens.append(sample)
        text = self.detokenize(t for t in tokens if t != 0)
        return (text, info) if return_info else text

    def perplexity(self, dataset) -> float:
        """``exp`` of the mean cross-entropy over the non-padding targets of ``(x, y)`` batches."""
        total, count = 0.0, 0
        for x, y in dataset:
            p = ops.convert_to_numpy(self(x, training=False))
            y = np.asarray(y)
            picked = np.take_along_axis(p, y[..., None], axis=-1)[..., 0]
            keep = y != 0
            total -= np.log(np.maximum(picked[keep], 1e-12)).sum()
            count += keep.sum()
        return math.exp(total / max(count, 1))

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary": self.vocabulary,
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "cell": self.cell,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
        }


def compile_lstm(model: LSTMTextGenerator, learning_rate: float = 0.001) -> LSTMTextGenerator:
    """The book's ``compile("adam", SparseCategoricalCrossentropy())``."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
    )
    return model


def print_probs(info, vocab, top_k: int = 5, print_fn=print) -> None:
    """The book's ``print_probs``: the prompt so far and its ``top_k`` next words in %."""
    for step in info:
        print_fn(f"\nPROMPT: {step['prompt']}")
        probs = step["word_probs"]
        for i in np.argsort(probs)[::-1][:top_k]:
            if probs[i] > 0:
                print_fn(f"{vocab[i]}:   \t{np.round(100 * probs[i], 2)}%")
    print_fn("--------\n")


class TextGenerator(keras.callbacks.Callback):
    """The book's callback: after every epoch print ``model.generate(prompt, ...)``."""

    def __init__(
        self,
        prompt: str = "recipe for",
        max_tokens: int = 100,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        print_fn=print,
    ):
        super().__init__()
        self.prompt, self.max_tokens = prompt, max_tokens
        self.temperature, self.top_k, self.top_p = temperature, top_k, top_p
        self.print_fn = print_fn

    def on_epoch_end(self, epoch, logs=None):
        text = self.model.generate(
            self.prompt, self.max_tokens, self.temperature, self.top_k, self.top_p, seed=epoch
        )
        self.print_fn(f"generated text:\n{text}\n")
