"""MuseGAN (chapter 11): generator structure, critic, gradient penalty, training, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from gdl.losses import gradient_penalty
from gdl.models.musegan import MuseGAN, musegan_critic, musegan_generator
from gdl.music import chorales_to_pianoroll
from tests.music_corpus import corpus_chorales

SHAPE = (2, 16, 84, 4)


def small_musegan(**kwargs):
    """The book's architecture with narrow layers, for quick training tests."""
    generator = musegan_generator(temporal_filters=16, bar_dense=32, bar_filters=(8, 8, 8, 8))
    critic = musegan_critic(filters=(8,) * 8, dense=16)
    # N(0, 0.02) weights in so narrow a critic give ~1e-13 generator gradients: use Glorot
    init = keras.initializers.GlorotUniform(seed=0)
    for v in critic.trainable_variables:
        if len(v.shape) > 1:
            v.assign(init(v.shape))
    return MuseGAN(critic=critic, generator=generator, **kwargs)


@pytest.fixture(scope="module")
def model():
    return small_musegan(seed=0)


def _predict(model, latent):
    return model.generate(latent=[np.asarray(z) for z in latent])


def test_book_sizes_and_output_range():
    model = MuseGAN(seed=0)
    assert model.generator.count_params() == 6_605_604
    assert model.critic.count_params() == 1_446_401
    rolls = model.generate(3, seed=1)
    assert rolls.shape == (3, *SHAPE)
    assert np.all(np.abs(rolls) < 1)  # tanh
    np.testing.assert_array_equal(rolls, model.generate(3, seed=1))
    assert not np.array_equal(rolls[0], rolls[1])
    assert model.critic(rolls).shape == (3, 1)


def test_each_noise_input_reaches_the_right_tracks(model):
    latent = [np.asarray(z) for z in model.sample_latent(2, seed=3)]
    base = _predict(model, latent)
    rng = np.random.default_rng(0)

    def changed(index, track=None):
        z = [x.copy() for x in latent]
        if track is None:
            z[index] = rng.normal(size=z[index].shape).astype("float32")
        else:
            z[index][:, track] = rng.normal(size=z[index][:, track].shape)
        diff = np.abs(_predict(model, z) - base).max(axis=(0, 2, 3))  # (bars, tracks)
        return diff

    for shared in (0, 1):  # chords, style: every bar of every track changes
        assert np.all(changed(shared) > 0)
    melody0 = changed(2, track=0)
    assert np.all(melody0[:, 0] > 0)
    assert np.all(melody0[:, 1:] == 0)  # other tracks untouched
    groove_last = changed(3, track=3)
    assert np.all(groove_last[:, 3] > 0) and np.all(groove_last[:, :3] == 0)


def test_gradient_penalty_of_a_linear_critic_over_all_axes():
    """For C(x) = <w, x> + b the gradient is w everywhere: GP = (||w||_2 - 1)^2, where
    the norm runs over bars, steps, pitches AND tracks (the book leaves tracks out)."""
    inp = keras.Input(SHAPE)
    critic = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(inp)))
    rng = np.random.default_rng(0)
    w = rng.normal(scale=0.01, size=(int(np.prod(SHAPE)), 1)).astype("float32")
    critic.layers[-1].set_weights([w, np.array([0.3], "float32")])
    real = rng.choice([-1.0, 1.0], size=(3, *SHAPE)).astype("float32")
    fake = rng.uniform(-1, 1, size=(3, *SHAPE)).astype("float32")
    gp = float(gradient_penalty(critic, real, fake, seed=1))
    expected = (np.sqrt(np.sum(w.astype("float64") ** 2)) - 1) ** 2
    assert gp == pytest.approx(expected, rel=1e-4)
    # the book's norm over axes [1, 2, 3] then a mean over batch and tracks differs
    w5 = w.reshape(SHAPE)
    book = np.mean((np.sqrt(np.sum(w5.astype("float64") ** 2, axis=(0, 1, 2))) - 1) ** 2)
    assert abs(book - expected) > 1e-3


def test_train_step_updates_both_players_and_saves(tmp_path):
    keras.utils.set_random_seed(0)
    rolls = chorales_to_pianoroll(corpus_chorales(3), hop=16)[:4]
    model = small_musegan(critic_steps=2, seed=0)
    model.compile(run_eagerly=True)  # tracing the 5-network step takes minutes on CPU
    g0 = [v.numpy().copy() for v in model.generator.trainable_variables]
    c0 = model.critic.trainable_variables[0].numpy().copy()
    hist = model.fit(rolls, batch_size=4, epochs=1, verbose=0).history
    assert set(hist) == {"c_loss", "c_wass_loss", "c_gp", "g_loss"}
    assert all(np.isfinite(v[-1]) for v in hist.values())
    assert not np.allclose(c0, model.critic.trainable_variables[0].numpy())
    moved = [np.abs(a - v.numpy()).max() for a, v in zip(g0, model.generator.trainable_variables)]
    assert max(moved) > 1e-5
    assert int(model.g_optimizer.iterations.numpy()) == 1
    assert int(model.c_optimizer.iterations.numpy()) == 2
    with pytest.raises(ValueError, match="expects images of shape"):
        model.train_step(np.zeros((2, 2, 16, 84, 3), "float32"))

    path = tmp_path / "musegan.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, MuseGAN) and loaded.critic_steps == 2
    latent = [np.asarray(z) for z in model.sample_latent(2, seed=5)]
    np.testing.assert_allclose(_predict(loaded, latent), _predict(model, latent), atol=1e-6)
    np.testing.assert_allclose(loaded.critic(rolls), model.critic(rolls), atol=1e-5)


def test_generate_midi_writes_four_parts_with_rests_as_rests(model, tmp_path):
    from music21 import converter

    paths = model.generate_midi(tmp_path / "piece.mid", num=2, seed=0)
    assert [p.name for p in paths] == ["piece_0.mid", "piece_1.mid"]
    score = converter.parse(str(paths[0]))
    assert len(score.parts) == 4
    assert score.highestTime == pytest.approx(8.0)  # 2 bars of 16 sixteenths
    rest_roll = -np.ones((1, *SHAPE), "float32")
    rest_roll[..., 83, :] = 1  # every step of every track a rest
    (silent,) = MuseGAN.to_scores(rest_roll)
    assert not list(silent.flatten().notes)


def test_networks_reject_other_bar_sizes():
    with pytest.raises(ValueError, match="16 steps x 84 pitches"):
        musegan_generator(n_pitches=72)
    assert musegan_critic(n_tracks=2).input.shape[1:] == (2, 16, 84, 2)


def test_cli_samples_midi_and_piano_roll(model, tmp_path):
    from gdl.cli import main

    path = tmp_path / "model.keras"
    model.save(path)
    out = tmp_path / "piece.mid"
    argv = ["sample", "musegan", "--model-path", str(path), "--out", str(out), "--num", "2"]
    assert main(argv) == 0
    assert (tmp_path / "piece_0.mid").exists() and (tmp_path / "piece_1.png").exists()
