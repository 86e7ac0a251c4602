"""A few chorales from music21's corpus as ``(T, 4)`` arrays, for the music tests.

Test-only stand-in for ``gdl.data.load("music21_chorales")``: MIDI pitch of each
voice per 16th note, NaN for rests.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

CHORALES = ("bach/bwv1.6", "bach/bwv10.7", "bach/bwv101.7")


@lru_cache(maxsize=None)
def corpus_chorale(name: str) -> np.ndarray:
    from music21 import corpus

    score = corpus.parse(name)
    parts = score.parts[:4]
    grid = np.full((int(round(score.highestTime / 0.25)), 4), np.nan, dtype="float32")
    for t, part in enumerate(parts):
        for el in part.flatten().notes:
            pitch = max(p.midi for p in el.pitches)
            start = int(round(float(el.offset) / 0.25))
            stop = int(round(float(el.offset + el.quarterLength) / 0.25))
            grid[start:stop, t] = pitch
    return grid


def corpus_chorales(n: int = 3) -> list[np.ndarray]:
    return [corpus_chorale(name) for name in CHORALES[:n]]
