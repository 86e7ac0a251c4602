"""``gdl info`` and ``gdl --backend``: the backend a command runs on, and what it reports."""

import os
import subprocess
import sys

import pytest

from gdl.cli.main import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_backend_option_selects_the_keras_backend_in_a_fresh_process(backend):
    env = {**os.environ, "PYTHONPATH": ROOT}
    for name in ("KERAS_BACKEND", "CUDA_VISIBLE_DEVICES", "TF_CPP_MIN_LOG_LEVEL"):
        env.pop(name, None)  # as a CPU user starts it
    out = subprocess.run(
        [sys.executable, "-m", "gdl.cli", "--backend", backend, "info"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    if not os.path.exists("/dev/nvidiactl"):  # no GPU: no CUDA or start-up noise
        assert out.stderr.strip() == "", out.stderr
    lines = dict(line.split(None, 1) for line in out.stdout.splitlines() if line.strip())
    assert lines["backend"] == backend
    assert lines["keras"].startswith("3.")
    assert lines[backend] != "not installed"


def test_info_in_process_and_a_backend_keras_cannot_switch_to(capsys):
    import keras

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"backend    {keras.config.backend()}" in out
    other = "jax" if keras.config.backend() != "jax" else "torch"
    assert main(["--backend", other, "info"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"KERAS_BACKEND={other}" in err[0]


def test_building_the_command_line_loads_no_framework():
    """``gdl --help`` and ``gdl data ...`` stay fast, and TensorFlow's start-up can be
    quieted only if no recipe imports Keras when the parser is built."""
    code = ("import sys; from gdl.cli.main import build_parser; build_parser(); "
            "print([m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": ROOT}, timeout=300, check=True)  # fmt: skip
    assert out.stdout.strip() == "[]", out.stdout
