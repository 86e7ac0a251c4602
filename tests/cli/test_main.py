"""The ``gdl`` command line: help, data listing, training with resume, sampling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from gdl.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_models(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "train" in out and "sample" in out and "data" in out and "cnn" in out


def test_data_list_shows_status(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GDL_DATA_DIR", str(tmp_path))
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "cifar10" in out and "missing" in out and "digits" in out and "embedded" in out


def test_missing_dataset_names_the_download_command(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GDL_DATA_DIR", str(tmp_path))
    rc = main(["train", "mlp", "--run-dir", str(tmp_path / "run"), "--epochs", "1"])
    assert rc == 2
    assert "gdl data download cifar10" in capsys.readouterr().err


def test_train_then_sample_writes_png_and_reloadable_model(tmp_path, data_env):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "cnn",
                "--data",
                "digits",
                "--epochs",
                "1",
                "--run-dir",
                str(run),
                "--verbose",
                "0",
            ]
        )
        == 0
    )
    assert (run / "model.keras").exists() and (run / "sample.png").exists()
    assert (run / "samples" / "epoch_001.png").exists()
    assert list((run / "logs").rglob("events.out.tfevents.*"))
    model = keras.saving.load_model(run / "model.keras")
    assert model.count_params() == 592_554
    out = tmp_path / "again.png"
    assert (
        main(["sample", "cnn", "--data", "digits", "--run-dir", str(run), "--out", str(out)]) == 0
    )
    assert out.stat().st_size > 0


def _env(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["GDL_RUNS_DIR"] = str(tmp_path / "runs")
    return env


def test_killed_training_resumes_from_next_epoch(tmp_path):
    """Kill ``gdl train`` right after epoch 1 is checkpointed; ``--resume`` continues at epoch 2."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "gdl.cli", "train", "mlp", "--data", "digits", "--epochs", "3",
           "--run-dir", str(run), "--verbose", "0", "--seed", "1"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    state = run / "checkpoints" / "state.json"
    deadline = time.time() + 180
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert state.exists(), proc.communicate()[0].decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads(state.read_text())["epoch"] == 1
    assert not (run / "model.keras").exists()
    weights_after_1 = keras.saving.load_model  # keep linter quiet about unused imports
    del weights_after_1

    # Without --resume the run refuses to clobber the checkpoint.
    refused = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True)
    assert refused.returncode != 0 and "--resume" in (refused.stdout + refused.stderr)

    resumed = subprocess.run(cmd + ["--resume"], env=_env(tmp_path), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "Resuming mlp from epoch 2 of 3" in resumed.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumed_from"] == 1 and summary["epochs"] == 3
    assert sorted(p.name for p in (run / "samples").iterdir())[-1] == "epoch_003.png"
    assert json.loads(state.read_text())["epoch"] == 3


def test_resume_restores_weights_and_optimizer_state(tmp_path):
    from gdl.callbacks import EpochCheckpoint, restore_checkpoint
    from gdl.models.classifiers import compile_classifier, mlp

    x = np.random.default_rng(0).random((64, 32, 32, 3), dtype="float32")
    y = keras.utils.to_categorical(np.arange(64) % 10, 10)
    a = compile_classifier(mlp())
    a.fit(x, y, epochs=2, verbose=0, callbacks=[EpochCheckpoint(tmp_path)])
    b = compile_classifier(mlp())
    assert restore_checkpoint(b, tmp_path) == 2
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert int(b.optimizer.iterations) == int(a.optimizer.iterations) > 0


def test_sample_in_a_fresh_process_loads_a_subclassed_model(tmp_path, data_env):
    """``gdl sample`` must register gdl's classes itself before ``load_model``."""
    run = tmp_path / "run"
    args = ["train", "realnvp", "--epochs", "1", "--run-dir", str(run), "--verbose", "0"]
    assert main(args) == 0
    last = json.loads((run / "summary.json").read_text())["last"]
    assert set(last) == {"loss", "l2_penalty", "val_loss", "val_l2_penalty"}  # loss: the NLL
    out = tmp_path / "fresh.png"
    cmd = [
        sys.executable,
        "-m",
        "gdl.cli",
        "sample",
        "realnvp",
        "--run-dir",
        str(run),
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert out.exists() and out.stat().st_size > 0
