"""Dataset registry: every dataset the book uses, by short name.

Each :class:`Dataset` knows where it comes from (``source``), where it lives under
``GDL_DATA_DIR`` (``folder``, the book's layout), how to tell it is complete
(:meth:`Dataset.check`), how to load it, how to fetch it, and how to write a tiny
fixture of itself in the real on-disk format (used by the tests and smoke runs).

A loader asked for an absent dataset raises :class:`MissingDatasetError`, whose
message names the command that downloads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gdl.config import data_dir
from gdl.errors import DatasetError, MissingDatasetError, UnknownNameError


@dataclass
class Dataset:
    """One registry entry. ``loader(ds, **kw)``, ``checker(ds) -> list[str]`` (problems),
    ``downloader(ds, **kw)`` and ``fixture(ds, root)`` are plain functions so each
    dataset module stays small."""

    name: str
    description: str
    source: str
    folder: str
    loader: Callable[..., Any]
    checker: Callable[[Dataset], list[str]] | None = None
    downloader: Callable[..., Any] | None = None
    fixture: Callable[[Dataset, Path], None] | None = None
    embedded: bool = False
    chapters: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)
    # deep check for ``gdl data check`` (every image header, the JSON parses ...)
    verifier: Callable[[Dataset], list[str]] | None = None

    def path(self, root: Path | None = None) -> Path:
        return Path(root or data_dir()) / self.folder

    def problems(self) -> list[str]:
        """What is missing or wrong on disk (empty when complete; always empty if embedded)."""
        if self.embedded:
            return []
        if not self.path().exists():
            return [f"{self.path()} does not exist"]
        return self.checker(self) if self.checker else []

    def verify(self) -> list[str]:
        """Everything :meth:`problems` checks, plus the manifest a gdl download wrote
        (file count and bytes unchanged) and the dataset's deep ``verifier``."""
        problems = self.problems()
        if problems or self.embedded:
            return problems
        from gdl.data.download import manifest_problems

        problems = manifest_problems(self.path())
        return problems + (self.verifier(self) if self.verifier else [])

    def is_present(self) -> bool:
        return not self.problems()

    def require(self) -> Path:
        """Return the dataset folder, or raise :class:`MissingDatasetError`."""
        problems = self.problems()
        if problems:
            raise MissingDatasetError(self.name, self.path(), "; ".join(problems[:3]))
        return self.path()

    def load(self, **kwargs):
        return self.loader(self, **kwargs)

    def download(self, **kwargs):
        if self.embedded:
            return self.path()
        if self.downloader is None:
            raise DatasetError(f"dataset {self.name!r} has no downloader")
        from gdl.config import data_dir, writable_dir

        writable_dir(data_dir(), "GDL_DATA_DIR")
        return self.downloader(self, **kwargs)

    def make_fixture(self, root: Path) -> None:
        """Write a tiny copy in the real on-disk format under ``root`` (a fake GDL_DATA_DIR)."""
        if self.fixture is not None:
            self.fixture(self, Path(root))


_DATASETS: dict[str, Dataset] = {}


def register_dataset(ds: Dataset) -> Dataset:
    if ds.name in _DATASETS:
        raise ValueError(f"dataset {ds.name!r} registered twice")
    _DATASETS[ds.name] = ds
    return ds


def _discover() -> None:
    # Importing the dataset modules registers their entries.
    import importlib
    import pkgutil

    import gdl.data as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in {"registry"}:
            importlib.import_module(f"gdl.data.{mod.name}")


def list_datasets() -> dict[str, Dataset]:
    _discover()
    return dict(sorted(_DATASETS.items()))


def get_dataset(name: str) -> Dataset:
    datasets = list_datasets()
    if name not in datasets:
        raise UnknownNameError(
            f"unknown dataset {name!r}; known: {', '.join(datasets)}"
        )
    return datasets[name]


def load(name: str, **kwargs):
    """Load a registered dataset by name (see each dataset's loader for ``kwargs``)."""
    return get_dataset(name).load(**kwargs)


def build_fixtures(root: str | Path, names: list[str] | None = None) -> Path:
    """Write tiny fixtures of every (or the named) dataset under ``root``; return ``root``.

    Point ``GDL_DATA_DIR`` at ``root`` and the real loaders read them.
    """
    from gdl.config import writable_dir

    root = writable_dir(root, "another fixtures folder")
    for name, ds in list_datasets().items():
        if names is None or name in names:
            ds.make_fixture(root)
    return root
