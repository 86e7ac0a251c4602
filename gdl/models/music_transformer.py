"""The music Transformer (chapter 11, the book's ``01_transformer/transformer.ipynb``).

Two token streams, notes and durations (:mod:`gdl.music.tokens`), each get a token
embedding (128, ``he_uniform``) plus a sine position encoding; the two are concatenated
(256) and go through the causal :class:`gdl.layers.transformer.TransformerBlock`
(5 heads, key 256, feed-forward 256, dropout 0.3; shared with chapter 9's GPT), then two
softmax heads predict the next note and the next duration. With the book's sizes the
model has ``1,447,424 + 385 * (notes_vocab + durations_vocab)`` parameters.

Differences from the book:

* the vocabularies live in the model's config, so a ``.keras`` file alone generates
  music (``gdl sample music_transformer --out piece.mid``);
* the model returns *logits* (the loss uses ``from_logits=True``); probabilities are
  in :meth:`MusicTransformer.probabilities` and in the generation's views;
* :meth:`MusicTransformer.generate` reuses past keys/values
  (:meth:`TransformerBlock.call_with_cache` in :func:`gdl.generation.decode`, the loop
  shared with the GPT and the LSTM, with two token streams) instead of re-running the
  whole sequence per token, and builds no extra ``attention_model`` per call; the book's
  resampling of ``[UNK]`` notes and of zero durations for notes/rests is done exactly by
  removing those tokens from the distribution before sampling (inside the compiled
  step);
* the position encoding is any-length (``SinePositionEncoding`` from gdl.layers, no
  ``tf.*``), so generation is not limited to the training length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import keras
import numpy as np
from keras import ops

from gdl.distribute import global_batch_loss
from gdl.generation import Generation, Sampler, decode
from gdl.layers.embeddings import TokenAndPositionEmbedding
from gdl.layers.transformer import run_cached_blocks, transformer_blocks
from gdl.models.optimizers import BookCompile
from gdl.music.tokens import PAD, START, START_DURATION, UNK, tokens_to_stream


def _is_zero_duration(token: str) -> bool:
    try:
        return Fraction(token) == 0
    except (ValueError, ZeroDivisionError):
        return True


def _is_sounding(note_token: str) -> bool:
    """Notes and rests need a positive duration; keys, metres and START do not."""
    return not (note_token in (START, PAD, UNK) or note_token.endswith("TS") or ":" in note_token)


@dataclass
class MusicGeneration(Generation):
    """What :meth:`MusicTransformer.generate` returns: a :class:`gdl.generation.Generation`
    (``tokens`` are the note ids ``(1, L)``, ``attention`` ``(steps, 1, heads, positions)``
    the attention of each step's last query) plus the book's ``info`` as arrays.

    ``notes``/``durations``: the tokens, prompt included (a sampled ``START`` ends the
    piece and is left out); ``duration_tokens`` the duration ids; ``note_probs``/
    ``duration_probs``: ``(steps, vocab)`` distributions each generated token was drawn
    from; ``stream``: a music21 stream of the whole piece.
    """

    notes: list[str] = field(default_factory=list)
    durations: list[str] = field(default_factory=list)
    duration_tokens: np.ndarray | None = None
    note_probs: np.ndarray | None = None
    duration_probs: np.ndarray | None = None
    notes_vocabulary: list[str] = field(repr=False, default_factory=list)
    stream: object = field(repr=False, default=None)

    @property
    def prompt_length(self) -> int:
        return int(self.prompt_lengths[0])

    def write_midi(self, path) -> Path:
        from gdl.music.pianoroll import write_midi

        return write_midi(self.stream, path)


@keras.saving.register_keras_serializable(package="gdl")
class MusicTransformer(BookCompile, keras.Model):
    """The book's music Transformer with two inputs and two heads.

    Args:
        notes_vocabulary / durations_vocabulary: token lists (``["", "[UNK]", ...]``, as
            :func:`gdl.music.build_vocabulary` makes them); stored with the model. Or give
            only ``notes_vocab_size``/``durations_vocab_size`` to work on ids.
        embed_dim: width after concatenating the two embeddings (256 = 128 + 128).
        num_heads 5, key_dim 256, ff_dim 256, dropout_rate 0.3, num_blocks 1: the book's.
        max_len: length of the key/value cache used by :meth:`generate` (the positions
            themselves are unlimited).

    ``model((notes, durations))`` -> ``(note_logits, duration_logits)``, each
    ``(B, T, vocab)`` (:meth:`probabilities` for the softmax). Train with ``compile(optimizer="adam")`` and
    ``fit((x_notes, x_durs), (y_notes, y_durs))``: the loss (sum of the two sparse
    cross-entropies, as the book's ``loss=[SCCE, SCCE]``) is built in and the two parts
    are reported as ``note_loss`` and ``duration_loss``.
    """

    book_learning_rate = 1e-3  # Keras' "adam"

    def __init__(
        self,
        notes_vocabulary: list[str] | None = None,
        durations_vocabulary: list[str] | None = None,
        notes_vocab_size: int | None = None,
        durations_vocab_size: int | None = None,
        embed_dim: int = 256,
        num_heads: int = 5,
        key_dim: int = 256,
        ff_dim: int = 256,
        dropout_rate: float = 0.3,
        num_blocks: int = 1,
        max_len: int = 512,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.notes_vocabulary = (
            None if notes_vocabulary is None else list(map(str, notes_vocabulary))
        )
        self.durations_vocabulary = (
            None if durations_vocabulary is None else list(map(str, durations_vocabulary))
        )
        nv = notes_vocab_size or (self.notes_vocabulary and len(self.notes_vocabulary))
        dv = durations_vocab_size or (self.durations_vocabulary and len(self.durations_vocabulary))
        if not nv or not dv:
            raise ValueError(
                "MusicTransformer needs notes_vocabulary and durations_vocabulary (token lists "
                "from gdl.music.build_vocabulary) or notes_vocab_size and durations_vocab_size"
            )
        if embed_dim % 2:
            raise ValueError(f"embed_dim must be even (two halves), got {embed_dim}")
        self.notes_vocab_size, self.durations_vocab_size = int(nv), int(dv)
        self.embed_dim, self.num_heads, self.key_dim = int(embed_dim), int(num_heads), int(key_dim)
        self.ff_dim, self.dropout_rate = int(ff_dim), float(dropout_rate)
        self.num_blocks, self.max_len, self.seed = int(num_blocks), int(max_len), seed
        half = self.embed_dim // 2
        self.note_embedding = TokenAndPositionEmbedding(
            self.notes_vocab_size, half, None, "sine", "he_uniform", name="note_embedding"
        )
        self.duration_embedding = TokenAndPositionEmbedding(
            self.durations_vocab_size, half, None, "sine", "he_uniform", name="duration_embedding"
        )
        self.blocks = transformer_blocks(
            self.num_blocks, self.num_heads, self.key_dim, self.embed_dim, self.ff_dim,
            self.dropout_rate, seed, name="attention",
        )  # fmt: skip
        self.note_head = keras.layers.Dense(self.notes_vocab_size, name="note_outputs")
        self.duration_head = keras.layers.Dense(self.durations_vocab_size, name="duration_outputs")
        self.note_loss_tracker = keras.metrics.Mean(name="note_loss")
        self.duration_loss_tracker = keras.metrics.Mean(name="duration_loss")
        self.build()

    def build(self, input_shape=None):
        self.note_embedding.build()
        self.duration_embedding.build()
        for block in self.blocks:
            block.build((None, None, self.embed_dim))
        self.note_head.build((None, None, self.embed_dim))
        self.duration_head.build((None, None, self.embed_dim))
        self.built = True

    # -- forward ------------------------------------------------------------------------
    def _split(self, inputs):
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise ValueError(
                "MusicTransformer takes two int inputs (notes, durations), each of shape "
                "(batch, length)"
            )
        notes, durs = inputs
        sn, sd = tuple(notes.shape), tuple(durs.shape)
        if len(sn) != 2 or len(sd) != 2 or (None not in sn + sd and sn != sd):
            raise ValueError(f"notes and durations must both be (batch, length); got {sn} and {sd}")
        return notes, durs

    def _embed(self, notes, durs, start_index=0):
        return ops.concatenate(
            [
                self.note_embedding(notes, start_index=start_index),
                self.duration_embedding(durs, start_index=start_index),
            ],
            axis=-1,
        )

    def logits_and_attention(self, inputs, training=False):
        """``(note_logits, duration_logits, [scores (B, heads, T, T) per block])``."""
        notes, durs = self._split(inputs)
        x = self._embed(notes, durs)
        scores = []
        for block in self.blocks:
            x, s = block(x, training=training, return_attention_scores=True)
            scores.append(s)
        return self.note_head(x), self.duration_head(x), scores

    def call(self, inputs, training=None):
        note_logits, dur_logits, _ = self.logits_and_attention(inputs, training=training)
        return note_logits, dur_logits

    def probabilities(self, inputs):
        """The book's outputs: ``(note_probs, duration_probs)``."""
        note_logits, dur_logits, _ = self.logits_and_attention(inputs)
        return ops.softmax(note_logits, axis=-1), ops.softmax(dur_logits, axis=-1)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Book: ``loss=[SCCE, SCCE]`` -> note cross-entropy + duration cross-entropy
        (here on logits)."""
        note_logits, dur_logits = y_pred
        y_notes, y_durs = y
        sce = keras.losses.sparse_categorical_crossentropy
        note_loss = ops.mean(sce(y_notes, note_logits, from_logits=True))
        dur_loss = ops.mean(sce(y_durs, dur_logits, from_logits=True))
        self.note_loss_tracker.update_state(note_loss)
        self.duration_loss_tracker.update_state(dur_loss)
        return global_batch_loss(note_loss + dur_loss)

    # -- tokens ---------------------------------------------------------------------------
    def _require_vocabularies(self):
        if self.notes_vocabulary is None or self.durations_vocabulary is None:
            raise ValueError(
                "this MusicTransformer has no vocabularies: build it with "
                "MusicTransformer(notes_vocabulary=..., durations_vocabulary=...)"
            )

    def tokenize(self, notes, durations):
        """Token strings -> id arrays (unknown tokens -> 1, ``[UNK]``)."""
        from gdl.music.tokens import encode

        self._require_vocabularies()
        return encode(notes, self.notes_vocabulary), encode(durations, self.durations_vocabulary)

    def detokenize(self, note_ids, duration_ids):
        """Id arrays -> token strings ``(notes, durations)``."""
        self._require_vocabularies()
        nv, dv = self.notes_vocabulary, self.durations_vocabulary
        return [nv[int(i)] for i in note_ids], [dv[int(i)] for i in duration_ids]

    # -- the steps of gdl.generation.decode (two streams) ----------------------------------
    def _emit(self, note_logits, dur_logits, att, u, sampler, cfg):
        """Never draw padding or [UNK]; no zero duration after a sounding note."""
        sounding, zero_dur = (ops.convert_to_tensor(np.array(t)) for t in cfg)
        note, note_probs = sampler.choose(note_logits, u[:, 0], ops.arange(len(cfg[0])) >= 2)
        bad = ops.logical_and(ops.take(sounding, note)[:, None], zero_dur[None, :])
        dur, dur_probs = sampler.choose(dur_logits, u[:, 1], ops.logical_not(bad))
        return (note, dur), (note_probs, dur_probs, att)

    def _decode_full(self, bufs, row, u, sampler, cfg):
        n, d, scores = self.logits_and_attention(bufs)
        att = ops.take(scores[-1], row, axis=2)
        return self._emit(ops.take(n, row, axis=1), ops.take(d, row, axis=1), att, u, sampler, cfg)

    def _decode_prefill(self, bufs, row, u, sampler, cfg):
        x = self._embed(*bufs)
        x, s, caches = run_cached_blocks(self.blocks, x, 0, max_len=self.max_len)
        h = ops.take(x, row, axis=1)
        att = ops.take(s, row, axis=2)
        return (*self._emit(self.note_head(h), self.duration_head(h), att, u, sampler, cfg), caches)

    def _decode_step(self, bufs, pos, caches, u, sampler, cfg):
        note, dur = (ops.expand_dims(ops.take(b, pos, axis=1), 1) for b in bufs)
        x, s, caches = run_cached_blocks(self.blocks, self._embed(note, dur, pos), pos, caches)
        h = x[:, 0]
        out = self._emit(self.note_head(h), self.duration_head(h), s[:, :, 0], u, sampler, cfg)
        return (*out, caches)

    def generate(
        self,
        seed_notes=(START,),
        seed_durations=(START_DURATION,),
        max_len: int = 50,
        temperature: float = 0.5,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | np.random.Generator | None = None,
        use_cache: bool = True,
        stop_at_start: bool = True,
        clef=None,
    ) -> MusicGeneration:
        """Continue the seed tokens to ``max_len`` events (seed included, as the book's
        ``generate(["START"], ["0.0"], max_tokens=50, temperature=0.5)``).

        Stops early when ``START`` is sampled (a new piece would begin). ``[UNK]`` and
        padding are never drawn, nor a zero duration for a note or rest. ``seed`` (``0``
        included) makes it reproducible. Returns a :class:`MusicGeneration` with a
        music21 ``stream`` (``.write_midi(path)``). ``use_cache=False`` re-runs the whole
        sequence per event (the reference path).
        """
        self._require_vocabularies()
        sampler = Sampler(temperature, top_k, top_p, seed)
        seed_notes, seed_durations = list(seed_notes), list(seed_durations)
        if not seed_notes or len(seed_notes) != len(seed_durations):
            raise ValueError("give as many seed durations as seed notes (at least one)")
        if max_len > self.max_len:
            raise ValueError(
                f"max_len={max_len} exceeds the model's cache length {self.max_len}; build the "
                f"model with a larger max_len"
            )
        p = len(seed_notes)
        if p > max_len:
            raise ValueError(f"the seed has {p} events, more than max_len={max_len}")
        bufs = np.zeros((2, 1, self.max_len), "int32")
        bufs[0, 0, :p], bufs[1, 0, :p] = self.tokenize(seed_notes, seed_durations)
        nv, dv = self.notes_vocabulary, self.durations_vocabulary
        zero_dur = tuple(i < 2 or _is_zero_duration(t) for i, t in enumerate(dv))
        cfg = (tuple(_is_sounding(t) for t in nv), zero_dur)
        (notes, durs), (note_probs, dur_probs, att) = decode(
            self, tuple(bufs), np.array([p]), p, max_len, sampler, cfg, use_cache=use_cache,
            stop_token=nv.index(START) if START in nv else -1, stop=stop_at_start,
        )  # fmt: skip
        end = notes.shape[1]
        if stop_at_start and end > p and nv[notes[0, -1]] == START:
            end -= 1  # START begins a new piece: not part of this one
        note_list, dur_list = self.detokenize(notes[0, :end], durs[0, :end])
        note_list[:p], dur_list[:p] = seed_notes, seed_durations
        return MusicGeneration(
            tokens=notes,
            prompt_lengths=np.array([p]),
            start=p,
            attention=att,
            vocabulary=nv,
            notes=note_list,
            durations=dur_list,
            duration_tokens=durs,
            note_probs=note_probs[:, 0],
            duration_probs=dur_probs[:, 0],
            notes_vocabulary=nv,
            stream=tokens_to_stream(note_list, dur_list, clef=clef),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "notes_vocabulary": self.notes_vocabulary,
            "durations_vocabulary": self.durations_vocabulary,
            "notes_vocab_size": self.notes_vocab_size,
            "durations_vocab_size": self.durations_vocab_size,
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "ff_dim": self.ff_dim,
            "dropout_rate": self.dropout_rate,
            "num_blocks": self.num_blocks,
            "max_len": self.max_len,
            "seed": self.seed,
        }


def plot_note_probabilities(gen: MusicGeneration, low=None, high=None, path=None):
    """The book's heatmap: probability of each MIDI pitch at every generated step (key,
    metre and rest tokens left out). The book shows pitches 35..70 (the cello); by default
    the range of the vocabulary's pitches is shown."""
    from matplotlib.figure import Figure
    from music21 import pitch as m21pitch

    midis = {}
    for i, tok in enumerate(gen.notes_vocabulary):
        if _is_sounding(tok) and tok != "rest":
            try:
                midis[i] = m21pitch.Pitch(tok).midi
            except Exception:  # noqa: BLE001 - not a pitch name
                continue
    low = min(midis.values(), default=35) if low is None else low
    high = max(midis.values(), default=70) if high is None else high
    grid = np.zeros((high - low + 1, len(gen.note_probs)))
    for i, midi in midis.items():
        if low <= midi <= high:
            grid[midi - low] += gen.note_probs[:, i]
    fig = Figure(figsize=(10, 5))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="coolwarm", vmin=-0.5, vmax=0.5,
                   interpolation="nearest",
                   extent=(gen.prompt_length - 0.5, gen.prompt_length + grid.shape[1] - 0.5,
                           low - 0.5, high + 0.5))  # fmt: skip
    ax.set_xlabel("generated step")
    ax.set_ylabel("MIDI pitch")
    fig.colorbar(im, ax=ax)
    if path is not None:
        fig.savefig(path)
    return fig


def plot_attention(gen: MusicGeneration, last: int = 20, path=None):
    """The book's attention picture: for each of the ``last`` generated steps (columns),
    the max-over-heads attention of its query over the preceding positions (rows)."""
    from matplotlib.figure import Figure

    n = min(last, len(gen.attention))
    start = len(gen.attention) - n
    grid = np.zeros((n, n))
    for c in range(n):
        step = start + c
        pos = gen.prompt_length - 1 + step  # position of the query
        att = gen.attention[step, 0].max(axis=0)
        for r in range(n):
            k = pos - (n - 1 - r)
            if 0 <= k <= pos:
                grid[r, c] = att[k]
    fig = Figure(figsize=(7, 7))
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(grid, cmap="Greens", origin="upper")
    ax.set_xlabel("generated step (query)")
    ax.set_ylabel("previous events (keys)")
    if path is not None:
        fig.savefig(path)
    return fig
