"""gdl.book.ch03_vae: Fashion-MNIST as the book prepares it (digits offline)."""

from gdl.book.ch03_vae import fashion_images


def test_fashion_digits_are_padded_like_fashion_mnist():
    (x, y), (xt, yt), classes = fashion_images("digits")
    assert x.shape == (1437, 32, 32, 1) and len(xt) == 360 and classes[3] == "3"
    assert 0.0 <= x.min() and x.max() <= 1.0 and len(y) == 1437


def test_fashion_mnist_is_padded_28_to_32(data_env):
    (x, y), (xt, _), classes = fashion_images("fashion_mnist")
    assert x.shape[1:] == (32, 32, 1) and classes[0] == "T-shirt/top"
    assert x[:, :2].max() == 0.0 and x.max() <= 1.0  # zero padding, /255


def test_attribute_table_shows_the_csv_on_its_side(data_env):
    from gdl.book.ch03_vae import attribute_table
    from gdl.data.celeba import ATTRIBUTES, attributes

    ids, names, values = attributes()
    table = attribute_table(3).splitlines()
    assert len(table) == 1 + len(ATTRIBUTES)
    assert table[0].split() == ids[:3]
    blond = next(line for line in table if line.startswith("Blond_Hair "))
    assert [int(v) for v in blond.split()[1:]] == values[:3, names.index("Blond_Hair")].tolist()


def test_labelled_digits_mark_one_digit_against_the_held_out_rest():
    import numpy as np

    from gdl.book.ch03_vae import labelled_images
    from gdl.book.images import digits

    _, (x, y) = digits(32, 3, (0.0, 1.0))
    batches = list(labelled_images("digits", 32, 100, digit=7))
    images = np.concatenate([np.asarray(b[0]) for b in batches])
    labels = np.concatenate([np.asarray(b[1]) for b in batches])
    assert len(batches[0][0]) == 100 and images.shape == x.shape
    np.testing.assert_array_equal(images, x)  # the held-out split, in order, RGB in [0, 1]
    np.testing.assert_array_equal(labels, (y == 7).astype("float32"))
    assert 0 < labels.sum() < len(labels)


def test_labelled_faces_are_the_validation_split_with_the_attribute(data_env):
    from gdl.book.ch03_vae import labelled_images

    images, labels = next(iter(labelled_images("faces", 32, 4, label="Blond_Hair")))
    assert images.shape[1:] == (32, 32, 3)
    assert set(labels.numpy().tolist()) <= {0, 1}
