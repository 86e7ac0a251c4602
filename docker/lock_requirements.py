"""Write the images' lock files, ``docker/requirements-{cpu,gpu}.txt``, from ``pyproject.toml``.

    python docker/lock_requirements.py           # re-resolve against PyPI, rewrite both files
    python docker/lock_requirements.py --check   # offline: do the lock files still satisfy
                                                 # pyproject.toml? (tests/test_docker.py runs it)
    python docker/lock_requirements.py --verify gpu  # does pip, asked for the GPU image's
                                                 # requirements with the lock as constraints,
                                                 # resolve to exactly the lock? (test-image.sh)
    python docker/lock_requirements.py --sizes   # also print each set's wheel sizes (HTTP)

Each lock file is the *complete* dependency set of one image, every package pinned to one
version with the sha256 of the file pip picked, so ``pip install --require-hashes --no-deps
-r`` installs exactly the same thing on every build (a new release on PyPI changes nothing
until someone re-runs this script and commits the result). Re-run it after editing the
dependencies in ``pyproject.toml``; ``--check`` fails until you do.

The requirement set is ``pyproject.toml``'s dependencies plus the ``lab`` and ``kaggle``
extras (``docker/pyproject_requirements.py`` reads it), with TensorFlow swapped per image:

- **cpu**: ``tensorflow-cpu`` with pyproject's own specifier. It is the same TensorFlow
  built without CUDA, so no CUDA library is probed at import (no ``cuInit`` error in
  notebook cells). ``tf-keras`` and gdl name ``tensorflow`` as a requirement, which pip would
  satisfy by installing the CUDA-enabled ``tensorflow`` *as well*, over the same files; the
  lock drops ``tensorflow`` (tensorflow-cpu provides the same ``tensorflow`` package), and
  the Dockerfile installs with ``--no-deps``.
- **gpu**: ``tensorflow[and-cuda]``, whose extra pins the CUDA wheels built for that
  TensorFlow.

Resolution runs pip (``pip install --dry-run --ignore-installed --report``) in isolated mode
against PyPI only, so a local pip configuration (mirrors, constraints) cannot leak into the
lock; wheels only, with Requires-Python checked for ``PYTHON_FLOOR``. It must run on what
the images run: Linux x86-64, CPython of the base image's minor version (pip evaluates
markers and wheel tags for the running interpreter).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXTRAS = ["lab", "kaggle"]
VARIANTS = ("cpu", "gpu")
PYTHON = (3, 11)  # the base image's CPython minor (docker/Dockerfile: python:3.11-slim-bookworm)
# Requires-Python is checked against the oldest 3.11 the images may run: Debian bookworm's own
# python3 (3.11.2), which docker/test-image.sh's stand-in base has; python:3.11-slim-bookworm
# has a newer 3.11.x. Locking for the running interpreter's patch release instead picked
# soupsieve 4.1.3 (Requires-Python >= 3.11.5), which then did not install on 3.11.2.
PYTHON_FLOOR = "3.11.2"


def lock_path(variant: str) -> Path:
    return HERE / f"requirements-{variant}.txt"


def _helper():
    spec = importlib.util.spec_from_file_location(
        "pyproject_requirements", HERE / "pyproject_requirements.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wanted(variant: str, pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The top-level requirements of one image, TensorFlow swapped for that image."""
    helper = _helper()
    if variant == "gpu":
        return helper.requirements(pyproject, EXTRAS, cuda=True)
    reqs = helper.requirements(pyproject, EXTRAS)
    out = []
    for r in reqs:
        m = helper._NAME.match(r)
        out.append(
            "tensorflow-cpu" + r[m.end(1) :] if _canonical(m.group(1)) == "tensorflow" else r
        )
    return out


def resolve(requirements: list[str], constraints: list[str] = ()) -> list[dict]:
    """pip's resolution of ``requirements`` against PyPI: [{name, version, sha256, url}]."""
    with tempfile.TemporaryDirectory() as tmp:
        reqs, report = Path(tmp) / "requirements.in", Path(tmp) / "report.json"
        reqs.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        (Path(tmp) / "constraints.txt").write_text("\n".join(constraints) + "\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull
        cert = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
        cmd = [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run",
               "--ignore-installed", "--quiet", "--disable-pip-version-check",
               "--index-url", "https://pypi.org/simple", "--report", str(report),
               "--python-version", PYTHON_FLOOR, "--only-binary", ":all:",
               "-r", str(reqs), "-c", str(Path(tmp) / "constraints.txt")]  # fmt: skip
        if cert:
            cmd[4:4] = ["--cert", cert]
        subprocess.run(cmd, check=True, env=env)
        data = json.loads(report.read_text(encoding="utf-8"))
    out = []
    for item in data["install"]:
        hashes = item["download_info"].get("archive_info", {}).get("hashes", {})
        out.append(
            {
                "name": item["metadata"]["name"],
                "version": item["metadata"]["version"],
                "sha256": hashes.get("sha256"),
                "url": item["download_info"]["url"],
            }
        )
    return out


def render(variant: str, packages: list[dict]) -> str:
    lines = [
        f"# The {variant.upper()} image's complete dependency set; generated, do not edit.",
        "# Regenerate after changing pyproject.toml: python docker/lock_requirements.py",
        f"# From: {', '.join(wanted(variant))}",
    ]
    for p in sorted(packages, key=lambda p: _canonical(p["name"])):
        if not p["sha256"]:
            raise SystemExit(f"lock_requirements: no sha256 for {p['name']} ({p['url']})")
        lines.append(f"{_canonical(p['name'])}=={p['version']} \\\n    --hash=sha256:{p['sha256']}")
    return "\n".join(lines) + "\n"


def read_lock(path: Path) -> dict[str, str]:
    """{canonical name: version} of a lock file."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if m:
            pins[_canonical(m.group(1))] = m.group(2)
    return pins


def problems(variant: str, pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """Why the lock file no longer fits pyproject.toml (empty when it fits). Offline."""
    from packaging.requirements import Requirement

    path = lock_path(variant)
    if not path.is_file():
        return [f"{path.name} is missing"]
    pins = read_lock(path)
    out = []
    for text in wanted(variant, pyproject):
        req = Requirement(text)
        version = pins.get(_canonical(req.name))
        if version is None:
            out.append(f"{path.name}: {req.name} is not locked (wanted {text})")
        elif not req.specifier.contains(version, prereleases=True):
            out.append(f"{path.name}: {req.name}=={version} does not satisfy {text}")
    if variant == "cpu" and "tensorflow" in pins:
        out.append(f"{path.name}: locks tensorflow beside tensorflow-cpu")
    if variant == "gpu" and not any(n.startswith("nvidia-") for n in pins):
        out.append(f"{path.name}: no CUDA wheels (nvidia-*) in the GPU set")
    return out


def verify(variant: str) -> list[str]:
    """Resolve the image's requirements against PyPI with the lock's pins as constraints:
    the problems when pip cannot, or when its set differs from the lock (empty: it fits)."""
    pins = read_lock(lock_path(variant))
    try:
        got = resolve(wanted(variant), [f"{n}=={v}" for n, v in sorted(pins.items())])
    except subprocess.CalledProcessError as exc:
        return [f"pip cannot install {lock_path(variant).name} as locked (exit {exc.returncode})"]
    resolved = {_canonical(p["name"]): p["version"] for p in got}
    if variant == "cpu":
        resolved.pop("tensorflow", None)
    return [
        f"{lock_path(variant).name}: {n} locked {pins.get(n)}, resolves to {resolved.get(n)}"
        for n in sorted(set(pins) | set(resolved))
        if pins.get(n) != resolved.get(n)
    ]


def _wheel_sizes(packages: list[dict]) -> tuple[int, int]:
    """(download bytes, unpacked bytes) of the picked files, read over HTTP range requests."""
    import io
    import urllib.request
    import zipfile

    class Remote(io.RawIOBase):
        def __init__(self, url):
            self.url, self.pos = url, 0
            head = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(head, timeout=60) as r:
                self.size = int(r.headers["Content-Length"])

        def seekable(self):
            return True

        def readable(self):
            return True

        def seek(self, offset, whence=0):
            self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
            return self.pos

        def tell(self):
            return self.pos

        def readinto(self, buf):
            end = min(self.pos + len(buf), self.size) - 1
            if end < self.pos:
                return 0
            req = urllib.request.Request(self.url, headers={"Range": f"bytes={self.pos}-{end}"})
            with urllib.request.urlopen(req, timeout=60) as r:
                data = r.read()
            buf[: len(data)] = data
            self.pos += len(data)
            return len(data)

    download = unpacked = 0
    for p in packages:
        remote = Remote(p["url"])
        download += remote.size
        if p["url"].endswith(".whl"):
            with zipfile.ZipFile(io.BufferedReader(remote, 1 << 16)) as z:
                unpacked += sum(i.file_size for i in z.infolist())
    return download, unpacked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="offline check against pyproject")
    parser.add_argument("--verify", action="store_true", help="re-resolve with the lock (network)")
    parser.add_argument("--sizes", action="store_true", help="print wheel sizes (network)")
    parser.add_argument("variants", nargs="*", help="cpu, gpu (default: both)")
    args = parser.parse_args(argv)
    args.variants = args.variants or list(VARIANTS)
    if set(args.variants) - set(VARIANTS):
        parser.error(f"variants are {', '.join(VARIANTS)}")
    if args.check:
        found = [p for v in args.variants for p in problems(v)]
        for p in found:
            print(f"lock_requirements: {p}; run: python docker/lock_requirements.py", file=sys.stderr)
        return 1 if found else 0
    target = (sys.platform, platform.machine(), sys.version_info[:2])
    if target != ("linux", "x86_64", PYTHON):
        print(
            f"lock_requirements: run this on Linux x86-64 with CPython {PYTHON[0]}.{PYTHON[1]} "
            f"(what the images run), not {target}",
            file=sys.stderr,
        )
        return 1
    if args.verify:
        found = [p for v in args.variants for p in problems(v) + verify(v)]
        for p in found:
            print(f"lock_requirements: {p}", file=sys.stderr)
        if not found:
            print(f"lock_requirements: {', '.join(args.variants)}: resolves to exactly the lock")
        return 1 if found else 0
    for variant in args.variants:
        packages = resolve(wanted(variant))
        if variant == "cpu":
            packages = [p for p in packages if _canonical(p["name"]) != "tensorflow"]
        lock_path(variant).write_text(render(variant, packages), encoding="utf-8")
        print(f"{lock_path(variant).relative_to(ROOT)}: {len(packages)} packages")
        if args.sizes:
            download, unpacked = _wheel_sizes(packages)
            print(f"  wheels: {download / 1e9:.2f} GB download, {unpacked / 1e9:.2f} GB unpacked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
