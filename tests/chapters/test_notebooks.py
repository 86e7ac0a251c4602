"""Execute every chapter notebook top to bottom in smoke mode.

Smoke mode is chosen from outside the notebook (``GDL_SMOKE=1``) and the datasets are
tiny fixtures in the real on-disk formats (``GDL_DATA_DIR``), so each notebook runs the
same code a reader runs, just with fewer epochs and images. A failing cell fails the
test and the message names the notebook and the cell.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(
    p for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)


def execute_notebook(path: Path, workdir: Path, timeout: int = 600) -> None:
    """Run ``path`` in a fresh kernel with ``workdir`` as its working directory."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        index = next(
            (i for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.get("outputs", []))),
            "?",
        )
        rel = path.relative_to(ROOT)
        raise AssertionError(f"{rel}: cell {index} failed:\n{exc}") from None


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT / "chapters")) for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_mode(path, fixture_data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("GDL_SMOKE", "1")
    monkeypatch.setenv("GDL_DATA_DIR", str(fixture_data_dir))
    monkeypatch.setenv("GDL_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    execute_notebook(path, tmp_path)


# the switch a CPU reader flips: `DATA = "<book's dataset>"  # or "digits" (embedded ...)`
DATA_SWITCH = re.compile(r'^DATA = "\w+"(?=\s*#.*"digits")', re.M)


def _has_digits_route(path: Path) -> bool:
    import json

    cells = json.loads(path.read_text())["cells"]
    return any(c["cell_type"] == "code" and DATA_SWITCH.search("".join(c["source"])) for c in cells)


DIGITS_ROUTES = [p for p in NOTEBOOKS if _has_digits_route(p)]


@pytest.mark.notebook
@pytest.mark.parametrize("path", DIGITS_ROUTES, ids=[str(p.relative_to(ROOT / "chapters")) for p in DIGITS_ROUTES])
def test_notebook_digits_route_runs_offline(path, tmp_path, monkeypatch):
    """The same notebook with ``DATA = "digits"``, in smoke mode, with an empty data folder:
    the CPU reader's route needs no download and reaches the last cell."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    switched = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source, n = DATA_SWITCH.subn('DATA = "digits"', cell.source)
            switched += n
    assert switched == 1, f"{path.name}: expected one DATA switch, found {switched}"
    copy = tmp_path / path.name
    nbformat.write(nb, copy)
    empty = tmp_path / "no_data"
    empty.mkdir()
    monkeypatch.setenv("GDL_SMOKE", "1")
    monkeypatch.setenv("GDL_DATA_DIR", str(empty))
    monkeypatch.setenv("GDL_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    execute_notebook(copy, tmp_path)
    assert not any(empty.iterdir()), "the digits route wrote into the data folder"


def test_notebooks_are_stored_without_outputs():
    import nbformat

    dirty = []
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        if any(c.cell_type == "code" and (c.get("outputs") or c.get("execution_count")) for c in nb.cells):
            dirty.append(str(path.relative_to(ROOT)))
    assert not dirty, f"strip outputs from: {dirty}"


def test_notebooks_say_how_to_switch_backend_and_keep_tensorflow():
    """The intro cell tells a reader how to run on JAX or PyTorch; no cell changes the
    default backend (TensorFlow, the book's)."""
    import nbformat

    missing, switching = [], []
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        intro = next(c for c in nb.cells if c.cell_type == "markdown")
        if "KERAS_BACKEND=jax" not in intro.source or "os.environ" not in intro.source:
            missing.append(str(path.relative_to(ROOT)))
        if any(c.cell_type == "code" and "KERAS_BACKEND" in c.source for c in nb.cells):
            switching.append(str(path.relative_to(ROOT)))
    assert not missing, f"add the backend line to the intro cell of: {missing}"
    assert not switching, f"notebooks must not set the backend in code: {switching}"


EXPECTED_TITLE = "What this run should show"
TRAINS = re.compile(r"\.fit\(|\btrain_\w*\(")  # keras fit, or a gdl stage: train_vae(...)
CITED = re.compile(r"benchmarks/results/[\w.\-]+\.json")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT / "chapters")) for p in NOTEBOOKS])
def test_notebook_says_what_a_run_should_show(path):
    """Every notebook has a markdown cell "What this run should show" (issue 20): in a
    notebook that trains it follows the first training cell and cites the benchmark
    result(s) its numbers come from, and every result it cites is in benchmarks/results/."""
    import nbformat

    cells = nbformat.read(path, as_version=4).cells
    expected = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and EXPECTED_TITLE in c.source]
    assert expected, f"{path.name}: add a markdown cell '### {EXPECTED_TITLE} (expected results)'"
    cited = {m for i in expected for m in CITED.findall(cells[i].source)}
    training = [i for i, c in enumerate(cells) if c.cell_type == "code" and TRAINS.search(c.source)]
    if training:
        assert max(expected) > training[0], f"{path.name}: the expected results belong after training"
        assert cited, f"{path.name}: cite the benchmarks/results/*.json behind the numbers"
    missing = sorted(c for c in cited if not (ROOT / c).is_file())
    assert not missing, f"{path.name} cites results that do not exist: {missing}"
