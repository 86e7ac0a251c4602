"""The chapter notebooks as a CPU reader runs them: each executed top to bottom in a fresh
kernel, **not** in smoke mode (their own parameters: the embedded data and the CPU route),
so the numbers a notebook's "What this run should show" cell quotes come from the
notebook's own code. Runs go to a temporary ``GDL_RUNS_DIR`` (no resume from an earlier
run), the working directory is temporary too.

Rows: the wall time of every code cell, the lines it printed (stdout and the cell's value;
progress bars and warnings dropped, the last 1,500 characters kept), the whole
notebook's wall time and the load average (1 min) before and after: on a shared machine
wall times are indicative only. Of the images, only the last per-epoch sample grid the
notebook's ``NotebookRun`` wrote is kept (``notebooks.<name>.last_sample.png``).

``python -m benchmarks notebooks.10_advanced_gans`` runs one chapter's,
``notebooks.10_advanced_gans.01_progan`` one notebook.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks.harness import _BENCHMARKS, RESULTS

ROOT = Path(__file__).resolve().parents[1]
#: the notebooks whose expected-results cells quote this benchmark
NOTEBOOKS = (
    "10_advanced_gans/01_progan",
    "10_advanced_gans/02_stylegan2",
    "10_advanced_gans/03_sagan",
    "10_advanced_gans/04_vqgan",
    "13_multimodal/03_prior_variations",
)
_KEEP = 1500
_NOISE = re.compile(  # progress bars, epoch headers, warnings, figure/object reprs, blanks
    r"━|\x08|^Epoch \d+/\d+$|\x1b\[|^\s*\d+/\d+ \[|WARNING|warnings\.warn|UserWarning"
    r"|^<(Figure|keras\.)|^\s*$"
)


def _text(cell) -> list[str]:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            parts.append(out.get("text", ""))
        elif out.get("output_type") == "execute_result":
            parts.append(out.get("data", {}).get("text/plain", ""))
    lines = []
    for line in "".join(parts).replace("\r", "\n").split("\n"):
        if not _NOISE.search(line):
            lines.append(line.rstrip())
    text = "\n".join(lines)
    text = text if len(text) <= _KEEP else "..." + text[-_KEEP:]
    return text.split("\n") if text else []


def _seconds(cell) -> float | None:
    ex = cell.get("metadata", {}).get("execution", {})
    start, end = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def run_notebook(name: str, timeout: int = 3600, smoke: bool = False) -> dict:
    """Execute ``chapters/<name>.ipynb`` (CPU route, fresh kernel; ``smoke`` only to check
    this benchmark itself); the rows above."""
    import nbformat
    from nbclient import NotebookClient

    path = ROOT / "chapters" / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    env = {k: os.environ.get(k) for k in ("GDL_SMOKE", "GDL_RUNS_DIR", "PYTHONPATH", "MPLBACKEND")}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.pop("GDL_SMOKE", None)
        if smoke:
            os.environ["GDL_SMOKE"] = "1"
        os.environ["GDL_RUNS_DIR"] = str(Path(tmp) / "runs")
        os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), env["PYTHONPATH"] or ""])
        os.environ["MPLBACKEND"] = "Agg"
        rows = {"notebook": f"chapters/{name}.ipynb", "smoke": smoke,
                "load average (1 min) before": os.getloadavg()[0]}  # fmt: skip
        t0 = time.perf_counter()
        try:
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": tmp}}).execute()  # fmt: skip
        finally:
            for k, v in env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        rows["notebook wall (s)"] = time.perf_counter() - t0
        rows["load average (1 min) after"] = os.getloadavg()[0]
        samples = sorted((Path(tmp) / "runs").glob("**/samples/*.png"))
        if samples:  # the last per-epoch sample grid NotebookRun wrote
            target = RESULTS / f"notebooks.{name.replace('/', '.')}.last_sample.png"
            shutil.copyfile(samples[-1], target)
            rows["last per-epoch sample"] = f"{target.name} ({samples[-1].name})"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        seconds = _seconds(cell)
        if seconds is not None:
            rows[f"cell {i}: wall (s)"] = seconds
        text = _text(cell)
        if text:
            rows[f"cell {i}: output"] = text
    return rows


def _register(name: str) -> None:
    key = "notebooks." + name.replace("/", ".")
    _BENCHMARKS[key] = lambda: run_notebook(name)


for _name in NOTEBOOKS:
    _register(_name)
