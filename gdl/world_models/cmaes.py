"""CMA-ES for the controller, through the ``cma`` package, with parallel evaluation.

Chapter 12: "an orchestrator sends parameter sets to worker nodes, which simulate
agents and return scores; the orchestrator updates the CMA-ES object". Ha &
Schmidhuber used a population of 64, 16 rollouts per candidate (average reward) and
initial step size 0.1; after 200 generations the average reward is about 840 (book)
and the final agent scores 906 ± 21 over 100 trials (paper).

:class:`CMAES` maximises (``cma`` minimises; rewards are negated) and pickles its
whole state atomically after every generation, so :func:`train_controller` resumes
where it stopped. :class:`Evaluator` runs candidates in spawned worker processes that
hold NumPy copies of V and M (:mod:`gdl.world_models.agent`), in the real CarRacing
or in the dream (:class:`~gdl.world_models.dream.DreamEnv`);
:class:`~gdl.world_models.ray_evaluator.RayEvaluator` runs the same tasks on Ray actors
(one machine or a cluster), and :func:`make_evaluator` picks one of the two.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gdl.world_models import rollouts


class CMAES:
    """A maximising wrapper of ``cma.CMAEvolutionStrategy`` that remembers its history."""

    def __init__(
        self,
        num_params: int = 867,
        popsize: int = 64,
        sigma0: float = 0.1,
        seed: int = 0,
        x0=None,
    ):
        import cma

        x0 = np.zeros(num_params) if x0 is None else np.asarray(x0, float)
        if x0.size != num_params:
            raise ValueError(f"x0 has {x0.size} values, expected num_params={num_params}")
        opts = {"popsize": int(popsize), "seed": int(seed) + 1, "verbose": -9}
        self.es = cma.CMAEvolutionStrategy(x0, sigma0, opts)
        self.num_params, self.popsize = int(num_params), int(popsize)
        self.history: list[dict] = []
        self.best_reward = -np.inf
        self.best_params = x0.copy()
        self._asked = None

    @property
    def generation(self) -> int:
        return len(self.history)

    @property
    def mean(self) -> np.ndarray:
        """The distribution mean, the most robust estimate under noisy rewards."""
        return np.asarray(self.es.mean, float)

    def ask(self) -> np.ndarray:
        self._asked = np.asarray(self.es.ask())
        return self._asked

    def tell(self, solutions, rewards) -> dict:
        rewards = np.asarray(rewards, float)
        if len(rewards) != len(solutions):
            raise ValueError(f"{len(solutions)} solutions but {len(rewards)} rewards")
        self.es.tell(list(np.asarray(solutions)), list(-rewards))
        best = int(np.argmax(rewards))
        if rewards[best] > self.best_reward:
            self.best_reward = float(rewards[best])
            self.best_params = np.asarray(solutions[best], float).copy()
        row = {
            "generation": self.generation + 1,
            "mean": float(rewards.mean()),
            "max": float(rewards.max()),
            "min": float(rewards.min()),
            "std": float(rewards.std()),
            "sigma": float(self.es.sigma),
        }
        self.history.append(row)
        return row

    def save(self, path) -> Path:
        """Pickle the whole optimiser (``cma`` state, history, best) atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(self, f)
        os.replace(tmp, path)
        return path

    @staticmethod
    def load(path) -> CMAES:
        with open(path, "rb") as f:
            obj = pickle.load(f)
        if not isinstance(obj, CMAES):
            raise TypeError(f"{path} does not hold a gdl CMAES state")
        return obj

    def optimize(self, reward_fn: Callable[[np.ndarray], float], generations: int) -> CMAES:
        """Run ``generations`` of ask/evaluate/tell with a plain in-process ``reward_fn``."""
        for _ in range(generations):
            xs = self.ask()
            self.tell(xs, [reward_fn(x) for x in xs])
        return self


# ----------------------------------------------------------------- worker side
_WORKER: dict = {}


def single_thread_blas():
    """Limit NumPy's BLAS to one thread (a context manager; also usable as a call).

    The per-frame matmuls are tiny: with several BLAS threads per worker process they
    spend ~40x more CPU spinning than computing (measured 44 ms vs 1 ms per encoding).
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _init_worker(weights: dict, mode: str, options: dict, limit_threads: bool = True) -> None:
    from gdl.world_models.agent import NumpyWorldModel

    if limit_threads:
        single_thread_blas()
    _WORKER.clear()
    _WORKER.update(model=NumpyWorldModel(weights), mode=mode, options=options)
    if mode == "real":
        _WORKER["env"] = rollouts.make_env()
        _WORKER["env"].reset(seed=0)  # first reset initialises Box2D/pygame: not a rollout's cost
    else:
        from gdl.world_models.dream import DreamEnv

        _WORKER["env"] = DreamEnv(
            _WORKER["model"],
            temperature=options.get("temperature", 1.15),
            max_steps=options.get("max_steps", 1000),
            initial_z=options.get("initial_z"),
        )


def rollout_reward(model, env, mode: str, params, seed: int, options: dict) -> float:
    """Total reward of one episode of the controller ``params`` (real or dream)."""
    from gdl.world_models.agent import WorldModelAgent
    from gdl.world_models.controller import Controller

    if mode == "real":
        agent = rollouts.RandomPolicy(seed) if params is None else WorldModelAgent(model, params)
        return rollouts.run_episode(
            env,
            agent,
            seed,
            max_steps=options.get("max_steps", 1000),
            patience=options.get("patience"),
        )["reward"]
    controller = Controller(model.z_dim, model.hidden_units, params=params)
    obs, _ = env.reset(seed=int(seed))
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(controller.act_on(obs))
        total += reward
        done = terminated or truncated
    return total


def _evaluate_task(task) -> tuple[int, float]:
    index, params, seed = task
    reward = rollout_reward(
        _WORKER["model"], _WORKER["env"], _WORKER["mode"], params, seed, _WORKER["options"]
    )
    return index, reward


class Evaluator:
    """Average reward of candidate controllers over several rollouts, in parallel.

    ``weights``: :func:`gdl.world_models.agent.extract_weights`; ``mode``: ``"real"``
    (CarRacing) or ``"dream"`` (the MDN-RNN); ``workers``: processes (<= 1 runs in
    this process). ``options``: ``max_steps``, ``patience`` (real), ``temperature``
    and ``initial_z`` (dream). Use as a context manager so the pool is reused across
    generations.
    """

    def __init__(self, weights: dict, mode: str = "real", workers: int = 2, **options):
        if mode not in ("real", "dream"):
            raise ValueError(f"mode must be 'real' or 'dream', got {mode!r}")
        self.weights, self.mode, self.workers, self.options = weights, mode, workers, options
        self._pool = None

    def __enter__(self):
        if self.workers > 1:
            import multiprocessing as mp

            self._pool = mp.get_context("spawn").Pool(
                self.workers,
                initializer=_init_worker,
                initargs=(self.weights, self.mode, self.options),
            )
        else:
            _init_worker(self.weights, self.mode, self.options, limit_threads=False)
        return self

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def rewards(self, candidates, seeds) -> np.ndarray:
        """Reward of each candidate (a parameter vector, or None for the random policy in
        the real environment) on each seed: ``(len(candidates), len(seeds))``."""
        tasks = [
            (i * len(seeds) + j, c, int(s))
            for i, c in enumerate(candidates)
            for j, s in enumerate(seeds)
        ]
        table = np.zeros(len(tasks))
        for k, reward in self._run(tasks):
            table[k] = reward
        return table.reshape(len(candidates), len(seeds))

    def _run(self, tasks):
        """``(index, reward)`` of every ``(index, params, seed)`` task, in any order."""
        if self._pool is not None:
            return self._pool.imap_unordered(_evaluate_task, tasks, chunksize=1)
        if not _WORKER or _WORKER.get("mode") != self.mode:
            _init_worker(self.weights, self.mode, self.options, limit_threads=False)
        with single_thread_blas():
            return list(map(_evaluate_task, tasks))

    def __call__(self, candidates, seeds) -> np.ndarray:
        """Mean reward of each candidate over the rollouts with ``seeds`` (same seeds for all)."""
        return self.rewards(list(candidates), seeds).mean(axis=1)


def make_evaluator(
    weights: dict,
    mode: str = "real",
    workers: int = 2,
    ray_address: str | None = None,
    **options,
) -> Evaluator:
    """An :class:`Evaluator` (``workers`` local processes), or with ``ray_address``
    (``"auto"``, ``"host:6379"``, ``"ray://host:10001"``, or ``"local"`` for a fresh
    instance on this machine) a :class:`~gdl.world_models.ray_evaluator.RayEvaluator`
    with one actor per CPU of the cluster. Same tasks, same seeds, same rewards."""
    if ray_address:
        from gdl.world_models.ray_evaluator import RayEvaluator

        address = None if ray_address == "local" else ray_address
        return RayEvaluator(weights, mode, address=address, **options)
    return Evaluator(weights, mode, workers, **options)


def train_controller(
    evaluator: Evaluator,
    state_path,
    generations: int = 200,
    popsize: int = 64,
    rollouts_per_candidate: int = 16,
    sigma0: float = 0.1,
    seed: int = 0,
    num_params: int = 867,
    callback: Callable[[CMAES, dict], None] | None = None,
    progress: bool = True,
) -> CMAES:
    """Run CMA-ES up to ``generations`` in total, resuming from ``state_path`` if present.

    The rollout seeds of generation ``g`` are ``seed*100003 + g*1000 + j``, so a resumed run
    sees the same episodes an uninterrupted one would. ``callback(es, row)`` runs after
    each generation (the state is already saved).
    """
    state_path = Path(state_path)
    if state_path.exists():
        es = CMAES.load(state_path)
    else:
        es = CMAES(num_params, popsize, sigma0, seed)
    bar = rollouts._progbar(max(generations - es.generation, 0), "generation", progress)
    done = 0
    while es.generation < generations:
        g = es.generation
        seeds = [seed * 100003 + g * 1000 + j for j in range(rollouts_per_candidate)]
        xs = es.ask()
        row = es.tell(xs, evaluator(xs, seeds))
        es.save(state_path)
        if callback is not None:
            callback(es, row)
        done += 1
        if bar:
            bar.update(done, values=[("mean", row["mean"]), ("max", row["max"])])
    return es
