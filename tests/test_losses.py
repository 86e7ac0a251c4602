"""WGAN-GP's gradient penalty against its closed form for a linear critic."""

import numpy as np
import tensorflow as tf

from gdl.losses import gradient_penalty, random_alpha


def test_gradient_penalty_of_linear_critic_is_closed_form():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 5, 3)).astype("float32")

    def critic(x, training=True):
        return tf.reduce_sum(x * w, axis=[1, 2, 3])

    real = rng.normal(size=(6, 4, 5, 3)).astype("float32")
    fake = rng.normal(size=(6, 4, 5, 3)).astype("float32")
    expected = (np.linalg.norm(w) - 1.0) ** 2
    np.testing.assert_allclose(float(gradient_penalty(critic, real, fake)), expected, rtol=1e-5)


def test_gradient_penalty_is_zero_for_unit_norm_critic_and_differentiable():
    w = tf.Variable(np.full((2, 2, 1), 0.5, "float32"))  # ||w|| = 1

    def critic(x, training=True):
        return tf.reduce_sum(x * w, axis=[1, 2, 3])

    x = tf.random.normal((3, 2, 2, 1))
    with tf.GradientTape() as tape:
        gp = gradient_penalty(critic, x, x + 1.0)
    assert abs(float(gp)) < 1e-6
    g = tape.gradient(gp, w)
    assert g is not None and np.all(np.isfinite(g.numpy()))


def test_interpolation_weight_is_uniform_per_sample():
    a = np.asarray(random_alpha(20000, 5, seed=1))
    assert a.shape == (20000, 1, 1, 1, 1)
    assert a.min() >= 0 and a.max() <= 1 and abs(a.mean() - 0.5) < 0.01
