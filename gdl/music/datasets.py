"""Chapter 11's training data from :mod:`gdl.data`: token pieces and piano rolls.

* :func:`token_pieces` gives the music Transformer's ``(notes, durations)`` pieces per
  split from ``cellosuites`` (the book's 36 MIDI files, all in ``train`` as in the
  book), ``music21_chorales`` (the corpus MusicXML scores, embedded; split like
  ``gdl.data``'s chorales), ``chorales`` (the book's npz arrays, rendered to scores) or
  a folder/file of your own MIDI/MusicXML.
* :func:`musegan_rolls` gives MuseGAN's piano rolls from ``chorales`` or
  ``music21_chorales`` (first 2 bars of each chorale, as the book).
* :func:`resolve_data` picks the book's dataset when it is downloaded, else the
  embedded chorales (always in smoke mode), so everything runs offline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gdl.config import smoke_mode
from gdl.errors import ConfigError, DatasetError
from gdl.music.pianoroll import chorale_to_stream, chorales_to_pianoroll
from gdl.music.tokens import parse_scores, score_to_tokens

EMBEDDED = "music21_chorales"
SPLITS = ("train", "valid", "test")
SCORE_SUFFIXES = (".mid", ".midi", ".mxl", ".xml", ".musicxml", ".krn", ".abc")


def resolve_data(requested: str | None, book: str, quiet: bool = False) -> str:
    """``requested`` if given; the embedded chorales in smoke mode; else ``book`` when it is
    downloaded, or the embedded chorales with a note saying how to get ``book`` (left out
    with ``quiet``)."""
    if requested:
        return requested
    if smoke_mode():
        return EMBEDDED
    from gdl.data import get_dataset

    if get_dataset(book).is_present():
        return book
    if not quiet:
        print(
            f"The book's {book!r} dataset is not downloaded (gdl data download {book}); "
            f"using the embedded {EMBEDDED!r} instead."
        )
    return EMBEDDED


def _chorale_arrays(name: str, limit: int | None) -> dict:
    from gdl.data import load

    data = load(name, limit=limit) if name == EMBEDDED else load(name)
    if limit is not None and name != EMBEDDED:
        data = {k: v[:limit] for k, v in data.items()}
    return data


def musegan_rolls(name: str = EMBEDDED, split: str = "train", limit: int | None = None, **kw):
    """Piano rolls ``(N, 2, 16, 84, 4)`` in {-1, 1} of one split (keywords go to
    :func:`gdl.music.chorales_to_pianoroll`)."""
    if name not in ("chorales", EMBEDDED):
        raise ConfigError(f"MuseGAN trains on 'chorales' or '{EMBEDDED}', not {name!r}")
    return chorales_to_pianoroll(_chorale_arrays(name, limit)[split], **kw)


def _score_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in SCORE_SUFFIXES)
    if not files:
        raise DatasetError(
            f"no MIDI/MusicXML files ({', '.join(SCORE_SUFFIXES)}) in {path}: "
            f"pass a folder (or a file) of scores"
        )
    return files


def token_pieces(name: str = EMBEDDED, limit: int | None = None, verbose: bool = False) -> dict:
    """``{"train", "valid", "test"}`` lists of ``(notes, durations)`` token lists."""
    out: dict[str, list] = {s: [] for s in SPLITS}
    if name == EMBEDDED:
        from music21 import corpus

        from gdl.data.music import chorale_split, corpus_chorale_names

        def work(n):
            found = corpus.getWork(n)
            return (
                sorted(found, key=lambda p: Path(p).suffix != ".mxl")[0]
                if isinstance(found, list)
                else found
            )

        names = corpus_chorale_names()[:limit]
        pieces = parse_scores([work(n) for n in names], verbose=verbose)
        for n, p in zip(names, pieces):
            out[chorale_split(n)].append(p)
    elif name == "chorales":
        for split, arrays in _chorale_arrays(name, limit).items():
            out[split] = [score_to_tokens(chorale_to_stream(a, split_every=None)) for a in arrays]
    elif name == "cellosuites" or Path(name).exists():
        if name == "cellosuites":
            from gdl.data import load

            files = load("cellosuites")
        else:
            files = _score_files(Path(name))
        out["train"] = parse_scores(files[:limit], verbose=verbose)
    else:
        raise ConfigError(
            f"the music Transformer reads cellosuites, chorales, {EMBEDDED} or a folder/file "
            f"of MIDI/MusicXML scores, not {name!r}"
        )
    return out


def key_of(chorale) -> tuple[int, str]:
    """Tonic pitch class and mode of a ``(T, tracks)`` chorale (Krumhansl-Schmuckler via
    music21's ``analyze('key')``), for the "notes in key" measure."""
    from music21 import chord, stream

    s = stream.Stream()
    for row in np.asarray(chorale):
        pitches = [int(p) for p in row if not np.isnan(p)]
        if pitches:
            s.append(chord.Chord(pitches, quarterLength=0.25))
    k = s.analyze("key")
    return k.tonic.pitchClass, k.mode
