"""gdl.errors: the hierarchy, library raises, and the CLI's one line with status 2."""

import os
import subprocess
import sys

import pytest

from gdl import errors
from gdl.errors import (
    ConfigError,
    DatasetError,
    GDLError,
    MissingDatasetError,
    RunError,
    TrainingInterrupted,
    UnknownNameError,
)


def test_hierarchy_keeps_the_builtin_types():
    assert issubclass(ConfigError, ValueError) and issubclass(UnknownNameError, KeyError)
    assert issubclass(MissingDatasetError, FileNotFoundError)
    assert issubclass(DatasetError, RuntimeError) and issubclass(RunError, RuntimeError)
    for cls in (ConfigError, UnknownNameError, DatasetError, MissingDatasetError, RunError):
        assert issubclass(cls, GDLError)
    assert issubclass(TrainingInterrupted, KeyboardInterrupt)  # code that stops on Ctrl-C stops
    # UnknownNameError prints its message, not KeyError's quoted repr
    assert str(UnknownNameError("unknown model 'x'; choose one of: a")) == (
        "unknown model 'x'; choose one of: a"
    )
    import pickle

    err = pickle.loads(pickle.dumps(MissingDatasetError("faces", "/d/celeba")))
    assert "gdl data download faces" in str(err)
    assert set(errors.__all__) == {c.__name__ for c in (ConfigError, UnknownNameError,
                                   DatasetError, MissingDatasetError, RunError, GDLError,
                                   TrainingInterrupted)}  # fmt: skip
    import gdl.data

    assert gdl.data.DatasetError is DatasetError  # one type, re-exported


def test_library_raises(tmp_path):
    from gdl.data import get_dataset
    from gdl.music.datasets import musegan_rolls

    with pytest.raises(UnknownNameError, match="known: .*cifar10"):
        get_dataset("cifar11")
    with pytest.raises(ConfigError, match="MuseGAN trains on"):
        musegan_rolls("cellosuites")
    from gdl.cli.recipes import get_recipe

    with pytest.raises(UnknownNameError, match="choose one of: .*vae"):
        get_recipe("vea")


def test_cli_prints_one_line_and_exits_2(tmp_path, monkeypatch, capsys):
    from gdl.cli import main

    # an existing run (a checkpoint state) without --resume/--overwrite: RunError
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "state.json").write_text("{}")
    assert main(["train", "realnvp", "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gdl: ") and "--resume" in err
    # no trained model to sample from
    assert main(["sample", "vae", "--run-dir", str(tmp_path / "none")]) == 2
    assert "run `gdl train vae` first" in capsys.readouterr().err
    # a wrong --data value raises ConfigError inside the recipe
    assert main(["train", "realnvp", "--data", "digits", "--run-dir", str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--data moons" in err


def test_entry_point_exit_status_in_a_fresh_process(tmp_path):
    env = {**os.environ, "GDL_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "gdl.cli", "train", "mlp", "--run-dir", str(tmp_path / "r")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("gdl: ")]
    assert len(lines) == 1 and "gdl data download cifar10" in lines[0]
