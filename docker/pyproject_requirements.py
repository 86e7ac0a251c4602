"""Print gdl's requirements from ``pyproject.toml``, one per line, for ``pip install -r``.

``docker/lock_requirements.py`` starts from this list when it resolves the images' lock files
(``docker/requirements-{cpu,gpu}.txt``); ``pyproject.toml`` stays the one source of truth for
every requirement, and this script only reads it.

    python docker/pyproject_requirements.py pyproject.toml --extras lab,kaggle [--cuda]

``--cuda`` writes TensorFlow as ``tensorflow[and-cuda]`` with pyproject's own version
specifier (``tensorflow==2.21.*`` becomes ``tensorflow[and-cuda]==2.21.*``): TensorFlow's
``and-cuda`` extra pulls the CUDA and cuDNN wheels built for exactly that TensorFlow version.

Standard library only (``tomllib``, Python 3.11+): it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?(.*)$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _with_extra(requirement: str, extra: str) -> str:
    """Add ``extra`` to a requirement string, keeping its version specifier and marker."""
    m = _NAME.match(requirement)
    if m is None:
        raise ValueError(f"cannot parse requirement {requirement!r}")
    name, extras, rest = m.group(1), m.group(2), m.group(3)
    names = [e.strip() for e in extras[1:-1].split(",") if e.strip()] if extras else []
    if extra not in names:
        names.append(extra)
    return f"{name}[{','.join(names)}]{rest}"


def requirements(pyproject: str | Path, extras: list[str] = (), cuda: bool = False) -> list[str]:
    """Runtime dependencies plus the named optional extras of ``pyproject``, in file order.

    With ``cuda=True`` the ``tensorflow`` requirement gains the ``and-cuda`` extra. Raises
    ``ValueError`` for an unknown extra, or for ``cuda=True`` when pyproject has no
    ``tensorflow`` requirement (so a build fails instead of silently installing CPU TF).
    """
    project = tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]
    reqs = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise ValueError(
                f"pyproject.toml has no optional extra {extra!r} (it has: {', '.join(optional)})"
            )
        reqs += [r for r in optional[extra] if r not in reqs]
    if cuda:
        hits = [
            i for i, r in enumerate(reqs) if _normalise(_NAME.match(r).group(1)) == "tensorflow"
        ]
        if not hits:
            raise ValueError(
                "pyproject.toml lists no 'tensorflow' requirement to make CUDA-enabled"
            )
        for i in hits:
            reqs[i] = _with_extra(reqs[i], "and-cuda")
    return reqs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pyproject", help="path to pyproject.toml")
    parser.add_argument("--extras", default="", help="comma-separated optional extras")
    parser.add_argument("--cuda", action="store_true", help="tensorflow -> tensorflow[and-cuda]")
    args = parser.parse_args(argv)
    extras = [e.strip() for e in args.extras.split(",") if e.strip()]
    try:
        lines = requirements(args.pyproject, extras, cuda=args.cuda)
    except ValueError as exc:
        print(f"pyproject_requirements: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
