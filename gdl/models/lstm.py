"""Chapter 5 LSTM text generator (book: ``05_autoregressive/01_lstm``).

``Embedding(10000, 100) -> LSTM(128, return_sequences=True) -> Dense(10000, softmax)``,
2,407,248 parameters with the defaults, trained with Adam and sparse categorical
cross-entropy on ``x = tokens[:-1]``, ``y = tokens[1:]`` (:func:`compile_lstm`,
:func:`gdl.data.text.language_model_dataset`). Options the chapter discusses: ``cell="gru"``,
``num_layers`` (stacked), ``bidirectional`` (the chapter's bidirectional cells; such a
model reads the tokens it must predict, so it is for comparison only and its
``generate`` is not a language model's).

Differences from the book:

* the model returns *logits* and the loss uses ``from_logits=True`` (more stable than
  cross-entropy on softmax outputs); :meth:`LSTMTextGenerator.probabilities` is the
  book's softmax output;
* the tokenizer (:class:`gdl.preprocessing.WordTokenizer`, with the vocabulary) is part
  of the model (its config), so a saved ``.keras`` file generates text on its own;
* ``generate`` runs :func:`gdl.generation.decode`, the loop shared with the GPT and the
  music Transformer: the prompt goes through the network once (prefill) and every new
  token is one step of the recurrent cells from the carried ``h, c`` (the book re-runs
  the whole text for every token); ``use_cache=False`` is that full re-run, kept as the
  reference (same tokens). It returns a :class:`gdl.generation.Generation`;
* top-k / top-p (:class:`gdl.generation.Sampler`) and ``temperature=0`` (greedy); the
  ``TextGenerator`` callback's ``top_k`` is honoured (the book ignores it).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from gdl.generation import Generation, Sampler, decode, prompt_buffer, top_candidates
from gdl.models.optimizers import BookCompile
from gdl.preprocessing import WordTokenizer

_CELLS = {"lstm": layers.LSTM, "gru": layers.GRU}


@keras.saving.register_keras_serializable(package="gdl")
class LSTMTextGenerator(BookCompile, keras.Model):
    """Next-token model over a vocabulary (index 0 = padding ``""``, 1 = ``"[UNK]"``).

    ``vocabulary`` (list of str) or ``tokenizer`` (a
    :class:`gdl.preprocessing.WordTokenizer`) sets ``vocab_size``; without them the model
    has ``vocab_size`` tokens and cannot map words (text prompts need a vocabulary).
    Call it on int token ids ``(batch, time)``; it returns next-token logits
    ``(batch, time, vocab_size)``.
    """

    book_learning_rate = 1e-3  # Keras' "adam"

    def book_compile_kwargs(self) -> dict:
        """The book's loss: sparse cross-entropy of the next word (on logits here)."""
        return {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}

    def __init__(
        self,
        vocabulary=None,
        vocab_size: int = 10000,
        embedding_dim: int = 100,
        units: int = 128,
        cell: str = "lstm",
        num_layers: int = 1,
        bidirectional: bool = False,
        tokenizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
        self.tokenizer = WordTokenizer.from_any(tokenizer, vocabulary)
        self.vocabulary = None if self.tokenizer is None else self.tokenizer.vocabulary
        self.vocab_size = len(self.vocabulary) if self.vocabulary else int(vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.units = int(units)
        self.cell = cell
        self.num_layers = int(num_layers)
        self.bidirectional = bool(bidirectional)
        self.embedding = layers.Embedding(self.vocab_size, self.embedding_dim)
        self.recurrent = []
        for _ in range(self.num_layers):
            if bidirectional:
                rnn = layers.Bidirectional(_CELLS[cell](self.units, return_sequences=True))
            else:  # the states are the generation cache
                rnn = _CELLS[cell](self.units, return_sequences=True, return_state=True)
            self.recurrent.append(rnn)
        self.classifier = layers.Dense(self.vocab_size)
        self.build((None, None))

    def build(self, input_shape):
        self.embedding.build(input_shape)
        width = self.embedding_dim
        for rnn in self.recurrent:
            rnn.build((None, None, width))
            width = self.units * (2 if self.bidirectional else 1)
        self.classifier.build((None, None, width))
        self.built = True

    def _run(self, x, rnn, training=None, mask=None, initial_state=None):
        """``(sequence, states)`` of one recurrent layer (``states`` empty if bidirectional)."""
        out = rnn(x, training=training, mask=mask, initial_state=initial_state)
        if self.bidirectional:
            return out, ()
        return out[0], tuple(out[1:])

    def call(self, tokens, training=None):
        if len(tokens.shape) != 2:
            raise ValueError(
                f"LSTMTextGenerator expects token ids of shape (batch, time), got {tuple(tokens.shape)}"
            )
        x = self.embedding(tokens)
        for rnn in self.recurrent:
            x, _ = self._run(x, rnn, training=training)
        return self.classifier(x)

    def probabilities(self, tokens):
        """The book's output: next-token probabilities ``(batch, time, vocab_size)``."""
        return ops.softmax(self(tokens, training=False), axis=-1)

    # -- text ------------------------------------------------------------
    def _require_tokenizer(self):
        if self.tokenizer is None:
            raise ValueError(
                "this model has no vocabulary; build it with "
                "LSTMTextGenerator(vocabulary=vectorizer.get_vocabulary())"
            )
        return self.tokenizer

    def tokenize(self, text: str) -> list[int]:
        """Words of ``pad_punctuation(text).lower()`` to ids (unknown words -> 1, ``[UNK]``)."""
        return self._require_tokenizer().tokenize(text)

    def detokenize(self, ids) -> str:
        """Ids to words joined by spaces (padding left out)."""
        return self._require_tokenizer().detokenize(ids)

    # -- the steps of gdl.generation.decode: the cache is (h, c) per layer ---------------
    def _emit(self, logits, u, sampler, cfg):
        num_top, return_logits = cfg
        token, probs = sampler.choose(logits, u[:, 0])
        record = top_candidates(probs, num_top)
        return (token,), record + ((ops.cast(logits, "float32"),) if return_logits else ())

    def _decode_full(self, bufs, row, u, sampler, cfg):
        return self._emit(ops.take(self(bufs[0], training=False), row, axis=1), u, sampler, cfg)

    def _decode_prefill(self, bufs, row, u, sampler, cfg):
        if self.bidirectional:
            raise ValueError("a bidirectional model has no causal cache: use_cache=False")
        tokens = bufs[0]
        mask = ops.less_equal(ops.arange(ops.shape(tokens)[1])[None, :], row)
        mask = ops.broadcast_to(mask, ops.shape(tokens))  # steps after the prompt keep the state
        x, cache = self.embedding(tokens), []
        for rnn in self.recurrent:
            x, states = self._run(x, rnn, mask=mask)
            cache.append(states)
        return (*self._emit(self.classifier(ops.take(x, row, axis=1)), u, sampler, cfg), cache)

    def _decode_step(self, bufs, pos, cache, u, sampler, cfg):
        x, new = self.embedding(ops.take(bufs[0], pos, axis=1)), []
        for rnn, states in zip(self.recurrent, cache):  # one cell step (the layer's weights)
            x, states = rnn.cell(x, list(states), training=False)
            new.append(tuple(states))
        return (*self._emit(self.classifier(x), u, sampler, cfg), new)

    def generate(
        self,
        prompt,
        max_tokens: int = 100,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed=None,
        num: int = 1,
        use_cache: bool | None = None,
        stop_at_end: bool = True,
        return_logits: bool = False,
        num_top: int = 5,
    ) -> Generation:
        """Continue ``prompt`` one token at a time, like the book's ``TextGenerator.generate``.

        Stops when the text holds ``max_tokens`` tokens (prompt included, as in the book)
        or the padding token 0 is drawn (unless ``stop_at_end=False``). ``prompt``: a
        string, a list of strings, or token ids; ``num`` repeats one prompt. ``temperature``
        reshapes ``p`` to ``p**(1/T)`` (0 = greedy); ``top_k``/``top_p`` restrict the
        candidates; ``seed`` (``0`` included) makes it reproducible. Returns a
        :class:`gdl.generation.Generation`: ``.texts``, ``.tokens`` and, per step, the
        ``num_top`` candidates (the book's ``info``, see :func:`print_probs`).
        ``use_cache`` (default: unless bidirectional) carries the recurrent state;
        ``False`` re-runs the whole text for every token (the reference).
        """
        sampler = Sampler(temperature, top_k, top_p, seed)
        if isinstance(prompt, str):
            prompt = [prompt]
        prompt = prompt.tolist() if isinstance(prompt, np.ndarray) else list(prompt)
        if prompt and isinstance(prompt[0], (int, np.integer)):
            prompt = [prompt]
        rows = [self.tokenize(p) if isinstance(p, str) else [int(i) for i in p] for p in prompt]
        if len(rows) == 1 and num > 1:
            rows = rows * num
        buf, lengths, start = prompt_buffer(rows, max_tokens, max_tokens)
        use_cache = not self.bidirectional if use_cache is None else use_cache
        cfg = (min(num_top, self.vocab_size), bool(return_logits))
        (tokens,), records = decode(
            self, (buf,), lengths, start, max_tokens, sampler, cfg,
            use_cache=use_cache, stop_token=0, stop=stop_at_end,
        )  # fmt: skip
        return Generation.of_text(
            tokens, lengths, start, self.tokenizer, top_tokens=records[0],
            top_probs=records[1], logits=records[2] if return_logits else None,
        )  # fmt: skip

    def perplexity(self, dataset) -> float:
        """``exp`` of the mean cross-entropy over the non-padding targets of ``(x, y)`` batches."""
        total, count = 0.0, 0
        for x, y in dataset:
            logp = ops.convert_to_numpy(ops.log_softmax(self(x, training=False), axis=-1))
            y = np.asarray(y)
            picked = np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
            keep = y != 0
            total -= picked[keep].sum()
            count += keep.sum()
        return math.exp(total / max(count, 1))

    def get_config(self):
        return {
            **super().get_config(),
            "tokenizer": None
            if self.tokenizer is None
            else keras.saving.serialize_keras_object(self.tokenizer),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "cell": self.cell,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
        }


def compile_lstm(model: LSTMTextGenerator, learning_rate: float | None = None):
    """``model.compile()`` (the book's ``compile("adam", SparseCategoricalCrossentropy())``,
    on logits), with Adam at ``learning_rate`` if given. Returns ``model``."""
    model.compile(optimizer=model.book_optimizer(learning_rate))
    return model


def print_probs(gen: Generation, vocab=None, top_k: int = 5, print_fn=print, row: int = 0) -> None:
    """The book's ``print_probs``: the text so far and its ``top_k`` next words in %, for
    every step of a :class:`gdl.generation.Generation` (``top_k`` <= its ``num_top``),
    each step closed by the book's ``--------`` separator."""
    vocab = gen.vocabulary if vocab is None else vocab
    for s in range(gen.num_steps):
        pos = gen.start + s
        print_fn(f"\nPROMPT: {' '.join(vocab[int(t)] for t in gen.tokens[row, :pos] if t != 0)}")
        for i, p in list(zip(gen.top_tokens[s, row], gen.top_probs[s, row]))[:top_k]:
            if p > 0:
                print_fn(f"{vocab[int(i)]}:   \t{np.round(100 * p, 2)}%")
        print_fn("--------\n")  # after every step, as the book


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
        gen = self.model.generate(
            self.prompt, self.max_tokens, self.temperature, self.top_k, self.top_p, seed=epoch
        )
        self.print_fn(f"generated text:\n{gen.text}\n")
