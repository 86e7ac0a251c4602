"""Choosing the next token from a model's output: temperature, top-k and top-p (nucleus).

The book samples with ``p ** (1 / T)`` renormalised (``TextGenerator.sample_from``).
Here the same rule works on logits (``logits / T``), plus top-k and top-p filters,
in NumPy (:func:`sample_from_probs`, for Python loops) and in ``keras.ops``
(:func:`filter_logits`, for compiled loops). ``temperature=0`` is greedy (argmax).
"""

from __future__ import annotations

import numpy as np


def filter_probs(
    probs: np.ndarray,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> np.ndarray:
    """Return the distribution actually sampled from (last axis sums to 1).

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


def filter_logits(
    logits, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
):
    """``keras.ops`` version of :func:`filter_probs` on logits: returns filtered logits
    (``-inf`` where removed) to feed ``keras.random.categorical``. ``temperature`` must be > 0
    here; use argmax for greedy decoding."""
    from keras import ops

    logits = ops.cast(logits, "float32") / temperature
    neg_inf = ops.full_like(logits, -np.inf)
    if top_k is not None and top_k > 0:
        kth = ops.top_k(logits, k=top_k, sorted=True)[0][..., -1:]
        logits = ops.where(logits < kth, neg_inf, logits)
    if top_p is not None and top_p < 1.0:
        sorted_logits = ops.flip(ops.sort(logits, axis=-1), axis=-1)
        sorted_p = ops.softmax(sorted_logits, axis=-1)
        before = ops.cumsum(sorted_p, axis=-1) - sorted_p
        # smallest kept logit: the last sorted position whose preceding mass is < top_p
        n_keep = ops.sum(ops.cast(before < top_p, "int32"), axis=-1, keepdims=True)
        cutoff = ops.take_along_axis(sorted_logits, n_keep - 1, axis=-1)
        logits = ops.where(logits < cutoff, neg_inf, logits)
    return logits
