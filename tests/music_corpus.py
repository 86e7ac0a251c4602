"""A few embedded chorales (``gdl.data.load("music21_chorales")``) for the music tests."""

from __future__ import annotations

import numpy as np


def corpus_chorales(n: int = 3) -> list[np.ndarray]:
    from gdl.data import load

    data = load("music21_chorales", limit=8)
    return (data["train"] + data["valid"] + data["test"])[:n]
