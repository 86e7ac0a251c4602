"""gdl.backend: compiled loops see the current weights; gradients w.r.t. variables and
inputs against closed forms; on tensorflow here and on jax/torch in a subprocess."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CHECKS = textwrap.dedent(
    """
    import keras
    import numpy as np
    from keras import ops

    from gdl import backend as B

    # compile_loop: weights are arguments (generate -> fit -> generate sees new weights)
    layer = keras.layers.Dense(3)
    layer.build((None, 2))
    f = B.compile_loop(layer, lambda x: layer(x))
    x = np.ones((4, 2), "float32")
    first = ops.convert_to_numpy(f(ops.convert_to_tensor(x)))
    np.testing.assert_allclose(first, ops.convert_to_numpy(layer(x)), atol=1e-6)
    layer.kernel.assign(layer.kernel + 1.0)
    second = ops.convert_to_numpy(f(ops.convert_to_tensor(x)))
    np.testing.assert_allclose(second, first + 2.0, atol=1e-5)

    # value_and_grad: loss = sum((x W + b - y)^2), closed-form gradients
    y = np.arange(12, dtype="float32").reshape(4, 3)
    def loss_fn():
        return ops.sum((layer(x) - ops.convert_to_tensor(y)) ** 2)
    loss, (gk, gb) = B.value_and_grad(loss_fn, [layer.kernel, layer.bias])
    r = ops.convert_to_numpy(layer(x)) - y
    np.testing.assert_allclose(float(loss), (r ** 2).sum(), rtol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(gk), 2 * x.T @ r, rtol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(gb), 2 * r.sum(0), rtol=1e-5)
    (loss2, aux), _ = B.value_and_grad(lambda: (loss_fn(), 7), [layer.bias], has_aux=True)
    assert aux == 7

    # input_gradient: d/dx sum(x^3) = 3 x^2, per example
    z = np.array([[1.0, -2.0], [0.5, 3.0]], "float32")
    out, g = B.input_gradient(lambda t: ops.sum(t ** 3, axis=-1), z)
    np.testing.assert_allclose(ops.convert_to_numpy(out), (z ** 3).sum(-1), rtol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(g), 3 * z ** 2, rtol=1e-6)

    # value_and_grads: two losses of one pass, each w.r.t. its own variables
    a, b = keras.Variable(2.0), keras.Variable(3.0)
    (losses, aux), (ga, gb) = B.value_and_grads(lambda: ((a * b, a * a * b), 7), [[a], [b]],
                                                has_aux=True)  # fmt: skip
    assert aux == 7 and float(losses[0]) == 6.0 and float(losses[1]) == 12.0
    assert float(ga[0]) == 3.0 and float(gb[0]) == 4.0  # d(ab)/da = b, d(a^2 b)/db = a^2

    # variables assigned inside a gradient (a seed generator) are handed back
    seed = keras.random.SeedGenerator(1)
    state = ops.convert_to_numpy(seed.state.value).copy()
    B.value_and_grad(lambda: ops.sum(keras.random.normal((2,), seed=seed)) * a, [a])
    assert not np.array_equal(ops.convert_to_numpy(seed.state.value), state)
    B.input_gradient(lambda t: t * keras.random.normal((2,), seed=seed), np.ones(2, "float32"))

    # fori_loop with a seed generator's state: the draws of three eager steps
    s1, s2 = keras.random.SeedGenerator(5), keras.random.SeedGenerator(5)
    out = B.fori_loop(0, 3, lambda i, x: x + keras.random.normal((2,), seed=s1),
                      ops.zeros((2,)), state=[s1.state])  # fmt: skip
    want = sum(ops.convert_to_numpy(keras.random.normal((2,), seed=s2)) for _ in range(3))
    np.testing.assert_allclose(ops.convert_to_numpy(out), want, rtol=1e-6)
    np.testing.assert_array_equal(ops.convert_to_numpy(s1.state.value),
                                  ops.convert_to_numpy(s2.state.value))  # fmt: skip

    print("OK")
    """
)


def test_backend_helpers_on_tensorflow():
    exec(compile(CHECKS, "checks", "exec"), {})


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backend_helpers_on_other_backends(backend):
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(root)}
    proc = subprocess.run(
        [sys.executable, "-c", CHECKS], cwd=root, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr[-3000:]
