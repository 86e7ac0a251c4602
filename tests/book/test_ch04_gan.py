"""gdl.book.ch04_gan.label_rows (and its epoch sample): one row per label, the same latents
in every row."""

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


def test_label_rows_sample_writes_one_row_per_label(tmp_path):
    from PIL import Image

    from gdl.book.ch04_gan import label_rows_sample

    class Grey:  # image value = label, so each row of the grid has one grey level
        num_classes, latent_dim = 3, 2

        def generate(self, labels, latent):
            return np.broadcast_to(np.asarray(labels, "float32")[:, None, None, None] - 1, (len(labels), 4, 4, 1))

    img = np.asarray(Image.open(label_rows_sample(per_row=5)(Grey(), tmp_path / "s.png")))
    assert img.shape[:2] == (3 * 5 - 1, 5 * 5 - 1)  # 4-pixel images, 1-pixel gaps
    rows = [np.unique(img[r * 5:r * 5 + 4, :4]) for r in range(3)]
    assert [len(r) for r in rows] == [1, 1, 1] and rows[0][0] < rows[1][0] < rows[2][0]
