"""Chapter 9: a miniature GPT on wine reviews, with fast key/value-cached generation.

Book notebook: ``09_transformer/gpt/gpt.ipynb`` (adapted from the keras.io miniature GPT):
``Input((None,), int32) -> TokenAndPositionEmbedding(80, 10000, 256) ->
TransformerBlock(2 heads, key 256, embed 256, FF 256, dropout 0.1) -> Dense(10000, softmax)``,
5,809,168 parameters, Adam, sparse categorical cross-entropy; the model also outputs the
block's attention scores, which the notebook displays.

``GPT()`` with no arguments is that model. ``model(tokens)`` returns
``(logits (B, T, V), attention_scores (B, heads, T, T))``: the book's two-output model,
except that the first output is logits (the loss uses ``from_logits=True``, which is
more stable and cheaper than cross-entropy on softmax outputs); :meth:`GPT.probabilities`
gives the book's softmax. :meth:`GPT.generate` writes text from a prompt and returns a
:class:`gdl.generation.Generation`: tokens, texts and, for every generated token, the
attention of the query that predicted it and the top-5 candidates.

Where gdl differs from the book:

* **Generation reuses past keys and values** (:meth:`TransformerBlock.call_with_cache`
  in :func:`gdl.generation.decode`, the loop shared with the LSTM and the music
  Transformer) instead of running ``model.predict`` on the whole sequence for every new
  token. ``generate(..., use_cache=False)`` keeps the full re-run (on a fixed-size
  buffer, compiled) as the reference; both give the same logits (to 1e-5) and the same
  tokens for the same seed.
* **Padding is left out of the loss**, except the first padding token after a review
  (the "end of text" the book's generator stops on): the book trains on every position, so
  most of its loss is predicting padding after padding.
* The tokenizer (:class:`gdl.preprocessing.WordTokenizer`: the book's
  ``pad_punctuation``, lower case, whitespace split, the vocabulary) is part of the
  model's config, so a saved ``.keras`` file generates text on its own
  (``gdl sample gpt --prompt ...``); :meth:`GPT.tokenize`/:meth:`GPT.detokenize` convert.
* ``top_k``/``top_p`` sampling besides temperature (:class:`gdl.generation.Sampler`); the
  book's ``TextGenerator`` took a ``top_k`` argument and ignored it.
"""

from __future__ import annotations

import html

import keras
import numpy as np
from keras import ops

from gdl.distribute import global_batch_loss
from gdl.generation import Generation, Sampler, decode, prompt_buffer, top_candidates
from gdl.layers.embeddings import TokenAndPositionEmbedding
from gdl.layers.transformer import run_cached_blocks, transformer_blocks
from gdl.models.optimizers import BookCompile
from gdl.preprocessing import WordTokenizer

__all__ = ["GPT", "attention_html", "plot_attention", "top_k_table"]


@keras.saving.register_keras_serializable(package="gdl")
class GPT(BookCompile, keras.Model):
    """The book's miniature GPT (decoder-only Transformer language model).

    Args:
        vocab_size: 10000. ``max_len``: 80 (positions of the learned table; prompt plus
            generated text must fit). ``embed_dim`` 256, ``num_heads`` 2, ``key_dim`` 256,
            ``ff_dim`` 256, ``dropout_rate`` 0.1: the book's. ``num_blocks``: 1 (book).
        tokenizer: a :class:`gdl.preprocessing.WordTokenizer` (or its config), saved with
            the model so it can tokenise prompts and write text.
        vocabulary: shortcut for ``tokenizer=WordTokenizer(vocabulary)`` (the
            ``TextVectorization`` vocabulary: index 0 ``""``, 1 ``"[UNK]"``).
        seed: dropout seed.

    Train with ``model.compile(optimizer="adam")`` then ``fit`` on ``(x, y)`` token pairs
    (``gdl.data.text.language_model_dataset``): the loss is built in.
    """

    book_learning_rate = 1e-3  # Keras' "adam"

    def __init__(
        self,
        vocab_size: int = 10000,
        max_len: int = 80,
        embed_dim: int = 256,
        num_heads: int = 2,
        key_dim: int = 256,
        ff_dim: int = 256,
        dropout_rate: float = 0.1,
        num_blocks: int = 1,
        vocabulary: list[str] | None = None,
        seed: int | None = None,
        tokenizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.tokenizer = WordTokenizer.from_any(tokenizer, vocabulary)
        vocabulary = None if self.tokenizer is None else self.tokenizer.vocabulary
        if vocabulary is not None and len(vocabulary) > vocab_size:
            raise ValueError(
                f"the vocabulary has {len(vocabulary)} words but vocab_size={vocab_size}"
            )
        self.vocab_size = int(vocab_size)
        self.max_len = int(max_len)
        self.embed_dim = int(embed_dim)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.ff_dim = int(ff_dim)
        self.dropout_rate = float(dropout_rate)
        self.num_blocks = int(num_blocks)
        self.vocabulary = vocabulary
        self.seed = seed
        self.embedding = TokenAndPositionEmbedding(
            self.vocab_size, self.embed_dim, self.max_len, name="token_and_position"
        )
        self.blocks = transformer_blocks(
            self.num_blocks, self.num_heads, self.key_dim, self.embed_dim, self.ff_dim,
            self.dropout_rate, seed, name="transformer_block",
        )  # fmt: skip
        self.head = keras.layers.Dense(self.vocab_size, name="head")
        # tensorflow: the loop is a tf.function graph; True adds XLA (slower to compile and,
        # measured on CPU, not faster overall). jax always jits it.
        self.jit_generate = False
        self.build((None, None))

    def build(self, input_shape=None):
        self.embedding.build()
        for block in self.blocks:
            block.build((None, None, self.embed_dim))
        self.head.build((None, None, self.embed_dim))
        self.built = True

    # -- forward -----------------------------------------------------------------------
    def _check_tokens(self, tokens):
        shape = ops.shape(tokens)
        if len(shape) != 2:
            raise ValueError(f"GPT expects int token ids of shape (batch, length); got {shape}")
        if isinstance(shape[1], int) and shape[1] > self.max_len:
            raise ValueError(f"sequence of {shape[1]} tokens is longer than max_len={self.max_len}")

    def logits_and_attention(self, tokens, training=False):
        """``(logits (B, T, V), [scores (B, heads, T, T) for each block])``."""
        self._check_tokens(tokens)
        x = self.embedding(tokens)
        scores = []
        for block in self.blocks:
            x, s = block(x, training=training, return_attention_scores=True)
            scores.append(s)
        return self.head(x), scores

    def call(self, tokens, training=None):
        """``(logits (B, T, V), attention scores of the last block (B, heads, T, T))``."""
        logits, scores = self.logits_and_attention(tokens, training=training)
        return logits, scores[-1]

    def probabilities(self, tokens):
        """The book's first output: next-token probabilities ``(B, T, V)``."""
        return ops.softmax(self.logits_and_attention(tokens)[0], axis=-1)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Token cross-entropy (on logits) averaged over real tokens and each text's first
        padding. A target counts when it or its input is not padding (``y != 0 or x != 0``).
        """
        logits = y_pred[0] if isinstance(y_pred, (tuple, list)) else y_pred
        y = ops.cast(y, "int32")
        per_token = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        mask = ops.cast(ops.logical_or(ops.not_equal(y, 0), ops.not_equal(x, 0)), logits.dtype)
        if sample_weight is not None:
            mask = mask * ops.cast(sample_weight, mask.dtype)
        count = ops.sum(mask)  # differs between replicas: weighted by the global count
        return global_batch_loss(ops.sum(per_token * mask) / ops.maximum(count, 1.0), count)

    # -- text <-> ids --------------------------------------------------------------------
    def _require_tokenizer(self):
        if self.tokenizer is None:
            raise ValueError(
                "this GPT has no vocabulary: pass token ids, or build it with "
                "GPT(vocabulary=vectorizer.get_vocabulary())"
            )
        return self.tokenizer

    def tokenize(self, text: str) -> list[int]:
        """The book's preparation (``pad_punctuation``, lower case, whitespace split);
        unknown words map to 1 (``[UNK]``)."""
        return self._require_tokenizer().tokenize(text)

    def detokenize(self, ids) -> str:
        return self._require_tokenizer().detokenize(ids)

    # -- the steps of gdl.generation.decode ------------------------------------------------
    # cfg = (num_top, return_logits); each records (attention row (B, H, max_len),
    # top ids (B, k), top probs (B, k)[, logits (B, V)]).
    def _emit(self, logits, att, u, sampler, cfg):
        num_top, return_logits = cfg
        token, probs = sampler.choose(logits, u[:, 0])
        record = (att, *top_candidates(probs, num_top))
        return (token,), record + ((ops.cast(logits, "float32"),) if return_logits else ())

    def _decode_full(self, bufs, row, u, sampler, cfg):
        logits, scores = self.logits_and_attention(bufs[0])
        att = ops.take(scores[-1], row, axis=2)
        return self._emit(ops.take(logits, row, axis=1), att, u, sampler, cfg)

    def _decode_prefill(self, bufs, row, u, sampler, cfg):
        x = self.embedding(bufs[0])
        x, s, caches = run_cached_blocks(self.blocks, x, 0, max_len=self.max_len)
        logits = self.head(ops.take(x, row, axis=1))
        return (*self._emit(logits, ops.take(s, row, axis=2), u, sampler, cfg), caches)

    def _decode_step(self, bufs, pos, caches, u, sampler, cfg):
        x = self.embedding(ops.expand_dims(ops.take(bufs[0], pos, axis=1), 1), start_index=pos)
        x, s, caches = run_cached_blocks(self.blocks, x, pos, caches)
        logits = self.head(x[:, 0])
        return (*self._emit(logits, s[:, :, 0], u, sampler, cfg), caches)

    # -- generation ------------------------------------------------------------------------
    def _prompt_ids(self, prompt) -> list[list[int]]:
        if isinstance(prompt, str):
            prompt = [prompt]
        if isinstance(prompt, np.ndarray):
            prompt = prompt.tolist()
        if len(prompt) and isinstance(prompt[0], (int, np.integer)):
            prompt = [prompt]
        rows = [self.tokenize(p) if isinstance(p, str) else [int(i) for i in p] for p in prompt]
        if not rows or any(len(r) == 0 for r in rows):
            raise ValueError("every prompt needs at least one token (e.g. 'wine review')")
        return rows

    def generate(
        self,
        prompt,
        max_tokens: int = 80,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | np.random.Generator | None = None,
        num: int = 1,
        use_cache: bool = True,
        stop_at_end: bool = True,
        return_logits: bool = False,
        num_top: int = 5,
    ) -> Generation:
        """Continue ``prompt`` until ``max_tokens`` tokens (prompt included, as the book)
        or until every row sampled the end (padding, id 0).

        ``prompt``: a string, a list of strings (one row each, lengths may differ), or token
        ids. ``num`` repeats a single prompt ``num`` times (a batch of samples).
        ``temperature`` 0 is greedy; ``top_k``/``top_p`` filter as
        :class:`gdl.generation.Sampler`; ``seed`` (``0`` included) makes the draws
        reproducible (the same for every path). The whole loop is one compiled call
        (:func:`gdl.generation.decode`); ``use_cache=False`` re-runs the whole sequence
        for every token (the reference). ``return_logits=True`` also records each step's
        logits. ``stop_at_end=False`` treats the end token (0) as any other and always
        writes ``max_tokens`` tokens. Returns a :class:`gdl.generation.Generation`.
        """
        sampler = Sampler(temperature, top_k, top_p, seed)
        rows = self._prompt_ids(prompt)
        if len(rows) == 1 and num > 1:
            rows = rows * num
        if max_tokens > self.max_len:
            raise ValueError(
                f"max_tokens={max_tokens} exceeds the model's max_len={self.max_len} "
                f"(its learned position table); ask for at most {self.max_len}"
            )
        buf, lengths, start = prompt_buffer(rows, self.max_len, max_tokens)
        cfg = (min(num_top, self.vocab_size), bool(return_logits))
        (tokens,), records = decode(
            self, (buf,), lengths, start, max_tokens, sampler, cfg, use_cache=use_cache,
            stop_token=0, stop=stop_at_end, jit_compile=self.jit_generate,
        )  # fmt: skip
        return Generation.of_text(
            tokens, lengths, start, self.tokenizer, attention=records[0],
            top_tokens=records[1], top_probs=records[2],
            logits=records[3] if return_logits else None,
        )  # fmt: skip

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "max_len": self.max_len,
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "ff_dim": self.ff_dim,
            "dropout_rate": self.dropout_rate,
            "num_blocks": self.num_blocks,
            "seed": self.seed,
            "tokenizer": None
            if self.tokenizer is None
            else keras.saving.serialize_keras_object(self.tokenizer),
        }


# -- looking at a generation -------------------------------------------------------------------
def _word(vocab, i):
    return vocab[int(i)] if vocab is not None else str(int(i))


def attention_html(gen: Generation, row: int = 0, steps=None, max_steps: int = 10) -> str:
    """The book's attention view as HTML: for each generated word, the words before it with
    a background whose opacity is the head-averaged attention (normalised by its max)."""
    vocab = gen.vocabulary
    steps = range(min(gen.num_steps, max_steps)) if steps is None else steps
    out = []
    for s in steps:
        pos = gen.start + s
        if gen.tokens[row, pos] == 0 and pos >= gen.prompt_lengths[row]:
            break
        att = gen.attention[s, row].mean(axis=0)[:pos]
        att = att / max(att.max(), 1e-12)
        spans = "".join(
            f'<span style="background-color: rgba(135,206,250,{a:.3f})">'
            f"{html.escape(_word(vocab, t))}</span> "
            for t, a in zip(gen.tokens[row, :pos], att)
        )
        nxt = html.escape(_word(vocab, gen.tokens[row, pos]))
        out.append(f"<p>{spans}&rarr; <b>{nxt}</b></p>")
    return "\n".join(out)


def top_k_table(gen: Generation, row: int = 0, steps=None, max_steps: int = 10) -> list[dict]:
    """Rows ``{"context", "chosen", "candidates": [(word, prob), ...]}`` (book's print_probs)."""
    vocab = gen.vocabulary
    steps = range(min(gen.num_steps, max_steps)) if steps is None else steps
    table = []
    for s in steps:
        pos = gen.start + s
        table.append(
            {
                "context": " ".join(_word(vocab, t) for t in gen.tokens[row, :pos] if t != 0),
                "chosen": _word(vocab, gen.tokens[row, pos]),
                "candidates": [
                    (_word(vocab, t), float(p))
                    for t, p in zip(gen.top_tokens[s, row], gen.top_probs[s, row])
                ],
            }
        )
    return table


def plot_attention(gen: Generation, row: int = 0, path=None, ax=None, max_steps: int | None = None):
    """Heatmap: generated word (rows) x earlier word (columns), head-averaged attention
    (the first ``max_steps`` generated words; all by default)."""
    import matplotlib

    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, 6))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    vocab = gen.vocabulary
    steps = gen.num_steps if max_steps is None else min(max_steps, gen.num_steps)
    n = int(gen.start + steps)
    grid = np.full((steps, n), np.nan)
    for s in range(steps):
        pos = gen.start + s
        grid[s, :pos] = gen.attention[s, row].mean(axis=0)[:pos]
    cmap = matplotlib.colormaps["Greens"].with_extremes(bad="white")
    ax.imshow(grid, cmap=cmap, aspect="auto", vmin=0)
    ax.set_xticks(range(n), [_word(vocab, t) for t in gen.tokens[row, :n]], rotation=90)
    ax.set_yticks(
        range(steps), [_word(vocab, gen.tokens[row, gen.start + s]) for s in range(steps)]
    )
    ax.set_xlabel("attended word")
    ax.set_ylabel("generated word")
    if path is not None:
        fig.tight_layout()
        fig.savefig(path)
    return fig
