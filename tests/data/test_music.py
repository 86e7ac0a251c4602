"""Music datasets: the chorales npz and cello MIDI fixtures through the real loaders, and the
music21 chorale conversion checked on known facts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gdl.data import DatasetError, MissingDatasetError, get_dataset, load
from gdl.data.music import (
    CELLO_FILES,
    CONVERSION_VERSION,
    chorale_split,
    chorale_to_roll,
    music21_cache_dir,
)


def test_chorales_npz_layout(data_env):
    data = load("chorales")
    assert set(data) == {"train", "valid", "test"} and all(data.values())
    raw = np.load(data_env / "bach-chorales/Jsb16thSeparated.npz", allow_pickle=True)
    for split, scores in data.items():
        assert len(scores) == len(raw[split])
        for roll, want in zip(scores, raw[split]):
            assert roll.dtype == np.float64 and roll.shape[1] == 4
            np.testing.assert_array_equal(roll, want)
    assert any(np.isnan(r).any() for r in data["train"])  # rests are NaN


def test_corrupt_chorales_npz_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("GDL_DATA_DIR", str(tmp_path))
    path = tmp_path / "bach-chorales" / "Jsb16thSeparated.npz"
    path.parent.mkdir()
    path.write_bytes(b"<html>404</html>")
    with pytest.raises(DatasetError, match="Jsb16thSeparated.npz"):
        load("chorales")
    assert get_dataset("chorales").verify()


def test_cellosuites_are_sorted_midi_paths(data_env):
    paths = load("cellosuites")
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["cs1-1pre.mid", "cs1-2all.mid"]
    from music21 import converter

    score = converter.parse(paths[1])
    names = [n.nameWithOctave for n in score.flatten().notes]
    assert names[:4] == ["G2", "B2", "D3", "G3"]
    assert get_dataset("cellosuites").verify() == []


def test_cello_file_names_follow_the_book_script():
    assert len(CELLO_FILES) == 36 and len(set(CELLO_FILES)) == 36
    assert "cs1-5men.mid" in CELLO_FILES and "cs3-5bou.mid" in CELLO_FILES
    assert "cs6-5gav.mid" in CELLO_FILES and "cs2-5gav.mid" not in CELLO_FILES


def test_absent_music_sets_name_the_download(tmp_path, monkeypatch):
    monkeypatch.setenv("GDL_DATA_DIR", str(tmp_path))
    for name in ("chorales", "cellosuites"):
        with pytest.raises(MissingDatasetError, match=f"gdl data download {name}"):
            load(name)


@pytest.fixture(scope="module")
def chorale_cache(tmp_path_factory):
    """A private, initially empty conversion cache shared by this module's tests."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GDL_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield music21_cache_dir
    mp.undo()


def test_music21_chorales_known_facts(chorale_cache):
    data, names = load("music21_chorales", limit=8, with_names=True)
    rolls = [r for split in data.values() for r in split]
    assert len(rolls) == 8  # the first eight corpus chorales are all four-part
    for split, split_names in names.items():
        assert all(chorale_split(n) == split for n in split_names)
    for roll in rolls:
        assert roll.shape[1] == 4 and roll.shape[0] >= 32
        pitches = roll[~np.isnan(roll)]
        # inside MuseGAN's 84-pitch grid, below its rest code 83
        assert pitches.min() >= 0 and pitches.max() < 83
        assert (pitches == np.round(pitches)).all()
        # voices ordered soprano .. bass
        means = np.nanmean(roll, axis=0)
        assert (np.diff(means) < 0).all()
    # the first chorale, BWV 269: cached, and equal to a fresh conversion
    cached = sorted(chorale_cache().glob("*.npy"))
    assert len(cached) == 8 and CONVERSION_VERSION in str(chorale_cache())
    from music21 import corpus

    np.testing.assert_array_equal(
        np.load(chorale_cache() / "bach_bwv269.npy"),
        chorale_to_roll(corpus.parse("bach/bwv269")),
    )


def test_music21_bwv66_6_soprano(chorale_cache):
    """BWV 66.6 opens with the soprano's C#5-B4 eighth-note pickup, then A4 B4 C#5 E5 in
    quarters (MIDI 73 71 | 69 71 73 76) over 16th-note steps; the bass starts on A3."""
    from gdl.data.music import _convert_cached

    roll = _convert_cached("bach/bwv66.6", chorale_cache())
    soprano = roll[:24, 0]
    np.testing.assert_array_equal(
        soprano, [73] * 2 + [71] * 2 + [69] * 4 + [71] * 4 + [73] * 4 + [76] * 4 + [73] * 4
    )
    assert roll.shape == (36 * 4, 4)  # 36 quarter notes long
    assert roll[0, 3] == 57 and np.nanmax(roll[:, 0]) <= 81  # bass A3; soprano at most A5


def test_music21_damaged_cache_entry_is_redone(chorale_cache):
    load("music21_chorales", limit=1)
    entry = chorale_cache() / "bach_bwv269.npy"
    entry.write_bytes(b"garbage")
    data = load("music21_chorales", limit=1)
    assert sum(len(v) for v in data.values()) == 1 and np.load(entry).shape[1] == 4


def test_cached_load_needs_no_music21_import(chorale_cache):
    """Once converted, loading reads the cache's index and arrays only."""
    import os
    import subprocess
    import sys

    load("music21_chorales", limit=3)
    assert (chorale_cache() / "index.json").is_file()
    code = (
        "import sys; from gdl.data import load; d = load('music21_chorales', limit=3); "
        "print(sum(map(len, d.values())), 'music21' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["3", "False"]
