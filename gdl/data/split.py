"""One train/validation split for every chapter that holds out part of an array dataset."""

from __future__ import annotations

import numpy as np

from gdl.errors import ConfigError


def train_validation_split(*arrays, validation_fraction: float = 0.2, seed: int = 0):
    """Shuffle ``arrays`` (same length, e.g. images and labels) with one permutation and
    hold out ``validation_fraction`` of them.

    Returns ``(train, validation)`` for one array, else ``((train...), (validation...))``
    with one entry per array. The first ``int(n * (1 - validation_fraction))`` shuffled rows
    train (1,437 of the 1,797 embedded digits at the default 80/20); ``seed`` fixes the
    permutation, so the notebooks and the CLI see the same split.
    """
    if not arrays:
        raise TypeError("train_validation_split needs at least one array")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ConfigError(f"arrays of different lengths: {[len(a) for a in arrays]}")
    if not 0.0 <= validation_fraction < 1.0:
        raise ConfigError(f"validation_fraction must be in [0, 1), not {validation_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    cut = int(n * (1.0 - validation_fraction))
    train = tuple(np.asarray(a)[order[:cut]] for a in arrays)
    validation = tuple(np.asarray(a)[order[cut:]] for a in arrays)
    if len(arrays) == 1:
        return train[0], validation[0]
    return train, validation
