"""DDIM: schedules, determinism, EMA, spherical interpolation, KID maths, saving."""

import keras
import numpy as np
import pytest

from gdl.metrics import KID, kid_from_features, polynomial_kernel
from gdl.models.diffusion import (
    DiffusionModel,
    cosine_diffusion_schedule,
    linear_diffusion_schedule,
    offset_cosine_diffusion_schedule,
    spherical_interpolation,
)

TINY = dict(image_size=8, channels=1, widths=(4, 8), block_depth=1, embedding_dims=8)


def tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = DiffusionModel(**TINY, kid_features="pixels", seed=seed)
    x = np.random.default_rng(seed).uniform(0, 1, (32, 8, 8, 1)).astype("float32")
    model.adapt(x)
    rng = np.random.default_rng(seed + 1)
    for w in model.ema_network.weights:  # a non-trivial generation network
        if "moving" not in w.path:
            w.assign(rng.normal(scale=0.2, size=w.shape).astype("float32"))
    return model, x


def test_schedules_identities_and_endpoints():
    t = np.linspace(0, 1, 101, dtype="float32")
    for schedule in (offset_cosine_diffusion_schedule, cosine_diffusion_schedule,
                     lambda x: linear_diffusion_schedule(x)):  # fmt: skip
        noise, signal = (np.asarray(r) for r in schedule(t))
        np.testing.assert_allclose(noise**2 + signal**2, 1.0, atol=1e-5)
    noise, signal = (np.asarray(r) for r in offset_cosine_diffusion_schedule(np.array([0.0, 1.0])))
    np.testing.assert_allclose(signal, [0.95, 0.02], atol=1e-6)
    assert np.all(np.diff(np.asarray(offset_cosine_diffusion_schedule(t)[1])) < 0)
    grid = np.arange(1000, dtype="float32") / 1000
    betas = 1e-4 + grid * (0.02 - 1e-4)
    np.testing.assert_allclose(
        np.asarray(linear_diffusion_schedule(grid)[1]) ** 2, np.cumprod(1 - betas), rtol=1e-4
    )


def test_ddim_is_deterministic_and_compiled_equals_eager():
    model, _ = tiny_model()
    noise = np.random.default_rng(5).normal(size=(4, 8, 8, 1)).astype("float32")
    a = model.generate(initial_noise=noise, diffusion_steps=6)
    b = model.generate(initial_noise=noise, diffusion_steps=6)
    c = model.generate(initial_noise=noise, diffusion_steps=6, compiled=False)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, c, atol=1e-5)
    assert a.shape == (4, 8, 8, 1) and a.min() >= 0 and a.max() <= 1 and a.std() > 0
    d = model.generate(initial_noise=noise, diffusion_steps=3)  # other step count, same trace
    assert np.abs(d - a).max() > 0
    np.testing.assert_allclose(d, model.generate(initial_noise=noise, diffusion_steps=3,
                                                 compiled=False), atol=1e-5)  # fmt: skip
    s1, s2 = model.generate(3, 2, seed=7), model.generate(3, 2, seed=7)
    np.testing.assert_array_equal(s1, s2)


def test_one_ddim_step_matches_the_formula():
    model, _ = tiny_model()
    noise = np.random.default_rng(6).normal(size=(2, 8, 8, 1)).astype("float32")
    t = np.ones((2, 1, 1, 1), "float32")
    n_rate, s_rate = (np.asarray(r) for r in model.diffusion_schedule(t))
    pred_noise = np.asarray(model.ema_network([noise, n_rate**2]))
    pred_image = (noise - n_rate * pred_noise) / s_rate
    np.testing.assert_allclose(np.asarray(model.reverse_diffusion(noise, 1)), pred_image,
                               rtol=1e-5, atol=1e-5)  # fmt: skip


def test_ema_update_is_the_hand_computed_blend():
    model, _ = tiny_model()
    w0 = [w.numpy().copy() for w in model.network.weights]
    e0 = [w.numpy().copy() for w in model.ema_network.weights]
    model.update_ema()
    for w, e, new in zip(w0, e0, model.ema_network.weights):
        np.testing.assert_allclose(new.numpy(), 0.999 * e + 0.001 * w, rtol=1e-6, atol=1e-7)


def test_training_loss_is_mae_and_validation_reports_kid():
    model, x = tiny_model()
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=1e-4))
    noises, pred = model(x[:8], training=True)
    loss = float(model.compute_loss(x[:8], y_pred=(noises, pred)))
    np.testing.assert_allclose(loss, np.mean(np.abs(np.asarray(noises) - np.asarray(pred))),
                               rtol=1e-6)  # fmt: skip
    model.ema_network.set_weights(model.network.get_weights())
    w0 = [w.numpy().copy() for w in model.network.weights]
    hist = model.fit(x[:16], batch_size=16, epochs=1, verbose=0, validation_data=(x[:16],))
    hist = hist.history
    assert "n_loss" in hist and "kid" not in hist and "val_kid" in hist
    assert np.isfinite(hist["val_kid"][-1])
    # after one training step the EMA blends the *updated* network (BN statistics included)
    for w, e, new in zip(model.network.weights, w0, model.ema_network.weights):
        np.testing.assert_allclose(new.numpy(), 0.999 * e + 0.001 * w.numpy(), rtol=1e-5,
                                   atol=1e-6)  # fmt: skip


def test_slerp_preserves_unit_variance():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 200_000)).astype("float32")
    t = np.linspace(0, 1, 11, dtype="float32")[:, None]
    frames = np.asarray(spherical_interpolation(a, b, t))
    np.testing.assert_allclose(frames.var(axis=1), 1.0, atol=0.02)
    np.testing.assert_allclose(frames[0], b, atol=1e-6)
    np.testing.assert_allclose(frames[-1], a, atol=1e-6)
    model, _ = tiny_model()
    assert model.interpolate(frames=5, diffusion_steps=2, seed=0).shape == (5, 8, 8, 1)


def test_kid_matches_numpy():
    rng = np.random.default_rng(0)
    r, g = rng.normal(size=(6, 5)), rng.normal(loc=0.5, size=(7, 5))
    k = lambda u, v: (u @ v.T / 5 + 1) ** 3  # noqa: E731
    krr, kgg, krg = k(r, r), k(g, g), k(r, g)
    expected = ((krr.sum() - np.trace(krr)) / 30 + (kgg.sum() - np.trace(kgg)) / 42
                - 2 * krg.mean())  # fmt: skip
    np.testing.assert_allclose(np.asarray(polynomial_kernel(r, g)), krg, rtol=1e-6)
    got = float(kid_from_features(r.astype("float32"), g.astype("float32")))
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    metric = KID(4, 1, feature_extractor="pixels")
    x, y = rng.uniform(size=(2, 6, 4, 4, 1)).astype("float32")
    metric.update_state(x, y)
    metric.update_state(y, x)
    flat = lambda u: u.reshape(6, -1)  # noqa: E731
    np.testing.assert_allclose(float(metric.result()),
                               float(kid_from_features(flat(x), flat(y))), rtol=1e-4)  # fmt: skip
    default = KID(16, 3)  # random-init convolutional features: fixed by the seed
    imgs = rng.uniform(size=(4, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(default.features(imgs)),
                               np.asarray(KID(16, 3).features(imgs)), rtol=1e-6)  # fmt: skip
    with pytest.raises(ValueError):
        KID(4, 1, feature_extractor="inception")


def test_save_load_round_trip_includes_ema_and_normalizer(tmp_path):
    model, x = tiny_model()
    model.network.layers[-1].kernel.assign(np.full(model.network.layers[-1].kernel.shape, 0.1))
    noise = np.random.default_rng(3).normal(size=(2, 8, 8, 1)).astype("float32")
    model.save(tmp_path / "ddim.keras")
    loaded = keras.saving.load_model(tmp_path / "ddim.keras")
    for a, b in zip(model.ema_network.weights + model.network.weights,
                    loaded.ema_network.weights + loaded.network.weights):  # fmt: skip
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(loaded.normalizer.adapt_mean.numpy(),
                                  model.normalizer.adapt_mean.numpy())  # fmt: skip
    np.testing.assert_array_equal(loaded.generate(initial_noise=noise, diffusion_steps=3),
                                  model.generate(initial_noise=noise, diffusion_steps=3))  # fmt: skip


def test_wrong_shape_names_expected_shape():
    model, _ = tiny_model()
    with pytest.raises(ValueError, match=r"\(batch, 8, 8, 1\)"):
        model(np.zeros((2, 8, 8, 3), "float32"))


def test_call_on_noisy_images_is_the_denoiser():
    model, _ = tiny_model()
    rng = np.random.default_rng(4)
    noisy = rng.normal(size=(3, 8, 8, 1)).astype("float32")
    rates = np.full((3, 1, 1, 1), 0.6, "float32")
    signal = np.sqrt(1 - rates**2)
    expected, _ = model.denoise(noisy, rates, signal, training=False)
    np.testing.assert_allclose(np.asarray(model([noisy, rates])), np.asarray(expected), atol=1e-6)
    np.testing.assert_allclose(model.predict([noisy, rates], verbose=0), np.asarray(expected),
                               atol=1e-5)  # fmt: skip
    a, b = model.generate(2, 2, seed=0), model.generate(2, 2, seed=0)
    np.testing.assert_array_equal(a, b)  # seed=0 is a seed, not "no seed"
    assert a.shape == (2, 8, 8, 1)
