"""gdl's exception types: problems a person can act on, each message naming the fix.

Library code raises these (it never exits the process); the ``gdl`` command line catches
:class:`GDLError` and prints its message as one line on stderr with exit status 2.
Each type also subclasses the built-in exception a caller would expect, so
``except ValueError`` / ``except KeyError`` / ``except FileNotFoundError`` keep working:

=========================  =========================  ===================================
type                       also a                     raised when
=========================  =========================  ===================================
:class:`GDLError`          ``Exception``              (the base; catch it for all of them)
:class:`ConfigError`       ``ValueError``             an argument or option cannot work
:class:`UnknownNameError`  ``ConfigError``,           a model, recipe or dataset name is
                           ``KeyError``               not known (the message lists them)
:class:`DatasetError`      ``RuntimeError``           data on disk is unusable (corrupt,
                                                      empty, wrong format)
:class:`MissingDatasetError` ``FileNotFoundError``    a dataset is not on disk (the message
                                                      names ``gdl data download NAME``)
:class:`RunError`          ``RuntimeError``           a run folder or trained model is not
                                                      what the command needs
:class:`TrainingInterrupted` ``KeyboardInterrupt``    Ctrl-C stopped training after saving
                                                      a checkpoint (says how to resume)
=========================  =========================  ===================================
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConfigError",
    "DatasetError",
    "GDLError",
    "MissingDatasetError",
    "RunError",
    "TrainingInterrupted",
    "UnknownNameError",
]


class GDLError(Exception):
    """Base of every gdl error; ``str(error)`` is one actionable sentence."""


class ConfigError(GDLError, ValueError):
    """An argument, option or combination of them that cannot work; says what would."""


class UnknownNameError(ConfigError, KeyError):
    """A name (model, recipe, dataset) that is not known; the message lists the known ones.

    A ``KeyError`` too (lookups by name raised ``KeyError`` before), but printed as plain
    text rather than ``KeyError``'s quoted repr.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DatasetError(GDLError, RuntimeError):
    """A dataset problem a person can act on (the message says what to do)."""


class MissingDatasetError(DatasetError, FileNotFoundError):
    """The dataset is not on disk; the message names ``gdl data download NAME``."""

    def __init__(self, name: str, where: Path, detail: str = ""):
        self.name, self.where = name, where
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"dataset {name!r} not found at {where}{extra}. "
            f"Download it with: gdl data download {name}  "
            f"(or set GDL_DATA_DIR to the folder that holds it)"
        )

    def __reduce__(self):  # picklable (Ray / multiprocessing workers re-raise it)
        return type(self), (self.name, self.where)


class RunError(GDLError, RuntimeError):
    """A run folder or saved model is not what the command needs (e.g. a finished run
    without ``--resume``/``--overwrite``, or no ``model.keras`` to sample from)."""


class TrainingInterrupted(GDLError, KeyboardInterrupt):
    """Ctrl-C stopped training after a checkpoint of the current step was saved; the
    message says how to resume. A ``KeyboardInterrupt`` too, so code that stops on Ctrl-C
    still stops; the ``gdl`` command exits with status 130."""
