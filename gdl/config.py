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


def writable_dir(path, setting: str) -> Path:
    """Create ``path`` (and parents) and check a file can be written in it; otherwise a
    :class:`gdl.errors.ConfigError` naming the path and the ``setting`` that chooses it
    (``GDL_RUNS_DIR``, ``--run-dir``, ``GDL_DATA_DIR`` ...)."""
    from gdl.errors import ConfigError

    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".gdl-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        blocked = isinstance(exc, (NotADirectoryError, FileExistsError)) or (
            path.exists() and not path.is_dir()
        )
        reason = "a file is in the way (it must be a folder)" if blocked else exc.strerror
        raise ConfigError(
            f"cannot write to {path}: {reason or type(exc).__name__}; set {setting} to a "
            "writable folder"
        ) from None
    return path
