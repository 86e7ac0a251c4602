"""Music in and out: token streams, piano rolls, MIDI round trips (gdl.music)."""

from __future__ import annotations

import numpy as np
import pytest

from gdl.errors import ConfigError
from gdl.music import pianoroll, tokens
from tests.music_corpus import corpus_chorales

# two bars of 3/4 in E minor: a rest inside, a note across the barline, a triplet,
# a trailing rest
NOTES = [tokens.START, "E:minor", "3/4TS", "E4", "rest", "F#4", "B-3", "C#5", "G4"]
NOTES += ["C5", "D5", "E5", "rest"]
DURS = ["0.0", "0.0", "0.0", "1.0", "0.5", "0.5", "1.5", "0.25", "0.25"]
DURS += ["1/3", "1/3", "1/3", "1.0"]


def test_tokens_midi_round_trip(tmp_path):
    stream = tokens.tokens_to_stream(NOTES, DURS)
    path = pianoroll.write_midi(stream, tmp_path / "piece.mid")
    from music21 import converter

    notes, durs = tokens.score_to_tokens(converter.parse(str(path)))
    assert notes == NOTES
    assert durs == DURS


def test_tokens_to_stream_skips_control_tokens_and_keeps_rests():
    s = tokens.tokens_to_stream(
        [tokens.START, "", "[UNK]", "rest", "A4"], ["0.0", "1.0", "1.0", "0.75", "1/3"]
    )
    events = list(s.notesAndRests)
    assert [e.isRest for e in events] == [True, False]
    assert events[0].quarterLength == 0.75 and events[1].pitch.midi == 69
    assert abs(float(events[1].quarterLength) - 1 / 3) < 1e-9
    with pytest.raises(ValueError, match="duration tokens"):
        tokens.tokens_to_stream(["A4"], [])


def test_score_to_tokens_on_a_corpus_chorale():
    from music21 import corpus

    notes, durs = tokens.score_to_tokens(corpus.parse("bach/bwv1.6"))
    assert notes[0] == tokens.START and durs[0] == "0.0"
    assert any(n.endswith("TS") for n in notes) and any(":major" in n for n in notes)
    assert len(notes) == len(durs) > 50
    # durations add up to the length of the piece
    from fractions import Fraction

    total = sum(Fraction(d) for d in durs)
    assert float(total) == pytest.approx(corpus.parse("bach/bwv1.6").highestTime)


def test_parse_scores_caches_parsed_files(tmp_path, monkeypatch):
    monkeypatch.setenv("GDL_CACHE_DIR", str(tmp_path / "cache"))
    path = pianoroll.write_midi(tokens.tokens_to_stream(NOTES, DURS), tmp_path / "a.mid")
    first = tokens.parse_scores([path])
    assert list((tmp_path / "cache").rglob("*.json"))

    def fail(_):
        raise AssertionError("parsed again instead of reading the cache")

    monkeypatch.setattr(tokens, "score_to_tokens", fail)
    assert [list(map(list, p)) for p in tokens.parse_scores([path])] == [
        list(map(list, p)) for p in first
    ]
    with pytest.raises(FileNotFoundError, match="no score"):
        tokens.parse_scores([tmp_path / "missing.mid"])


def test_vocabulary_and_sequence_windows():
    pieces = [(["START", "A4", "B4", "A4"], ["0.0", "1.0", "1.0", "0.5"])] * 2
    vocab = tokens.build_vocabulary([p[0] for p in pieces])
    assert vocab[:3] == ["", "[UNK]", "A4"]  # most frequent first
    (xn, xd), (yn, yd), nv, dv = tokens.sequence_dataset(pieces, seq_len=3)
    assert xn.shape == xd.shape == yn.shape == (5, 3)
    np.testing.assert_array_equal(yn[:, :-1], xn[:, 1:])
    np.testing.assert_array_equal(yd[:, :-1], xd[:, 1:])
    assert [nv[i] for i in xn[0]] == ["START", "A4", "B4"]
    assert tokens.encode(["C9", "A4"], nv).tolist() == [1, nv.index("A4")]
    with pytest.raises(ValueError, match="seq_len"):
        tokens.sequence_dataset(pieces, seq_len=50)


def test_transpose_tokens_moves_pitches_and_keys_by_the_same_interval():
    from music21 import pitch

    for semitones in range(-6, 7):
        moved = tokens.transpose_tokens(NOTES, semitones)
        assert len(moved) == len(NOTES)
        for a, b in zip(NOTES, moved):
            if a in (tokens.START, "rest", "3/4TS"):
                assert b == a  # control tokens, rests and metres stay
            elif a == "E:minor":
                tonic = pitch.Pitch(b.split(":")[0]).pitchClass
                assert b.endswith(":minor") and tonic == (4 + semitones) % 12
            else:  # every pitch moves by exactly `semitones`, octave included
                assert pitch.Pitch(b).midi - pitch.Pitch(a).midi == semitones
    assert tokens.transpose_tokens(NOTES, 0) == NOTES


def test_transpose_tokens_spells_the_key_with_fewest_accidentals():
    from music21 import key

    # F# major up a semitone: G major (1 sharp), not F## major
    assert tokens.transpose_tokens(["F#:major", "F#4", "A#4"], 1) == ["G:major", "G4", "B4"]
    # E minor up a tritone: B- minor (5 flats) and A# minor (7 sharps) -> B- minor
    assert tokens.transpose_tokens(["E:minor", "E4"], 6) == ["B-:minor", "B-4"]
    assert tokens.transpose_tokens(["E:minor", "E4"], 6, max_accidentals=4) is None
    for s in range(-6, 7):
        k = tokens.transpose_tokens(["F#:major"], s)[0].split(":")[0]
        assert abs(key.Key(k, "major").sharps) <= 6
    # a piece as written is always kept, even beyond max_accidentals
    assert tokens.transpose_tokens(["C#:major"], 0) == ["C#:major"]
    assert tokens.transpose_tokens(["C#:major"], 1) == ["D:major"]
    with pytest.raises(ValueError, match="semitones"):
        tokens.transpose_tokens(NOTES, 7)


def test_transpose_pieces_keeps_durations_and_counts_keys():
    pieces = [(NOTES, DURS), (["C:major", "C4"], ["0.0", "1.0"])]
    out = tokens.transpose_pieces(pieces)
    assert len(out) == 24  # 12 keys x 2 pieces, all within 6 accidentals
    assert out[5 * 2] == (NOTES, DURS)  # semitones -5..6: the originals at index 5
    assert all(d == p[1] for (_, d), p in zip(out, pieces * 12))
    assert len(tokens.transpose_pieces(pieces, semitones=[0, 2])) == 4


def test_pianoroll_encoding_and_argmax_decoding():
    chorales = corpus_chorales(2)
    chorales[0][3:5, 1] = np.nan  # a rest in the alto
    rolls = pianoroll.chorales_to_pianoroll(chorales)
    assert rolls.shape == (2, 2, 16, 84, 4)
    assert set(np.unique(rolls)) == {-1.0, 1.0}
    np.testing.assert_array_equal((rolls == 1).sum(axis=3), 1)  # one pitch per step/track
    assert rolls[0, 0, 3, pianoroll.REST, 1] == 1  # the rest code
    back = pianoroll.pianoroll_to_chorale(rolls)
    np.testing.assert_array_equal(back, np.stack([c[:32] for c in chorales]))
    windows = pianoroll.chorales_to_pianoroll(chorales, hop=16)
    assert len(windows) == sum((len(c) - 32) // 16 + 1 for c in chorales)


def test_pianoroll_rejects_pitches_that_collide_with_the_rest_code():
    with pytest.raises(ValueError, match="codes a rest"):
        pianoroll.chorales_to_pianoroll([np.full((32, 4), 83.0)])
    with pytest.raises(ValueError, match="bars, steps, pitches, tracks"):
        pianoroll.pianoroll_to_chorale(np.zeros((2, 16, 84)))


def test_chorale_midi_keeps_rests_as_rests(tmp_path):
    """The book writes the rest code 83 as a B5; gdl writes a rest."""
    from music21 import converter

    chorale = np.full((32, 4), 60.0, dtype="float32")
    chorale[:, 1] = 64
    chorale[8:16, 0] = np.nan
    chorale[16:, 0] = 67
    rolls = pianoroll.chorales_to_pianoroll([chorale])
    decoded = pianoroll.pianoroll_to_chorale(rolls)[0]
    score = pianoroll.chorale_to_stream(decoded, split_every=None)
    path = pianoroll.write_midi(score, tmp_path / "c.mid")
    parsed = converter.parse(str(path))
    soprano = [e for e in parsed.parts[0].flatten().notesAndRests]
    assert [("rest" if e.isRest else e.pitch.midi, float(e.quarterLength)) for e in soprano] == [
        (60, 2.0),
        ("rest", 2.0),
        (67, 4.0),
    ]
    all_pitches = {p.midi for p in parsed.flatten().pitches}
    assert 83 not in all_pitches
    # the book's split: a new note on every beat
    beats = pianoroll.chorale_to_stream(decoded, split_every=4).parts[1].notes
    assert len(beats) == 8


def test_plot_pianoroll_draws_tracks_by_bars(tmp_path):
    rolls = pianoroll.chorales_to_pianoroll(corpus_chorales(1))
    fig = pianoroll.plot_pianoroll(rolls[0], title="real", path=tmp_path / "roll.png")
    assert len(fig.axes) == 4 * 2
    assert (tmp_path / "roll.png").stat().st_size > 0
    fig2 = pianoroll.plot_pianoroll(corpus_chorales(1)[0][:40])
    assert len(fig2.axes) == 4 * 3


def test_show_score_without_musescore_prints_a_note(capsys, monkeypatch):
    monkeypatch.setattr(pianoroll, "musescore_path", lambda: None)
    assert pianoroll.show_score(None) is False
    assert "MuseScore" in capsys.readouterr().out


def test_book_datasets_feed_both_models(data_env, monkeypatch, capsys):
    """The fixture copies of the book's chorales npz and cello-suite MIDI files."""
    from gdl.music.datasets import musegan_rolls, resolve_data, token_pieces

    rolls = musegan_rolls("chorales")
    assert rolls.shape[1:] == (2, 16, 84, 4) and len(rolls) == 6
    pieces = token_pieces("chorales", limit=2)
    assert len(pieces["train"]) == 2 and pieces["train"][0][0][0] == tokens.START
    cello = token_pieces("cellosuites")["train"]
    assert len(cello) == 2 and "G:major" in cello[0][0] and "4/4TS" in cello[0][0]
    with pytest.raises(ConfigError, match="MuseGAN trains on"):
        musegan_rolls("cellosuites")

    monkeypatch.setenv("GDL_SMOKE", "1")
    assert resolve_data(None, "cellosuites") == "music21_chorales"
    assert resolve_data("chorales", "cellosuites") == "chorales"
    monkeypatch.setenv("GDL_SMOKE", "0")
    assert resolve_data(None, "cellosuites") == "cellosuites"  # the fixture is present
    monkeypatch.setenv("GDL_DATA_DIR", str(data_env.parent / "empty"))
    assert resolve_data(None, "chorales") == "music21_chorales"
    assert "gdl data download chorales" in capsys.readouterr().out
