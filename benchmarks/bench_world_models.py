"""Chapter 12 World Models: CMA-ES parallel speed-up and a bounded-budget training run.

``python -m benchmarks world_models.cmaes_workers``: wall time of one CMA-ES generation
(population 8, one 100-step CarRacing rollout each, fixed length so every generation
does the same work) with 1 and 2 worker processes; the pool is started before timing.

``python -m benchmarks world_models.controller_vs_random``: the pipeline at a bounded
budget (``WM_BENCH_RUN_DIR``, default ``$GDL_RUNS_DIR/world-models-bench``; resumable,
so an existing run is only evaluated; ``WM_BENCH_GENERATIONS`` caps CMA-ES), then the
trained controller against the random policy on the same 10 seeds of full 1000-step
episodes. The shared 2-core machine makes
timings noisy: the load average is recorded with every row.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import benchmark, timeit

BUDGET = dict(
    episodes=32,
    max_steps=500,
    workers=2,
    vae_epochs=8,
    vae_learning_rate=1e-3,
    rnn_epochs=10,
    rnn_seq_len=250,
    rnn_batch_size=16,
    popsize=16,
    rollouts=1,
    patience=50,
    controller_max_steps=1000,
    generations=80,
    eval_episodes=10,
    verbose=1,
)


def _load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


@benchmark
def cmaes_workers():
    import keras

    from gdl.world_models.agent import extract_weights
    from gdl.world_models.cmaes import CMAES, Evaluator
    from gdl.world_models.mdn_rnn import MDNRNN
    from gdl.world_models.vae import WorldModelVAE

    keras.utils.set_random_seed(0)
    weights = extract_weights(WorldModelVAE(), MDNRNN())
    rows = {
        "setup": "population 8 x 1 rollout x 100 steps (no early stop), real CarRacing; "
        "1- and 2-worker generations alternated 3 times (shared machine), median"
    }
    times = {1: [], 2: []}
    with Evaluator(weights, "real", 1, max_steps=100) as ev1:
        with Evaluator(weights, "real", 2, max_steps=100) as ev2:
            xs = CMAES(popsize=8, seed=0).ask()
            for ev in (ev1, ev2):
                ev(xs, [1])  # warm-up
            rows["load before"] = _load()
            for _ in range(3):
                for workers, ev in ((1, ev1), (2, ev2)):
                    times[workers].append(timeit(lambda ev=ev: ev(xs, [1]), 1, 0)["median_s"])
    for workers in (1, 2):
        rows[f"generation wall, {workers} worker(s) (s)"] = float(np.median(times[workers]))
        rows[f"all timings, {workers} worker(s) (s)"] = [round(t, 2) for t in times[workers]]
    rows["speed-up 2 vs 1"] = (
        rows["generation wall, 1 worker(s) (s)"] / rows["generation wall, 2 worker(s) (s)"]
    )
    rows["load after"] = _load()
    return rows


@benchmark
def controller_vs_random():
    from gdl.config import runs_dir
    from gdl.world_models.pipeline import WorldModelsConfig, run

    run_dir = Path(os.environ.get("WM_BENCH_RUN_DIR", runs_dir() / "world-models-bench"))
    budget = {
        **BUDGET,
        "generations": int(os.environ.get("WM_BENCH_GENERATIONS", BUDGET["generations"])),
    }
    cfg = WorldModelsConfig(**budget)
    t0 = time.process_time()
    result = run("all", run_dir, cfg)
    history = json.loads((run_dir / "controller" / "history.json").read_text())
    c, r = result["controller"], result["random"]
    return {
        "budget": ", ".join(f"{k}={v}" for k, v in budget.items() if k != "verbose"),
        "generations run": len(history),
        "controller mean reward": c["mean"],
        "controller std": c["std"],
        "random policy mean reward": r["mean"],
        "random policy std": r["std"],
        "difference": c["mean"] - r["mean"],
        "seeds": "{}..{} ({}-step episodes)".format(
            result["seeds"][0], result["seeds"][-1], result["max_steps"]
        ),
        "best generation mean (training)": float(np.max([h["mean"] for h in history])),
        "cpu s of this process (excl. workers)": time.process_time() - t0,
        "load": _load(),
    }
