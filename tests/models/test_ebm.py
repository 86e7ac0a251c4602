"""EBM: Langevin dynamics, gradient clipping, the replay buffer, training and saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gdl.models.ebm import EBM, Buffer, energy_network, langevin_sample, score_gradients


def linear_score(size=4, weight=100.0):
    """score(x) = weight * sum(x): d score / dx = weight everywhere."""
    inp = keras.Input((size, size, 1))
    out = keras.layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.Constant(
        weight))(keras.layers.Flatten()(inp))  # fmt: skip
    return keras.Model(inp, out)


def test_book_network_size():
    assert energy_network().count_params() == 76_993


def test_input_gradients_are_clipped():
    net = linear_score()
    x = np.zeros((2, 4, 4, 1), "float32")
    np.testing.assert_allclose(score_gradients(net, x, grad_clip=None).numpy(), 100.0)
    np.testing.assert_allclose(score_gradients(net, x, grad_clip=0.03).numpy(), 0.03)
    # one noiseless step of size 10 moves every pixel by 10 * 0.03, then clips to [-1, 1]
    x1 = langevin_sample(net, x, steps=1, step_size=10, noise=0.0, grad_clip=0.03).numpy()
    np.testing.assert_allclose(x1, 0.3, rtol=1e-6)
    x4 = langevin_sample(net, x, steps=4, step_size=10, noise=0.0, grad_clip=0.03).numpy()
    np.testing.assert_allclose(x4, 1.0)  # 1.2 clipped to the image range


def test_langevin_step_lowers_mean_energy():
    keras.utils.set_random_seed(0)
    model = EBM(image_size=16, seed=0)
    x0 = np.random.default_rng(0).uniform(-1, 1, (64, 16, 16, 1)).astype("float32")
    e0 = float(np.mean(model.energy(x0)))
    x1 = langevin_sample(model.network, x0, steps=1, seed=1)
    e1 = float(np.mean(model.energy(x1)))
    assert e1 < e0
    traj = langevin_sample(model.network, x0[:2], steps=3, seed=1, return_steps=True)
    assert traj.shape == (4, 2, 16, 16, 1)
    np.testing.assert_array_equal(traj[0].numpy(), x0[:2])


def test_buffer_keeps_its_size_and_refreshes_the_stated_fraction():
    buf = Buffer((2, 2, 1), buffer_size=50, fresh_fraction=0.05, initial=10, seed=0)
    assert int(buf.count.numpy()) == 10
    for k in range(4):
        buf.push(tf.fill((15, 2, 2, 1), float(k + 2)))
    assert buf.images.shape == (50, 2, 2, 1)
    assert int(buf.count.numpy()) == 50
    # 10 noise + 60 pushed: the 20 oldest (10 noise, 10 of the first push) were replaced
    values = buf.images.numpy()[:, 0, 0, 0]
    assert sorted(set(np.round(values).tolist())) == [2.0, 3.0, 4.0, 5.0]
    assert np.sum(values == 2.0) == 5
    x, fresh = buf.draw(20000, return_fresh=True)
    x, fresh = x.numpy(), fresh.numpy()
    in_noise_range = np.all(np.abs(x) <= 1.0, axis=(1, 2, 3))
    np.testing.assert_array_equal(in_noise_range, fresh)
    assert abs(fresh.mean() - 0.05) < 0.006


def test_train_step_updates_network_and_buffer():
    keras.utils.set_random_seed(0)
    model = EBM(image_size=16, steps=2, buffer_size=64, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = np.random.default_rng(1).uniform(-1, 1, (32, 16, 16, 1)).astype("float32")
    before = [w.numpy().copy() for w in model.network.weights]
    logs = model.fit(x, batch_size=16, epochs=1, verbose=0, validation_data=(x[:16],)).history
    assert set(logs) >= {"loss", "reg", "cdiv", "real", "fake", "val_cdiv", "val_real"}
    assert all(np.isfinite(v[-1]) for v in logs.values())
    assert int(model.buffer.count.numpy()) == 64  # 128 initial capped at 64, still 64
    assert any(np.abs(a - w.numpy()).max() > 0 for a, w in zip(before, model.network.weights))
    np.testing.assert_allclose(
        logs["loss"][-1], logs["cdiv"][-1] + logs["reg"][-1], rtol=1e-4, atol=1e-6
    )


def test_save_load_round_trip_and_shape_error(tmp_path):
    model = EBM(image_size=16, steps=2, seed=0)
    x = np.random.default_rng(2).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    model.save(tmp_path / "ebm.keras")
    loaded = keras.saving.load_model(tmp_path / "ebm.keras")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    assert loaded.steps == 2
    assert model.generate(3, steps=2, seed=1).shape == (3, 16, 16, 1)
    model.compile(optimizer=keras.optimizers.Adam())
    with pytest.raises(ValueError, match=r"\(batch, 16, 16, 1\)"):
        model.train_on_batch(np.zeros((2, 8, 8, 1), "float32"))
