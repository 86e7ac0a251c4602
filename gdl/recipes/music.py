"""``gdl train music_transformer|musegan`` and ``gdl sample ... --out piece.mid`` (chapter 11).

Data: the book's datasets (``cellosuites`` for the Transformer, ``chorales`` for MuseGAN)
when downloaded, else the embedded music21-corpus chorales (always in smoke mode);
``--data`` picks another one or a folder of MIDI/MusicXML files (Transformer).
Samples are MIDI files with a piano-roll PNG beside them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gdl.config import pick, smoke_mode
from gdl.recipes.base import Recipe, TrainData, register

SMOKE_CHORALES = 12  # chorales converted in smoke mode


def _roll_png(midi_path: Path) -> Path:
    return midi_path.with_suffix(".png")


@register
class MuseGANRecipe(Recipe):
    name = "musegan"
    help = "chapter 11 MuseGAN on Bach chorales (piano rolls 2 bars x 16 steps x 84 x 4)"
    chapter = "11"
    epochs = 6000
    batch_size = 64  # the book defines 64 but never passes it (Keras used 32)
    default_data = "chorales"
    smoke_data = "music21_chorales"
    sample_suffix = ".mid"

    def __init__(self):
        import gdl.models.musegan  # noqa: F401 - registers MuseGAN for load_model

    def load_data(self, args):
        from gdl.music.datasets import musegan_rolls, resolve_data

        name = resolve_data(args.data, self.default_data)
        rolls = musegan_rolls(name, limit=pick(None, SMOKE_CHORALES))
        return TrainData(x=rolls, batch_size=args.batch_size or self.batch_size)

    def build(self, args, data):
        from gdl.models.musegan import MuseGAN, musegan_critic, musegan_generator

        if smoke_mode():  # narrow layers: the same architecture, seconds instead of minutes
            model = MuseGAN(
                critic=musegan_critic(filters=(8,) * 8, dense=16),
                generator=musegan_generator(
                    temporal_filters=16, bar_dense=32, bar_filters=(8, 8, 8, 8)
                ),
                seed=args.seed,
            )
            model.compile(run_eagerly=True)
        else:
            model = MuseGAN(seed=args.seed)
            model.compile()
        return model

    def sample(self, model, args, out, info):
        from gdl.music.pianoroll import plot_pianoroll, write_midi

        out = Path(out)
        seed = getattr(args, "seed", None)
        rolls = model.generate(getattr(args, "num", None) or 1, seed=seed)
        paths = []
        for i, score in enumerate(model.to_scores(rolls)):
            path = out if len(rolls) == 1 else out.with_name(f"{out.stem}_{i}{out.suffix}")
            paths.append(write_midi(score, path))
            plot_pianoroll(rolls[i], path=_roll_png(path))
            paths.append(_roll_png(path))
        return paths
