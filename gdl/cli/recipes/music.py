"""``gdl train music_transformer|musegan`` and ``gdl sample ... --out piece.mid`` (chapter 11).

Data: the book's datasets (``cellosuites`` for the Transformer, ``chorales`` for MuseGAN)
when downloaded, else the embedded music21-corpus chorales (always in smoke mode);
``--data`` picks another one or a folder of MIDI/MusicXML files (Transformer).
Samples are MIDI files with a piano-roll PNG beside them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gdl.cli.recipes.base import Recipe, TrainData, register
from gdl.config import pick, smoke_mode

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

    def data_name(self, args):
        """``--data``, else the book's chorales when downloaded, else the embedded ones
        (whose reader-budget settings then apply: batch 16, see gdl.book.reader_budget)."""
        from gdl.music.datasets import resolve_data

        return resolve_data(getattr(args, "data", None), self.default_data, quiet=True)

    def load_data(self, args):
        from gdl.music.datasets import musegan_rolls, resolve_data

        name = resolve_data(args.data, self.default_data)
        rolls = musegan_rolls(name, limit=pick(None, SMOKE_CHORALES))
        batch = args.batch_size or self.reader(args).get("batch_size", self.batch_size)
        return TrainData(x=rolls, batch_size=batch)

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
        else:  # the book's networks; the embedded chorales' critic steps (the book's 5)
            model = MuseGAN(critic_steps=self.reader(args).get("critic_steps", 5), seed=args.seed)
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


@register
class MusicTransformerRecipe(Recipe):
    name = "music_transformer"
    help = "chapter 11 music Transformer (notes + durations) on Bach cello suites / chorales"
    chapter = "11"
    epochs = 5000
    batch_size = 256
    default_data = "cellosuites"
    smoke_data = "music21_chorales"
    sample_suffix = ".mid"

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--seq-len", type=int, default=50, help="training window (book: 50)")
        parser.add_argument(
            "--generate-len", type=int, default=50, help="events per sample (book: 50)"
        )
        parser.add_argument(
            "--temperature", type=float, default=0.5, help="sampling temperature (book: 0.5)"
        )
        parser.add_argument(
            "--transpose",
            action="store_true",
            help="train on the training pieces in all 12 keys (not in the book; held-out "
            "pieces stay as written)",
        )

    def load_data(self, args):
        from gdl.music.datasets import resolve_data, token_pieces
        from gdl.music.tokens import sequence_dataset

        name = resolve_data(args.data, self.default_data)
        pieces = token_pieces(name, limit=pick(None, SMOKE_CHORALES), verbose=True)
        seq_len = getattr(args, "seq_len", 50)
        train, reader = pieces["train"], self.reader(args)
        if getattr(args, "transpose", False) or reader.get("transpose", False):
            from gdl.music.tokens import transpose_pieces

            train = transpose_pieces(train)
            print(f"{len(pieces['train'])} training pieces in 12 keys: {len(train)} pieces")
        x, y, nv, dv = sequence_dataset(train, seq_len)
        validation = None
        if sum(len(n) for n, _ in pieces["valid"]) > seq_len:
            vx, vy, _, _ = sequence_dataset(pieces["valid"], seq_len, nv, dv)
            validation = (vx, vy)
        print(f"{len(x[0])} training windows; vocabularies: {len(nv)} notes, {len(dv)} durations")
        return TrainData(
            x=x,
            y=y,
            validation=validation,
            batch_size=args.batch_size or reader.get("batch_size", self.batch_size),
            info={"notes_vocabulary": nv, "durations_vocabulary": dv},
            steps_per_epoch=None if smoke_mode() else reader.get("steps_per_epoch"),
        )

    def build(self, args, data):
        from gdl.models.music_transformer import MusicTransformer

        model = MusicTransformer(
            data.info["notes_vocabulary"], data.info["durations_vocabulary"], seed=args.seed
        )
        model.compile()
        return model

    def sample(self, model, args, out, info):
        from gdl.models.music_transformer import plot_note_probabilities

        out = Path(out)
        num = getattr(args, "num", None) or 1
        paths = []
        rng = np.random.default_rng(getattr(args, "seed", None))
        for i in range(num):
            gen = model.generate(
                max_len=getattr(args, "generate_len", 50),
                temperature=getattr(args, "temperature", 0.5),
                seed=rng,
            )
            path = out if num == 1 else out.with_name(f"{out.stem}_{i}{out.suffix}")
            paths.append(gen.write_midi(path))
            if len(gen.note_probs):
                plot_note_probabilities(gen, path=_roll_png(path))
                paths.append(_roll_png(path))
        return paths
