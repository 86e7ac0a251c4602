"""How long the README's offline ``gdl train`` examples take at their default epochs.

Each example runs in a fresh process for 2 epochs (``--epochs 2``) with the CPU time
of the process (all threads) marked when training starts and after each epoch. The
full run's CPU time is extrapolated as: everything up to the end of the 2-epoch run
(imports, data, compilation, 2 epochs, final save and sample) + (epochs - 2) x the
second epoch. CPU time bounds the wall time on 2 idle cores from above (TensorFlow keeps
both cores busy, so the wall time lies between half the CPU time and all of it), and it
is far less sensitive than wall time to other processes on a shared machine; the wall
time of the 2-epoch run is reported too, with the machine's load average.

``GDL_READER_RUNS="vae ebm"`` runs a subset (names as in :data:`EXAMPLES`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from benchmarks.harness import benchmark

# (label, gdl train arguments, default epochs of the README's command)
EXAMPLES = {
    "vae": ["vae", "--data", "digits"],
    "cgan": ["cgan", "--data", "digits"],
    "dcgan": ["dcgan", "--data", "digits"],
    "wgan_gp": ["wgan_gp", "--data", "digits"],
    "pixelcnn": ["pixelcnn", "--data", "digits", "--epochs", "20"],
    "realnvp": ["realnvp"],
    "ebm": ["ebm", "--data", "digits"],
    "ddim": ["ddim", "--data", "digits"],
    "music_transformer": ["music_transformer", "--data", "music21_chorales", "--epochs", "100"],
    "musegan": ["musegan", "--data", "music21_chorales"],
    "clip": ["clip"],
    "text2image": ["text2image"],
    "prior": ["prior"],
    "unclip_decoder": ["unclip_decoder"],
    "captioner": ["captioner"],
}

_CHILD = r"""
import json, sys, time
T0 = time.perf_counter()
import gdl.callbacks as C
import gdl.cli.train as T
marks = []
class Marked(C.ExpectedDuration):
    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        marks.append(["begin", time.process_time(), time.perf_counter()])
    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        marks.append(["epoch", time.process_time(), time.perf_counter()])
T.ExpectedDuration = Marked
from gdl.cli.recipes.base import get_recipe
from argparse import Namespace
argv = sys.argv[1:]
name, rest = argv[0], argv[1:]
data = rest[rest.index("--data") + 1] if "--data" in rest else None
epochs = int(rest[rest.index("--epochs") + 1]) if "--epochs" in rest else None
recipe = get_recipe(name)
if epochs is None:
    epochs = recipe.default_epochs(Namespace(data=data))
if "--epochs" in rest:
    i = rest.index("--epochs"); del rest[i:i + 2]
from gdl.cli.main import main
rc = main(["train", name, *rest, "--epochs", "2", "--verbose", "0"])
print("RESULT " + json.dumps({"rc": rc, "marks": marks, "epochs": epochs,
                              "end": [time.process_time(), time.perf_counter() - T0]}))
"""


def _load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "?"


@benchmark
def reader_runs():
    """Extrapolated CPU minutes of each README offline example at its default epochs."""
    names = os.environ.get("GDL_READER_RUNS", " ".join(EXAMPLES)).split()
    rows = {"load average at start (1, 5, 15 min)": _load()}
    with tempfile.TemporaryDirectory() as runs:
        env = {**os.environ, "GDL_RUNS_DIR": runs}
        for name in names:
            args = EXAMPLES[name]
            done = subprocess.run([sys.executable, "-c", _CHILD, *args], env=env,
                                  capture_output=True, text=True, timeout=1800)  # fmt: skip
            line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
            if not line:
                rows[f"{name}: failed"] = (done.stderr or done.stdout)[-300:]
                print(name, "failed", done.stderr[-2000:], flush=True)
                continue
            r = json.loads(line[0][7:])
            (_, c0, w0), (_, c1, _), (_, c2, _) = r["marks"][:3]
            end_cpu, end_wall = r["end"]
            total = end_cpu + (r["epochs"] - 2) * (c2 - c1)
            label = f"gdl train {' '.join(args)}"
            rows[f"{label}: default epochs"] = r["epochs"]
            rows[f"{label}: CPU s per epoch (2nd epoch)"] = round(c2 - c1, 1)
            rows[f"{label}: CPU min, whole run (extrapolated)"] = round(total / 60, 1)
            rows[f"{label}: wall s of the 2-epoch run (loaded machine)"] = round(end_wall, 1)
            print(name, rows[f"{label}: CPU min, whole run (extrapolated)"], flush=True)
    rows["load average at end (1, 5, 15 min)"] = _load()
    return rows
