"""Run a (sub-)model on arrays and get NumPy back, the helper every ``generate``,
``encode`` and ``decode`` of :mod:`gdl.models` uses.

``Model.predict`` builds a ``tf.function`` per model, which costs more than it saves for
the handful of images a notebook or ``gdl sample`` asks for; :func:`predict_numpy` makes
one eager call for small inputs and uses ``predict`` (batched, compiled) for large ones.
"""

from __future__ import annotations

import keras
import numpy as np


def to_numpy(x, dtype: str | None = "float32") -> np.ndarray:
    """NumPy array of ``x`` (a NumPy array, a list, or a tensor of any Keras backend)."""
    if not isinstance(x, np.ndarray) and hasattr(x, "shape") and not isinstance(x, list):
        x = keras.ops.convert_to_numpy(x)
    return np.asarray(x, dtype=dtype)


def predict_numpy(model: keras.Model, x, batch_size: int = 256):
    """``model(x, training=False)`` as NumPy (a list for several outputs).

    ``x`` is an array or tensor, or a list of them for a multi-input model. Inputs longer
    than ``batch_size`` go through ``model.predict`` in batches of ``batch_size``.
    """
    first = x[0] if isinstance(x, (list, tuple)) else x
    n = int(first.shape[0])
    if n > batch_size:
        out = _predict_in_batches(model, x, n, batch_size)
    else:
        out = model(x, training=False)
    if isinstance(out, (list, tuple)):
        return [np.asarray(keras.ops.convert_to_numpy(o)) for o in out]
    return np.asarray(keras.ops.convert_to_numpy(out))


def _predict_in_batches(model: keras.Model, x, n: int, batch_size: int):
    """``model.predict`` in batches; under a ``keras.distribution`` (JAX data parallel)
    the last, short batch would not split evenly over the devices, so the inputs are
    padded to whole batches and the padding's outputs dropped."""
    if keras.distribution.distribution() is None:
        return model.predict(x, batch_size=batch_size, verbose=0)
    pad = -n % batch_size

    def padded(a):
        a = to_numpy(a, dtype=None)
        return np.concatenate([a, np.repeat(a[-1:], pad, axis=0)]) if pad else a

    x = [padded(a) for a in x] if isinstance(x, (list, tuple)) else padded(x)
    out = model.predict(x, batch_size=batch_size, verbose=0)
    if isinstance(out, (list, tuple)):
        return [o[:n] for o in out]
    return out[:n]
