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
