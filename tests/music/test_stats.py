"""gdl.music.stats: MuseGAN roll statistics checked by hand, key finding against music21."""

from __future__ import annotations

import numpy as np
import pytest

from gdl.music import chorales_to_pianoroll
from gdl.music.stats import (
    chorale_statistics,
    differing_notes,
    estimate_keys,
    key_pitch_classes,
    roll_statistics,
    within,
)

NAN = np.nan


def _tiny_chorale():
    """2 bars x 16 steps, 2 tracks. Bar 0: track 0 holds C4, track 1 plays E4 then G4.
    Bar 1: track 0 rests, track 1 holds F#4."""
    c = np.full((32, 2), NAN, "float32")
    c[:16, 0] = 60
    c[:8, 1], c[8:16, 1] = 64, 67
    c[16:, 1] = 66
    return c


def test_statistics_of_a_tiny_chorale_by_hand():
    stats = chorale_statistics(_tiny_chorale()[None], keys=[(0, "major")])
    # bar 0 uses {C, E, G}, bar 1 {F#}: (3 + 1) / 2
    assert stats["pitch classes per bar"] == pytest.approx(2.0)
    # (bar 1, track 0) is the only empty one of 2 bars x 2 tracks
    assert stats["empty bar-tracks"] == pytest.approx(0.25)
    # 48 sounding cells, the 16 F# ones are out of C major
    assert stats["notes in key"] == pytest.approx(32 / 48)
    # in G major F# is in key and C, E, G too
    assert chorale_statistics(_tiny_chorale(), keys=[(7, "major")])["notes in key"] == 1.0


def test_the_same_numbers_from_the_piano_roll_and_octaves_do_not_matter():
    c = np.stack([_tiny_chorale(), _tiny_chorale() + 2])
    roll = chorales_to_pianoroll(c)
    keys = [(0, "major"), (2, "major")]
    assert roll_statistics(roll, keys) == chorale_statistics(c, keys)
    up = c + 12  # an octave higher: same pitch classes
    assert chorale_statistics(up, keys) == chorale_statistics(c, keys)


def test_key_scales():
    assert key_pitch_classes(0, "major") == {0, 2, 4, 5, 7, 9, 11}
    # A minor: natural minor plus the raised 6th (F#) and 7th (G#)
    assert key_pitch_classes(9, "minor") == {9, 11, 0, 2, 4, 5, 6, 7, 8}


def test_estimated_keys_are_music21s_and_follow_transposition():
    from gdl.music.datasets import key_of
    from tests.music_corpus import corpus_chorales

    chorales = [np.asarray(x, "float32")[:32] for x in corpus_chorales(4)]
    rng = np.random.default_rng(0)
    noisy = rng.integers(48, 72, size=(3, 32, 4)).astype("float32")
    noisy[rng.random(noisy.shape) < 0.3] = NAN
    both = chorales + list(noisy)
    assert estimate_keys(np.stack(both)) == [key_of(x) for x in both]
    tonic, mode = estimate_keys(chorales[0])[0]
    assert estimate_keys(chorales[0] + 5)[0] == ((tonic + 5) % 12, mode)


def test_silence_and_the_closeness_rule():
    silent = np.full((1, 32, 4), NAN)
    assert estimate_keys(silent) == [(0, "major")]
    stats = chorale_statistics(silent)
    assert stats["empty bar-tracks"] == 1.0 and stats["pitch classes per bar"] == 0.0
    assert np.isnan(stats["notes in key"])
    real = {"pitch classes per bar": 7.0, "empty bar-tracks": 0.0, "notes in key": 0.95}
    ok = {"pitch classes per bar": 5.7, "empty bar-tracks": 0.04, "notes in key": 0.8}
    assert all(within(ok, real).values())
    bad = {"pitch classes per bar": 5.5, "empty bar-tracks": 0.06, "notes in key": 0.75}
    assert not any(within(bad, real).values())


def test_differing_notes_between_rolls():
    a = _tiny_chorale()
    b = a.copy()
    b[:8, 0] = 62  # 8 of 64 cells changed
    c = a.copy()
    c[16:, 0] = 60  # 16 rests become notes
    # pairs: (a, b) 8/64, (a, c) 16/64, (b, c) 24/64
    assert differing_notes(np.stack([a, b, c])) == pytest.approx((8 + 16 + 24) / 64 / 3)
    assert differing_notes(np.stack([a, a, a])) == 0.0  # a collapsed generator
    assert np.isnan(differing_notes(a[None]))
    assert chorale_statistics(np.stack([a, b]), keys=[(0, "major")] * 2)[
        "differing notes between rolls"
    ] == pytest.approx(8 / 64)
