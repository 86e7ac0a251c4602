"""The recipe registry: one place where each model family tells the CLI how to train it.

A *recipe* bundles what ``gdl train NAME`` and ``gdl sample NAME`` need for one
book example: its book-default epochs and batch size, how to load its data (book
dataset by default, ``--data`` to pick another, embedded data in smoke mode), how to
build and compile the model, and how to write samples. Recipes are thin adapters from
command-line arguments to library calls: the data and figures come from :mod:`gdl.book`
(what the notebooks call), the models from :mod:`gdl.models`, and ``model.compile()``
uses the book's optimizer, which lives on the model class
(:mod:`gdl.models.optimizers`). So the CLI and the chapters cannot drift apart.

Add a family by writing ``gdl/cli/recipes/<family>.py`` with classes decorated by
:func:`register`; the registry discovers the module on its own.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


def _number(kind, low, low_inclusive=True, high=None):
    """An argparse type: ``kind`` (int/float) in ``[low, high]`` (``(low, high]`` when
    ``low_inclusive`` is false), so ``--epochs 0`` is refused at the edge."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value != value or (value < low if low_inclusive else value <= low) or (
            high is not None and value > high
        ):
            lo = f">= {low}" if low_inclusive else f"> {low}"
            hi = f" and <= {high}" if high is not None else ""
            raise argparse.ArgumentTypeError(f"must be {lo}{hi}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


positive_int = _number(int, 1)
positive_float = _number(float, 0.0, low_inclusive=False)
non_negative_float = _number(float, 0.0)
probability = _number(float, 0.0, low_inclusive=False, high=1.0)


_RECIPES: dict[str, type[Recipe]] = {}


@dataclass
class TrainData:
    """What a recipe's ``load_data`` returns and ``Model.fit`` consumes.

    ``x`` is a NumPy array or a batched ``tf.data.Dataset``; ``y`` the targets
    (``None`` for self-supervised models or datasets yielding pairs);
    ``batch_size`` is passed to ``fit`` only for arrays; ``steps_per_epoch`` (unless
    ``--steps-per-epoch`` is given) shortens an epoch. ``info`` carries anything
    the model or the sampler needs (vocabularies, class names, image shape ...).
    """

    x: Any
    y: Any = None
    validation: Any = None
    batch_size: int | None = None
    info: dict = field(default_factory=dict)
    steps_per_epoch: int | None = None


class Recipe:
    """Base class of a CLI recipe. Subclasses set the class attributes and override
    :meth:`load_data`, :meth:`build` and :meth:`sample`."""

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    chapter: ClassVar[str] = ""
    epochs: ClassVar[int] = 1
    batch_size: ClassVar[int] = 32
    smoke_epochs: ClassVar[int] = 1
    default_data: ClassVar[str | None] = None
    smoke_data: ClassVar[str | None] = None
    sample_suffix: ClassVar[str] = ".png"

    # -- CLI --------------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add recipe-specific options to ``gdl train NAME``/``gdl sample NAME``."""

    # -- training ---------------------------------------------------------
    def data_name(self, args: argparse.Namespace) -> str | None:
        """The dataset this run trains on (``--data``, else the smoke or book default)."""
        from gdl.config import smoke_mode

        return getattr(args, "data", None) or (
            self.smoke_data if smoke_mode() and self.smoke_data else self.default_data
        )

    def reader(self, args: argparse.Namespace) -> dict:
        """The sizes for an embedded dataset (:mod:`gdl.book.reader_budget`); ``{}`` keeps
        the book's."""
        from gdl.book.reader_budget import reader_settings

        return reader_settings(self.name, self.data_name(args))

    def default_epochs(self, args: argparse.Namespace) -> int:
        """Epochs when ``--epochs`` is not given: the book's, or the embedded set's."""
        return int(self.reader(args).get("epochs", self.epochs))

    def load_data(self, args: argparse.Namespace) -> TrainData:  # pragma: no cover - abstract
        raise NotImplementedError

    def build(self, args: argparse.Namespace, data: TrainData):  # pragma: no cover - abstract
        """Return a built and compiled ``keras.Model``."""
        raise NotImplementedError

    def callbacks(self, args: argparse.Namespace, data: TrainData, run_dir: Path) -> list:
        """Extra Keras callbacks for this recipe (the trainer adds checkpoints, logs, samples)."""
        return []

    def after_fit(self, model, args: argparse.Namespace, data: TrainData) -> None:
        """Work on the trained model before ``gdl train`` saves it (e.g. the VAE's latent
        mixture). Default: nothing."""

    # -- sampling ---------------------------------------------------------
    def sample(
        self, model, args: argparse.Namespace, out: Path, info: dict
    ) -> list[Path]:  # pragma: no cover
        """Write samples of ``model`` to ``out`` (PNG grid, text, MIDI ...); return the paths."""
        raise NotImplementedError

    def sample_info(self, args: argparse.Namespace) -> dict:
        """What :meth:`sample` needs besides the model when called by ``gdl sample``
        (e.g. test images, a vocabulary not stored in the model). Default: nothing."""
        return {}

    def epoch_sample(self, model, out: Path, info: dict) -> list[Path]:
        """Per-epoch sample written by ``gdl train`` (defaults to :meth:`sample`)."""
        return self.sample(model, argparse.Namespace(num=None, seed=0), out, info)


def register(cls: type[Recipe]) -> type[Recipe]:
    """Class decorator adding a recipe to the registry under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _RECIPES and _RECIPES[cls.name] is not cls:
        raise ValueError(f"recipe {cls.name!r} registered twice")
    _RECIPES[cls.name] = cls
    return cls


def _discover() -> None:
    import gdl.cli.recipes as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name != "base":
            importlib.import_module(f"gdl.cli.recipes.{mod.name}")


def all_recipes() -> dict[str, type[Recipe]]:
    """Every registered recipe, by name (imports the recipe modules on first use)."""
    _discover()
    return dict(sorted(_RECIPES.items()))


def get_recipe(name: str) -> Recipe:
    recipes = all_recipes()
    if name not in recipes:
        from gdl.errors import UnknownNameError

        raise UnknownNameError(f"unknown model {name!r}; choose one of: {', '.join(recipes)}")
    return recipes[name]()
