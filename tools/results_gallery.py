"""The README's reader's guide to results: one small picture per chapter from a real run.

    python tools/results_gallery.py                 # reuse runs/<model>/sample.png only
    python tools/results_gallery.py --train ch03 ch06   # train what is missing first
    python tools/results_gallery.py --list

Each chapter's picture is the final ``sample.png`` of a ``gdl train`` run on offline data
(the README's commands, at their default, CPU-sized epochs: see
:mod:`gdl.book.reader_budget`), shrunk to at most 480 pixels wide, reduced to a
16-grey (or 64-colour) palette and written to ``docs/results/chNN.png``. Runs already in
``$GDL_RUNS_DIR`` (default ``runs/``) are reused as they are; ``--train`` runs
``gdl train ... --overwrite`` for the chapters named (all when none is named) whose run
is missing. Chapter 10 is another page's (left out here). Default runtime: seconds
(no training).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results"
MAX_WIDTH = 480

# chapter: (gdl train arguments, what the picture shows)
CHAPTERS = {
    "ch02": (["cnn", "--data", "digits"], "chapter 2 CNN: held-out digits with predicted labels"),
    "ch03": (["vae", "--data", "digits"],
             "chapter 3 VAE: 10 held-out digits, their reconstructions, 40 samples from the "
             "latent mixture"),
    "ch04": (["cgan", "--data", "digits"], "chapter 4 conditional WGAN-GP: one row per digit"),
    "ch05": (["pixelcnn", "--data", "digits", "--epochs", "20"],
             "chapter 5 PixelCNN: 16x16 digits with 4 grey levels, sampled pixel by pixel"),
    "ch06": (["realnvp", "--epochs", "100"],
             "chapter 6 RealNVP: data X, f(X), latent Z, g(Z) on two moons"),
    "ch07": (["ebm", "--data", "digits"],
             "chapter 7 EBM: Langevin samples from noise (top), replay buffer (bottom)"),
    "ch08": (["ddim", "--data", "digits"], "chapter 8 DDIM: digits in 20 diffusion steps"),
    "ch11": (["musegan", "--data", "music21_chorales"], "chapter 11 MuseGAN: a piano roll"),
    "ch13": (["text2image"], "chapter 13 text-to-image diffusion with guidance"),
}  # fmt: skip


def runs_dir() -> Path:
    sys.path.insert(0, str(ROOT))
    from gdl.config import runs_dir as rd

    return rd()


def picture_of(run: Path) -> Path | None:
    for name in ("sample.png", "sample_0.png"):
        if (run / name).is_file():
            return run / name
    pngs = sorted(run.glob("sample*.png"))
    return pngs[0] if pngs else None


def shrink(src: Path, dst: Path) -> Path:
    """``src`` at most MAX_WIDTH wide, as a small palette PNG."""
    from PIL import Image

    img = Image.open(src).convert("RGB")
    if img.width > MAX_WIDTH:
        img = img.resize((MAX_WIDTH, round(img.height * MAX_WIDTH / img.width)), Image.LANCZOS)
    import numpy as np

    rgb = np.asarray(img)
    grey = bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())
    img = img.convert("L").quantize(16) if grey else img.quantize(64)
    dst.parent.mkdir(parents=True, exist_ok=True)
    img.save(dst, optimize=True)
    return dst


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("chapters", nargs="*", help="chNN names (default: all)")
    p.add_argument("--train", action="store_true", help="train the runs that are missing")
    p.add_argument("--list", action="store_true")
    a = p.parse_args(argv)
    names = a.chapters or list(CHAPTERS)
    if a.list:
        for ch, (args, what) in CHAPTERS.items():
            print(f"{ch}: gdl train {' '.join(args)}  # {what}")
        return 0
    runs = runs_dir()
    for ch in names:
        args, what = CHAPTERS[ch]
        run = runs / args[0]
        if picture_of(run) is None and a.train:
            cmd = [sys.executable, "-m", "gdl.cli", "train", *args, "--overwrite", "--verbose", "2"]
            print("$", " ".join(cmd[2:]), flush=True)
            subprocess.run(cmd, check=True, cwd=ROOT)
        src = picture_of(run)
        if src is None:
            print(f"{ch}: no run in {run} (gdl train {' '.join(args)}, or pass --train)")
            continue
        dst = shrink(src, OUT / f"{ch}.png")
        print(f"{ch}: {dst.relative_to(ROOT)} ({dst.stat().st_size // 1024} KiB) from {src}")
    total = sum(f.stat().st_size for f in OUT.glob("ch*.png")) if OUT.is_dir() else 0
    print(f"docs/results: {total // 1024} KiB in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
