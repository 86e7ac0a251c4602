"""tools/results_gallery.py: the README's per-chapter pictures stay small."""

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("results_gallery", ROOT / "tools" / "results_gallery.py")
    mod = importlib.util.module_from_spec(spec)
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


def test_committed_pictures_are_small_and_every_chapter_has_a_command():
    tool = _tool()
    assert "ch10" not in tool.CHAPTERS  # chapter 10's pictures are another page's
    files = list((ROOT / "docs" / "results").glob("ch*.png"))
    assert sum(f.stat().st_size for f in files) < 1_000_000
    assert {f.stem for f in files} <= set(tool.CHAPTERS)
