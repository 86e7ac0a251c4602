"""Chapter 9/11 notebook views: the shifted input/target table, causal mask, raw roll."""

from __future__ import annotations

import numpy as np

from gdl.book.ch09_transformer import shifted_example
from gdl.book.ch11_music import causal_mask_figure, raw_pianoroll_figure


def test_shifted_example_pairs_each_input_with_the_next_token():
    vocab = ["", "[UNK]", "a", "b", "c"]
    tokens = np.array([2, 3, 4, 2])
    lines = shifted_example(tokens[:-1], tokens[1:], vocab, n=2).splitlines()
    assert len(lines) == 3
    assert lines[1].split("->")[0].strip() == "a (2)" and lines[1].split("->")[1].strip() == "b (3)"
    assert lines[2].endswith("c (4)")


def test_causal_mask_figure_is_the_transposed_lower_triangle():
    image = causal_mask_figure(4).axes[0].images[0].get_array()
    np.testing.assert_array_equal(np.asarray(image), np.triu(np.ones((4, 4), int)))


def test_raw_pianoroll_figure_draws_the_values_before_argmax():
    roll = np.random.default_rng(0).uniform(-1, 1, (2, 16, 84, 4)).astype("float32")
    fig = raw_pianoroll_figure(roll, track_names=list("SATB"))
    axes = fig.axes
    assert len(axes) == 8
    np.testing.assert_allclose(np.asarray(axes[1].images[0].get_array()), roll[1, :, :, 0].T)


def test_embedding_heatmaps_split_the_sum_into_token_and_position():
    from gdl.book.ch11_music import embedding_heatmaps
    from gdl.layers import TokenAndPositionEmbedding

    layer = TokenAndPositionEmbedding(7, 8, None, "sine")
    tokens = np.array([1, 2, 3, 4, 5])
    axes = embedding_heatmaps(layer, tokens).axes[:3]
    token, position, total = (np.asarray(ax.images[0].get_array()) for ax in axes)
    np.testing.assert_allclose(token + position, total, atol=1e-5)
    # position 0 of a sine encoding: sin(0) = 0 and cos(0) = 1, whatever the tokens
    np.testing.assert_allclose(np.sort(position[:, 0]), [0] * 4 + [1] * 4, atol=1e-5)
    np.testing.assert_allclose(total.T, np.asarray(layer(tokens[None]))[0], atol=1e-6)


def test_chorale_walkthrough_reports_the_real_arrays(data_env):
    from gdl.book.ch11_music import chorale_walkthrough
    from gdl.data import load

    chorale = load("chorales")["train"][1]
    text = chorale_walkthrough("chorales", index=1, show_steps=3).splitlines()
    assert f"shape {chorale.shape}" in text[0]
    first = ["rest" if np.isnan(p) else str(int(p)) for p in chorale[0]]
    assert text[2].split(":")[1].split() == first
    assert "(2, 16, 4), rests coded 83" in text[5]
    expected = [83 if np.isnan(p) else int(p) for p in chorale[0]]
    assert text[5].endswith(str(expected)) and text[6].endswith(str(expected))
    assert "(2, 16, 84, 4) in {-1, 1}" in text[6]


def test_ngram_perplexity_matches_a_hand_count():
    from gdl.book.ch11_music import ngram_perplexity

    # training pairs (prev -> next): 2->3 twice, 2->2 once, 3->2 once; vocab of 4, add-1
    x, y = np.array([[2, 2, 2, 3]]), np.array([[3, 3, 2, 2]])
    p_23 = (2 + 1) / (3 + 4)
    p_32 = (1 + 1) / (1 + 4)
    got = ngram_perplexity(x, y, np.array([[2, 3]]), np.array([[3, 2]]), 4)
    np.testing.assert_allclose(got, np.exp(-(np.log(p_23) + np.log(p_32)) / 2))
    # unigram: counts of the targets only (3: 2, 2: 2 of 4, add-1 over 4 tokens)
    uni = ngram_perplexity(0 * x, y, np.zeros((1, 1), int), np.array([[3]]), 4)
    np.testing.assert_allclose(uni, 8 / 3)


def test_held_out_perplexities_of_a_known_model():
    from gdl.book.ch11_music import held_out_perplexities

    class Fixed:  # logits: uniform over notes; durations put log 3 more on token 2
        notes_vocab_size, durations_vocab_size = 5, 4

        def predict(self, x, batch_size=None, verbose=0):
            b, t = x[0].shape
            d = np.zeros((b, t, 4))
            d[..., 2] = np.log(3.0)
            return np.zeros((b, t, 5)), d

    rng = np.random.default_rng(0)
    xs = ((rng.integers(2, 5, (3, 6)), rng.integers(2, 4, (3, 6))),) * 2
    held = (
        (rng.integers(2, 5, (2, 6)), np.full((2, 6), 2)),
        (rng.integers(2, 5, (2, 6)), np.full((2, 6), 2)),
    )
    out = held_out_perplexities(Fixed(), xs, held)
    np.testing.assert_allclose(out["notes"]["transformer"], 5.0)  # uniform over 5
    np.testing.assert_allclose(out["durations"]["transformer"], 2.0)  # p = 3 / (3 + 3) = 1/2
    assert set(out["notes"]) == {"transformer", "bigram", "unigram"}


def test_musegan_statistics_callback_records_the_curve_and_stops_on_budget():
    from gdl.book.ch11_music import MuseGANStatistics, format_statistics, statistics_curve_figure
    from gdl.music.stats import STAT_NAMES, roll_statistics
    from tests.models.test_musegan import small_musegan

    rolls = np.random.default_rng(0).choice([-1.0, 1.0], size=(6, 2, 16, 84, 4)).astype("float32")
    model = small_musegan(seed=0, critic_steps=1)
    model.compile(run_eagerly=True)
    real = roll_statistics(rolls)
    stats = MuseGANStatistics(real, every=2, num=8, verbose=False)
    model.fit(rolls, batch_size=2, epochs=1, callbacks=[stats], verbose=0)
    # before training, every 2 generator steps, and at the end
    assert [r["step"] for r in stats.history] == [0, 2, 3]
    assert stats.history[0]["cpu_s"] <= stats.history[-1]["cpu_s"]
    last = {k: v for k, v in stats.history[-1].items() if k not in ("step", "cpu_s")}
    assert last == roll_statistics(model.generate(8, seed=1))  # fixed noise
    assert set(STAT_NAMES) < set(last)
    # a second fit continues the curve from the generator's step count
    model.fit(rolls[:2], batch_size=2, epochs=1, callbacks=[stats], verbose=0)
    assert [r["step"] for r in stats.history] == [0, 2, 3, 4]
    line = format_statistics(stats.history[-1], real)
    assert line.startswith("step 4") and "(real" in line
    fig = statistics_curve_figure(stats.history, real)
    ax = fig.axes[1]  # empty bar-tracks
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [0, 2, 3, 4])
    np.testing.assert_allclose(
        ax.lines[0].get_ydata(), [r["empty bar-tracks"] for r in stats.history]
    )
    # a CPU budget of 0 s stops after the first batch
    budget = MuseGANStatistics(real, every=100, num=4, verbose=False, budget_cpu_s=0.0)
    model.fit(rolls, batch_size=2, epochs=3, callbacks=[budget], verbose=0)
    assert [r["step"] for r in budget.history] == [4, 5]
