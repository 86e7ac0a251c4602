"""The two-player and sampler-in-the-loop train steps (DCGAN, WGAN-GP, EBM) on every
Keras backend: one ``train_on_batch`` timed per model and backend, the backends taking
turns (one subprocess per backend and round, so a load change on the shared machine hits
them alike), as ratios to TensorFlow; and the WGAN-GP ring benchmark on every backend.

Budget: book networks at 32x32 (DCGAN 1 channel, WGAN-GP 3 channels, 3 critic steps),
batch 64; the book's EBM (32x32x1, 60 Langevin steps), batch 128; 2 warm-up steps (the
first compiles), then ``STEPS`` timed steps per round, ``ROUNDS`` rounds.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.harness import benchmark

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax", "torch")
ROUNDS, STEPS = 1, 3  # 1 round: the shared machine ran at load ~12 (state it)

_TIMER = """
import json, os, sys, time
import numpy as np
import keras
from gdl.models import DCGAN, EBM, WGANGP

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
steps = int(sys.argv[1])


def bench(model, x, warmup=2):
    model.compile(**({"optimizer": keras.optimizers.Adam(1e-4)} if isinstance(model, EBM) else {}))
    t0 = time.perf_counter()
    for _ in range(warmup):
        model.train_on_batch(x)
    times = [time.perf_counter() - t0]  # first: the warm-up (compilation included)
    for _ in range(steps):
        t0 = time.perf_counter()
        logs = model.train_on_batch(x, return_dict=True)
        times.append(time.perf_counter() - t0)
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    return times


models = {
    "DCGAN": (lambda: DCGAN(image_size=32, channels=1, seed=0), (64, 32, 32, 1)),
    "WGAN-GP": (lambda: WGANGP(image_size=32, channels=3, seed=0), (64, 32, 32, 3)),
    "EBM": (lambda: EBM(seed=0), (128, 32, 32, 1)),
}
out = {}
for name, (make, shape) in models.items():
    x = rng.uniform(-1, 1, shape).astype("float32")
    out[name] = bench(make(), x)
print(json.dumps(out))
"""


def _run(backend: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT),
           "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", _TIMER, str(STEPS)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=3600)  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        raise RuntimeError(f"{backend}: {proc.stderr[-2000:]}")
    return json.loads(lines[-1])


@benchmark
def train_step():
    """Median seconds per ``train_on_batch`` (a generator step with its critic steps, or an
    EBM step with its Langevin chain) per model and backend, and the ratio to TensorFlow."""
    times, warm = {b: {} for b in BACKENDS}, {b: {} for b in BACKENDS}
    for _ in range(ROUNDS):
        for b in BACKENDS:
            for model, t in _run(b).items():
                warm[b].setdefault(model, []).append(t[0])
                times[b].setdefault(model, []).extend(t[1:])
    rows = {"budget": f"{ROUNDS} rounds x {STEPS} steps after 2 warm-up steps, backends "
                      "alternating (one subprocess per backend and round)"}  # fmt: skip
    for model in times["tensorflow"]:
        tf = statistics.median(times["tensorflow"][model])
        fastest = min(statistics.median(times[b][model]) for b in BACKENDS)
        for b in BACKENDS:
            med = statistics.median(times[b][model])
            rows[f"{model} {b}: s/step"] = med
            rows[f"{model} {b}: ratio to tensorflow"] = med / tf
            rows[f"{model} {b}: ratio to fastest"] = med / fastest
            rows[f"{model} {b}: 2 warm-up steps incl. compilation (s)"] = min(warm[b][model])
    return rows


_RING = """
import json, sys
import numpy as np
from benchmarks.bench_vae_gan import wgan_ring
print(json.dumps(wgan_ring(), default=float))
"""


@benchmark
def wgan_ring():
    """``vae_gan.wgan_ring`` (8 Gaussians on a ring, 1500 generator steps) on jax and torch:
    modes covered of 8, as on TensorFlow."""
    rows = {}
    for b in ("jax", "torch"):
        env = {**os.environ, "KERAS_BACKEND": b, "PYTHONPATH": str(ROOT),
               "CUDA_VISIBLE_DEVICES": ""}  # fmt: skip
        proc = subprocess.run([sys.executable, "-c", _RING], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=3600)  # fmt: skip
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode or not lines:
            raise RuntimeError(f"{b}: {proc.stderr[-2000:]}")
        for k, v in json.loads(lines[-1]).items():
            rows[f"{b}: {k}"] = v
    return rows
