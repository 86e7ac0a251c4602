"""Chapter 3 autoencoder: book networks, its BCE loss, fit, saving."""

import keras
import numpy as np

from gdl.models.autoencoder import Autoencoder


def test_book_parameter_counts():
    ae = Autoencoder()
    assert ae.encoder.count_params() == 96_770
    assert ae.decoder.count_params() == 246_273
    assert ae.encoder.output.shape[-1] == 2


def test_loss_is_the_books_binary_crossentropy():
    ae = Autoencoder(image_shape=(8, 8, 1), embedding_dim=2, filters=(4, 8))
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(3, 8, 8, 1)).astype("float32")
    pred = rng.uniform(0.05, 0.95, size=(3, 8, 8, 1)).astype("float32")
    expected = -(x * np.log(pred) + (1 - x) * np.log(1 - pred)).mean()
    np.testing.assert_allclose(float(ae.compute_loss(x, None, pred)), expected, rtol=1e-4)
    ref = keras.losses.BinaryCrossentropy()(x, pred)
    np.testing.assert_allclose(float(ae.compute_loss(x, x, pred)), float(ref), rtol=1e-4)


def test_fit_lowers_loss_and_round_trips(tmp_path):
    from gdl.data import load

    x = load("digits", size=8)[:200]
    ae = Autoencoder(image_shape=(8, 8, 1), embedding_dim=2, filters=(8, 16))
    ae.compile(optimizer=keras.optimizers.Adam(1e-2))
    hist = ae.fit(x, epochs=3, batch_size=50, verbose=0).history
    assert np.all(np.isfinite(hist["loss"])) and hist["loss"][-1] < hist["loss"][0]
    np.testing.assert_allclose(hist["reconstruction_loss"], hist["loss"], rtol=1e-5)
    ae.save(tmp_path / "ae.keras")
    again = keras.saving.load_model(tmp_path / "ae.keras")
    np.testing.assert_array_equal(ae.encode(x[:4]), again.encode(x[:4]))
    np.testing.assert_array_equal(ae.reconstruct(x[:4]), again.reconstruct(x[:4]))
    assert ae.encode(x[:4]).shape == (4, 2)
