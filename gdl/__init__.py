"""gdl: a Keras 3 companion library for *Generative Deep Learning* (2nd ed., D. Foster).

Layers live in :mod:`gdl.layers`, models with their own training logic in
:mod:`gdl.models`, World Models in :mod:`gdl.world_models`, datasets in :mod:`gdl.data`;
:mod:`gdl.plotting`, :mod:`gdl.callbacks` and :mod:`gdl.metrics` hold what a reader
looks at; :mod:`gdl.book` the data preparation and figures each chapter's notebook calls;
:mod:`gdl.errors` the exception types (:class:`gdl.errors.GDLError` and its subclasses,
each message naming the fix). The ``gdl`` command line (:mod:`gdl.cli`) trains and samples the same models
headless. Subpackages are imported on first use (``gdl.models.VAE`` works after a bare
``import gdl``).

Loading ``.keras`` files
------------------------
``import gdl`` is all a fresh process needs before ``keras.saving.load_model``: every
gdl layer and model is registered with Keras' serialization. ``import gdl`` itself does
not import Keras (it stays fast, and the CMA-ES workers of World Models never load a deep
learning framework): when Keras is already imported the classes are registered at once,
otherwise as soon as ``keras`` finishes importing (an import hook). The gdl modules
themselves are imported the first time Keras looks up a ``gdl>`` class name (or by
:func:`register_keras_objects`), so ``import keras`` stays as fast as without gdl.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

from gdl.config import data_dir, pick, runs_dir, smoke_mode

__version__ = "0.1.0"

_SUBPACKAGES = ("book", "callbacks", "cli", "data", "distribute", "errors", "layers",
                "metrics", "models", "music", "plotting", "world_models")  # fmt: skip

# Every module (or lazily exporting package) that defines ``register_keras_serializable``
# classes; names that do not exist are skipped.
KERAS_MODULES = (
    "gdl.layers",
    "gdl.models",
    "gdl.world_models.vae",
    "gdl.world_models.mdn_rnn",
    "gdl.metrics",
    "gdl.preprocessing",
)

_registered = False


def register_keras_objects() -> None:
    """Import every gdl module that registers Keras classes (idempotent).

    Runs by itself the first time Keras looks up a ``gdl>`` name; call it directly to
    register eagerly (e.g. before listing ``keras.saving.get_custom_objects()``).
    """
    global _registered
    if _registered:
        return
    _registered = True
    failed = []
    for name in KERAS_MODULES:
        try:
            if importlib.util.find_spec(name) is None:
                continue
            module = importlib.import_module(name)
            for attr in getattr(module, "__all__", ()):
                getattr(module, attr)  # lazy exports: touching a name imports its module
        except Exception as exc:  # report, register the rest
            failed.append(f"{name} ({type(exc).__name__}: {exc})")
    if failed:
        warnings.warn(
            "gdl could not register the Keras classes of " + "; ".join(failed),
            RuntimeWarning,
            stacklevel=2,
        )


class _LazyRegistry(dict):
    """Keras' global custom-object table; looking up a ``gdl>`` name registers gdl first.

    Deferring the imports to the first lookup means no gdl module is ever imported while
    another one is half-initialised (``from gdl.models.vae import VAE`` imports Keras from
    inside ``gdl.models.vae``).
    """

    def _wants(self, key) -> bool:
        if not _registered and isinstance(key, str) and key.startswith("gdl>"):
            register_keras_objects()
        return True

    def __contains__(self, key):
        return self._wants(key) and dict.__contains__(self, key)

    def __getitem__(self, key):
        self._wants(key)
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        self._wants(key)
        return dict.get(self, key, default)


def _install_registry() -> None:
    """Swap Keras' custom-object table for a :class:`_LazyRegistry` (Keras is imported)."""
    try:
        from keras.src.saving import object_registration as registry
    except ImportError:  # a Keras without this module: register eagerly instead
        register_keras_objects()
        return
    if not isinstance(registry.GLOBAL_CUSTOM_OBJECTS, _LazyRegistry):
        registry.GLOBAL_CUSTOM_OBJECTS = _LazyRegistry(registry.GLOBAL_CUSTOM_OBJECTS)


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    """Meta-path finder: lets ``keras`` import normally, then installs the registry.

    It stays on ``sys.meta_path`` until Keras has really been executed: TensorFlow's import
    asks ``importlib.util.find_spec("keras")`` without importing it, and a one-shot
    finder spent on that question left ``import gdl; import tensorflow`` unregistered.
    """

    _busy = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" or self._busy:
            return None
        self._busy = True  # the lookup below walks sys.meta_path, this finder included
        try:
            spec = importlib.util.find_spec("keras")
        finally:
            self._busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_keras = spec.loader.exec_module

        def exec_module(module):
            exec_keras(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            _install_registry()

        spec.loader.exec_module = exec_module
        return spec


def _install_registration() -> None:
    if "keras" in sys.modules:
        _install_registry()
    elif not any(isinstance(f, _AfterKerasImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasImport())


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"gdl.{name}")
    raise AttributeError(f"module 'gdl' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES))


__all__ = [
    "__version__",
    "data_dir",
    "pick",
    "register_keras_objects",
    "runs_dir",
    "smoke_mode",
]

_install_registration()
