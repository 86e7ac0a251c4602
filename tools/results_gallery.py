"""The README's reader's guide to results: one small picture per chapter from a real run.

    python tools/results_gallery.py                 # reuse the runs in runs/ only
    python tools/results_gallery.py --train ch03 ch06   # train what is missing first
    python tools/results_gallery.py --list

Each chapter's picture is what a ``gdl`` command on offline data writes (the README's
commands, at their default, CPU-sized budgets: see :mod:`gdl.book.reader_budget`): the
final ``sample.png`` of a ``gdl train`` run (chapter 9's GPT writes its generated text as
a picture, chapter 11's music Transformer the note probabilities of its sample), or, for
chapter 12, the real-episode and dream strips of ``gdl world-models all``, stacked. It is
shrunk to at most 480 pixels wide, reduced to a 16-grey (or 64-colour) palette and written
to ``docs/results/chNN.png``. Runs already in ``$GDL_RUNS_DIR`` (default ``runs/``) are
reused as they are; ``--train`` runs the command of each chapter named (all when none is
named) whose picture is missing (``gdl train ... --overwrite``). Chapter 9 trains on a
synthetic corpus in the wine-review format written to ``runs/gallery-data/`` (the book's
Kaggle reviews are not offline; ``benchmarks/bench_gpt.py`` makes the same corpus).
Default runtime: seconds (no training); ``--train`` for every chapter: about two hours on
2 shared CPU cores (chapter 12: 27 min, chapters 7, 8, 11: 13-22 min each).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results"
MAX_WIDTH = 480
GPT_CORPUS = "gallery-data/wine_reviews_synthetic.txt"  # under ROOT/runs (the command's cwd)


@dataclass(frozen=True)
class Entry:
    """A chapter's picture: the ``gdl`` command that makes it, what it shows, the run
    folder (under the runs folder) and the files of that run that make the picture
    (stacked top to bottom)."""

    command: tuple[str, ...]
    what: str
    run: str = ""
    pictures: tuple[str, ...] = ("sample.png",)

    @property
    def run_name(self) -> str:
        return self.run or self.command[1]

    def shell(self) -> str:
        return "gdl " + shlex.join(self.command)


def _train(*args: str, what: str) -> Entry:
    return Entry(("train", *args), what)


CHAPTERS: dict[str, Entry] = {
    "ch02": _train("cnn", "--data", "digits",
                   what="chapter 2 CNN: held-out digits with predicted and actual labels"),
    "ch03": _train("vae", "--data", "digits",
                   what="chapter 3 VAE: 10 held-out digits, their reconstructions, 40 samples "
                        "from the latent mixture"),
    "ch04": _train("cgan", "--data", "digits", what="chapter 4 conditional WGAN-GP: one row per digit"),
    "ch05": _train("pixelcnn", "--data", "digits", "--epochs", "20",
                   what="chapter 5 PixelCNN: 16x16 digits with 4 grey levels, sampled pixel by pixel"),
    "ch06": _train("realnvp", "--epochs", "100",
                   what="chapter 6 RealNVP: data X, f(X), latent Z, g(Z) on two moons"),
    "ch07": _train("ebm", "--data", "digits",
                   what="chapter 7 EBM: 10 samples from noise after 1,000 Langevin steps"),
    "ch08": _train("ddim", "--data", "digits", what="chapter 8 DDIM: digits in 20 diffusion steps"),
    "ch09": _train("gpt", "--data", f"runs/{GPT_CORPUS}", "--prompt", "wine review : italy",
                   "--temperature", "0.7",
                   what="chapter 9 GPT: three reviews generated from a prompt (highlighted), "
                        "trained on synthetic wine-review-format text"),
    "ch10": _train("sagan", "--data", "digits", "--epochs", "6",
                   what="chapter 10 SAGAN (self-attention, spectral norm, hinge loss): digits"),
    "ch11": _train("music_transformer", "--data", "music21_chorales",
                   what="chapter 11 music Transformer: probability of each pitch at every step "
                        "of a generated chorale fragment"),
    "ch12": Entry(("world-models", "all", "--episodes", "32", "--max-steps", "500",
                   "--vae-epochs", "8", "--vae-learning-rate", "0.001", "--rnn-epochs", "10",
                   "--rnn-seq-len", "250", "--rnn-batch-size", "16", "--generations", "4",
                   "--popsize", "8", "--rollouts", "1", "--controller-max-steps", "300",
                   "--eval-episodes", "2"),
                  "chapter 12 World Models on CarRacing: an episode driven by the controller "
                  "(top), a dream of the MDN-RNN decoded by the VAE (bottom)",
                  run="world-models", pictures=("real_episode.png", "dream.png")),
    "ch13": _train("text2image",
                   what="chapter 13 text-to-image diffusion: 'a thick seven' at guidance 3"),
}  # fmt: skip


def runs_dir() -> Path:
    sys.path.insert(0, str(ROOT))
    from gdl.config import runs_dir as rd

    return rd()


def pictures_of(entry: Entry, runs: Path) -> list[Path] | None:
    """The run's files that make the picture, or ``None`` while one is missing."""
    paths = [runs / entry.run_name / name for name in entry.pictures]
    return paths if all(p.is_file() for p in paths) else None


def stack(sources: list[Path]):
    """The images of ``sources`` top to bottom on white, left-aligned (a PIL image)."""
    from PIL import Image

    images = [Image.open(s).convert("RGB") for s in sources]
    width = max(i.width for i in images)
    gap = 4 if len(images) > 1 else 0
    out = Image.new("RGB", (width, sum(i.height for i in images) + gap * (len(images) - 1)),
                    "white")  # fmt: skip
    y = 0
    for img in images:
        out.paste(img, (0, y))
        y += img.height + gap
    return out


def shrink(src, dst: Path) -> Path:
    """``src`` (a path, a list of paths stacked, or a PIL image) at most MAX_WIDTH wide, as
    a small palette PNG."""
    import numpy as np
    from PIL import Image

    if isinstance(src, (list, tuple)):
        img = stack(list(src))
    elif isinstance(src, Image.Image):
        img = src.convert("RGB")
    else:
        img = Image.open(src).convert("RGB")
    if img.width > MAX_WIDTH:
        img = img.resize((MAX_WIDTH, round(img.height * MAX_WIDTH / img.width)), Image.LANCZOS)
    rgb = np.asarray(img)
    grey = bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())
    img = img.convert("L").quantize(16) if grey else img.quantize(64)
    dst.parent.mkdir(parents=True, exist_ok=True)
    img.save(dst, optimize=True)
    return dst


def write_gpt_corpus() -> Path:
    """Chapter 9's training text: 4,000 synthetic reviews in the wine-review format, one a
    line (``benchmarks/bench_gpt.py``'s corpus, seed 1), at ``runs/`` + GPT_CORPUS."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_gpt import synthetic_wine_reviews

    path = ROOT / "runs" / GPT_CORPUS
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(synthetic_wine_reviews(4000, seed=1)) + "\n", encoding="utf-8")
        tmp.replace(path)
    return path


def run_command(entry: Entry, runs: Path) -> None:
    cmd = [sys.executable, "-m", "gdl.cli", *entry.command]
    if entry.command[0] == "train":
        cmd += ["--overwrite", "--verbose", "2"]
        if entry.command[1] == "gpt":
            write_gpt_corpus()
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("chapters", nargs="*", help="chNN names (default: all)")
    p.add_argument("--train", action="store_true", help="run the commands whose picture is missing")
    p.add_argument("--list", action="store_true")
    a = p.parse_args(argv)
    names = a.chapters or list(CHAPTERS)
    if a.list:
        for ch in names:
            print(f"{ch}: {CHAPTERS[ch].shell()}  # {CHAPTERS[ch].what}")
        return 0
    runs = runs_dir()
    for ch in names:
        entry = CHAPTERS[ch]
        if pictures_of(entry, runs) is None and a.train:
            run_command(entry, runs)
        src = pictures_of(entry, runs)
        if src is None:
            print(f"{ch}: no run in {runs / entry.run_name} ({entry.shell()}, or pass --train)")
            continue
        dst = shrink(src, OUT / f"{ch}.png")
        print(f"{ch}: {dst.relative_to(ROOT)} ({dst.stat().st_size // 1024} KiB) from "
              f"{', '.join(map(str, src))}")  # fmt: skip
    total = sum(f.stat().st_size for f in OUT.glob("ch*.png")) if OUT.is_dir() else 0
    print(f"docs/results: {total // 1024} KiB in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
