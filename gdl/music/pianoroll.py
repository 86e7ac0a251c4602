"""Chorales as MuseGAN piano rolls and back (chapter 11, the book's ``musegan_utils.py``).

A chorale is a ``(T, 4)`` float array: the MIDI pitch of each voice at every 16th
note, NaN for a rest (the layout of the book's ``Jsb16thSeparated.npz`` and of
``gdl.data.load("music21_chorales")``). MuseGAN sees the first ``n_bars * n_steps``
steps as a piano roll ``(bars=2, steps=16, pitches=84, tracks=4)`` in {-1, 1}:
one-hot over pitch, with index :data:`REST` (83) coding a rest, as in the book.

Differences from the book (fixes):

* the book's ``notes_to_midi`` writes the rest code 83 as a real note (B5); here it
  becomes a ``Rest``;
* MIDI files are written to the path asked for (the book writes ``./output/...``), and
  notation is rendered only where MuseScore is installed (:func:`show_score`);
* a real pitch at or above the rest code, which the book would silently turn into a
  rest, raises an error.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

N_BARS, N_STEPS_PER_BAR, N_PITCHES, N_TRACKS = 2, 16, 84, 4
REST = N_PITCHES - 1  # the book's MAX_PITCH = 83 codes a rest
STEP_QUARTERS = 0.25  # one step is a 16th note


def chorales_to_pianoroll(
    chorales,
    n_bars: int = N_BARS,
    n_steps_per_bar: int = N_STEPS_PER_BAR,
    n_pitches: int = N_PITCHES,
    hop: int | None = None,
) -> np.ndarray:
    """Piano rolls ``(N, n_bars, n_steps_per_bar, n_pitches, tracks)`` in {-1, 1}.

    ``hop=None`` takes the first ``n_bars * n_steps_per_bar`` steps of each chorale
    (the book); an int takes every window starting at multiples of ``hop``. Chorales
    shorter than one window are skipped.
    """
    length = n_bars * n_steps_per_bar
    rest = n_pitches - 1
    windows = []
    for c in chorales:
        c = np.asarray(c, dtype="float32")
        if c.ndim != 2:
            raise ValueError(f"a chorale must be a (T, tracks) array, got shape {c.shape}")
        starts = [0] if hop is None else range(0, len(c) - length + 1, hop)
        windows += [c[s : s + length] for s in starts if s + length <= len(c)]
    if not windows:
        raise ValueError(f"no chorale holds {length} steps (n_bars * n_steps_per_bar)")
    x = np.stack(windows)
    pitches = np.where(np.isnan(x), rest, x)
    bad = (~np.isnan(x)) & ((x < 0) | (x >= rest))
    if bad.any():
        raise ValueError(
            f"pitches must lie in [0, {rest}) (index {rest} codes a rest); "
            f"found {np.unique(x[bad]).tolist()}"
        )
    pitches = pitches.astype("int64").reshape(len(x), n_bars, n_steps_per_bar, x.shape[-1])
    onehot = np.eye(n_pitches, dtype="float32")[pitches]  # (N, bars, steps, tracks, pitches)
    onehot = np.transpose(onehot, (0, 1, 2, 4, 3))
    return onehot * 2.0 - 1.0


def pianoroll_to_chorale(rolls) -> np.ndarray:
    """Argmax decoding: ``(N, bars, steps, pitches, tracks)`` -> ``(N, bars*steps, tracks)``
    MIDI pitches, NaN where the rest index wins (the book's ``binarise_output``)."""
    r = np.asarray(rolls)
    if r.ndim == 4:
        r = r[None]
    if r.ndim != 5:
        raise ValueError(f"expected (N, bars, steps, pitches, tracks) piano rolls, got {r.shape}")
    idx = r.argmax(axis=3).astype("float32")  # (N, bars, steps, tracks)
    idx[idx == r.shape[3] - 1] = np.nan
    return idx.reshape(len(r), r.shape[1] * r.shape[2], r.shape[4])


def chorale_to_stream(
    chorale, split_every: int | None = 4, tempo: float = 66, step: float = STEP_QUARTERS
):
    """A music21 ``Score`` with one part per voice of a ``(T, tracks)`` chorale.

    Equal consecutive steps are merged into one note (or rest); like the book's
    ``notes_to_midi`` a new note also starts every ``split_every`` steps (4 = each beat;
    ``None`` merges held notes fully). NaN steps become rests, not B5.
    """
    from music21 import note, stream
    from music21 import tempo as m21tempo

    c = np.asarray(chorale, dtype="float32")
    if c.ndim != 2:
        raise ValueError(f"a chorale must be a (T, tracks) array, got shape {c.shape}")
    score = stream.Score()
    score.insert(0, m21tempo.MetronomeMark(number=tempo))
    for t in range(c.shape[1]):
        part = stream.Part(id=f"track{t}")
        voice = c[:, t]
        i = 0
        while i < len(voice):
            j = i + 1
            while (
                j < len(voice)
                and (voice[j] == voice[i] or (np.isnan(voice[j]) and np.isnan(voice[i])))
                and not (split_every and j % split_every == 0)
            ):
                j += 1
            ql = (j - i) * step
            if np.isnan(voice[i]):
                part.append(note.Rest(quarterLength=ql))
            else:
                n = note.Note(quarterLength=ql)
                n.pitch.midi = int(voice[i])
                part.append(n)
            i = j
        score.insert(0, part)
    return score


def write_midi(score, path) -> Path:
    """Write a music21 stream to ``path`` as MIDI (via a temporary name); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    score.write("midi", fp=str(tmp))
    os.replace(tmp, path)
    return path


def musescore_path() -> str | None:
    """The MuseScore executable music21 would use for notation, or None."""
    try:
        from music21 import environment

        configured = environment.UserSettings()["musescoreDirectPNGPath"]
        if configured and Path(str(configured)).exists():
            return str(configured)
    except Exception:  # noqa: BLE001 - music21 settings may be unreadable
        pass
    for name in ("mscore", "musescore", "mscore4portable", "musescore4", "mscore3"):
        found = shutil.which(name)
        if found:
            return found
    return None


def show_score(score) -> bool:
    """Show notation with ``score.show()`` where MuseScore exists; otherwise print a note
    and return False (piano-roll plots need nothing)."""
    if musescore_path() is None:
        print(
            "MuseScore is not installed: notation skipped (piano-roll plots and MIDI files only)."
        )
        return False
    score.show()
    return True


def plot_pianoroll(roll, title: str | None = None, path=None, track_names=None):
    """The book's ``draw_score``: a tracks x bars grid of piano-roll images.

    ``roll`` is one piano roll ``(bars, steps, pitches, tracks)`` (values or scores;
    argmax per step is drawn, rests left blank) or a ``(T, tracks)`` chorale array.
    Returns the matplotlib figure (saved to ``path`` when given).
    """
    from matplotlib.figure import Figure

    r = np.asarray(roll)
    if r.ndim == 2:
        n_steps, n_pitches = N_STEPS_PER_BAR, N_PITCHES
        n_bars = max(1, -(-len(r) // n_steps))
        chorale = np.full((n_bars * n_steps, r.shape[1]), np.nan, dtype="float32")
        chorale[: len(r)] = r
    elif r.ndim == 4:
        n_bars, n_steps, n_pitches = r.shape[:3]
        chorale = pianoroll_to_chorale(r[None])[0]
    else:
        raise ValueError(f"expected (bars, steps, pitches, tracks) or (T, tracks), got {r.shape}")
    n_tracks = chorale.shape[1]
    fig = Figure(figsize=(3 * n_bars, 1.6 * n_tracks))
    axes = fig.subplots(n_tracks, n_bars, squeeze=False, sharex=True, sharey=True)
    for t in range(n_tracks):
        for b in range(n_bars):
            seg = chorale[b * n_steps : (b + 1) * n_steps, t]
            img = np.zeros((n_pitches, n_steps))
            ok = ~np.isnan(seg)
            img[seg[ok].astype(int), np.nonzero(ok)[0]] = 1
            ax = axes[t, b]
            ax.imshow(img, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest")
            if b == 0:
                ax.set_ylabel(track_names[t] if track_names else f"track {t}")
            if t == 0:
                ax.set_title(f"bar {b + 1}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    return fig
