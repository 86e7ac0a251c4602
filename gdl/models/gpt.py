"""Chapter 9: a miniature GPT on wine reviews, with fast key/value-cached generation.

Book notebook: ``09_transformer/gpt/gpt.ipynb`` (adapted from the keras.io miniature GPT):
``Input((None,), int32) -> TokenAndPositionEmbedding(80, 10000, 256) ->
TransformerBlock(2 heads, key 256, embed 256, FF 256, dropout 0.1) -> Dense(10000, softmax)``,
5,809,168 parameters, Adam, sparse categorical cross-entropy; the model also outputs the
block's attention scores, which the notebook displays.

``GPT()`` with no arguments is that model. ``model(tokens)`` returns
``(probabilities (B, T, V), attention_scores (B, heads, T, T))`` as the book's two-output
model. :meth:`GPT.generate` writes text from a prompt and returns, for every generated
token, the attention of the query that predicted it and the top-5 candidates.

Where gdl differs from the book:

* **Generation reuses past keys and values** (:meth:`TransformerBlock.call_with_cache`,
  a fixed-size cache and a compiled one-token step) instead of running ``model.predict``
  on the whole sequence for every new token. ``generate(..., use_cache=False)`` keeps the
  full re-run (on a fixed-size buffer, compiled) as the reference; both give the same
  logits (to 1e-5) and the same tokens for the same seed.
* **Padding is left out of the loss**, except the first padding token after a review
  (the "end of text" the book's generator stops on): the book trains on every position, so
  most of its loss is predicting padding after padding.
* The vocabulary is a constructor argument stored in the model's config, so a saved
  ``.keras`` file generates text on its own (``gdl sample gpt --prompt ...``).
* ``top_k``/``top_p`` sampling besides temperature (:mod:`gdl.sampling`); the book's
  ``TextGenerator`` took a ``top_k`` argument and ignored it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import ops

from gdl.data.text import pad_punctuation
from gdl.layers.embeddings import TokenAndPositionEmbedding
from gdl.layers.transformer import TransformerBlock, compile_stateless, run_cached_blocks
from gdl.sampling import filter_logits

__all__ = ["GPT", "Generation", "attention_html", "plot_attention", "top_k_table"]


@dataclass
class Generation:
    """What :meth:`GPT.generate` returns (arrays are NumPy).

    ``tokens`` ``(B, L)``: prompt + generated ids, 0 after a row ended.
    ``prompt_lengths`` ``(B,)``; ``start``: the first position written by the loop
    (the shortest prompt's length; longer prompts are copied, not sampled, up to their end).
    ``texts``: one string per row. Per step ``s`` (position ``start + s``):
    ``attention[s]`` ``(B, heads, max_len)``: attention (last block) of the query that
    predicted that position, over the positions before it (0 elsewhere);
    ``top_tokens[s]``/``top_probs[s]`` ``(B, k)``: the most likely candidates of the
    distribution actually sampled from (after temperature/top-k/top-p);
    ``logits[s]`` ``(B, V)`` when asked for (``return_logits=True``).
    """

    tokens: np.ndarray
    prompt_lengths: np.ndarray
    start: int
    texts: list[str]
    attention: np.ndarray
    top_tokens: np.ndarray
    top_probs: np.ndarray
    vocabulary: list[str] | None = None
    logits: np.ndarray | None = None
    words: list[list[str]] = field(default_factory=list)

    @property
    def num_steps(self) -> int:
        return int(self.attention.shape[0])


@keras.saving.register_keras_serializable(package="gdl")
class GPT(keras.Model):
    """The book's miniature GPT (decoder-only Transformer language model).

    Args:
        vocab_size: 10000. ``max_len``: 80 (positions of the learned table; prompt plus
            generated text must fit). ``embed_dim`` 256, ``num_heads`` 2, ``key_dim`` 256,
            ``ff_dim`` 256, ``dropout_rate`` 0.1: the book's. ``num_blocks``: 1 (book).
        vocabulary: the ``TextVectorization`` vocabulary (index 0 ``""``, 1 ``"[UNK]"``),
            stored with the model so it can tokenise prompts and write text.
        seed: dropout seed.

    Train with ``model.compile(optimizer="adam")`` then ``fit`` on ``(x, y)`` token pairs
    (``gdl.data.text.language_model_dataset``): the loss is built in.
    """

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
        **kwargs,
    ):
        super().__init__(**kwargs)
        if vocabulary is not None:
            vocabulary = [str(w) for w in vocabulary]
            if len(vocabulary) > vocab_size:
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
        self._index = None if vocabulary is None else {w: i for i, w in enumerate(vocabulary)}
        self.embedding = TokenAndPositionEmbedding(
            self.vocab_size, self.embed_dim, self.max_len, name="token_and_position"
        )
        self.blocks = [
            TransformerBlock(
                self.num_heads,
                self.key_dim,
                self.embed_dim,
                self.ff_dim,
                self.dropout_rate,
                seed=None if seed is None else seed + 2 * i,
                name=f"transformer_block_{i}" if num_blocks > 1 else "transformer_block",
            )
            for i in range(self.num_blocks)
        ]
        self.head = keras.layers.Dense(self.vocab_size, name="head")
        self._compiled = {}
        # tensorflow: steps are tf.function graphs; True adds XLA (slower to compile and,
        # measured on CPU, not faster overall). jax always jits them.
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
        logits, scores = self.logits_and_attention(tokens, training=training)
        return ops.softmax(logits, axis=-1), scores[-1]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Token cross-entropy averaged over real tokens and each text's first padding.

        A target counts when it or its input is not padding (``y != 0 or x != 0``).
        """
        probs = y_pred[0] if isinstance(y_pred, (tuple, list)) else y_pred
        y = ops.cast(y, "int32")
        per_token = keras.losses.sparse_categorical_crossentropy(y, probs)
        mask = ops.cast(ops.logical_or(ops.not_equal(y, 0), ops.not_equal(x, 0)), probs.dtype)
        if sample_weight is not None:
            mask = mask * ops.cast(sample_weight, mask.dtype)
        return ops.sum(per_token * mask) / ops.maximum(ops.sum(mask), 1.0)

    # -- text <-> ids --------------------------------------------------------------------
    def _require_vocabulary(self):
        if self.vocabulary is None:
            raise ValueError(
                "this GPT has no vocabulary: pass token ids, or build it with "
                "GPT(vocabulary=vectorizer.get_vocabulary())"
            )

    def encode(self, text: str) -> list[int]:
        """The book's preparation (``pad_punctuation``, lower case, whitespace split);
        unknown words map to 1 (``[UNK]``)."""
        self._require_vocabulary()
        return [self._index.get(w, 1) for w in pad_punctuation(text).lower().split()]

    def decode(self, ids) -> str:
        self._require_vocabulary()
        return " ".join(self.vocabulary[int(i)] for i in ids if int(i) != 0)

    # -- compiled pieces of generation --------------------------------------------------------
    # Each step returns (next token (B,), top ids (B,k), top probs (B,k), logits (B,V),
    # attention row (B,H,max_len)[, caches]); sampling runs inside the compiled step from a
    # uniform number drawn on the host, so both paths sample identically from equal logits.
    def _fn(self, name, cfg):
        key = (name, *cfg)
        if key not in self._compiled:
            step = getattr(self, f"_{name}_step")

            def fn(*args):
                return step(*args, cfg=cfg)

            self._compiled[key] = compile_stateless(self, fn, jit_compile=self.jit_generate)
        return self._compiled[key]

    def _choose(self, logits, u, cfg):
        """Sample one token per row by inverse CDF of the filtered distribution at ``u``
        (what :func:`gdl.sampling.sample_from_probs` does, here in keras.ops)."""
        temperature, top_k, top_p, num_top = cfg
        logits = ops.cast(logits, "float32")
        if temperature == 0:
            token = ops.cast(ops.argmax(logits, axis=-1), "int32")
            probs = ops.one_hot(token, self.vocab_size)
        else:
            probs = ops.softmax(filter_logits(logits, temperature, top_k, top_p), axis=-1)
            below = ops.cast(ops.cumsum(probs, axis=-1) < u, "int32")
            token = ops.minimum(ops.sum(below, axis=-1), self.vocab_size - 1)
        top_probs, top_ids = ops.top_k(probs, num_top)
        return token, top_ids, top_probs

    def _full_step(self, tokens, row, u, cfg):
        """Full re-run: the whole fixed-size buffer through the model; logits at ``row``."""
        logits, scores = self.logits_and_attention(tokens)
        logits = ops.take(logits, row, axis=1)
        return (*self._choose(logits, u, cfg), logits, ops.take(scores[-1], row, axis=2))

    def _prefill_step(self, tokens, row, u, cfg):
        """Fill fresh caches from the whole buffer; logits at ``row``."""
        x, s, caches = run_cached_blocks(
            self.blocks, self.embedding(tokens), 0, max_len=self.max_len
        )
        logits = self.head(ops.take(x, row, axis=1))
        att = ops.take(s, row, axis=2)
        return (*self._choose(logits, u, cfg), logits, att, caches)

    def _decode_step(self, token, index, caches, u, cfg):
        """One new token ``(B, 1)`` at position ``index`` -> logits for ``index + 1``."""
        x = self.embedding(token, start_index=index)
        x, s, caches = run_cached_blocks(self.blocks, x, index, caches)
        logits = self.head(x[:, 0])
        return (*self._choose(logits, u, cfg), logits, s[:, :, 0], caches)

    def _loop_step(self, buf, lengths, start, end, uniforms, stop, cfg):
        """The whole cached generation in one compiled call: prefill, then a while loop of
        decode steps writing tokens, attention rows and top-k into fixed-size buffers.
        Same rules (forced prompt tokens, end token, one uniform per step) as the Python
        loop of :meth:`generate`."""
        batch, size, k = ops.shape(buf)[0], self.max_len, cfg[3]
        sampled, ids, probs, _, att, caches = self._prefill_step(buf, start - 1, uniforms[0], cfg)
        att_buf = ops.zeros((size, batch, self.num_heads, size), att.dtype)
        ids_buf = ops.zeros((size, batch, k), "int32")
        probs_buf = ops.zeros((size, batch, k), probs.dtype)
        zero = ops.cast(0, "int32")

        def cond(pos, buf, done, *_):
            return ops.logical_and(pos < end, ops.logical_not(ops.all(done)))

        def body(pos, buf, done, caches, sampled, ids, probs, att, att_buf, ids_buf, probs_buf):
            forced = pos < lengths
            token = ops.where(forced, ops.take(buf, pos, axis=1), ops.where(done, 0, sampled))
            token = ops.cast(token, "int32")
            buf = ops.slice_update(buf, [zero, pos], token[:, None])
            att_buf = ops.slice_update(att_buf, [pos, zero, zero, zero], att[None])
            ids_buf = ops.slice_update(ids_buf, [pos, zero, zero], ops.cast(ids, "int32")[None])
            probs_buf = ops.slice_update(probs_buf, [pos, zero, zero], probs[None])
            ended = ops.logical_and(ops.equal(token, 0), ops.logical_not(forced))
            done = ops.logical_or(done, ops.logical_and(stop, ended))
            u = ops.take(uniforms, pos - start + 1, axis=0)
            sampled, ids, probs, _, att, caches = self._decode_step(
                token[:, None], pos, caches, u, cfg
            )
            ids = ops.cast(ids, "int32")
            return pos + 1, buf, done, caches, sampled, ids, probs, att, att_buf, ids_buf, probs_buf

        state = (start, buf, ops.zeros((batch,), "bool"), caches, ops.cast(sampled, "int32"),
                 ops.cast(ids, "int32"), probs, att, att_buf, ids_buf, probs_buf)  # fmt: skip
        pos, buf, *_, att_buf, ids_buf, probs_buf = ops.while_loop(cond, body, state)
        return pos, buf, att_buf, ids_buf, probs_buf

    # -- generation ------------------------------------------------------------------------
    def _prompt_ids(self, prompt) -> list[list[int]]:
        if isinstance(prompt, str):
            prompt = [prompt]
        if isinstance(prompt, np.ndarray):
            prompt = prompt.tolist()
        if len(prompt) and isinstance(prompt[0], (int, np.integer)):
            prompt = [prompt]
        rows = [self.encode(p) if isinstance(p, str) else [int(i) for i in p] for p in prompt]
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
        ``temperature`` 0 is greedy; ``top_k``/``top_p`` filter as :mod:`gdl.sampling`.
        ``seed`` makes the draws reproducible (the same for every path). With the cache the
        whole loop is one compiled call; ``return_logits=True`` (tests, inspection) runs the
        same cached steps from a Python loop instead. ``use_cache=False``
        re-runs the whole sequence for every token (the reference). ``stop_at_end=False``
        treats the end token (0) as any other and always writes ``max_tokens`` tokens.
        """
        rows = self._prompt_ids(prompt)
        if len(rows) == 1 and num > 1:
            rows = rows * num
        if max_tokens > self.max_len:
            raise ValueError(
                f"max_tokens={max_tokens} exceeds the model's max_len={self.max_len} "
                f"(its learned position table); ask for at most {self.max_len}"
            )
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 is greedy), got {temperature}")
        lengths = np.array([len(r) for r in rows])
        if lengths.max() > max_tokens:
            raise ValueError(f"a prompt has {lengths.max()} tokens, more than max_tokens")
        batch, start = len(rows), int(lengths.min())
        buf = np.zeros((batch, self.max_len), dtype="int32")
        for i, r in enumerate(rows):
            buf[i, : len(r)] = r
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        cfg = (float(temperature), top_k or None, top_p, min(num_top, self.vocab_size))

        def t(v):
            return ops.convert_to_tensor(v, dtype="int32")

        def u():
            return ops.convert_to_tensor(rng.random((batch, 1)), dtype="float32")

        if use_cache and not return_logits:  # the fast path: one compiled call
            uniforms = np.zeros((self.max_len + 1, batch, 1), "float32")
            uniforms[: max_tokens - start] = rng.random((max_tokens - start, batch, 1))
            pos, out_buf, att, ids, probs = self._fn("loop", cfg)(
                t(buf), t(lengths), t(start), t(max_tokens),
                ops.convert_to_tensor(uniforms), ops.convert_to_tensor(bool(stop_at_end)),
            )  # fmt: skip
            steps = int(ops.convert_to_numpy(pos)) - start
            buf = ops.convert_to_numpy(out_buf)
            window = slice(start, start + steps)
            attn = list(ops.convert_to_numpy(att)[window])
            top_t = list(ops.convert_to_numpy(ids)[window])
            top_p_ = list(ops.convert_to_numpy(probs)[window])
            return self._generation(buf, lengths, start, attn, top_t, top_p_, None)
        if use_cache:
            *out, caches = self._fn("prefill", cfg)(t(buf), t(start - 1), u())
        else:
            out = self._fn("full", cfg)(t(buf), t(start - 1), u())
        done = np.zeros(batch, bool)
        attn, top_t, top_p_, all_logits = [], [], [], []
        for pos in range(start, max_tokens):
            sampled, ids, probs, logits, att = (ops.convert_to_numpy(a) for a in out)
            forced = pos < lengths
            token = np.where(forced, buf[:, pos], np.where(done, 0, sampled)).astype("int32")
            buf[:, pos] = token
            attn.append(att)
            top_t.append(ids)
            top_p_.append(probs)
            if return_logits:
                all_logits.append(logits)
            if stop_at_end:
                done |= (token == 0) & ~forced
            if done.all() or pos + 1 == max_tokens:
                break
            if use_cache:
                *out, caches = self._fn("decode", cfg)(
                    t(buf[:, pos : pos + 1]), t(pos), caches, u()
                )
            else:
                out = self._fn("full", cfg)(t(buf), t(pos), u())
        return self._generation(
            buf, lengths, start, attn, top_t, top_p_, all_logits if return_logits else None
        )

    def _generation(self, buf, lengths, start, attn, top_t, top_p_, all_logits):
        steps = len(attn)
        tokens = buf[:, : start + steps]
        texts = [self.decode(r) for r in tokens] if self.vocabulary is not None else []
        words = (
            [[self.vocabulary[i] for i in r if i != 0] for r in tokens]
            if self.vocabulary is not None
            else []
        )
        return Generation(
            tokens=tokens,
            prompt_lengths=lengths,
            start=start,
            texts=texts,
            attention=np.stack(attn),
            top_tokens=np.stack(top_t),
            top_probs=np.stack(top_p_),
            vocabulary=self.vocabulary,
            logits=None if all_logits is None else np.stack(all_logits),
            words=words,
        )

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
            "vocabulary": self.vocabulary,
            "seed": self.seed,
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
