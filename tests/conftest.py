"""Shared test set-up: run on the repo's own gdl, quietly, headless, on the TF backend."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


@pytest.fixture(scope="session")
def fixture_data_dir(tmp_path_factory) -> Path:
    """A fake ``GDL_DATA_DIR`` holding a tiny fixture of every dataset, in the real formats."""
    from gdl.data import build_fixtures

    return build_fixtures(tmp_path_factory.mktemp("data"))


@pytest.fixture
def data_env(fixture_data_dir, tmp_path, monkeypatch):
    """Point gdl at the fixture datasets and a per-test runs folder."""
    monkeypatch.setenv("GDL_DATA_DIR", str(fixture_data_dir))
    monkeypatch.setenv("GDL_RUNS_DIR", str(tmp_path / "runs"))
    return fixture_data_dir
