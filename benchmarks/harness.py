"""A small timing harness: median of N timed calls after warm-up, in one process.

Each ``benchmarks/bench_<family>.py`` defines functions decorated with
:func:`benchmark`; ``python -m benchmarks [NAME ...]`` runs them and writes
``benchmarks/results/<name>.json`` and a markdown table ``benchmarks/results/README.md``.
A benchmark returns a dict of rows ``{label: value}``; use :func:`timeit` for timings.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
_BENCHMARKS: dict[str, Callable[[], dict]] = {}


def benchmark(fn: Callable[[], dict]) -> Callable[[], dict]:
    """Register ``fn`` under its module-qualified name (``family.fn_name``)."""
    family = fn.__module__.rsplit(".", 1)[-1].removeprefix("bench_")
    _BENCHMARKS[f"{family}.{fn.__name__}"] = fn
    return fn


def timeit(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> dict:
    """Median/min wall time in seconds of ``fn()`` over ``repeat`` calls after ``warmup``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "repeat": repeat}


def alternate(paths: dict, repeat: int = 3) -> tuple[dict, dict]:
    """Time each ``paths[name]()`` ``repeat`` times, alternating the paths in every round
    (so a load change on a shared machine hits all of them alike). Every path is called
    once first (compilation). Returns ``(median seconds, last result)`` per path."""
    results = {name: fn() for name, fn in paths.items()}
    times = {name: [] for name in paths}
    for _ in range(repeat):
        for name, fn in paths.items():
            t0 = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}, results


def cached_vs_full(model, cached: str, batches=((1, 3), (16, 2)), tag="", **kw) -> dict:
    """Rows comparing ``model.generate([2, 3], use_cache=True/False, ...)`` at 200 new
    tokens (``max_tokens=202``, alternating, same seed) for each ``(batch, repeat)``;
    ``cached`` names the cached path in the labels, ``tag`` follows the batch size."""
    rows = {}
    for b, repeat in batches:
        batch = f"{b}{tag}"
        args = dict(max_tokens=202, num=b, stop_at_end=False, seed=0, **kw)
        paths = {
            c: (lambda c=c, a=args: model.generate([2, 3], use_cache=c, **a).tokens)
            for c in (True, False)
        }
        med, out = alternate(paths, repeat)
        rows[f"batch {batch}: {cached}, 200 tokens (s)"] = med[True]
        rows[f"batch {batch}: full re-run (compiled, fixed buffer), 200 tokens (s)"] = med[False]
        rows[f"batch {batch}: speed-up {cached} vs full re-run"] = med[False] / med[True]
        rows[f"batch {batch}: identical tokens"] = bool((out[True] == out[False]).all())
    return rows


def discover() -> dict[str, Callable[[], dict]]:
    import benchmarks

    for mod in pkgutil.iter_modules(benchmarks.__path__):
        if mod.name.startswith("bench_"):
            importlib.import_module(f"benchmarks.{mod.name}")
    return dict(sorted(_BENCHMARKS.items()))


def machine() -> dict:
    import os

    info = {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
    }
    try:
        import keras

        info["keras"] = keras.__version__
        info["backend"] = keras.config.backend()
    except Exception:  # pragma: no cover
        pass
    return info


def run(names: list[str] | None = None) -> dict:
    found = discover()
    selected = {
        k: v
        for k, v in found.items()
        if not names or any(k == n or k.startswith(n + ".") for n in names)
    }
    if names and not selected:
        raise SystemExit(f"no benchmark matches {names}; known: {', '.join(found)}")
    RESULTS.mkdir(exist_ok=True)
    out = {}
    for name, fn in selected.items():
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        rows = fn()
        record = {"name": name, "rows": rows, "wall_s": time.perf_counter() - t0, "machine": machine(),
                  "date": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
        (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2, default=float))
        for k, v in rows.items():
            print(f"   {k}: {v}")
        out[name] = record
    write_markdown()
    return out


def write_markdown() -> Path:
    """Rebuild ``results/README.md`` from every stored JSON result."""
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m benchmarks`; one section per benchmark.",
        "",
    ]
    for path in sorted(RESULTS.glob("*.json")):
        rec = json.loads(path.read_text())
        m = rec.get("machine", {})
        lines += [f"## {rec['name']}", "", f"{rec['date']}, {m.get('cpu_count')} CPUs, keras {m.get('keras')} "
                  f"({m.get('backend')})", "", "| measure | value |", "|---|---|"]  # fmt: skip
        for k, v in rec["rows"].items():
            lines.append(f"| {k} | {_fmt(v)} |")
        lines.append("")
    path = RESULTS / "README.md"
    path.write_text("\n".join(lines))
    return path


def _fmt(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
