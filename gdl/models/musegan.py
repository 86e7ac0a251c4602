"""MuseGAN on Bach chorales (chapter 11, the book's ``02_musegan/musegan.ipynb``).

A generator turns four kinds of noise into a piano roll
``(bars=2, steps=16, pitches=84, tracks=4)`` in (-1, 1):

* ``chords`` (z=32, shared by all tracks) and ``melody`` (z=32 per track) go through
  *temporal networks* that unfold them into one vector per bar;
* ``style`` (z=32, shared) and ``groove`` (z=32 per track) are the same for every bar;
* one *bar generator* per track turns ``[chords_b, style, melody_{b,t}, groove_t]``
  (128 values) into bar ``b`` of track ``t``.

A Conv3D critic scores piano rolls and the pair trains as a WGAN-GP (5 critic steps
per generator step, gradient-penalty weight 10, Adam 1e-3 with betas (0.5, 0.9)).
The book's layer sizes are the defaults: 6,605,604 generator and 1,446,401 critic
parameters.

Differences from the book (fixes):

* the WGAN-GP step is :class:`gdl.models.gan.WGANGP`'s (the book re-implements it);
  MuseGAN only supplies its four latent inputs through :meth:`MuseGAN.sample_latent`;
* the gradient penalty's interpolation weight is U(0, 1) (the book draws N(0, 1)) and
  the gradient norm is taken over *all* axes including the track axis (the book's
  ``axis=[1, 2, 3]`` leaves tracks out); see :func:`gdl.losses.gradient_penalty`;
* the book's ``BATCH_SIZE = 64`` is never passed to ``fit`` (Keras falls back to 32);
  gdl's recipe passes it;
* ``generate`` uses the model's own sizes, not global ``Z_DIM``/``N_TRACKS``; decoding
  keeps rests as rests (:mod:`gdl.music.pianoroll`).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

from gdl.layers.slicing import TakeAlong
from gdl.models.gan import WGANGP
from gdl.music.pianoroll import N_BARS, N_PITCHES, N_STEPS_PER_BAR, N_TRACKS

Z_DIM = 32


def _init():
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def _conv_t(x, filters, kernel, strides, activation="relu", padding="same", bn=True, name=None):
    """The book's ``conv_t``: Conv2DTranspose -> optional BatchNorm(0.9) -> activation."""
    x = layers.Conv2DTranspose(
        filters, kernel, strides=strides, padding=padding, kernel_initializer=_init()
    )(x)
    if bn:
        x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.Activation(activation)(x)


def temporal_network(
    z_dim: int = Z_DIM, n_bars: int = N_BARS, name: str = "temporal", filters: int = 1024
):
    """Noise ``(z_dim,)`` -> one vector per bar ``(n_bars, z_dim)`` (103,584 parameters)."""
    z = keras.Input((z_dim,))
    x = layers.Reshape((1, 1, z_dim))(z)
    x = _conv_t(x, filters, (2, 1), 1, padding="valid")
    x = _conv_t(x, z_dim, (n_bars - 1, 1), 1, padding="valid")
    return keras.Model(z, layers.Reshape((n_bars, z_dim))(x), name=name)


def bar_generator(
    z_dim: int = Z_DIM,
    n_steps_per_bar: int = N_STEPS_PER_BAR,
    n_pitches: int = N_PITCHES,
    name: str = "bar_generator",
    dense: int = 1024,
    filters=(512, 256, 256, 256),
):
    """``[chords, style, melody, groove]`` (4*z_dim) -> one bar ``(1, steps, pitches, 1)``
    in (-1, 1) (1,521,921 parameters). Needs ``n_steps_per_bar = 16`` and
    ``n_pitches = 84`` (= 7 * 12) as in the book: the upsampling strides are fixed."""
    if n_steps_per_bar != 16 or n_pitches != 84:
        raise ValueError("the book's bar generator makes 16 steps x 84 pitches per bar")
    z = keras.Input((4 * z_dim,))
    x = layers.Dense(dense)(z)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.Activation("relu")(x)
    x = layers.Reshape((2, 1, dense // 2))(x)
    x = _conv_t(x, filters[0], (2, 1), (2, 1))
    x = _conv_t(x, filters[1], (2, 1), (2, 1))
    x = _conv_t(x, filters[2], (2, 1), (2, 1))
    x = _conv_t(x, filters[3], (1, 7), (1, 7))
    x = _conv_t(x, 1, (1, 12), (1, 12), activation="tanh", bn=False)
    return keras.Model(z, layers.Reshape((1, n_steps_per_bar, n_pitches, 1))(x), name=name)


def musegan_generator(
    z_dim: int = Z_DIM,
    n_tracks: int = N_TRACKS,
    n_bars: int = N_BARS,
    n_steps_per_bar: int = N_STEPS_PER_BAR,
    n_pitches: int = N_PITCHES,
    temporal_filters: int = 1024,
    bar_dense: int = 1024,
    bar_filters=(512, 256, 256, 256),
):
    """The book's generator: inputs ``[chords (z), style (z), melody (tracks, z),
    groove (tracks, z)]`` -> piano roll ``(bars, steps, pitches, tracks)``.

    The widths (book values by default) can be reduced for quick experiments and tests."""
    chords = keras.Input((z_dim,), name="chords")
    style = keras.Input((z_dim,), name="style")
    melody = keras.Input((n_tracks, z_dim), name="melody")
    groove = keras.Input((n_tracks, z_dim), name="groove")

    chords_over_time = temporal_network(z_dim, n_bars, "temporal_chords", temporal_filters)(chords)
    melody_over_time = [
        temporal_network(z_dim, n_bars, f"temporal_melody_{t}", temporal_filters)(
            TakeAlong(t)(melody)
        )
        for t in range(n_tracks)
    ]
    bar_gens = [
        bar_generator(
            z_dim, n_steps_per_bar, n_pitches, f"bar_generator_{t}", bar_dense, bar_filters
        )
        for t in range(n_tracks)
    ]
    bars = []
    for b in range(n_bars):
        chord_b = TakeAlong(b)(chords_over_time)
        tracks = []
        for t in range(n_tracks):
            z = layers.Concatenate()(
                [chord_b, style, TakeAlong(b)(melody_over_time[t]), TakeAlong(t)(groove)]
            )
            tracks.append(bar_gens[t](z))
        bars.append(layers.Concatenate(axis=-1)(tracks) if n_tracks > 1 else tracks[0])
    out = layers.Concatenate(axis=1)(bars) if n_bars > 1 else bars[0]
    return keras.Model([chords, style, melody, groove], out, name="generator")


def musegan_critic(
    n_bars: int = N_BARS,
    n_steps_per_bar: int = N_STEPS_PER_BAR,
    n_pitches: int = N_PITCHES,
    n_tracks: int = N_TRACKS,
    filters=(128, 128, 128, 128, 128, 128, 256, 512),
    dense: int = 1024,
):
    """The book's Conv3D critic: piano roll -> one score (1,446,401 parameters)."""
    roll = keras.Input((n_bars, n_steps_per_bar, n_pitches, n_tracks), name="piano_roll")
    x = roll
    spec = [
        ((2, 1, 1), (1, 1, 1), "valid"),
        ((n_bars - 1, 1, 1), (1, 1, 1), "valid"),
        ((1, 1, 12), (1, 1, 12), "same"),
        ((1, 1, 7), (1, 1, 7), "same"),
        ((1, 2, 1), (1, 2, 1), "same"),
        ((1, 2, 1), (1, 2, 1), "same"),
        ((1, 4, 1), (1, 2, 1), "same"),
        ((1, 3, 1), (1, 2, 1), "same"),
    ]
    for f, (kernel, strides, padding) in zip(filters, spec):
        x = layers.Conv3D(f, kernel, strides=strides, padding=padding, kernel_initializer=_init())(
            x
        )
        x = layers.LeakyReLU()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense, kernel_initializer=_init())(x)
    x = layers.LeakyReLU()(x)
    out = layers.Dense(1, kernel_initializer=_init())(x)
    return keras.Model(roll, out, name="critic")


@keras.saving.register_keras_serializable(package="gdl")
class MuseGAN(WGANGP):
    """The book's ``MuseGAN`` model: a :class:`~gdl.models.gan.WGANGP` whose generator
    takes ``[chords, style, melody, groove]`` noise and makes piano rolls.

    ``MuseGAN()`` is the book's model (z=32 per input, 4 tracks, 2 bars of 16 steps over
    84 pitches, 5 critic steps, GP weight 10); ``compile()`` defaults to the book's
    Adam(1e-3, 0.5, 0.9) for both players. Train with ``fit(rolls, batch_size=64)``
    on :func:`gdl.music.chorales_to_pianoroll` output. On the embedded music21 chorales a
    CPU reader trains the same networks at batch 16 (:mod:`gdl.book.reader_budget`); the
    statistics that tell learning from collapse are in :mod:`gdl.music.stats` and
    recorded during training by :class:`gdl.book.ch11_music.MuseGANStatistics`.
    """

    book_learning_rate = 1e-3

    def __init__(
        self,
        critic=None,
        generator=None,
        latent_dim: int = Z_DIM,
        critic_steps: int = 5,
        gp_weight: float = 10.0,
        n_tracks: int = N_TRACKS,
        n_bars: int = N_BARS,
        n_steps_per_bar: int = N_STEPS_PER_BAR,
        n_pitches: int = N_PITCHES,
        seed=None,
        **kwargs,
    ):
        if generator is None:
            generator = musegan_generator(latent_dim, n_tracks, n_bars, n_steps_per_bar, n_pitches)
        if critic is None:
            critic = musegan_critic(n_bars, n_steps_per_bar, n_pitches, n_tracks)
        super().__init__(
            critic, generator, latent_dim, critic_steps, gp_weight, seed=seed, **kwargs
        )
        shape = tuple(generator.output.shape[1:])
        self.n_bars, self.n_steps_per_bar, self.n_pitches, self.n_tracks = shape

    def sample_latent(self, batch_size, seed=None):
        """``[chords (B, z), style (B, z), melody (B, tracks, z), groove (B, tracks, z)]``
        ~ N(0, 1); an int ``seed`` gives the same four draws every time."""
        if seed is None:
            seed = self.seed_generator
        elif not isinstance(seed, keras.random.SeedGenerator):
            seed = keras.random.SeedGenerator(seed)
        z, t = self.latent_dim, self.n_tracks
        shapes = [(batch_size, z), (batch_size, z), (batch_size, t, z), (batch_size, t, z)]
        return [keras.random.normal(s, seed=seed) for s in shapes]

    def generate(self, num: int = 1, seed=None, latent=None, batch_size: int = 256):
        """Piano rolls ``(num, bars, steps, pitches, tracks)`` in (-1, 1) as NumPy
        (the book's ``generate_piano_roll``). ``latent`` (a list of four arrays, see
        :meth:`sample_latent`) fixes the noise, e.g. to change one input at a time."""
        if latent is None:
            latent = self.sample_latent(num, seed=seed)
        return np.asarray(self.generator.predict(list(latent), batch_size=batch_size, verbose=0))

    @staticmethod
    def to_scores(rolls, split_every: int | None = 4) -> list:
        """music21 scores from piano rolls: argmax per step, rests kept as rests."""
        from gdl.music.pianoroll import chorale_to_stream, pianoroll_to_chorale

        return [chorale_to_stream(c, split_every=split_every) for c in pianoroll_to_chorale(rolls)]

    def generate_midi(self, path, num: int = 1, seed=None, latent=None) -> list[Path]:
        """Generate ``num`` scores and write them as MIDI (``path``, or ``stem_i.mid`` for
        several); returns the paths (the book's ``notes_to_midi``)."""
        from gdl.music.pianoroll import write_midi

        path = Path(path)
        scores = self.to_scores(self.generate(num, seed=seed, latent=latent))
        if len(scores) == 1:
            return [write_midi(scores[0], path)]
        return [
            write_midi(s, path.with_name(f"{path.stem}_{i}{path.suffix}"))
            for i, s in enumerate(scores)
        ]
