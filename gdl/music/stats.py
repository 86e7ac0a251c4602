"""Statistics of MuseGAN piano rolls, to compare generated rolls with real chorales.

Three numbers, the ones the MuseGAN paper (Dong et al., 2018) uses to spot a generator
that has collapsed or has not learnt yet (the book shows samples only):

* **empty bar-tracks**: the share of (piece, bar, track) cells where the track rests for
  the whole bar (the paper's "empty bars", EB);
* **pitch classes per bar**: the number of different pitch classes (0-11) sounding in a
  bar, all tracks together, averaged over (piece, bar) (the paper's "used pitch
  classes", UPC, taken over the four voices);
* **notes in key**: the share of sounding (step, track) cells whose pitch class lies in
  the piece's key. The key of *every* roll, real or generated, is estimated by the same
  function (:func:`estimate_keys`: music21's key finding on the roll's own notes,
  vectorised; :func:`gdl.music.datasets.key_of` calls music21 itself): a major key counts its 7 scale degrees, a minor key the natural
  minor plus the raised 6th and 7th (9 classes, as Bach's minor chorales use them).
  Because the key is the one that fits best, random notes already score about 0.85-0.9.

One more number watches for mode collapse, which the three cannot see (a generator
that plays one good chorale for every noise scores perfectly on them):

* **differing notes between rolls**: the share of (step, track) cells where two rolls
  differ (a rest counts as a value), averaged over all pairs of rolls; 0 when every
  roll is the same.

A roll is decoded by argmax over pitch (:func:`gdl.music.pianoroll_to_chorale`), so a
track rests at a step when the rest index wins. Notes are counted per 16th-note step.
"""

from __future__ import annotations

import numpy as np

STAT_NAMES = ("pitch classes per bar", "empty bar-tracks", "notes in key")
DIVERSITY = "differing notes between rolls"
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 9, 10, 11)  # natural minor + raised 6th and 7th


def key_pitch_classes(tonic: int, mode: str) -> frozenset:
    """The pitch classes counted as "in key" for ``tonic`` (0 = C) and ``mode``."""
    steps = MAJOR if mode == "major" else MINOR
    return frozenset((tonic + s) % 12 for s in steps)


def estimate_keys(chorales) -> list[tuple[int, str]]:
    """``(tonic pitch class, "major" | "minor")`` of each ``(T, tracks)`` chorale: the key
    whose Aarden-Essen profile (music21's weights) correlates best with the chorale's
    pitch-class histogram, every sounding (step, track) counting once: what
    ``stream.analyze("key")`` (:func:`gdl.music.datasets.key_of`) finds, vectorised
    (music21 takes ~0.3 s a roll). A chorale with no note gets C major."""
    from music21.analysis.discrete import AardenEssen

    c = np.asarray(chorales, dtype="float32")
    if c.ndim == 2:
        c = c[None]
    sounding = ~np.isnan(c)
    pc = np.nan_to_num(c).astype("int64") % 12
    hist = np.zeros((len(c), 12))
    for i in range(len(c)):
        hist[i] = np.bincount(pc[i][sounding[i]], minlength=12)
    ae = AardenEssen()
    best = []
    # profiles[m, tonic, j]: weight of pitch class j in key (tonic, mode m)
    profiles = np.stack(
        [[np.roll(np.asarray(ae.getWeights(m)), t) for t in range(12)] for m in ("major", "minor")]
    )
    p = profiles - profiles.mean(-1, keepdims=True)
    h = hist - hist.mean(-1, keepdims=True)
    num = np.einsum("mtj,nj->nmt", p, h)
    den = np.sqrt((p**2).sum(-1))[None] * np.sqrt((h**2).sum(-1))[:, None, None]
    corr = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
    for i in range(len(c)):
        if not sounding[i].any():
            best.append((0, "major"))
            continue
        m, t = np.unravel_index(np.argmax(corr[i]), corr[i].shape)
        best.append((int(t), ("major", "minor")[m]))
    return best


def chorale_statistics(chorales, keys=None, steps_per_bar: int = 16) -> dict:
    """The three statistics of ``(N, T, tracks)`` chorales (MIDI pitches, NaN = rest).

    ``keys``: one ``(tonic, mode)`` per chorale; estimated with :func:`estimate_keys`
    when None.
    Returns ``{"pitch classes per bar", "empty bar-tracks", "notes in key"}``.
    """
    c = np.asarray(chorales, dtype="float32")
    if c.ndim == 2:
        c = c[None]
    n, length, tracks = c.shape
    n_bars = length // steps_per_bar
    if n_bars == 0:
        raise ValueError(f"chorales of {length} steps hold no bar of {steps_per_bar} steps")
    if keys is None:
        keys = estimate_keys(c)
    if len(keys) != n:
        raise ValueError(f"{len(keys)} keys for {n} chorales")
    bars = c[:, : n_bars * steps_per_bar].reshape(n, n_bars, steps_per_bar, tracks)
    sounding = ~np.isnan(bars)
    empty = ~sounding.any(axis=2)  # (n, bars, tracks)
    pc = np.where(sounding, np.nan_to_num(bars), 0).astype("int64") % 12
    used = np.zeros((n, n_bars, 12), bool)  # pitch classes sounding in each bar
    ii, bb, _, _ = np.nonzero(sounding)
    used[ii, bb, pc[sounding]] = True
    in_key_table = np.array([[p in key_pitch_classes(*k) for p in range(12)] for k in keys])
    in_key = in_key_table[np.broadcast_to(np.arange(n)[:, None, None, None], pc.shape), pc]
    total = int(sounding.sum())
    return {
        "pitch classes per bar": float(used.sum(axis=-1).mean()),
        "empty bar-tracks": float(empty.mean()),
        "notes in key": float(in_key[sounding].sum() / total) if total else float("nan"),
        DIVERSITY: differing_notes(c),
    }


def differing_notes(chorales) -> float:
    """Mean over pairs of ``(T, tracks)`` chorales of the share of cells where the two
    differ (NaN, a rest, equals NaN); NaN for fewer than two chorales."""
    c = np.nan_to_num(np.asarray(chorales, dtype="float32"), nan=-1.0)
    n = len(c)
    if n < 2:
        return float("nan")
    flat = c.reshape(n, -1)
    diff = (flat[:, None, :] != flat[None, :, :]).mean(-1)
    return float(diff[np.triu_indices(n, 1)].mean())


def roll_statistics(rolls, keys=None) -> dict:
    """:func:`chorale_statistics` of piano rolls ``(N, bars, steps, pitches, tracks)``
    (argmax decoding, the rest index is a rest)."""
    from gdl.music.pianoroll import pianoroll_to_chorale

    r = np.asarray(rolls)
    steps = r.shape[-3]
    return chorale_statistics(pianoroll_to_chorale(r), keys, steps_per_bar=steps)


def within(stats: dict, real: dict, rel: float = 0.2, empty_abs: float = 0.05) -> dict:
    """Per statistic, whether ``stats`` lies within ``rel`` (relative) of ``real``; for
    empty bar-tracks (0 in the real chorales) within ``empty_abs`` absolute."""
    out = {}
    for k in STAT_NAMES:
        if k == "empty bar-tracks":
            out[k] = abs(stats[k] - real[k]) <= empty_abs
        else:
            out[k] = abs(stats[k] - real[k]) <= rel * abs(real[k])
    return out
