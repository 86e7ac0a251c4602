"""Chapter 3 VAEs: the maths (KL, reparameterisation, beta), the book's networks, saving, fit."""

from statistics import NormalDist

import keras
import numpy as np
import pytest
import tensorflow as tf

from gdl.errors import ConfigError
from gdl.layers.sampling import Sampling
from gdl.models.vae import VAE, FacesVAE, kl_divergence, normal_quantiles


def tiny_vae(**kw):
    return VAE(image_shape=(8, 8, 1), latent_dim=3, seed=1, **kw)


def digits8(n=64):
    from gdl.data import load

    return load("digits", size=8)[:n]


def test_kl_closed_form_matches_monte_carlo():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(3, 4)).astype("float32")
    log_var = rng.normal(scale=0.5, size=(3, 4)).astype("float32")
    closed = np.asarray(kl_divergence(mu, log_var))
    sd = np.exp(0.5 * log_var)
    z = mu + sd * rng.standard_normal((200_000, 3, 4))
    log_q = -0.5 * (((z - mu) / sd) ** 2 + log_var + np.log(2 * np.pi))
    log_p = -0.5 * (z**2 + np.log(2 * np.pi))
    mc = (log_q - log_p).sum(-1).mean(0)
    np.testing.assert_allclose(closed, mc, rtol=0.02, atol=0.01)
    # zero exactly at the prior
    assert float(np.abs(kl_divergence(np.zeros((1, 4)), np.zeros((1, 4)))).max()) == 0.0


def test_sampling_gradient_reaches_mean_and_log_variance():
    layer = Sampling(seed=3)
    mu = tf.Variable(np.array([[0.5, -1.0]], "float32"))
    lv = tf.Variable(np.array([[0.2, -0.4]], "float32"))
    with tf.GradientTape() as tape:
        z = layer([mu, lv])
        loss = tf.reduce_sum(z)
    g_mu, g_lv = tape.gradient(loss, [mu, lv])
    eps = (z.numpy() - mu.numpy()) / np.exp(0.5 * lv.numpy())
    np.testing.assert_allclose(g_mu.numpy(), np.ones((1, 2)), rtol=1e-6)
    np.testing.assert_allclose(g_lv.numpy(), 0.5 * eps * np.exp(0.5 * lv.numpy()), rtol=1e-5)
    assert np.all(np.abs(g_lv.numpy()) > 0)


def test_sampling_has_the_right_distribution_and_is_seeded():
    mu = np.full((50_000, 1), 2.0, "float32")
    lv = np.full((50_000, 1), np.log(0.25), "float32")
    z = np.asarray(Sampling(seed=7)([mu, lv]))
    assert abs(z.mean() - 2.0) < 0.01 and abs(z.std() - 0.5) < 0.01
    np.testing.assert_array_equal(z, np.asarray(Sampling(seed=7)([mu, lv])))


def test_beta_scales_only_the_reconstruction_term():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(4, 8, 8, 1)).astype("float32")
    rec = rng.uniform(0.05, 0.95, size=(4, 8, 8, 1)).astype("float32")
    mu = rng.normal(size=(4, 3)).astype("float32")
    lv = rng.normal(size=(4, 3)).astype("float32")
    t1, r1, k1 = (float(v) for v in tiny_vae(beta=1.0).loss_terms(x, mu, lv, rec))
    t7, r7, k7 = (float(v) for v in tiny_vae(beta=7.0).loss_terms(x, mu, lv, rec))
    bce = -(x * np.log(rec) + (1 - x) * np.log(1 - rec)).mean()
    np.testing.assert_allclose(r1, bce, rtol=1e-4)
    np.testing.assert_allclose(r7, 7 * r1, rtol=1e-5)
    np.testing.assert_allclose(k7, k1, rtol=1e-6)
    np.testing.assert_allclose([t1, t7], [r1 + k1, r7 + k7], rtol=1e-5)
    _, r_mse, _ = tiny_vae(beta=2.0, reconstruction_loss="mse").loss_terms(x, mu, lv, rec)
    np.testing.assert_allclose(float(r_mse), 2 * ((x - rec) ** 2).mean(), rtol=1e-5)


def test_book_parameter_counts():
    v, f = VAE(), FacesVAE()
    assert (v.encoder.count_params(), v.decoder.count_params()) == (100_868, 246_273)
    assert (f.encoder.count_params(), f.decoder.count_params()) == (653_584, 700_803)
    assert (v.beta, v.reconstruction_loss, v.latent_dim) == (500.0, "bce", 2)
    assert (f.beta, f.reconstruction_loss, f.latent_dim) == (2000.0, "mse", 200)


def test_fit_changes_weights_reports_trackers_and_round_trips(tmp_path):
    x = digits8()
    vae = tiny_vae()
    vae.compile(optimizer=keras.optimizers.Adam(5e-4))
    before = [w.copy() for w in vae.get_weights()]
    hist = vae.fit(x, epochs=1, batch_size=16, validation_data=(x, x), verbose=0).history
    for key in ("loss", "reconstruction_loss", "kl_loss", "val_loss", "val_kl_loss"):
        assert np.isfinite(hist[key][0]), key
    np.testing.assert_allclose(
        hist["val_loss"][0], hist["val_reconstruction_loss"][0] + hist["val_kl_loss"][0], rtol=1e-4
    )
    assert any(not np.allclose(a, b) for a, b in zip(before, vae.get_weights()))
    path = tmp_path / "vae.keras"
    vae.save(path)
    again = keras.saving.load_model(path)
    assert isinstance(again, VAE) and again.beta == vae.beta
    np.testing.assert_array_equal(vae.encode(x[:5])[0], again.encode(x[:5])[0])
    z = vae.sample_prior(4, seed=0)
    np.testing.assert_array_equal(vae.decode(z), again.decode(z))


def test_latent_mixture_samples_have_the_mixture_moments():
    """Draws from a 2-component mixture with known weights, means and Cholesky factors have
    its closed-form mean sum_k w_k mu_k and covariance sum_k w_k (L_k L_k^T + mu_k mu_k^T)
    - m m^T; a seed reproduces them; ``prior="normal"`` is still N(0, I)."""
    vae = tiny_vae(mixture_components=2)
    w = np.array([0.3, 0.7])
    mu = np.array([[2.0, -1.0, 0.0], [-1.0, 0.5, 1.0]])
    scale = np.array(
        [[[0.5, 0, 0], [0.2, 0.3, 0], [0, 0, 1.0]], [[1.0, 0, 0], [-0.4, 0.8, 0], [0.1, 0.2, 0.2]]]
    )
    vae.prior_logits.assign(np.log(w).astype("float32"))
    vae.prior_means.assign(mu.astype("float32"))
    vae.prior_scale_tril.assign(scale.astype("float32"))
    z = vae.sample_prior(100_000, seed=0).astype("float64")
    mean = w @ mu
    cov = sum(wk * (lk @ lk.T + np.outer(mk, mk)) for wk, lk, mk in zip(w, scale, mu))
    cov -= np.outer(mean, mean)
    np.testing.assert_allclose(z.mean(0), mean, atol=0.02)
    np.testing.assert_allclose(np.cov(z.T), cov, atol=0.03)
    np.testing.assert_array_equal(vae.sample_prior(7, seed=3), vae.sample_prior(7, seed=3))
    assert not np.array_equal(vae.sample_prior(7, seed=3), vae.sample_prior(7, seed=4))
    assert not np.array_equal(vae.sample_prior(7), vae.sample_prior(7))  # model's generator
    normal = vae.sample_prior(50_000, seed=0, prior="normal")
    assert abs(normal.mean()) < 0.02 and abs(normal.std() - 1) < 0.02
    assert vae.generate(3, seed=0).shape == (3, 8, 8, 1)


def test_fit_latent_mixture_stores_the_fit_and_round_trips(tmp_path):
    x = digits8()
    vae = tiny_vae(mixture_components=3)
    gmm = vae.fit_latent_mixture(x)
    np.testing.assert_allclose(np.exp(vae.prior_logits.numpy()), gmm.weights_, rtol=1e-5)
    np.testing.assert_allclose(vae.prior_means.numpy(), gmm.means_, rtol=1e-5, atol=1e-6)
    scale = vae.prior_scale_tril.numpy().astype("float64")
    np.testing.assert_allclose(scale @ scale.transpose(0, 2, 1), gmm.covariances_, atol=1e-5)
    assert np.allclose(np.triu(scale, 1), 0)  # lower-triangular factors
    vae.save(tmp_path / "vae.keras")
    again = keras.saving.load_model(tmp_path / "vae.keras")
    assert again.mixture_components == 3
    for name in ("prior_logits", "prior_means", "prior_scale_tril"):
        np.testing.assert_array_equal(getattr(again, name).numpy(), getattr(vae, name).numpy())
    np.testing.assert_array_equal(again.generate(4, seed=2), vae.generate(4, seed=2))


def test_the_book_vae_has_no_mixture_and_says_how_to_get_one():
    vae = tiny_vae()
    assert vae.mixture_components == 0 and "prior_means" not in [w.name for w in vae.weights]
    np.testing.assert_array_equal(
        vae.sample_prior(4, seed=0), vae.sample_prior(4, seed=0, prior="normal")
    )
    for call in (
        lambda: vae.generate(2, prior="mixture"),
        lambda: vae.fit_latent_mixture(digits8()),
    ):
        with pytest.raises(ConfigError, match="mixture_components"):
            call()
    with pytest.raises(ConfigError, match="prior"):
        vae.generate(2, prior="uniform")


def test_faces_vae_round_trip_and_fit(tmp_path):
    x = np.repeat(digits8(32), 3, axis=-1)
    vae = FacesVAE(image_shape=(8, 8, 3), latent_dim=4, num_features=8, seed=0)
    assert len(vae.encoder.layers) > 6  # 2 blocks of conv/BN/LeakyReLU
    vae.compile(optimizer="adam")
    hist = vae.fit(x, epochs=1, batch_size=16, verbose=0).history
    assert np.isfinite(hist["loss"][0])
    vae.save(tmp_path / "faces.keras")
    again = keras.saving.load_model(tmp_path / "faces.keras")
    assert isinstance(again, FacesVAE)
    np.testing.assert_array_equal(vae.reconstruct(x[:3]), again.reconstruct(x[:3]))


def test_latent_grid_is_finite_normal_quantiles():
    q = normal_quantiles(15)
    assert np.all(np.isfinite(q)) and q[7] == 0.0
    np.testing.assert_allclose(q, -q[::-1], atol=1e-6)
    np.testing.assert_allclose(q[0], NormalDist().inv_cdf(0.5 / 15), rtol=1e-6)
    vae = VAE(image_shape=(8, 8, 1), latent_dim=2)
    pts, imgs = vae.latent_grid(4)
    assert pts.shape == (16, 2) and imgs.shape == (16, 8, 8, 1)
    assert pts[0, 1] > pts[-1, 1] and pts[0, 0] < pts[-1, 0]


def test_latent_arithmetic():
    x = digits8(40)
    labels = np.where(np.arange(40) % 2 == 0, 1, -1)
    vae = tiny_vae()
    vec = vae.attribute_vector(x, labels)
    z = vae.encode(x)[0]
    expected = z[labels > 0].mean(0) - z[labels < 0].mean(0)
    np.testing.assert_allclose(vec, expected / np.linalg.norm(expected), rtol=1e-4)
    # the same from a dataset of (images, labels) batches
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, (labels > 0).astype("int32"))).batch(16)
    np.testing.assert_allclose(vae.attribute_vector(ds), vec, rtol=1e-4)
    # the book's running means: a line per batch, stopping once they move less than tolerance
    lines = []
    first = vae.attribute_vector(ds, verbose=True, tolerance=1e9, print_fn=lines.append)
    z16, l16 = z[:16], labels[:16]
    first_exp = z16[l16 > 0].mean(0) - z16[l16 < 0].mean(0)
    np.testing.assert_allclose(first, first_exp / np.linalg.norm(first_exp), rtol=1e-4)
    assert len(lines) == 1 and lines[0].split(":")[0].strip() == "16"
    assert float(lines[0].split("distance")[1].split(":")[0]) == pytest.approx(
        np.linalg.norm(first_exp), abs=5e-4)
    lines.clear()
    vae.attribute_vector(ds, verbose=True, print_fn=lines.append)
    assert [line.split(":")[0].strip() for line in lines] == ["16", "32", "40"]
    assert "POS move 0.000" not in lines[1]  # the means move as batches come in
    np.testing.assert_allclose(vae.attribute_vector(ds, max_images=16), first, rtol=1e-4)
    moved = vae.add_vector(x[:2], vec, factors=(0, 1))
    assert moved.shape == (2, 2, 8, 8, 1)
    np.testing.assert_allclose(moved[:, 0], vae.decode(z[:2]), atol=1e-6)
    np.testing.assert_allclose(moved[1, 1], vae.decode(z[1] + vec)[0], atol=1e-6)
    path = vae.morph(x[0], x[1], steps=5)
    assert path.shape == (5, 8, 8, 1)
    np.testing.assert_allclose(path[[0, -1]], vae.decode(z[:2]), atol=1e-6)
    with pytest.raises(ValueError, match="both with and without"):
        vae.attribute_vector(x, np.ones(40))


def test_wrong_image_shape_names_the_expected_one():
    with pytest.raises(ValueError, match=r"\(batch, 8, 8, 1\)"):
        tiny_vae().encode(np.zeros((2, 32, 32, 1)))
    with pytest.raises(ValueError, match="'bce' or 'mse'"):
        tiny_vae(reconstruction_loss="l1")
