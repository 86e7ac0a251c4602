"""Scores as the book's note/duration token streams (chapter 11, music Transformer).

The book's ``transformer_utils.parse_midi_files`` turns every MIDI file into two
parallel token streams, one event per token:

* ``START`` / ``"0.0"`` opens every piece;
* a key becomes ``"{tonic}:{mode}"`` (``"E:minor"``) and a time signature
  ``"{ratio}TS"`` (``"3/4TS"``), both with duration ``"0.0"``;
* a note (or the top pitch of a chord, after ``chordify``) becomes its name with
  octave (``"F#4"``) and its quarter length as a string (``"0.5"``, ``"1/3"``);
* a rest becomes ``"rest"`` with its duration.

Differences from the book (fixes):

* ``score.flat`` (deprecated in music21) is ``score.flatten()``;
* tied fragments are merged (``stripTies``) so a note held across a barline is one
  event, and a chord's top pitch is its highest, not merely its last, pitch;
* the book's ``load_parsed_files()`` was called without its required path; here parsed
  tokens are cached under :func:`gdl.config.cache_dir` keyed by :data:`CACHE_VERSION`
  and by each file's path, size and modification time, so re-parsing is automatic and
  never needs a path;
* a chord token (``"C4.E4"``, unreachable from parsed data in the book) is not
  produced; :func:`tokens_to_stream` still writes one if given.

Vocabularies follow the book's ``TextVectorization``: index 0 is ``""`` (padding),
1 is ``"[UNK]"``, then tokens by decreasing frequency. Models store them in their
config, so a ``.keras`` file is enough to generate music.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

START = "START"
START_DURATION = "0.0"
REST_TOKEN = "rest"
PAD, UNK = "", "[UNK]"
CACHE_VERSION = "tokens-v1"


def _duration_token(quarter_length) -> str:
    return str(quarter_length)


def _duration_value(token: str) -> float:
    return float(Fraction(token))


def score_to_tokens(score) -> tuple[list[str], list[str]]:
    """Notes and durations of a music21 score, each starting with ``START`` / ``"0.0"``.

    The score is chordified (one voice: the top pitch of each chord) as in the book.
    """
    from music21 import chord, key, meter, note

    flat = score.chordify().stripTies().flatten()
    notes, durations = [START], [START_DURATION]
    for el in flat:
        if isinstance(el, key.Key):
            notes.append(f"{el.tonic.name}:{el.mode}")
            durations.append(START_DURATION)
        elif isinstance(el, meter.TimeSignature):
            notes.append(f"{el.ratioString}TS")
            durations.append(START_DURATION)
        elif isinstance(el, chord.Chord):
            if not el.pitches:
                continue
            top = max(el.pitches, key=lambda p: p.ps)
            notes.append(top.nameWithOctave)
            durations.append(_duration_token(el.quarterLength))
        elif isinstance(el, note.Rest):
            notes.append(REST_TOKEN)
            durations.append(_duration_token(el.quarterLength))
        elif isinstance(el, note.Note):
            notes.append(el.nameWithOctave)
            durations.append(_duration_token(el.quarterLength))
    return notes, durations


def tokens_to_stream(notes: Sequence[str], durations: Sequence[str], clef=None):
    """A music21 ``Stream`` from token streams (the book's ``get_midi_note`` on each pair).

    ``START``, padding and ``[UNK]`` are skipped, rests stay rests, key and time
    signature tokens become ``Key``/``TimeSignature`` objects. ``clef`` (e.g.
    ``music21.clef.BassClef()``, as the book does for the cello) is inserted first.
    """
    from music21 import chord, key, meter, note, stream

    if len(notes) != len(durations):
        raise ValueError(f"{len(notes)} note tokens but {len(durations)} duration tokens")
    out = stream.Stream()
    if clef is not None:
        out.append(clef)
    for n, d in zip(notes, durations):
        if n in (START, PAD, UNK) or d in (PAD, UNK):
            continue
        if n.endswith("TS"):
            out.append(meter.TimeSignature(n[:-2]))
        elif n.endswith(":major") or n.endswith(":minor"):
            tonic, mode = n.split(":")
            out.append(key.Key(tonic, mode))
        else:
            ql = _duration_value(d)
            if ql <= 0:  # a note needs a length; the book resamples such tokens
                continue
            if n == REST_TOKEN:
                out.append(note.Rest(quarterLength=ql))
            elif "." in n:
                out.append(chord.Chord(n.split("."), quarterLength=ql))
            else:
                out.append(note.Note(n, quarterLength=ql))
    return out


def _cache_key(path: Path) -> str:
    st = path.stat()
    raw = f"{CACHE_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha1(raw.encode()).hexdigest()


def parse_scores(sources: Iterable, cache: bool = True, verbose: bool = False) -> list:
    """Parse each source (a MIDI/MusicXML path or a music21 stream) into
    ``(notes, durations)`` token lists. File results are cached on disk (see module doc)."""
    from music21 import converter

    from gdl.config import cache_dir

    folder = cache_dir() / "music" / CACHE_VERSION
    out = []
    for i, src in enumerate(sources):
        if not isinstance(src, (str, os.PathLike)):
            out.append(score_to_tokens(src))
            continue
        path = Path(src)
        if not path.exists():
            raise FileNotFoundError(f"no score at {path}")
        cached = folder / f"{_cache_key(path)}.json"
        if cache and cached.exists():
            out.append(tuple(json.loads(cached.read_text())))
            continue
        if verbose:
            print(f"parsing {i + 1}: {path.name}", flush=True)
        try:
            score = converter.parse(str(path))
        except Exception as exc:  # music21 raises MidiException, MusicXMLImportException ...
            from gdl.errors import DatasetError

            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
            raise DatasetError(
                f"{path} is not a readable score ({type(exc).__name__}: {first}); "
                "remove or replace the file and run again"
            ) from None
        tokens = score_to_tokens(score)
        out.append(tokens)
        if cache:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(json.dumps(tokens))
            os.replace(tmp, cached)
    return out


def build_vocabulary(token_lists: Iterable[Sequence[str]]) -> list[str]:
    """``["", "[UNK]", most frequent, ...]`` like the book's adapted ``TextVectorization``
    (ties broken alphabetically, so the vocabulary does not depend on file order)."""
    counts = Counter(t for tokens in token_lists for t in tokens)
    counts.pop(PAD, None)
    counts.pop(UNK, None)
    return [PAD, UNK] + sorted(counts, key=lambda t: (-counts[t], t))


def encode(tokens: Sequence[str], vocabulary: Sequence[str]) -> np.ndarray:
    """Token strings to int32 indices (unknown tokens to 1, ``[UNK]``)."""
    index = {t: i for i, t in enumerate(vocabulary)}
    return np.array([index.get(t, 1) for t in tokens], dtype="int32")


def sequence_dataset(
    pieces: Sequence[tuple[Sequence[str], Sequence[str]]],
    seq_len: int = 50,
    notes_vocabulary: Sequence[str] | None = None,
    durations_vocabulary: Sequence[str] | None = None,
    stride: int = 1,
):
    """The book's training pairs: windows of ``seq_len + 1`` tokens (stride 1) over all
    pieces concatenated, split into inputs ``[:-1]`` and targets ``[1:]``.

    Returns ``(x_notes, x_durations), (y_notes, y_durations), notes_vocabulary,
    durations_vocabulary`` with int32 arrays of shape ``(N, seq_len)``. Vocabularies
    are built from ``pieces`` unless given (e.g. from a trained model for held-out data).
    """
    notes = [t for n, _ in pieces for t in n]
    durs = [t for _, d in pieces for t in d]
    if notes_vocabulary is None:
        notes_vocabulary = build_vocabulary([notes])
    if durations_vocabulary is None:
        durations_vocabulary = build_vocabulary([durs])
    if len(notes) < seq_len + 1:
        raise ValueError(
            f"the pieces hold {len(notes)} events, fewer than seq_len + 1 = {seq_len + 1}"
        )
    n_ids, d_ids = encode(notes, notes_vocabulary), encode(durs, durations_vocabulary)
    starts = np.arange(0, len(notes) - seq_len, stride)
    idx = starts[:, None] + np.arange(seq_len + 1)[None, :]
    wn, wd = n_ids[idx], d_ids[idx]
    return (
        (wn[:, :-1], wd[:, :-1]),
        (wn[:, 1:], wd[:, 1:]),
        list(notes_vocabulary),
        list(durations_vocabulary),
    )


# intervals spelling each transposition in semitones; the one giving the fewest
# accidentals in the new key is used (F# major up a minor 2nd is G major, not F## ...)
_SPELLINGS = {
    0: ("P1",), 1: ("m2", "A1"), 2: ("M2", "d3"), 3: ("m3", "A2"),
    4: ("M3", "d4"), 5: ("P4", "A3"), 6: ("A4", "d5"),
}  # fmt: skip


def _interval_names(semitones: int) -> tuple[str, ...]:
    names = _SPELLINGS[abs(semitones)]
    return names if semitones >= 0 else tuple(f"-{n}" for n in names)


def transpose_tokens(notes: Sequence[str], semitones: int, max_accidentals: int = 6):
    """The note tokens of one piece transposed by ``semitones`` (-6..6), or ``None`` when the
    piece's key would need more than ``max_accidentals`` sharps/flats (0 semitones always
    gives the piece as written).

    Pitches and key tokens move by one music21 interval, spelled so that the new key has
    the fewest accidentals; rests, time signatures and ``START`` are unchanged (durations
    never change). Not in the book: transposition is the usual data augmentation for
    melody models (the book trains on the cello suites as written).
    """
    if not -6 <= semitones <= 6:
        raise ValueError(f"transpose by -6..6 semitones, not {semitones}")
    if semitones == 0:
        return list(notes)
    keys = {t for t in notes if _is_key(t)}
    best, best_acc = None, None
    for name in _interval_names(semitones):
        acc = max((abs(_transposed_key(k, name)[1]) for k in keys), default=0)
        if best is None or acc < best_acc:
            best, best_acc = name, acc
    if best_acc > max_accidentals:
        return None
    return [_transposed(t, best) for t in notes]


def _is_key(token: str) -> bool:
    return token.endswith(":major") or token.endswith(":minor")


@functools.lru_cache(maxsize=4096)
def _transposed_key(token: str, interval_name: str) -> tuple[str, int]:
    from music21 import key

    tonic, mode = token.split(":")
    moved = key.Key(tonic, mode).transpose(interval_name)
    return f"{moved.tonic.name}:{mode}", moved.sharps


@functools.lru_cache(maxsize=16384)
def _transposed(token: str, interval_name: str) -> str:
    from music21 import pitch

    if _is_key(token):
        return _transposed_key(token, interval_name)[0]
    if token in (START, REST_TOKEN, PAD, UNK) or token.endswith("TS") or "." in token:
        return token
    return pitch.Pitch(token).transpose(interval_name).nameWithOctave


def transpose_pieces(pieces, semitones: Iterable[int] = range(-5, 7), max_accidentals: int = 6):
    """``pieces`` (``(notes, durations)`` pairs) in every transposition of ``semitones``
    (0 included gives the originals), skipping those beyond ``max_accidentals``; ordered
    transposition by transposition."""
    out = []
    for s in semitones:
        for notes, durations in pieces:
            moved = transpose_tokens(notes, s, max_accidentals)
            if moved is not None:
                out.append((moved, list(durations)))
    return out
