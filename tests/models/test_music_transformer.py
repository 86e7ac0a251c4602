"""The music Transformer (chapter 11): heads, causality, loss, cached generation, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from gdl.models.music_transformer import (
    MusicTransformer,
    plot_attention,
    plot_note_probabilities,
)
from gdl.music import build_vocabulary, score_to_tokens, sequence_dataset, tokens_to_stream

NOTES = ["", "[UNK]", "START", "rest", "C4", "D4", "E4", "G4", "G:major", "4/4TS"]
DURS = ["", "[UNK]", "0.0", "1.0", "0.5", "1/3", "2.0"]
SMALL = dict(embed_dim=16, num_heads=2, key_dim=8, ff_dim=16, max_len=64)


def small(**kw):
    return MusicTransformer(NOTES, DURS, **{**SMALL, "seed": 0, **kw})


def test_book_parameter_count():
    model = MusicTransformer(notes_vocab_size=59, durations_vocab_size=24)
    assert model.count_params() == 1_447_424 + 385 * (59 + 24)  # the book's 1,479,379
    with pytest.raises(ValueError, match="vocab"):
        MusicTransformer()


def test_two_heads_and_causality():
    model = small()
    rng = np.random.default_rng(0)
    n = rng.integers(2, len(NOTES), (3, 12)).astype("int32")
    d = rng.integers(2, len(DURS), (3, 12)).astype("int32")
    pn, pd = model.probabilities((n, d))
    ln, ld = model((n, d))
    np.testing.assert_allclose(keras.ops.softmax(ln), pn, atol=1e-6)
    assert ln.shape == (3, 12, len(NOTES)) and pd.shape == (3, 12, len(DURS))
    np.testing.assert_allclose(np.sum(pn, -1), 1, atol=1e-5)
    n2, d2 = n.copy(), d.copy()
    n2[:, 7:] = rng.integers(2, len(NOTES), (3, 5))
    d2[:, 9:] = rng.integers(2, len(DURS), (3, 3))
    qn, qd = model.probabilities((n2, d2))
    np.testing.assert_allclose(qn[:, :7], pn[:, :7], atol=1e-5)  # past unaffected by future
    np.testing.assert_allclose(qd[:, :7], pd[:, :7], atol=1e-5)
    assert np.abs(np.asarray(qn[:, 7:]) - np.asarray(pn[:, 7:])).max() > 1e-4
    _, _, scores = model.logits_and_attention((n, d))
    assert scores[0].shape == (3, 2, 12, 12)
    assert np.all(np.triu(np.asarray(scores[0]), k=1) == 0)
    with pytest.raises(ValueError, match="two int inputs"):
        model(n)


def test_loss_is_the_sum_of_both_cross_entropies_and_training_fits():
    keras.utils.set_random_seed(0)
    model = small()
    pieces = [(["START", "G:major", "4/4TS"] + ["C4", "D4", "E4", "G4"] * 6,
               ["0.0", "0.0", "0.0"] + ["1.0", "0.5", "0.5", "2.0"] * 6)]  # fmt: skip
    (xn, xd), (yn, yd), nv, dv = sequence_dataset(pieces, 8, NOTES, DURS)
    pn, pd = model.probabilities((xn, xd))
    expected = np.mean(keras.losses.sparse_categorical_crossentropy(yn, pn)) + np.mean(
        keras.losses.sparse_categorical_crossentropy(yd, pd)
    )
    loss = model.compute_loss((xn, xd), (yn, yd), model((xn, xd)))
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    hist = model.fit((xn, xd), (yn, yd), epochs=25, batch_size=8, verbose=0).history
    assert {"loss", "note_loss", "duration_loss"} <= set(hist)
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    # after fitting the repeating phrase, greedy continuation follows it
    gen = model.generate(["START", "G:major", "4/4TS", "C4"], ["0.0", "0.0", "0.0", "1.0"],
                         max_len=8, temperature=0)  # fmt: skip
    assert gen.notes[4:8] == ["D4", "E4", "G4", "C4"]
    assert gen.durations[4:8] == ["0.5", "0.5", "2.0", "1.0"]


def test_cached_generation_matches_the_full_rerun_and_never_draws_unk():
    model = small()
    a = model.generate(max_len=40, temperature=1.0, seed=7)
    b = model.generate(max_len=40, temperature=1.0, seed=7, use_cache=False)
    assert a.notes == b.notes and a.durations == b.durations
    np.testing.assert_allclose(a.note_probs, b.note_probs, atol=1e-5)
    np.testing.assert_allclose(a.attention, b.attention, atol=1e-5)
    assert "[UNK]" not in a.notes[1:] and "" not in a.notes
    for n, d in zip(a.notes[1:], a.durations[1:]):
        if n in ("rest", "C4", "D4", "E4", "G4"):
            assert d not in ("0.0", "", "[UNK]")
    assert a.attention.shape[1:] == (1, 2, 64)
    np.testing.assert_array_equal(a.tokens, b.tokens)
    assert a.num_steps == len(a.note_probs) == len(a.attention) == a.tokens.shape[1] - 1
    with pytest.raises(ValueError, match="cache length"):
        model.generate(max_len=65)


def test_generate_stops_when_start_is_sampled():
    model = small()
    head = model.note_head
    w, b = head.get_weights()
    b[:] = -30
    b[NOTES.index("START")] = 30  # START almost surely next
    head.set_weights([w * 0, b])
    gen = model.generate(["START", "C4"], ["0.0", "1.0"], max_len=20, seed=0, temperature=1)
    assert gen.notes == ["START", "C4"] and len(gen.note_probs) == 1


def test_save_load_keeps_vocabularies_and_outputs(tmp_path):
    model = small()
    path = tmp_path / "mt.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.notes_vocabulary == NOTES and loaded.durations_vocabulary == DURS
    x = (np.array([[2, 8, 9, 4, 5]], "int32"), np.array([[2, 2, 2, 3, 4]], "int32"))
    for a, b in zip(model(x), loaded(x)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    g1, g2 = model.generate(seed=1, max_len=20), loaded.generate(seed=1, max_len=20)
    assert g1.notes == g2.notes


def test_generation_writes_midi_and_plots(tmp_path):
    from music21 import converter

    # no triplets here: MIDI files quantise off-beat triplets
    no_triplets = [d for d in DURS if d != "1/3"]
    keras.utils.set_random_seed(0)
    model = MusicTransformer(NOTES, no_triplets, **SMALL, seed=0)
    gen = model.generate(["START", "C4", "E4"], ["0.0", "1.0", "0.5"], max_len=30, seed=2)
    path = gen.write_midi(tmp_path / "piece.mid")
    parsed = converter.parse(str(path))
    expected = tokens_to_stream(gen.notes, gen.durations)
    # same pitches in order; MIDI pads the last bar with a rest
    pitches = {"C4", "D4", "E4", "G4"}
    back, _ = score_to_tokens(parsed)
    want = [n for n in gen.notes if n in pitches]
    assert want and [n for n in back if n in pitches] == want
    assert 0 <= parsed.highestTime - float(expected.highestTime) < 4
    assert plot_note_probabilities(gen, path=tmp_path / "p.png").axes
    assert plot_attention(gen, path=tmp_path / "a.png").axes
    assert build_vocabulary([gen.notes])[:2] == ["", "[UNK]"]


def test_cli_samples_midi_from_the_keras_file_alone(tmp_path):
    from music21 import converter

    from gdl.cli import main

    path = tmp_path / "model.keras"
    small().save(path)
    out = tmp_path / "piece.mid"
    argv = ["sample", "music_transformer", "--model-path", str(path), "--out", str(out)]
    assert main(argv + ["--seed", "1", "--generate-len", "12"]) == 0
    assert out.exists() and out.with_suffix(".png").exists()
    converter.parse(str(out))
