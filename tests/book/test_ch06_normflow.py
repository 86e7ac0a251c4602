"""gdl.book.ch06_normflow: normalised moons and the book's 2x2 figure."""

import numpy as np

from gdl.book.ch06_normflow import flow_figure, moons_data, save_flow_figure


class Identity:  # f and g of the identity flow
    input_dim = 2

    def to_latent(self, x):
        return x, None

    def inverse(self, z):
        return z


def test_moons_are_normalised():
    data, norm = moons_data(500)
    np.testing.assert_allclose(data.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(data.std(0), 1.0, atol=1e-3)


def test_flow_figure_has_the_four_panels(tmp_path):
    data, _ = moons_data(500)
    fig = flow_figure(Identity(), data, num_samples=100)
    assert [ax.get_title() for ax in fig.axes] == ["Data space X", "f(X)", "Latent space Z", "g(Z)"]
    offsets = [ax.collections[0].get_offsets() for ax in fig.axes]
    np.testing.assert_array_equal(offsets[0], offsets[1])  # f = identity
    np.testing.assert_array_equal(offsets[2], offsets[3])  # g = identity
    assert save_flow_figure(Identity(), data, tmp_path / "a" / "f.png", 50).stat().st_size > 0
