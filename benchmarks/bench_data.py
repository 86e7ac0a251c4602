"""Load times of the embedded datasets (no download): digits, moons, music21_chorales.

"cold" is a fresh Python process (imports included; for music21_chorales an empty
conversion cache, i.e. parsing every chorale of music21's corpus); "cached" is a
fresh process once the cache exists; "warm" repeats the call inside one process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import benchmark, timeit

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from gdl.data import load
t1 = time.perf_counter()
out = load(sys.argv[1], **json.loads(sys.argv[2]))
t2 = time.perf_counter()
n = sum(len(v) for v in out.values()) if isinstance(out, dict) else len(out)
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "items": n}))
"""


def _fresh(name: str, cache: str, **kw) -> dict:
    env = dict(os.environ, GDL_CACHE_DIR=cache, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    res = subprocess.run(
        [sys.executable, "-c", _CHILD, name, json.dumps(kw)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


@benchmark
def embedded_load():
    from gdl.data import load

    rows = {}
    with tempfile.TemporaryDirectory() as cache:
        for name, kw in (("digits", {"size": 32}), ("moons", {})):
            cold = _fresh(name, cache, **kw)
            rows[f"{name}: cold, fresh process (s)"] = round(cold["load_s"], 3)
            rows[f"{name}: warm, same process (s)"] = round(
                timeit(lambda n=name, k=kw: load(n, **k), repeat=5)["median_s"], 4
            )
        small = _fresh("music21_chorales", cache, limit=8)
        rows["music21_chorales limit=8: cold, empty cache (s)"] = round(small["load_s"], 2)
        cold = _fresh("music21_chorales", cache)
        rows["music21_chorales all: cold, 8 cached + rest parsed (s)"] = round(cold["load_s"], 1)
        rows["music21_chorales: chorales kept (4 voices)"] = cold["items"]
        cached = _fresh("music21_chorales", cache)
        rows["music21_chorales all: cached, fresh process (s)"] = round(cached["load_s"], 3)
        os.environ["GDL_CACHE_DIR"], old = cache, os.environ.get("GDL_CACHE_DIR")
        try:
            rows["music21_chorales all: cached, same process (s)"] = round(
                timeit(lambda: load("music21_chorales"), repeat=3)["median_s"], 3
            )
        finally:
            if old is None:
                os.environ.pop("GDL_CACHE_DIR")
            else:
                os.environ["GDL_CACHE_DIR"] = old
    return rows
