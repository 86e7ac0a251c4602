"""Chapter 2: the classifiers have the book's parameter counts and learn."""

import numpy as np

from gdl.convolution import HORIZONTAL_EDGE, VERTICAL_EDGE, convolve2d, convolve2d_fast
from gdl.models.classifiers import cnn, compile_classifier, mlp, mlp_sequential


def test_parameter_counts_match_the_book():
    assert mlp().count_params() == 646_260
    assert mlp_sequential().count_params() == 646_260
    assert cnn().count_params() == 592_554


def test_sequential_and_functional_mlp_compute_the_same_function():
    a, b = mlp(), mlp_sequential()
    b.set_weights(a.get_weights())
    x = np.random.default_rng(0).random((4, 32, 32, 3), dtype="float32")
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), rtol=1e-6)


def test_cnn_learns_digits():
    from gdl.book.ch02_deep_learning import classification_data

    (x, y), (xt, yt), _ = classification_data("digits")
    model = compile_classifier(cnn())
    hist = model.fit(x, y, batch_size=32, epochs=2, verbose=0).history
    # BatchNorm's moving averages lag after two epochs, so judge the training metrics.
    assert hist["loss"][-1] < hist["loss"][0]
    assert hist["accuracy"][-1] > 0.8


def test_hand_convolution_matches_vectorised_and_keras():
    import keras

    rng = np.random.default_rng(1)
    im = rng.random((9, 9)).astype("float32")
    for k in (HORIZONTAL_EDGE, VERTICAL_EDGE):
        for stride in (1, 2):
            slow = convolve2d(im, k, stride)
            np.testing.assert_allclose(slow, convolve2d_fast(im, k, stride), atol=1e-5)
            conv = keras.layers.Conv2D(1, 3, strides=stride, padding="same", use_bias=False)
            conv.build((None, 9, 9, 1))
            conv.set_weights([k[:, :, None, None]])
            ref = np.asarray(conv(im[None, :, :, None]))[0, :, :, 0]
            np.testing.assert_allclose(slow, ref, atol=1e-5)


def test_convolution_by_hand_on_known_values():
    im = np.zeros((4, 4), "float32")
    im[:2] = 1.0  # bright top half, dark bottom half: a horizontal edge
    out = convolve2d(im, HORIZONTAL_EDGE)
    # Row 0: padding above, ones below (0 - 3); rows 1 and 2: ones above, zeros
    # below (3 - 0); row 3: zeros above, padding below.
    np.testing.assert_allclose(out[:, 1], [-3.0, 3.0, 3.0, 0.0])
