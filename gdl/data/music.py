"""Music datasets of chapter 11: Bach chorales as 16th-note piano rolls, Bach cello suites
as MIDI files.

* ``chorales``: the book's ``bach-chorales/Jsb16thSeparated.npz`` (czhuang's
  JSB-Chorales-dataset): keys ``train``/``valid``/``test``, object arrays of ``(T, 4)``
  float MIDI pitches (soprano, alto, tenor, bass) per 16th note, NaN for rests.
  The MuseGAN notebook reads ``["train"]`` (229 chorales).
* ``music21_chorales``: embedded, no download. The 371 four-part Bach chorales of
  music21's corpus (``corpus.chorales.Iterator``), converted to the same layout.
  Parsing a score takes ~0.3 s, so each converted chorale is cached under
  ``gdl.config.cache_dir()/music21_chorales/<CONVERSION_VERSION>-m21-<music21 version>/``;
  the first full load takes a minute or two, later loads a fraction of a second.
* ``cellosuites``: the 36 movements of the cello suites from jsbach.net
  (``bach-cello/cs<suite>-<movement>.mid``), returned as a sorted list of paths;
  the music Transformer's tokenisation lives in :mod:`gdl.music`.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import numpy as np

from gdl.config import cache_dir
from gdl.data.registry import Dataset, DatasetError, register_dataset

# -------------------------------------------------------------------------------------
# JSB chorales (Jsb16thSeparated.npz)

CHORALES_URL = "https://github.com/czhuang/JSB-Chorales-dataset/raw/master/Jsb16thSeparated.npz"
CHORALES_FILE = "Jsb16thSeparated.npz"
SPLITS = ("train", "valid", "test")


def _read_chorales_npz(path: Path) -> dict[str, list[np.ndarray]]:
    try:
        with np.load(path, encoding="bytes", allow_pickle=True) as f:
            out = {k: [np.asarray(a, dtype=np.float64) for a in f[k]] for k in SPLITS}
    except Exception as exc:  # BadZipFile, KeyError, ValueError, EOFError ...
        raise DatasetError(
            f"cannot read {path} ({type(exc).__name__}: {exc}); download it again with: "
            "gdl data download chorales --force"
        ) from exc
    for split, scores in out.items():
        bad = [i for i, a in enumerate(scores) if a.ndim != 2 or a.shape[1] != 4]
        if bad:
            raise DatasetError(f"{path}: {split}[{bad[0]}] is not a (T, 4) piano roll")
    return out


def _chorales_problems(ds: Dataset) -> list[str]:
    path = ds.path() / CHORALES_FILE
    if not path.is_file() or path.stat().st_size == 0:
        return [f"missing {path}"]
    return []


def _chorales_verify(ds: Dataset) -> list[str]:
    try:
        _read_chorales_npz(ds.path() / CHORALES_FILE)
    except DatasetError as exc:
        return [str(exc)]
    return []


def load_chorales(ds: Dataset) -> dict[str, list[np.ndarray]]:
    """``{"train": [...], "valid": [...], "test": [...]}``: lists of float ``(T, 4)``
    arrays (MIDI pitch of soprano, alto, tenor, bass per 16th note; NaN = rest),
    as ``np.load(".../Jsb16thSeparated.npz", encoding="bytes", allow_pickle=True)``."""
    return _read_chorales_npz(ds.require() / CHORALES_FILE)


def _random_chorale(rng: np.random.Generator, steps: int) -> np.ndarray:
    """A plausible (T, 4) roll: four voices walking by step in their ranges, with rests."""
    centres = np.array([72, 65, 58, 48])
    roll = np.empty((steps, 4))
    pitch = centres.astype(float)
    for t in range(0, steps, 4):  # quarter notes
        pitch = np.clip(pitch + rng.integers(-2, 3, 4), centres - 7, centres + 7)
        roll[t : t + 4] = pitch
    roll[rng.random(steps) < 0.03] = np.nan
    return roll


def fixture_chorales(ds: Dataset, root: Path, sizes=(6, 2, 2)) -> None:
    """A small npz in the real layout: object arrays of (T, 4) float rolls, NaN rests."""
    rng = np.random.default_rng(40)
    folder = root / ds.folder
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in zip(SPLITS, sizes):
        arr = np.empty(n, dtype=object)
        for i in range(n):
            arr[i] = _random_chorale(rng, int(rng.integers(8, 17)) * 4)
        arrays[split] = arr
    np.savez(folder / CHORALES_FILE, **arrays)


def _download_chorales(ds: Dataset, **kw):
    from gdl.data.download import UrlFile, install_files

    return install_files(ds, [UrlFile(CHORALES_URL, CHORALES_FILE)], **kw)


CHORALES = register_dataset(
    Dataset(
        name="chorales",
        description="JSB chorales as 16th-note rolls, Jsb16thSeparated.npz (chapter 11 MuseGAN)",
        source=f"url:{CHORALES_URL}",
        folder="bach-chorales",
        loader=load_chorales,
        checker=_chorales_problems,
        verifier=_chorales_verify,
        downloader=_download_chorales,
        fixture=fixture_chorales,
        chapters=("11",),
    )
)

# -------------------------------------------------------------------------------------
# music21's Bach chorales, converted to the same layout (embedded)

CONVERSION_VERSION = "v1"  # bump when chorale_to_roll changes: old caches are ignored
STEPS_PER_QUARTER = 4


def chorale_to_roll(score) -> np.ndarray | None:
    """A music21 score with four voices -> float ``(T, 4)`` roll (S, A, T, B), NaN rests.

    Voices are ordered by mean pitch (highest first) so the kern-encoded chorales,
    whose parts come bottom-up, line up with the MusicXML ones. Each note fills the
    16th-note steps from its onset to its end (chords keep their top pitch; grace notes
    are dropped; repeats are not expanded). Scores without exactly four sounding parts
    give ``None``.
    """
    parts = [p for p in score.parts if p.recurse().notes]
    if len(parts) != 4:
        return None
    steps = int(round(float(score.highestTime) * STEPS_PER_QUARTER))
    voices = []
    for part in parts:
        col = np.full(steps, np.nan)
        for n in part.flatten().notes:
            ql = float(n.quarterLength)
            if ql <= 0:
                continue
            midi = max(p.midi for p in n.pitches)
            start = int(round(float(n.offset) * STEPS_PER_QUARTER))
            end = int(round((float(n.offset) + ql) * STEPS_PER_QUARTER))
            col[start : max(end, start + 1)] = midi
        voices.append(col)
    voices.sort(key=lambda c: -np.nanmean(c))
    return np.stack(voices, axis=1)


def chorale_split(name: str) -> str:
    """A fixed train/valid/test assignment (60/20/20) from a CRC of the chorale's name,
    so a chorale keeps its split whatever ``limit`` is."""
    r = zlib.crc32(name.encode()) % 10
    return "train" if r < 6 else ("valid" if r < 8 else "test")


def music21_cache_dir() -> Path:
    from importlib.metadata import version

    return cache_dir() / "music21_chorales" / f"{CONVERSION_VERSION}-m21-{version('music21')}"


def _convert_cached(name: str, folder: Path) -> np.ndarray | None:
    """The roll of corpus chorale ``name`` from the cache, converting it on a miss."""
    stem = name.replace("/", "_")
    npy, skip = folder / f"{stem}.npy", folder / f"{stem}.skip"
    if npy.is_file():
        try:
            return np.load(npy)
        except (OSError, ValueError):
            npy.unlink(missing_ok=True)  # a damaged cache entry is simply redone
    if skip.is_file():
        return None
    from music21 import corpus

    roll = chorale_to_roll(corpus.parse(name))
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{stem}.{os.getpid()}.tmp"
    if roll is None:
        skip.touch()
        return None
    with open(tmp, "wb") as f:
        np.save(f, roll)
    os.replace(tmp, npy)
    return roll


def corpus_chorale_names(folder: Path | None = None) -> list[str]:
    """The names of the 371 chorales in music21's corpus, in Riemenschneider order
    (read from the cache's ``index.json`` when there, which spares importing music21)."""
    index = (folder or music21_cache_dir()) / "index.json"
    try:
        return json.loads(index.read_text())
    except (OSError, ValueError):
        pass
    from music21 import corpus

    names = list(corpus.chorales.Iterator(returnType="filename"))
    index.parent.mkdir(parents=True, exist_ok=True)
    tmp = index.with_name(f".index.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(names))
    os.replace(tmp, index)
    return names


def load_music21_chorales(
    ds: Dataset | None = None, limit: int | None = None, with_names: bool = False
):
    """Bach chorales from music21's corpus as ``{"train", "valid", "test"}`` lists of
    float ``(T, 4)`` rolls (the ``chorales`` layout), split 60/20/20 by name.

    ``limit`` converts only the first ``limit`` chorales (smoke runs:
    ``load("music21_chorales", limit=8)``). Conversions are cached on disk (see the module
    docstring). ``with_names`` also returns ``{"train": [names], ...}``.
    """
    folder = music21_cache_dir()
    names = corpus_chorale_names(folder)
    if limit is not None:
        names = names[:limit]
    out: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    kept: dict[str, list[str]] = {s: [] for s in SPLITS}
    for name in names:
        roll = _convert_cached(name, folder)
        if roll is not None:
            split = chorale_split(name)
            out[split].append(roll)
            kept[split].append(name)
    return (out, kept) if with_names else out


MUSIC21_CHORALES = register_dataset(
    Dataset(
        name="music21_chorales",
        description="Bach chorales from music21's corpus (the 351 of 371 in four parts) as 16th-note rolls (embedded)",
        source="embedded:music21.corpus.chorales",
        folder="",
        loader=load_music21_chorales,
        embedded=True,
        chapters=("11",),
    )
)

# -------------------------------------------------------------------------------------
# Bach cello suites (jsbach.net MIDI files)

CELLO_URL = "http://www.jsbach.net/midi/"
_FIFTH = {1: "5men", 2: "5men", 3: "5bou", 4: "5bou", 5: "5gav", 6: "5gav"}
CELLO_FILES = tuple(
    f"cs{s}-{m}.mid"
    for s in range(1, 7)
    for m in ("1pre", "2all", "3cou", "4sar", _FIFTH[s], "6gig")
)


def _midi_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.mid") if p.is_file())


def _cello_problems(ds: Dataset) -> list[str]:
    folder = ds.path()
    files = _midi_files(folder)
    if not files:
        return [f"no .mid files in {folder}"]
    empty = [f for f in files if f.stat().st_size == 0]
    return [f"{f} is empty" for f in empty]


def _cello_verify(ds: Dataset) -> list[str]:
    problems = []
    for f in _midi_files(ds.path()):
        with open(f, "rb") as fh:
            if fh.read(4) != b"MThd":
                problems.append(f"{f} is not a MIDI file (corrupt download?)")
    return problems


def load_cellosuites(ds: Dataset) -> list[str]:
    """The sorted paths of the ``.mid`` files in ``bach-cello/`` (36 with the book's
    download), as the notebook's ``glob("/app/data/bach-cello/*.mid")``."""
    return [str(p) for p in _midi_files(ds.require())]


def fixture_cellosuites(ds: Dataset, root: Path) -> None:
    """Two short single-line MIDI files written with music21 (key, metre, notes, a rest)."""
    from music21 import clef, key, meter, note, stream

    folder = root / ds.folder
    folder.mkdir(parents=True, exist_ok=True)
    phrases = {
        "cs1-1pre.mid": ("G:major", "4/4", ["G2", "D3", "B3", "A3", "B3", "D3", "B3", "D3"]),
        "cs1-2all.mid": ("G:major", "4/4", ["G2", "B2", "D3", "G3", None, "F#3", "E3", "D3"]),
    }
    for name, (k, ts, pitches) in phrases.items():
        part = stream.Part()
        part.append(clef.BassClef())
        tonic, mode = k.split(":")
        part.append(key.Key(tonic, mode))
        part.append(meter.TimeSignature(ts))
        for p in pitches:
            part.append(
                note.Rest(quarterLength=0.5) if p is None else note.Note(p, quarterLength=0.25)
            )
        part.write("midi", fp=str(folder / name))


def _download_cellosuites(ds: Dataset, **kw):
    from gdl.data.download import UrlFile, install_files

    return install_files(ds, [UrlFile(CELLO_URL + f, f) for f in CELLO_FILES], **kw)


CELLOSUITES = register_dataset(
    Dataset(
        name="cellosuites",
        description="Bach cello suites: 36 MIDI movements from jsbach.net (chapter 11)",
        source=f"url:{CELLO_URL}",
        folder="bach-cello",
        loader=load_cellosuites,
        checker=_cello_problems,
        verifier=_cello_verify,
        downloader=_download_cellosuites,
        fixture=fixture_cellosuites,
        chapters=("11",),
        extra={
            "files": CELLO_FILES,
            "expected": len(CELLO_FILES),
            "unit": "MIDI files",
            "count": lambda ds: len(_midi_files(ds.path())),
        },
    )
)
