"""Run a sub-model on NumPy input: one eager call for small inputs, ``predict`` for large.

``Model.predict`` builds a ``tf.function`` per model, which costs more than it saves for
the handful of images a notebook or ``gdl sample`` asks for.
"""

from __future__ import annotations

import keras
import numpy as np


def run_model(model: keras.Model, x, batch_size: int = 256):
    """``model(x, training=False)`` as NumPy (a list for several outputs)."""
    first = x[0] if isinstance(x, (list, tuple)) else x
    if int(first.shape[0]) > batch_size:
        out = model.predict(x, batch_size=batch_size, verbose=0)
    else:
        out = model(x, training=False)
    if isinstance(out, (list, tuple)):
        return [np.asarray(keras.ops.convert_to_numpy(o)) for o in out]
    return np.asarray(keras.ops.convert_to_numpy(out))
