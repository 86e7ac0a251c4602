"""CarRacing rollouts: random-policy data collection and episodes of a trained agent.

Step 1 of the book's five-stage World Models pipeline ("collect data with random
actions"). gymnasium's ``CarRacing-v3`` (Box2D) runs headless; each 96x96x3
observation is cropped to the 84 rows above the dashboard and resized to 64x64x3 as
in Ha & Schmidhuber's code. One compressed ``.npz`` per episode
(``obs`` uint8 ``(T+1, 64, 64, 3)``, ``action`` ``(T, 3)``, ``reward`` ``(T,)``,
``done`` ``(T,)`` = terminated, ``seed``), written to a temporary name and renamed,
so a killed collection keeps its finished episodes and a rerun collects only the
missing ones. Episodes are spread over worker processes (spawn context).

Workers never import TensorFlow: policies are NumPy (:mod:`gdl.world_models.agent`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

ENV_ID = "CarRacing-v3"
EPISODE_GLOB = "episode_*.npz"


def make_env(**kwargs):
    """A headless CarRacing-v3 (``render_mode="rgb_array"``)."""
    import gymnasium as gym

    kwargs.setdefault("render_mode", "rgb_array")
    return gym.make(ENV_ID, **kwargs)


def process_frame(obs) -> np.ndarray:
    """96x96x3 observation -> 64x64x3 uint8 (dashboard rows cropped, bilinear resize)."""
    from PIL import Image

    obs = np.asarray(obs)
    if obs.ndim != 3 or obs.shape[-1] != 3:
        raise ValueError(f"expected an RGB observation (H, W, 3), got shape {obs.shape}")
    crop = obs[:84] if obs.shape[0] == 96 else obs
    img = Image.fromarray(crop.astype(np.uint8)).resize((64, 64), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


class RandomPolicy:
    """Uniform random actions in CarRacing's box (steer U(-1,1), gas U(0,1), brake U(0,1))."""

    def __init__(self, seed: int | None = None):
        self.rng = np.random.default_rng(seed)

    def reset(self):
        pass

    def act(self, frame) -> np.ndarray:
        return self.rng.uniform([-1.0, 0.0, 0.0], [1.0, 1.0, 1.0]).astype("float32")


def run_episode(
    env,
    policy,
    seed: int,
    max_steps: int = 1000,
    record: bool = False,
    patience: int | None = None,
) -> dict:
    """Play one episode; return ``{"reward": total, "steps": n}`` (+ arrays if ``record``).

    ``policy`` has ``reset()`` and ``act(frame64) -> action``. ``patience``: stop once
    that many consecutive steps earned no new tile, charging the remaining steps'
    time penalty (-0.1 each, as if no tile were ever reached again) so scores stay
    comparable with full episodes; used to make CMA-ES generations cheaper.
    """
    obs, _ = env.reset(seed=int(seed))
    policy.reset()
    frames, actions, rewards, dones = [process_frame(obs)], [], [], []
    total, stale, steps = 0.0, 0, 0
    for steps in range(1, max_steps + 1):
        action = np.asarray(policy.act(frames[-1]), "float32")
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        stale = stale + 1 if reward <= 0 else 0
        frame = process_frame(obs)
        if record:
            actions.append(action)
            rewards.append(reward)
            dones.append(terminated)
            frames.append(frame)
        else:
            frames[-1] = frame
        if terminated or truncated:
            break
        if patience is not None and stale >= patience:
            total -= 0.1 * (max_steps - steps)
            break
    out = {"reward": total, "steps": steps}
    if record:
        out.update(
            obs=np.stack(frames),
            action=np.stack(actions).astype("float32"),
            reward_seq=np.asarray(rewards, "float32"),
            done=np.asarray(dones, bool),
        )
    return out


def save_episode_npz(path: Path, **arrays) -> Path:
    """Write a compressed npz atomically (temporary name in the same folder, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    os.replace(tmp, path)
    return path


def episode_path(folder: Path, index: int) -> Path:
    return Path(folder) / f"episode_{index:05d}.npz"


def list_episodes(folder: Path) -> list[Path]:
    return sorted(Path(folder).glob(EPISODE_GLOB))


def load_episode(path: Path) -> dict:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def _collect_one(task) -> str:
    folder, index, seed, max_steps = task
    env = make_env()
    try:
        ep = run_episode(env, RandomPolicy(seed), seed, max_steps=max_steps, record=True)
    finally:
        env.close()
    path = episode_path(folder, index)
    save_episode_npz(
        path,
        obs=ep["obs"],
        action=ep["action"],
        reward=ep["reward_seq"],
        done=ep["done"],
        seed=np.int64(seed),
    )
    return str(path)


def pool_map(fn: Callable, tasks: Iterable, workers: int, initializer=None, initargs=()):
    """Yield ``fn(task)`` for each task, in ``workers`` spawned processes (0/1: in process).

    Results come back in completion order for ``workers > 1`` (``imap_unordered``).
    """
    tasks = list(tasks)
    if not tasks:
        return
    if workers <= 1:
        if initializer is not None:
            initializer(*initargs)
        for task in tasks:
            yield fn(task)
        return
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers, initializer=initializer, initargs=initargs) as pool:
        yield from pool.imap_unordered(fn, tasks)


def collect(
    folder,
    episodes: int = 10000,
    max_steps: int = 1000,
    workers: int = 2,
    seed: int = 0,
    progress: bool = True,
) -> list[Path]:
    """Collect ``episodes`` random-policy episodes into ``folder`` (resumable).

    Episode ``i`` uses environment/policy seed ``seed + i``, so a resumed collection
    produces exactly what an uninterrupted one would. The paper used 10,000 episodes.
    Returns every episode path.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".episode_*.tmp"):
        stale.unlink()
    todo = [
        (str(folder), i, seed + i, max_steps)
        for i in range(episodes)
        if not episode_path(folder, i).exists()
    ]
    bar = _progbar(len(todo), "collect", progress)
    for n, _ in enumerate(pool_map(_collect_one, todo, workers), 1):
        if bar:
            bar.update(n)
    return [episode_path(folder, i) for i in range(episodes)]


def _progbar(target: int, name: str, enabled: bool):
    if not enabled or target == 0:
        return None
    from keras.utils import Progbar

    print(f"{name}: {target} to do", flush=True)
    return Progbar(target, unit_name=name, stateful_metrics=["mean", "max"])
