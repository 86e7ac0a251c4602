"""One generation stack for gdl's sequence models: a sampler, a result type, a cached loop.

* :class:`Sampler` chooses the next token from *logits*: temperature (``logits / T``,
  the book's ``p ** (1 / T)`` renormalised), top-k, top-p (nucleus), greedy at
  ``temperature=0``, and a seed (``seed=0`` included) for the host random generator
  that draws one uniform per token. The choice itself is an inverse CDF at that
  uniform, written in ``keras.ops`` so it runs inside compiled loops; the same uniforms
  give the same tokens on every path (cached or full re-run). :func:`filter_probs` and
  :func:`sample_from_probs` are the NumPy reference it is tested against.
* :class:`Generation` is what every sequence model's ``generate`` returns (GPT, the
  LSTM; the music Transformer returns a subclass): NumPy token ids ``(B, L)`` (prompt
  plus generated, 0 after a row ended), the prompt lengths, the texts, and per generated
  step the candidates it was drawn from (and attention where the model has it). Image
  generators (PixelCNN, GANs, VAEs, diffusion) return NumPy images ``(num, H, W, C)``.
* :func:`decode` is the one decoding loop: prefill the prompt once, then one step per
  token with a cache (Transformer keys/values, an RNN's ``h, c``), as a single
  ``ops.while_loop`` compiled once per backend through :func:`gdl.backend.compile_loop`
  (so generate -> fit -> generate sees the new weights on jax). ``use_cache=False``
  runs the same loop re-running the whole fixed-size buffer each step: the reference
  the cached path is tested against (identical tokens).

A model plugs into :func:`decode` with three methods, each returning the next tokens
(one ``(B,)`` int tensor per stream), a tuple of tensors to record for the step, and
(for the first two) the cache:

* ``_decode_prefill(bufs, row, u, sampler, cfg) -> (tokens, record, cache)``: the whole
  buffer (prompt at ``0..row``), predicting position ``row + 1``;
* ``_decode_step(bufs, pos, cache, u, sampler, cfg) -> (tokens, record, cache)``: the
  token just written at ``pos``, predicting ``pos + 1``;
* ``_decode_full(bufs, row, u, sampler, cfg) -> (tokens, record)``: the reference.

``bufs`` is a tuple of ``(B, L)`` int32 buffers (one per stream: GPT and the LSTM have
one, the music Transformer notes and durations), ``u`` the step's uniforms ``(B, streams)``
and ``cfg`` a hashable tuple of the model's own options.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np
from keras import ops

from gdl.backend import compile_loop

__all__ = [
    "Generation",
    "Sampler",
    "decode",
    "filter_logits",
    "filter_probs",
    "sample_from_probs",
    "top_candidates",
]


# -- NumPy reference ---------------------------------------------------------------------
def filter_probs(
    probs: np.ndarray,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> np.ndarray:
    """Return the distribution actually sampled from (last axis sums to 1), in NumPy.

    Temperature reshapes ``p`` to ``p**(1/T)``; ``top_k`` keeps the k most likely
    tokens; ``top_p`` keeps the smallest set whose probability reaches ``top_p``
    (the most likely token is always kept). ``temperature == 0`` puts all mass on
    the argmax.
    """
    p = np.asarray(probs, dtype="float64")
    p = p / p.sum(axis=-1, keepdims=True)
    if temperature == 0:
        out = np.zeros_like(p)
        np.put_along_axis(out, p.argmax(axis=-1)[..., None], 1.0, axis=-1)
        return out
    logp = np.log(np.maximum(p, 1e-300)) / temperature
    logp -= logp.max(axis=-1, keepdims=True)
    p = np.exp(logp) * (p > 0)
    p /= p.sum(axis=-1, keepdims=True)
    order = np.argsort(-p, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=-1)
    keep_sorted = np.ones_like(sorted_p, dtype=bool)
    if top_k is not None and top_k > 0:
        keep_sorted[..., top_k:] = False
    if top_p is not None and top_p < 1.0:
        before = np.cumsum(sorted_p, axis=-1) - sorted_p  # mass strictly before each token
        keep_sorted &= before < top_p
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    p = np.where(keep, p, 0.0)
    return p / p.sum(axis=-1, keepdims=True)


def sample_from_probs(
    probs: np.ndarray,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Sample one index per row of ``probs`` (shape ``(..., V)``) after :func:`filter_probs`."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    p = filter_probs(probs, temperature, top_k, top_p)
    flat = p.reshape(-1, p.shape[-1])
    u = rng.random((flat.shape[0], 1))
    idx = (np.cumsum(flat, axis=-1) < u).sum(axis=-1)
    idx = np.minimum(idx, flat.shape[-1] - 1)
    return idx.reshape(p.shape[:-1])


# -- keras.ops ---------------------------------------------------------------------------
def filter_logits(
    logits, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
):
    """``keras.ops`` version of :func:`filter_probs` on logits: returns filtered logits
    (``-inf`` where removed). ``temperature`` must be > 0 here (greedy is an argmax)."""
    logits = ops.cast(logits, "float32") / temperature
    cutoff = None
    if top_k is not None and top_k > 0:
        cutoff = ops.top_k(logits, k=top_k, sorted=True)[0][..., -1:]
    if top_p is not None and top_p < 1.0:
        # the mass before each token is that of the tempered distribution (as filter_probs)
        sorted_logits = ops.flip(ops.sort(logits, axis=-1), axis=-1)
        sorted_p = ops.softmax(sorted_logits, axis=-1)
        before = ops.cumsum(sorted_p, axis=-1) - sorted_p
        # smallest kept logit: the last sorted position whose preceding mass is < top_p
        n_keep = ops.sum(ops.cast(before < top_p, "int32"), axis=-1, keepdims=True)
        cut_p = ops.take_along_axis(sorted_logits, n_keep - 1, axis=-1)
        cutoff = cut_p if cutoff is None else ops.maximum(cutoff, cut_p)
    if cutoff is None:
        return logits
    return ops.where(logits < cutoff, ops.full_like(logits, -np.inf), logits)


def top_candidates(probs, k: int):
    """``(ids (B, k) int32, probs (B, k))``: the ``k`` most likely tokens of ``probs``."""
    values, ids = ops.top_k(probs, k)
    return ops.cast(ids, "int32"), values


class Sampler:
    """Temperature / top-k / top-p sampling on logits, with a seeded host generator.

    Args:
        temperature: ``> 0`` divides the logits; ``0`` is greedy (argmax).
        top_k: keep the ``k`` most likely tokens (``None``/0: all).
        top_p: keep the smallest set of tokens whose probability reaches ``top_p``.
        seed: an int (``0`` included) or a ``np.random.Generator`` for the uniforms;
            ``None`` draws fresh ones.

    :meth:`choose` (``keras.ops``) is what compiled loops call; :meth:`uniforms` draws the
    numbers it consumes on the host, so two paths fed the same uniforms choose the same
    tokens from equal logits.
    """

    def __init__(
        self,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | np.random.Generator | None = None,
    ):
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 is greedy), got {temperature}")
        if top_p is not None and not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        self.temperature = float(temperature)
        self.top_k = int(top_k) if top_k else None
        self.top_p = None if top_p is None or top_p >= 1 else float(top_p)
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    @property
    def key(self) -> tuple:
        """What a compiled loop depends on (not the seed)."""
        return (self.temperature, self.top_k, self.top_p)

    def uniforms(self, shape) -> np.ndarray:
        return self.rng.random(shape).astype("float32")

    def probs(self, logits, mask=None):
        """The distribution sampled from, ``(B, V)``; ``mask`` (bool, broadcast to the
        logits) removes tokens before temperature and filters."""
        logits = ops.cast(logits, "float32")
        if mask is not None:
            logits = ops.where(mask, logits, ops.full_like(logits, -np.inf))
        if self.temperature == 0:
            return ops.one_hot(ops.argmax(logits, axis=-1), ops.shape(logits)[-1])
        return ops.softmax(filter_logits(logits, self.temperature, self.top_k, self.top_p))

    def choose(self, logits, u, mask=None):
        """``(token (B,) int32, probs (B, V))``: the inverse CDF of :meth:`probs` at the
        uniforms ``u`` (``(B,)`` or ``(B, 1)``); the argmax when greedy."""
        probs = self.probs(logits, mask)
        if self.temperature == 0:
            return ops.cast(ops.argmax(probs, axis=-1), "int32"), probs
        u = ops.reshape(ops.cast(u, probs.dtype), (-1, 1))
        below = ops.sum(ops.cast(ops.cumsum(probs, axis=-1) < u, "int32"), axis=-1)
        # rounding can leave the cumulative sum just under u: stay on a possible token
        size = ops.shape(probs)[-1]
        last = size - 1 - ops.argmax(ops.flip(ops.cast(probs > 0, "int32"), axis=-1), axis=-1)
        return ops.minimum(below, ops.cast(last, "int32")), probs

    def sample(self, probs) -> np.ndarray:
        """NumPy: one index per row of ``probs`` after this sampler's filters."""
        return sample_from_probs(probs, self.temperature, self.top_k, self.top_p, self.rng)


# -- the result ----------------------------------------------------------------------------
@dataclass
class Generation:
    """What sequence models' ``generate`` returns (arrays are NumPy).

    ``tokens`` ``(B, L)``: prompt + generated ids, 0 after a row ended.
    ``prompt_lengths`` ``(B,)``; ``start``: the first position written by the loop
    (the shortest prompt's length; longer prompts are copied, not sampled, up to their end).
    ``texts``: one string per row (when the model has a vocabulary). Per step ``s``
    (position ``start + s``): ``top_tokens[s]``/``top_probs[s]`` ``(B, k)``: the most
    likely candidates of the distribution actually sampled from (after the sampler's
    filters); ``attention[s]`` ``(B, heads, positions)`` for attention models (the last
    block's attention of the query that predicted that position); ``logits[s]`` ``(B, V)``
    when asked for (``return_logits=True``).
    """

    tokens: np.ndarray
    prompt_lengths: np.ndarray
    start: int
    texts: list[str] = field(default_factory=list)
    top_tokens: np.ndarray | None = None
    top_probs: np.ndarray | None = None
    attention: np.ndarray | None = None
    logits: np.ndarray | None = None
    vocabulary: list[str] | None = field(default=None, repr=False)
    words: list[list[str]] = field(default_factory=list, repr=False)

    @classmethod
    def of_text(cls, tokens, prompt_lengths, start, tokenizer=None, **views):
        """A result whose ``texts``/``words``/``vocabulary`` come from ``tokenizer`` (a
        :class:`gdl.preprocessing.WordTokenizer`; ``None``: ids only)."""
        tok = tokenizer
        return cls(
            tokens=tokens,
            prompt_lengths=prompt_lengths,
            start=start,
            texts=[tok.detokenize(r) for r in tokens] if tok is not None else [],
            words=[tok.words(r) for r in tokens] if tok is not None else [],
            vocabulary=None if tok is None else tok.vocabulary,
            **views,
        )

    @property
    def num_steps(self) -> int:
        return int(self.tokens.shape[1]) - int(self.start)

    @property
    def text(self) -> str:
        """The first row's text."""
        return self.texts[0] if self.texts else ""


# -- the loop ------------------------------------------------------------------------------
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _loop(model, sampler, cfg, use_cache, bufs, lengths, start, end, uniforms, stop, stop_token,
          *context):  # fmt: skip
    """Prefill, then a ``while`` loop of steps writing tokens and records into buffers."""
    if use_cache:
        tokens, record, cache = model._decode_prefill(bufs, start - 1, uniforms[0], sampler, cfg,
                                                      *context)  # fmt: skip
    else:
        tokens, record = model._decode_full(bufs, start - 1, uniforms[0], sampler, cfg, *context)
        cache = ()
    size = ops.shape(bufs[0])[1]
    zero = ops.cast(0, "int32")
    records = tuple(ops.zeros((size, *ops.shape(r)), r.dtype) for r in record)
    done = ops.zeros((ops.shape(bufs[0])[0],), "bool")

    def cond(pos, bufs, done, *_):
        return ops.logical_and(pos < end, ops.logical_not(ops.all(done)))

    def body(pos, bufs, done, cache, tokens, record, records):
        forced = pos < lengths
        written = tuple(
            ops.cast(ops.where(forced, ops.take(b, pos, axis=1), ops.where(done, 0, t)), "int32")
            for b, t in zip(bufs, tokens)
        )
        bufs = tuple(ops.slice_update(b, [zero, pos], w[:, None]) for b, w in zip(bufs, written))
        records = tuple(
            ops.slice_update(rs, [pos] + [zero] * len(r.shape), r[None])
            for rs, r in zip(records, record)
        )
        ended = ops.logical_and(ops.equal(written[0], stop_token), ops.logical_not(forced))
        done = ops.logical_or(done, ops.logical_and(stop, ended))
        u = ops.take(uniforms, pos - start + 1, axis=0)
        if use_cache:
            tokens, record, cache = model._decode_step(bufs, pos, cache, u, sampler, cfg)
        else:
            tokens, record = model._decode_full(bufs, pos, u, sampler, cfg, *context)
        tokens = tuple(ops.cast(t, "int32") for t in tokens)
        return pos + 1, bufs, done, cache, tokens, record, records

    tokens = tuple(ops.cast(t, "int32") for t in tokens)
    state = (start, tuple(bufs), done, cache, tokens, tuple(record), records)
    pos, bufs, *_, records = ops.while_loop(cond, body, state)
    return pos, bufs, records


def decode(
    model,
    bufs,
    lengths,
    start: int,
    end: int,
    sampler: Sampler,
    cfg: tuple = (),
    use_cache: bool = True,
    stop_token: int = 0,
    stop: bool = True,
    jit_compile: bool = False,
    context: tuple = (),
):
    """Run ``model``'s decoding steps from ``start`` to ``end`` (exclusive) in one call.

    ``bufs``: NumPy int buffers ``(B, L)`` (one per stream) holding the prompts;
    ``lengths`` ``(B,)`` the prompt lengths (``start`` <= every length: positions before a
    row's length are copied from the buffer, not sampled). A row ends when it writes
    ``stop_token`` in stream 0 (if ``stop``); it then writes 0. Returns
    ``(bufs, records)`` as NumPy, cut to the positions written: ``bufs[i]`` ``(B, start +
    steps)``, ``records[j]`` ``(steps, ...)`` for each tensor the steps record.
    ``context``: tensors the model conditions on (an image's features for a captioner),
    passed to the compiled loop as arguments and on to ``_decode_prefill`` and
    ``_decode_full`` after ``cfg`` (a prefill may keep them in its cache).
    """
    bufs = tuple(np.asarray(b, "int32") for b in bufs)
    batch, size = bufs[0].shape
    if not 0 < start <= end <= size:
        raise ValueError(f"need 0 < start ({start}) <= end ({end}) <= buffer length ({size})")
    streams = len(bufs)
    uniforms = np.zeros((size + 1, batch, streams), "float32")
    uniforms[: end - start] = sampler.uniforms((end - start, batch, streams))
    table = _COMPILED.setdefault(model, {})
    key = (bool(use_cache), sampler.key, cfg, bool(jit_compile))
    if key not in table:

        def fn(*args):
            return _loop(model, sampler, cfg, use_cache, *args)

        table[key] = compile_loop(model, fn, jit_compile=jit_compile)

    def i32(v):
        return ops.convert_to_tensor(np.asarray(v, "int32"))

    pos, out, records = table[key](
        tuple(i32(b) for b in bufs),
        i32(np.asarray(lengths)),
        i32(start),
        i32(end),
        ops.convert_to_tensor(uniforms),
        ops.convert_to_tensor(np.asarray(bool(stop))),
        i32(stop_token),
        *(ops.convert_to_tensor(c) for c in context),
    )
    last = int(ops.convert_to_numpy(pos))
    out = tuple(np.asarray(ops.convert_to_numpy(b))[:, :last] for b in out)
    records = tuple(np.asarray(ops.convert_to_numpy(r))[start:last] for r in records)
    return out, records


def prompt_buffer(rows, size: int, max_tokens: int):
    """``(buf (B, size) int32, lengths (B,), start)`` for token-id rows of any lengths."""
    if not rows or any(len(r) == 0 for r in rows):
        raise ValueError("every prompt needs at least one token")
    lengths = np.array([len(r) for r in rows])
    if lengths.max() > max_tokens:
        raise ValueError(f"a prompt has {lengths.max()} tokens, more than max_tokens={max_tokens}")
    buf = np.zeros((len(rows), size), dtype="int32")
    for i, r in enumerate(rows):
        buf[i, : len(r)] = r
    return buf, lengths, int(lengths.min())
