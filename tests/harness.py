"""What every public gdl layer and model must satisfy, on whichever Keras backend runs.

A :class:`Case` names one public class with a small configuration and a fixed input:

1. **build**: the object builds and its ``forward`` runs on the input;
2. **config**: ``type(obj).from_config(obj.get_config())`` gives the same config and, with
   the same weights, the same outputs;
3. **fresh process**: ``.keras`` save, then load in a *new* interpreter that imports
   ``gdl`` and nothing else from gdl, and identical outputs. :func:`save_for_fresh_process`
   writes the file, the inputs and the expected outputs of each case to one folder;
   :func:`check_in_fresh_process` then starts ONE interpreter that loads them all;
4. **fit** (models that train): a few ``fit`` steps on a fixed batch lower the loss.

``forward`` is a Python expression in ``m`` (the object) and ``x`` (the input), evaluated
with only ``keras`` and ``numpy`` in scope, so the fresh process needs nothing but the
``.keras`` file and ``import gdl`` (e.g. ``"m.encoder(x)[0]"``; default ``"m(x)"``;
``"m(*x)"`` for a layer whose call takes several tensors, e.g. ``(x, context)``).
Layers are saved inside a one-layer functional model, so loading them still needs gdl's
registration. Nothing here imports gdl or depends on a backend.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Case:
    """One public class through the harness.

    ``make()`` returns a built object (seeded); ``inputs()`` its fixed input (an array or
    a list/tuple of arrays); ``forward`` the deterministic expression compared across
    processes; ``fit`` returns ``(x, y)`` for :func:`check_fit` or is None (no training);
    ``compile`` returns the ``compile`` keyword arguments; ``metric`` is the history key
    that must go down; ``fit_backends`` restricts the fit check (TensorFlow-only steps).
    """

    name: str
    make: Callable
    inputs: Callable
    forward: str = "m(x)"
    fit: Callable | None = None
    compile: Callable = field(default=lambda: {"optimizer": keras.optimizers.Adam(1e-3)})
    metric: str = "loss"
    epochs: int = 5
    fit_backends: tuple = ("tensorflow", "jax", "torch")
    tol: float = 0.0

    def __str__(self):
        return self.name


# --------------------------------------------------------------------------- helpers
def flat_numpy(out) -> list[np.ndarray]:
    """Every leaf of a (nested) output as a NumPy array."""
    return [np.asarray(keras.ops.convert_to_numpy(t)) for t in keras.tree.flatten(out)]


def run_forward(obj, x, expression: str) -> list[np.ndarray]:
    return flat_numpy(eval(expression, {"keras": keras, "np": np}, {"m": obj, "x": x}))


def _as_input(x):
    return list(x) if isinstance(x, (list, tuple)) else x


def saveable(obj, x, unpack: bool = False):
    """``obj`` itself for a model; a one-layer functional model around a layer (called
    ``obj(*inputs)`` when ``unpack``: layers taking several tensor arguments)."""
    if isinstance(obj, keras.Model):
        return obj
    xs = x if isinstance(x, (list, tuple)) else [x]
    inputs = [keras.Input(shape=a.shape[1:], dtype=str(a.dtype)) for a in xs]
    if unpack:
        out = obj(*inputs)
    else:
        out = obj(inputs if isinstance(x, (list, tuple)) else inputs[0])
    return keras.Model(inputs, out)


def _assert_same(got, want, tol, what):
    assert len(got) == len(want), f"{what}: {len(got)} outputs, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"{what}: output {i} shape {g.shape} != {w.shape}"
        if tol:
            np.testing.assert_allclose(g, w, atol=tol, rtol=tol, err_msg=f"{what}: output {i}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{what}: output {i}")


# ----------------------------------------------------------------------------- checks
def check_build(case: Case):
    """Build the object and run ``forward`` on the input; returns ``(obj, x, outputs)``."""
    obj = case.make()
    x = _as_input(case.inputs())
    out = run_forward(obj, x, case.forward)
    assert obj.built, f"{case}: not built after a call"
    assert out and all(np.all(np.isfinite(o)) for o in out if o.dtype.kind == "f"), case
    return obj, x, out


def check_config_round_trip(case: Case, obj, x, expected):
    """``from_config(get_config())``: same config, and the same outputs with the same weights."""
    config = obj.get_config()
    clone = type(obj).from_config(copy.deepcopy(config))  # from_config may consume it
    assert type(clone) is type(obj)
    dump = lambda c: json.dumps(keras.saving.serialize_keras_object(c), sort_keys=True)  # noqa: E731
    assert dump(clone.get_config()) == dump(config), f"{case}: config changed in a round trip"
    if not clone.built:
        run_forward(clone, x, case.forward)
    clone.set_weights(obj.get_weights())
    _assert_same(run_forward(clone, x, case.forward), expected, case.tol or 1e-6, f"{case} clone")


def save_for_fresh_process(case: Case, obj, x, folder: Path) -> dict:
    """Save ``obj`` as ``.keras`` plus its input and expected outputs; returns the manifest
    entry :func:`check_in_fresh_process` reads."""
    folder = Path(folder)
    model = saveable(obj, x, unpack=case.forward == "m(*x)")
    path = folder / f"{case.name}.keras"
    model.save(path)
    xs = x if isinstance(x, (list, tuple)) else [x]
    np.savez(folder / f"{case.name}.inputs.npz", *xs)
    expression = case.forward if model is obj else "m(x)"
    expected = run_forward(model, x, expression)  # after saving: random state as saved
    np.savez(folder / f"{case.name}.expected.npz", *expected)
    return {"name": case.name, "class": type(obj).__name__, "list_input":
            isinstance(x, (list, tuple)), "forward": expression, "tol": case.tol}  # fmt: skip


def check_saved(folder: Path, manifest: list[dict], tol_floor: float = 0.0) -> list[str]:
    """Load every saved case of ``manifest`` from ``folder`` and compare its outputs with
    the expected ones (tolerance: the case's, at least ``tol_floor``; 0 means exact).
    Returns the failures as lines. Used in the fresh process and across backends (a
    ``.keras`` saved on one backend, loaded on another, with ``tol_floor`` for float
    rounding differences between the backends' kernels)."""
    failures = []
    for entry in manifest:
        name = entry["name"]
        try:
            model = keras.saving.load_model(f"{folder}/{name}.keras")
            inputs = np.load(f"{folder}/{name}.inputs.npz")
            xs = [inputs[f"arr_{i}"] for i in range(len(inputs.files))]
            x = xs if entry["list_input"] else xs[0]
            got = run_forward(model, x, entry["forward"])
            want = np.load(f"{folder}/{name}.expected.npz")
            want = [want[f"arr_{i}"] for i in range(len(want.files))]
            _assert_same(got, want, max(entry["tol"], tol_floor), name)
            if entry["class"] not in {type(model).__name__} | {
                type(layer).__name__ for layer in model._flatten_layers()
            }:
                raise AssertionError(f"loaded model has no {entry['class']}")
        except Exception as exc:
            failures.append(f"{name}: {type(exc).__name__}: {str(exc)[:400]}")
    return failures


FRESH = textwrap.dedent(
    """
    import json, sys
    import gdl  # the only gdl import: registration must come from it
    from tests.harness import check_saved  # keras and numpy only

    folder = sys.argv[1]
    manifest = json.load(open(f"{folder}/manifest.json"))
    print(json.dumps({"checked": len(manifest), "failures": check_saved(folder, manifest)}))
    """
)


def run_python(code: str, *args, backend: str | None = None, timeout: int = 900):
    """Run ``code`` in a new interpreter (on ``backend`` if given) with the repository on
    the path; returns the last JSON line it prints (it must exit cleanly)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if backend:
        env["KERAS_BACKEND"] = backend
    proc = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT,
    )  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(lines[-1])


def check_in_fresh_process(
    folder: Path, manifest: list[dict], timeout: int = 900, backend: str | None = None
) -> dict:
    """Load every saved case in ONE new interpreter (``import gdl`` only; on ``backend``
    if given); returns its report ``{"checked": n, "failures": [...]}``."""
    folder = Path(folder)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return run_python(FRESH, folder, backend=backend, timeout=timeout)


def check_fit(case: Case, obj):
    """A few ``fit`` epochs on one fixed batch lower ``case.metric``."""
    x, y = case.fit()
    obj.compile(**case.compile())
    batch = len(keras.tree.flatten(x)[0])
    history = obj.fit(x, y, batch_size=batch, epochs=case.epochs, shuffle=False, verbose=0)
    values = history.history[case.metric]
    assert all(np.isfinite(values)), f"{case}: {case.metric} = {values}"
    assert values[-1] < values[0], f"{case}: {case.metric} did not go down: {values}"
    return values
