"""Chapter 4 GANs: book networks, the losses of each train_step, critic steps, CGAN labels,
saving with both optimizers, and a generic latent for subclasses (MuseGAN)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gdl.models.gan import (
    DCGAN,
    WGANGP,
    ConditionalWGAN,
    conv_generator,
    dcgan_discriminator,
    wgan_critic,
)

RNG = np.random.default_rng(0)
X16 = RNG.uniform(-1, 1, (32, 16, 16, 1)).astype("float32")
Y16 = np.arange(32) % 2


class FixedLatent:
    """Mix-in: always the same latent batch, so a step's losses can be recomputed by hand."""

    def sample_latent(self, batch_size, seed=None):
        return tf.constant(
            np.random.default_rng(5).normal(size=(batch_size, self.latent_dim)), "float32"
        )


def test_book_parameter_counts():
    assert dcgan_discriminator().count_params() == 2_765_312
    assert conv_generator().count_params() == 3_576_576
    w = WGANGP()
    assert (w.critic.count_params(), w.generator.count_params()) == (2_764_737, 3_808_003)
    c = ConditionalWGAN()
    assert (c.critic.count_params(), c.generator.count_params()) == (662_977, 729_859)
    assert w.image_shape == (64, 64, 3) and DCGAN().image_shape == (64, 64, 1)


def test_no_batch_norm_in_the_critics():
    for model in (WGANGP(), ConditionalWGAN()):
        kinds = {type(layer).__name__ for layer in model.critic.layers}
        assert "BatchNormalization" not in kinds and "Conv2D" in kinds
    assert any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in dcgan_discriminator().layers
    )


def test_wgan_critic_loss_for_a_linear_critic_is_closed_form():
    w = RNG.normal(size=(16 * 16,)).astype("float32")
    inp = keras.Input((16, 16, 1))
    dense = keras.layers.Dense(1, use_bias=False)
    critic = keras.Model(inp, dense(keras.layers.Flatten()(inp)))
    dense.set_weights([w[:, None]])
    model = WGANGP(critic=critic, generator=conv_generator(4, 1, (8, 8), True), latent_dim=4)
    real, fake = X16[:8], X16[8:16]
    c_loss, wass, gp = (float(v) for v in model.critic_loss(real, fake))
    expected_wass = (fake.reshape(8, -1) @ w).mean() - (real.reshape(8, -1) @ w).mean()
    expected_gp = (np.linalg.norm(w) - 1.0) ** 2
    np.testing.assert_allclose(wass, expected_wass, rtol=1e-4)
    np.testing.assert_allclose(gp, expected_gp, rtol=1e-4)
    np.testing.assert_allclose(c_loss, expected_wass + 10.0 * expected_gp, rtol=1e-4)


def test_dcgan_step_losses_are_the_books():
    class Fixed(FixedLatent, DCGAN):
        pass

    d = dcgan_discriminator(16, 1, (8, 8), dropout=0.0)
    g = conv_generator(4, 1, (8, 8))
    model = Fixed(discriminator=d, generator=g, latent_dim=4, noise_param=0.0)
    model.compile()
    x = X16[:8]
    z = model.sample_latent(8)
    fake = g(z, training=True)
    bce = keras.losses.BinaryCrossentropy()
    real_p, fake_p = d(x, training=True), d(fake, training=True)
    d_loss = (bce(np.ones((8, 1)), real_p) + bce(np.zeros((8, 1)), fake_p)) / 2
    g_loss = bce(np.ones((8, 1)), fake_p)
    logs = model.train_on_batch(x, return_dict=True)
    np.testing.assert_allclose(logs["d_loss"], float(d_loss), rtol=1e-4)
    np.testing.assert_allclose(logs["g_loss"], float(g_loss), rtol=1e-4)
    acc = (np.asarray(real_p) > 0.5).mean()
    np.testing.assert_allclose(logs["d_real_acc"], acc)


def test_wgan_step_reports_consistent_losses():
    class Fixed(FixedLatent, WGANGP):
        pass

    critic = wgan_critic(16, 1, (8, 8), dropout=0.0)
    g = conv_generator(4, 1, (8, 8), final_bias=True)
    model = Fixed(critic=critic, generator=g, latent_dim=4, critic_steps=1)
    model.compile()
    x = X16[:8]
    fake = g(model.sample_latent(8), training=True)
    wass = float(np.mean(critic(fake)) - np.mean(critic(x)))
    logs = model.train_on_batch(x, return_dict=True)
    np.testing.assert_allclose(logs["c_wass_loss"], wass, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(logs["c_loss"], logs["c_wass_loss"] + 10 * logs["c_gp"], rtol=1e-4)


def test_cgan_label_changes_output_and_shapes_are_checked():
    model = ConditionalWGAN(image_size=16, channels=1, latent_dim=4)
    z = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    a = model.generate(labels=[0, 0, 0], latent=z)
    b = model.generate(labels=[1, 1, 1], latent=z)
    assert a.shape == (3, 16, 16, 1) and np.abs(a - b).max() > 1e-4
    np.testing.assert_array_equal(a, model.generate(labels=np.eye(2)[[0, 0, 0]], latent=z))
    maps = np.asarray(model.label_maps(model.one_hot([1, 0])))
    assert maps.shape == (2, 16, 16, 2)
    assert np.all(maps[0, ..., 1] == 1) and np.all(maps[1, ..., 0] == 1)
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        model.generate(labels=np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"latent must have shape \(3, 4\)"):
        model.generate(labels=[0, 1, 0], latent=z[:2])
    model.compile()
    with pytest.raises(ValueError, match=r"\(batch, 16, 16, 1\)"):
        model.fit(np.zeros((8, 8, 8, 1), "float32"), Y16[:8], batch_size=8, verbose=0)
    with pytest.raises(ValueError, match="images, labels"):
        model.fit(X16[:8], batch_size=8, verbose=0)


@pytest.mark.parametrize(
    "make, y",
    [
        (lambda: DCGAN(image_size=16, latent_dim=4, seed=0), None),
        (lambda: WGANGP(image_size=16, channels=1, latent_dim=4, seed=0), None),
        (lambda: ConditionalWGAN(image_size=16, channels=1, latent_dim=4, seed=0), Y16),
    ],
    ids=["dcgan", "wgan_gp", "cgan"],
)
def test_fit_changes_weights_and_round_trips(make, y, tmp_path):
    model = make()
    model.compile()
    before = [w.copy() for w in model.get_weights()]
    hist = model.fit(X16, y, batch_size=16, epochs=1, verbose=0).history
    assert hist and all(np.isfinite(v[-1]) for v in hist.values())
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    path = tmp_path / "gan.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    assert type(again) is type(model)
    z = np.random.default_rng(2).normal(size=(4, 4)).astype("float32")
    g_in = [z, np.eye(2, dtype="float32")[[0, 1, 0, 1]]] if y is not None else z
    np.testing.assert_array_equal(
        model.generator(g_in, training=False), again.generator(g_in, training=False)
    )
    j_in = X16[:4] if y is None else [X16[:4], np.asarray(model.label_maps(g_in[1]))]
    np.testing.assert_array_equal(model.judge(j_in), again.judge(j_in))
    # both optimizers come back with their settings and state
    for name in model._opt_names:
        old, new = getattr(model, name), getattr(again, name)
        assert type(new) is type(old) and int(new.iterations) == int(old.iterations) > 0
        np.testing.assert_allclose(float(new.learning_rate), float(old.learning_rate))
        assert new.beta_2 == old.beta_2


def test_book_optimizer_defaults():
    d, w, c = DCGAN(image_size=16), WGANGP(image_size=16), ConditionalWGAN(image_size=16)
    for m in (d, w, c):
        m.compile()
    assert (float(d.d_optimizer.learning_rate), d.d_optimizer.beta_2) == (
        pytest.approx(2e-4),
        0.999,
    )
    assert (float(w.c_optimizer.learning_rate), w.g_optimizer.beta_2) == (pytest.approx(2e-4), 0.9)
    assert float(c.g_optimizer.learning_rate) == pytest.approx(5e-5)
    assert w.critic_steps == 3 and w.gp_weight == 10.0 and w.latent_dim == 128
    assert c.latent_dim == 32 and DCGAN().latent_dim == 100 and d.noise_param == 0.1


def test_critic_steps_per_generator_step_and_resume(tmp_path):
    from gdl.callbacks import restore_checkpoint

    model = WGANGP(image_size=16, channels=1, latent_dim=4)  # book: 3 critic steps
    model.compile()
    model.fit(X16, batch_size=16, epochs=1, verbose=0)  # 2 batches
    assert int(model.g_optimizer.iterations) == 2
    assert int(model.c_optimizer.iterations) == 2 * 3
    model.save_weights(tmp_path / "last.weights.h5")
    (tmp_path / "state.json").write_text('{"epoch": 1}')
    fresh = WGANGP(image_size=16, channels=1, latent_dim=4)
    fresh.compile()
    assert restore_checkpoint(fresh, tmp_path) == 1
    assert int(fresh.c_optimizer.iterations) == 6 and int(fresh.g_optimizer.iterations) == 2
    for a, b in zip(model.c_optimizer.variables, fresh.c_optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_subclass_with_a_list_of_latents_trains():
    """What MuseGAN does: several latent inputs produced by an overridden sample_latent."""

    class TwoLatents(WGANGP):
        def sample_latent(self, batch_size, seed=None):
            seed = self.seed_generator if seed is None else seed
            return [
                keras.random.normal((batch_size, self.latent_dim), seed=seed),
                keras.random.normal((batch_size, 2), seed=seed),
            ]

    base = conv_generator(6, 1, (8, 8), final_bias=True)
    a, b = keras.Input((4,)), keras.Input((2,))
    gen = keras.Model([a, b], base(keras.layers.Concatenate()([a, b])))
    model = TwoLatents(critic=wgan_critic(16, 1, (8, 8)), generator=gen, latent_dim=4)
    model.compile()
    hist = model.fit(X16, batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(hist["g_loss"][0])
    assert model.generate(3, seed=1).shape == (3, 16, 16, 1)


def test_generate_is_reproducible_and_bad_sizes_are_explained():
    model = WGANGP(image_size=16, channels=1, latent_dim=4)
    np.testing.assert_array_equal(model.generate(3, seed=4), model.generate(3, seed=4))
    with pytest.raises(ValueError, match="log2"):
        dcgan_discriminator(image_size=48)


def test_nearest_images_finds_the_copy():
    from gdl.models.gan import nearest_images

    data = RNG.uniform(-1, 1, (300, 4, 4, 1)).astype("float32")
    queries = data[[7, 250]] + 0.01
    best, dist = nearest_images(queries, data, chunk=64)
    np.testing.assert_allclose(best, data[[7, 250]])
    np.testing.assert_allclose(dist, 0.01, rtol=1e-3)
    ds = tf.data.Dataset.from_tensor_slices(data).batch(50)
    np.testing.assert_allclose(nearest_images(queries, ds)[0], data[[7, 250]])
