"""Every book model's train step on every Keras backend, in one run (issue 15).

* :func:`train_step`: seconds per ``train_on_batch`` for the models of chapters 3-9, 11
  and 12 at the book's batch size (book-size networks, random data of the right shape),
  on tensorflow, jax and torch, as ratios to TensorFlow and to the fastest backend. One
  long-lived worker process per backend (``python -m benchmarks.bench_backends
  worker``); the parent walks the models and, for each, runs the rounds with the
  backends taking turns (tensorflow, jax, torch, tensorflow, ...), so a load change on
  the shared machine hits them alike. Each worker builds the model, runs one warm-up
  step (compilation included: ``tf.function`` tracing, ``jax.jit``; torch runs eagerly)
  and then one timed step per round.
* :func:`wgan_ring`: ``vae_gan.wgan_ring`` (8 Gaussians on a ring) on jax and torch.
* :func:`determinism`: the same seed gives the same samples in two separate processes,
  per backend (bitwise, or the largest difference).

Budget (2 shared CPU cores, ~30 min): 3 rounds (2 for steps over 5 s on TensorFlow), so
1 warm-up + 2-3 timed steps per model and backend (one, if the warm-up step took over
90 s). The book's batch size for the models without 64x64 convolution stacks; the
conv-heavy ones at a smaller batch, named in each row (jax's XLA:CPU convolutions, and
torch's, are several times slower than TensorFlow's oneDNN ones here: at the book's
batch one WGAN-GP step would take minutes), and the MDN-RNN on windows of 100 steps
(book 1000; batch 100 as the book).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import RESULTS, benchmark

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax", "torch")
ROUNDS, HEAVY_ROUNDS, HEAVY_S = 3, 2, 5.0  # rounds per model (2 when a step takes > 5 s)
SLOW_S = 90.0  # a backend whose warm-up step takes longer is timed once, not per round


def _env(backend: str) -> dict:
    return {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT),
            "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}  # fmt: skip


# ---------------------------------------------------------------- the models (worker side)
def _uniform(rng, shape, low=0.0, high=1.0):
    return rng.uniform(low, high, shape).astype("float32")


def _tokens(rng, vocab, shape):
    return rng.integers(1, vocab, shape).astype("int32")


def _case(name: str):
    """``(model, x, y, label)`` for one model at the book's batch size (random data)."""
    import keras

    from gdl import models as M
    from gdl import world_models as W

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    if name == "Autoencoder":
        return M.Autoencoder(), _uniform(rng, (100, 32, 32, 1)), None, "batch 100"
    if name == "VAE":
        return M.VAE(seed=0), _uniform(rng, (100, 32, 32, 1)), None, "batch 100"
    if name == "FacesVAE":
        return M.FacesVAE(seed=0), _uniform(rng, (32, 32, 32, 3)), None, "batch 32 (book 128)"
    if name == "DCGAN":
        return M.DCGAN(seed=0), _uniform(rng, (32, 64, 64, 1), -1), None, "batch 32 (book 128)"
    if name == "WGANGP":
        x = _uniform(rng, (32, 64, 64, 3), -1)
        return M.WGANGP(seed=0), x, None, "batch 32 (book 512), 3 critic steps"
    if name == "ConditionalWGAN":
        x, y = _uniform(rng, (32, 64, 64, 3), -1), np.arange(32) % 2
        return M.ConditionalWGAN(seed=0), x, y, "batch 32 (book 128), 3 critic steps"
    if name == "LSTMTextGenerator":
        t = _tokens(rng, 10000, (32, 201))
        return M.LSTMTextGenerator(), t[:, :-1], t[:, 1:], "batch 32, length 200"
    if name == "PixelCNN":
        x = rng.integers(0, 4, (128, 16, 16, 1)).astype("float32")
        return M.PixelCNN(), x, None, "batch 128, 16x16"
    if name == "PixelCNNMixture":
        x = rng.integers(0, 256, (32, 32, 32, 1)).astype("float32")
        return M.PixelCNNMixture(), x, None, "batch 32 (book 128), 32x32"
    if name == "RealNVP":
        return M.RealNVP(seed=0), rng.normal(size=(256, 2)).astype("float32"), None, "batch 256"
    if name == "EBM":
        x = _uniform(rng, (128, 32, 32, 1), -1)
        return M.EBM(seed=0), x, None, "batch 128, 60 Langevin steps"
    if name == "DiffusionModel":
        x = _uniform(rng, (16, 64, 64, 3))
        model = M.DiffusionModel(seed=0)
        model.adapt(x)
        return model, x, None, "batch 16 (book 64), 64x64x3, with EMA"
    if name == "GPT":
        t = _tokens(rng, 10000, (32, 81))
        return M.GPT(seed=0), t[:, :-1], t[:, 1:], "batch 32, length 80"
    if name == "MusicTransformer":
        n, d = _tokens(rng, 60, (256, 51)), _tokens(rng, 25, (256, 51))
        model = M.MusicTransformer(notes_vocab_size=60, durations_vocab_size=25, seed=0)
        return model, (n[:, :-1], d[:, :-1]), (n[:, 1:], d[:, 1:]), "batch 256, length 50"
    if name == "MuseGAN":
        x = _uniform(rng, (16, 2, 16, 84, 4), -1)
        return M.MuseGAN(seed=0), x, None, "batch 16 (book 64), 5 critic steps"
    if name == "WorldModelVAE":
        return W.WorldModelVAE(seed=0), _uniform(rng, (32, 64, 64, 3)), None, "batch 32 (book 100)"
    if name == "MDNRNN":
        b, t = 100, 100
        x = (rng.normal(size=(b, t, 32)).astype("float32"), _uniform(rng, (b, t, 3), -1))
        y = (rng.normal(size=(b, t, 32)).astype("float32"), _uniform(rng, (b, t)),
             (rng.uniform(size=(b, t)) > 0.99).astype("float32"), np.ones((b, t), "float32"))  # fmt: skip
        return W.MDNRNN(seed=0), x, y, "batch 100, length 100 (book 1000)"
    raise KeyError(name)


#: cheapest first, so a cut-short run still covers most models (see PARTIAL)
MODELS = ("RealNVP", "Autoencoder", "VAE", "GPT", "LSTMTextGenerator", "MusicTransformer",
          "MDNRNN", "EBM", "PixelCNN", "WorldModelVAE", "FacesVAE", "PixelCNNMixture", "DCGAN",
          "WGANGP", "ConditionalWGAN", "MuseGAN", "DiffusionModel")  # fmt: skip
PARTIAL = RESULTS / "backends.train_step.partial.json"  # rewritten after every model


def worker() -> None:
    """A backend's worker: JSON commands on stdin, one ``@@{json}`` reply line each.
    ``{"build": name}`` builds, compiles and runs the warm-up step (its seconds back);
    ``{"step": true}`` times one ``train_on_batch``; ``{"drop": true}`` frees the model."""
    import gc

    current = {}

    def reply(obj):
        sys.stdout.write("@@" + json.dumps(obj) + "\n")
        sys.stdout.flush()

    def step():
        t0 = time.perf_counter()
        logs = current["model"].train_on_batch(current["x"], current["y"], return_dict=True)
        seconds = time.perf_counter() - t0
        bad = {k: float(v) for k, v in logs.items() if not np.isfinite(float(v))}
        if bad:
            raise FloatingPointError(f"non-finite logs {bad}")
        return seconds

    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if "build" in cmd:
                model, x, y, label = _case(cmd["build"])
                model.compile()
                current.update(model=model, x=x, y=y)
                reply({"warmup_s": step(), "label": label, "params": model.count_params()})
            elif "step" in cmd:
                reply({"s": step()})
            elif "drop" in cmd:
                current.clear()
                gc.collect()
                reply({})
        except Exception as exc:  # reported per model, the run goes on
            current.clear()
            reply({"error": f"{type(exc).__name__}: {str(exc)[:300]}"})


class _Worker:
    def __init__(self, backend: str, log):
        self.backend = backend
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_backends", "worker"], env=_env(backend),
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
        )  # fmt: skip

    def ask(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith("@@"):
                return json.loads(line[2:])
        raise RuntimeError(f"{self.backend} worker died (see its log)")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@benchmark
def train_step(models=MODELS):
    """Median seconds per ``train_on_batch`` per model and backend (book batch sizes), the
    ratio to TensorFlow and to the fastest backend, and the warm-up step (compilation)."""
    log = open(Path(tempfile.gettempdir()) / "gdl_bench_backends.log", "w")  # noqa: SIM115
    workers = {b: _Worker(b, log) for b in BACKENDS}
    rows = {"budget": f"1 warm-up step, then 1 timed step per round; {ROUNDS} rounds ("
                      f"{HEAVY_ROUNDS} if TensorFlow's warm step > {HEAVY_S:.0f} s), backends "
                      "taking turns in each round; one worker process per backend"}  # fmt: skip
    t_start = time.perf_counter()
    try:
        for name in models:
            info = {b: workers[b].ask(build=name) for b in BACKENDS}
            times = {b: [] for b in BACKENDS if "error" not in info[b]}
            rounds = ROUNDS
            for r in range(ROUNDS):
                for b in times:
                    if r and info[b]["warmup_s"] > SLOW_S:
                        continue
                    out = workers[b].ask(step=True)
                    if "error" in out:
                        info[b] = out
                    else:
                        times[b].append(out["s"])
                if r == 0 and times.get("tensorflow", [0])[0] > HEAVY_S:
                    rounds = HEAVY_ROUNDS
                if r + 1 >= rounds:
                    break
            for b in BACKENDS:
                workers[b].ask(drop=True)
            label = next((i["label"] for i in info.values() if "label" in i), "")
            rows[f"{name}: setting"] = label
            med = {
                b: statistics.median(t) for b, t in times.items() if t and "error" not in info[b]
            }
            for b in BACKENDS:
                if b not in med:
                    rows[f"{name} {b}: error"] = info[b].get("error", "no timing")
                    continue
                rows[f"{name} {b}: s/step"] = med[b]
                if "tensorflow" in med:
                    rows[f"{name} {b}: ratio to tensorflow"] = med[b] / med["tensorflow"]
                rows[f"{name} {b}: ratio to fastest"] = med[b] / min(med.values())
                rows[f"{name} {b}: warm-up step incl. compilation (s)"] = info[b]["warmup_s"]
            partial = {"name": "backends.train_step (partial)", "rows": rows, "machine": {},
                       "date": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
            PARTIAL.write_text(json.dumps(partial, indent=1, default=float))
            print(f"   {name}: " + ", ".join(f"{b} {m:.3g}s" for b, m in med.items()), flush=True)
    finally:
        for w in workers.values():
            w.close()
        log.close()
    rows["wall (s)"] = time.perf_counter() - t_start
    return rows


def table(rows: dict) -> str:
    """The ``train_step`` rows as a markdown table (model x backend, ratios to TensorFlow)."""
    lines = ["| model | setting | tensorflow s/step | jax s/step (ratio) | torch s/step (ratio) |",
             "|---|---|---|---|---|"]  # fmt: skip
    for name in MODELS:
        if f"{name}: setting" not in rows:
            continue
        cells = [name, rows[f"{name}: setting"]]
        for b in BACKENDS:
            s = rows.get(f"{name} {b}: s/step")
            if s is None:
                cells.append("error")
                continue
            ratio = rows.get(f"{name} {b}: ratio to tensorflow")
            slow = " **>2x fastest**" if rows[f"{name} {b}: ratio to fastest"] > 2 else ""
            cells.append(f"{s:.3g}" if b == "tensorflow" else f"{s:.3g} ({ratio:.2f}){slow}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------------ ring benchmark
_RING = """
import json
from benchmarks.bench_vae_gan import wgan_ring
print(json.dumps(wgan_ring(), default=float))
"""


@benchmark
def wgan_ring():
    """``vae_gan.wgan_ring`` (8 Gaussians on a ring) on jax and torch: modes covered of 8,
    as on TensorFlow (``results/vae_gan.wgan_ring.json``)."""
    rows = {}
    for b in ("jax", "torch"):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _RING], env=_env(b), cwd=ROOT,
                              capture_output=True, text=True, timeout=3600)  # fmt: skip
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode or not lines:
            raise RuntimeError(f"{b}: {proc.stderr[-2000:]}")
        for k, v in json.loads(lines[-1]).items():
            rows[f"{b}: {k}"] = v
        rows[f"{b}: wall (s)"] = time.perf_counter() - t0
    return rows


if __name__ == "__main__" and sys.argv[1:] == ["worker"]:
    worker()
