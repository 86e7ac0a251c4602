"""tools/results_gallery.py: the README's per-chapter pictures stay small."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location(
        "results_gallery", ROOT / "tools" / "results_gallery.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules["results_gallery"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_shrink_makes_a_small_palette_png(tmp_path):
    tool = _tool()
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (600, 1200), dtype=np.uint8)
    Image.fromarray(grey).save(tmp_path / "big.png")
    out = tool.shrink(tmp_path / "big.png", tmp_path / "docs" / "ch03.png")
    img = Image.open(out)
    assert img.mode == "P" and img.width == tool.MAX_WIDTH and img.height == 240
    assert len(img.getcolors()) <= 16


def test_stacked_pictures_keep_both_parts(tmp_path):
    tool = _tool()
    Image.fromarray(np.full((20, 100, 3), (255, 0, 0), np.uint8)).save(tmp_path / "top.png")
    Image.fromarray(np.full((10, 60, 3), (0, 0, 255), np.uint8)).save(tmp_path / "bottom.png")
    out = tool.shrink([tmp_path / "top.png", tmp_path / "bottom.png"], tmp_path / "ch12.png")
    rgb = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert rgb.shape == (20 + 4 + 10, 100, 3)
    assert (rgb[:20, :, 0] > 200).all() and (rgb[:20, :, 2] < 50).all()
    # the narrower picture starts at the left, on white, under a white gap
    assert (rgb[24:, :60, 2] > 200).all() and (rgb[24:, :60, 0] < 50).all()
    assert (rgb[24:, 60:] > 240).all() and (rgb[20:24] > 240).all()


def test_every_chapter_has_a_command_and_a_picture_source(tmp_path):
    tool = _tool()
    assert sorted(tool.CHAPTERS) == [f"ch{n:02d}" for n in range(2, 14)]
    for ch, entry in tool.CHAPTERS.items():
        assert entry.command[0] in ("train", "world-models"), ch
        assert entry.pictures and all(p.endswith(".png") for p in entry.pictures), ch
    run = tmp_path / "world-models"
    run.mkdir()
    ch12 = tool.CHAPTERS["ch12"]
    assert tool.pictures_of(ch12, tmp_path) is None  # one file missing: no picture
    for name in ch12.pictures:
        Image.new("RGB", (8, 8)).save(run / name)
    assert tool.pictures_of(ch12, tmp_path) == [run / n for n in ch12.pictures]


def test_committed_pictures_are_small_and_in_the_readme():
    tool = _tool()
    files = list((ROOT / "docs" / "results").glob("ch*.png"))
    assert sum(f.stat().st_size for f in files) < 1_000_000
    assert all(f.stat().st_size < 150_000 for f in files)
    assert {f.stem for f in files} <= set(tool.CHAPTERS)
    readme = (ROOT / "README.md").read_text()
    guide = readme[readme.index("## A reader's guide to results") :]
    guide = guide[: guide.index("\n## ", 5)]
    for f in files:  # every committed picture is shown, with the command that made it
        row = next(line for line in guide.splitlines() if f"(docs/results/{f.name})" in line)
        command = tool.CHAPTERS[f.stem].command
        assert f"`gdl {' '.join(command[:2])}" in row, (f.name, row)
