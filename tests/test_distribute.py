"""Data-parallel training (:mod:`gdl.distribute`) on 2 simulated CPU devices.

For every model trained by Keras' own step around its ``compute_loss``, one SGD step
on 2 replicas with a global batch B must give the loss, metrics and updated weights of
one step on 1 device with the same batch and the same randomness
(:mod:`tests.distribute_worker`, in a fresh process per backend: TensorFlow with 2
logical CPUs under MirroredStrategy, JAX with 2 XLA host devices under DataParallel).
Two deliberately wrong steps (a loss averaged per replica; a masked mean per replica)
must fail the same comparison.

The models with their own train step (DCGAN, WGAN-GP, conditional WGAN, MuseGAN, EBM,
SAGAN, ProGAN, StyleGAN2, VQ-GAN) get the same check with *real* seeded noise (latents,
penalty weights, Langevin noise, replay buffer): their steps draw for the global batch
(:class:`gdl.distribute.GlobalBatch`), so the noise of each example is the same on 1 and
2 devices; every other variable the step updates (optimizers, the EBM's buffer,
StyleGAN2's running means, VQ-GAN's EMA codebook) must match too, and stay equal across
the replicas. A step that differentiates its per-replica mean, or draws its own noise
on each replica, must fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import pytest

import gdl.distribute
from tests.distribute_worker import CUSTOM, MODELS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_worker(backend: str, cli_dir, *args: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": ROOT, "CUDA_VISIBLE_DEVICES": "",
           "TF_CPP_MIN_LOG_LEVEL": "3", "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "GDL_DIST_CLI_DIR": str(cli_dir), "MPLBACKEND": "Agg"}  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "tests.distribute_worker", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=1200)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def same_step(r: dict) -> bool:
    logs_equal = r["logs_1"].keys() == r["logs_2"].keys() and all(
        abs(r["logs_1"][k] - r["logs_2"][k]) <= 1e-5 * max(1.0, abs(r["logs_1"][k]))
        for k in r["logs_1"]
    )
    return logs_equal and r["weight_diff"] <= 1e-4 * r["weight_change"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_two_replicas_take_the_one_device_step(backend, tmp_path):
    out = run_worker(backend, tmp_path)
    assert out["devices"] == 2
    assert sorted(out["models"]) == sorted(MODELS)
    for name, r in out["models"].items():
        assert r["weight_change"] > 1e-3, name  # the step moved the weights
        assert same_step(r), (name, r)
    if backend == "tensorflow":
        for name, r in out["wrong"].items():
            assert not same_step(r), (name, r)  # the comparison catches per-replica means
        assert out["wrong"]["VAE"]["logs_2"]["loss"] == pytest.approx(
            2 * out["wrong"]["VAE"]["logs_1"]["loss"], rel=1e-5
        )  # reported 2x, and the gradients are 2x too

    # gdl train --devices 2: checkpoints, TensorBoard, samples and --resume as on one device
    check_cli_run(out["cli"])


def check_cli_run(cli: dict) -> None:
    assert cli["codes"] == [0, 0]
    assert cli["summary"]["resumed_from"] == 1 and cli["summary"]["epochs"] == 2
    for name in ("model.keras", "sample.png", "samples/epoch_002.png", "checkpoints/state.json"):
        assert name in cli["files"], name
    assert any(f.startswith("logs/train/") for f in cli["files"])


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_custom_train_steps_on_two_replicas(backend, tmp_path):
    out = run_worker(backend, tmp_path, "--custom")
    assert out["devices"] == 2
    assert sorted(out["models"]) == sorted(CUSTOM)
    for name, r in out["models"].items():
        assert r["weight_change"] > 1e-3, name  # the step moved the weights
        assert same_step(r), (name, r)
        assert r["state_diff"] <= 1e-4 * max(1.0, r["weight_change"]), (name, r)
        assert r["replica_spread"] <= 1e-6, (name, r)  # replicas hold the same state
    if backend == "tensorflow":
        for name, r in out["wrong"].items():
            assert not same_step(r), (name, r)
    # gdl train dcgan --devices 2, then --resume: two optimizers' state in the checkpoint
    check_cli_run(out["cli"])


def test_one_device_is_a_plain_block():
    with gdl.distribute.data_parallel(1) as strategy:
        assert strategy is None
    with pytest.raises((ValueError, RuntimeError), match="devices|torch"):
        with gdl.distribute.data_parallel(64):
            pass
    loss = keras.ops.convert_to_tensor(3.0)
    assert float(gdl.distribute.global_batch_loss(loss)) == 3.0  # no strategy: unchanged
    assert float(gdl.distribute.global_batch_loss(loss, 4.0)) == 3.0
