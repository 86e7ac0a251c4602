"""Where gdl reads data and writes runs, and whether it runs in smoke mode.

Everything here is read from the environment at call time, so a notebook, the CLI
and the test-suite share one switch:

``GDL_DATA_DIR``  where datasets live in the book's on-disk layout (default ``./data``).
``GDL_RUNS_DIR``  where ``gdl train`` and the notebooks write runs (default ``./runs``).
``GDL_SMOKE``     ``1`` selects smoke mode: tiny epochs and datasets, the same code path.
                  CI sets it when it executes the chapter notebooks.
``GDL_CACHE_DIR`` where slow-to-compute derived data is cached (default ``~/.cache/gdl``).
"""

from __future__ import annotations

import os
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}


def smoke_mode() -> bool:
    """True when ``GDL_SMOKE`` asks for the tiny version of every run."""
    return os.environ.get("GDL_SMOKE", "").strip().lower() in _TRUE


def data_dir() -> Path:
    """Root of the datasets (``GDL_DATA_DIR``, default ``./data``)."""
    return Path(os.environ.get("GDL_DATA_DIR", "data")).expanduser()


def runs_dir() -> Path:
    """Root of training runs (``GDL_RUNS_DIR``, default ``./runs``)."""
    return Path(os.environ.get("GDL_RUNS_DIR", "runs")).expanduser()


def cache_dir() -> Path:
    """Cache for derived data such as parsed music21 scores (``GDL_CACHE_DIR``)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gdl"
    return Path(os.environ.get("GDL_CACHE_DIR", default)).expanduser()


def pick(book, smoke):
    """Return ``smoke`` in smoke mode, else ``book``: ``EPOCHS = pick(10, 1)``."""
    return smoke if smoke_mode() else book
