"""Lazy exports for gdl's packages: a public name loads its submodule on first use, so
``import gdl.layers`` (or ``gdl.models``, ``gdl.data`` ...) stays fast and framework-free."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, exports: dict[str, str], namespace: dict):
    """``(__getattr__, __dir__)`` for ``package``, whose public names live in submodules:
    ``exports`` maps each name to its submodule; a resolved name is kept in ``namespace``
    (the package's ``globals()``), so the lookup runs once."""

    def __getattr__(name):
        if name in exports:
            value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
