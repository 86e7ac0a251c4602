"""gdl.book.ch04_gan.label_rows: one row per label, the same latents in every row."""

import numpy as np

from gdl.book.ch04_gan import label_rows


def test_label_rows_share_one_latent_per_column():
    class Echo:  # returns its inputs so the test sees what the model was given
        num_classes, latent_dim = 3, 4

        def generate(self, labels, latent):
            return np.concatenate([np.asarray(labels)[:, None], latent], axis=1)

    out = label_rows(Echo(), per_row=5, seed=0)
    assert out.shape == (15, 5)
    np.testing.assert_array_equal(out[:, 0], np.repeat([0, 1, 2], 5))
    np.testing.assert_array_equal(out[:5, 1:], out[10:, 1:])
    z = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
    np.testing.assert_array_equal(out[5:10, 1:], z)
