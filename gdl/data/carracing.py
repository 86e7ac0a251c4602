"""Embedded ``carracing``: 64x64x3 frames of gymnasium's CarRacing-v3 under a random policy.

Chapter 12 (World Models) trains its VAE on frames of random-policy rollouts. Nothing
is downloaded: the frames are generated with gymnasium (Box2D, headless) by
:func:`gdl.world_models.rollouts.collect` and cached under
``$GDL_CACHE_DIR/carracing/<episodes>x<steps>_seed<seed>/`` (one npz per episode), so
the second load is instant and an interrupted generation continues.
"""

from __future__ import annotations

import numpy as np

from gdl.config import cache_dir
from gdl.data.registry import Dataset, register_dataset


def load_carracing(
    ds: Dataset | None = None,
    episodes: int = 4,
    steps: int = 200,
    seed: int = 0,
    workers: int = 1,
    with_actions: bool = False,
):
    """Frames ``(N, 64, 64, 3)`` uint8 of ``episodes`` random-policy episodes of ``steps`` steps.

    With ``with_actions`` a list of per-episode dicts (``obs``, ``action``, ``reward``,
    ``done``, ``seed``) is returned instead, as written by the World Models pipeline.
    """
    from gdl.world_models.rollouts import collect, load_episode

    folder = cache_dir() / "carracing" / f"{episodes}x{steps}_seed{seed}"
    paths = collect(folder, episodes, steps, workers=workers, seed=seed, progress=False)
    eps = [load_episode(p) for p in paths]
    if with_actions:
        return eps
    return np.concatenate([ep["obs"] for ep in eps])


CARRACING = register_dataset(
    Dataset(
        name="carracing",
        description="CarRacing-v3 frames (64x64x3) from random-policy rollouts "
        "(embedded: generated with gymnasium, cached)",
        source="embedded:gymnasium CarRacing-v3",
        folder="",
        loader=load_carracing,
        embedded=True,
        chapters=("12",),
    )
)
