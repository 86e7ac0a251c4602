"""Keras callbacks a reader watches training through.

* :class:`EpochCheckpoint` writes the weights (optimizer state included) and the
  number of finished epochs after every epoch, atomically, so an interrupted run
  resumes from the last finished epoch (``gdl train NAME --resume``).
* :class:`SampleEveryEpoch` calls a sampling function after every epoch, the book's
  ``ImageGenerator``/``TextGenerator``/``MusicGenerator`` callbacks in one shape.
* :class:`SaveModel` saves the final ``.keras`` when ``fit`` ends.
* :class:`ExpectedDuration` prints, early in a run, how long ``fit`` should take.
* :class:`NotebookRun` gives a notebook's ``fit`` the callbacks of ``gdl train``
  (TensorBoard, checkpoint + resume, samples, final model) under ``runs/<name>``.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import keras

CHECKPOINT_NAME = "last.weights.h5"
STATE_NAME = "state.json"


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def build_optimizers(model: keras.Model) -> None:
    """Create optimizer variables so saved optimizer state can be loaded into them.

    Models with several optimizers (GANs) define ``build_optimizers()`` themselves;
    otherwise the compiled optimizer is built on the trainable variables.
    """
    custom = getattr(model, "build_optimizers", None)
    if callable(custom):
        custom()
        return
    opt = getattr(model, "optimizer", None)
    if opt is not None and not opt.built:
        opt.build(model.trainable_variables)


class EpochCheckpoint(keras.callbacks.Callback):
    """Save ``<dir>/last.weights.h5`` and ``<dir>/state.json`` after each epoch.

    The weights file is written under a temporary name and renamed, so a run killed
    mid-save keeps the previous complete checkpoint.
    """

    def __init__(self, directory: str | Path):
        super().__init__()
        self.directory = Path(directory)

    def on_epoch_end(self, epoch, logs=None):
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / CHECKPOINT_NAME
        tmp = self.directory / ("tmp-" + CHECKPOINT_NAME)
        self.model.save_weights(tmp)
        os.replace(tmp, final)
        logs = {k: float(v) for k, v in (logs or {}).items()}
        _atomic_write_text(
            self.directory / STATE_NAME, json.dumps({"epoch": epoch + 1, "logs": logs})
        )


def restore_checkpoint(model: keras.Model, directory: str | Path) -> int:
    """Load the last checkpoint of ``directory`` into ``model``; return the epoch to resume at.

    Returns 0 when there is no checkpoint.
    """
    directory = Path(directory)
    state, weights = directory / STATE_NAME, directory / CHECKPOINT_NAME
    if not (state.exists() and weights.exists()):
        return 0
    build_optimizers(model)
    model.load_weights(weights)
    return int(json.loads(state.read_text())["epoch"])


class SampleEveryEpoch(keras.callbacks.Callback):
    """Call ``fn(model, path)`` after every ``every`` epochs with ``path = <dir>/epoch_NNN<suffix>``."""

    def __init__(self, fn: Callable, directory: str | Path, suffix: str = ".png", every: int = 1):
        super().__init__()
        self.fn, self.directory, self.suffix, self.every = fn, Path(directory), suffix, every

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        self.fn(self.model, self.directory / f"epoch_{epoch + 1:03d}{self.suffix}")


class SaveModel(keras.callbacks.Callback):
    """Save the whole model to ``path`` (a ``.keras`` file) when ``fit`` ends."""

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)

    def on_train_end(self, logs=None):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.model.save(self.path)


def format_duration(seconds: float) -> str:
    """``42 s``, ``3.5 min``, ``2.1 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class ExpectedDuration(keras.callbacks.Callback):
    """Print how long ``fit`` should take, at the start of a run and after its first epoch.

    1. After ``timed_steps`` training steps (the very first step, which compiles, is not
       timed): steps per epoch x epochs left x the median time of those steps. Per-epoch
       samples and validation are not in this figure (it says so).
    2. After the first epoch: its wall time (validation, sample and checkpoint included,
       the first step's compilation replaced by a timed step) x the epochs left.

    The estimates are for this machine as loaded now; ``printer`` receives each line.
    Nothing is printed for a run with unknown steps per epoch until the first epoch ends.
    """

    def __init__(self, timed_steps: int = 5, printer: Callable = print):
        super().__init__()
        self.timed_steps, self.printer = int(timed_steps), printer
        self.lines: list[str] = []

    def _say(self, text: str) -> None:
        self.lines.append(text)
        self.printer(f"\n{text}")

    def on_train_begin(self, logs=None):
        self.first_epoch, self.times, self.t0, self.reported = None, [], None, False
        self.first_step_s = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.first_epoch is None:
            self.first_epoch, self.epoch_t0 = epoch, time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        self.t0 = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.t0 is None or self.reported:
            return
        dt = time.perf_counter() - self.t0
        if self.first_step_s is None:
            self.first_step_s = dt  # compilation: not a step time
            return
        self.times.append(dt)
        steps = self.params.get("steps")
        if len(self.times) < self.timed_steps and not (steps and batch + 1 >= steps):
            return
        self.reported = True
        if not steps:
            return
        per = statistics.median(self.times)
        epochs = self.params.get("epochs", 1) - self.first_epoch
        self._say(
            f"Expected duration: about {format_duration(per * steps * epochs)} "
            f"({epochs} epochs x {steps} steps x {per:.3g} s, the median of "
            f"{len(self.times)} timed steps; per-epoch samples and validation come on top)"
        )

    def on_epoch_end(self, epoch, logs=None):
        if epoch != self.first_epoch:
            return
        dt = time.perf_counter() - self.epoch_t0
        if self.first_step_s is not None and self.times:
            dt += statistics.median(self.times) - self.first_step_s  # compilation out
        left = self.params.get("epochs", 1) - epoch - 1
        if left > 0:
            self._say(
                f"Expected duration: the first epoch took {format_duration(dt)} with its "
                f"validation and sample (compilation excluded); the {left} epochs left: "
                f"about {format_duration(dt * left)}"
            )


class NotebookRun:
    """The callbacks of a notebook's ``fit``, the ones ``gdl train`` uses, in one call.

    ``run = NotebookRun("07_ebm/01_ebm", model, sample=fn)`` then
    ``model.fit(..., initial_epoch=run.initial_epoch, callbacks=run.callbacks)``. The run
    lives in ``$GDL_RUNS_DIR/<name>`` (default ``runs/07_ebm/01_ebm``), laid out as a
    ``gdl train`` run: ``logs/`` (TensorBoard), ``checkpoints/`` (weights, optimizer state
    and finished epochs after every epoch), ``samples/epoch_NNN<suffix>`` (``sample(model,
    path)`` after every ``every`` epochs, when given) and ``model.keras`` at the end.

    When the folder already holds a checkpoint and ``resume`` is true (the default), its
    weights are loaded into ``model`` (which must be built and compiled) and
    ``initial_epoch`` is the number of epochs already done, so re-running the notebook
    continues the run; ``resume=False`` starts again (the checkpoint is overwritten).
    """

    def __init__(
        self,
        name: str,
        model: keras.Model | None = None,
        sample: Callable | None = None,
        suffix: str = ".png",
        every: int = 1,
        resume: bool = True,
    ):
        from gdl.config import runs_dir

        self.dir = runs_dir() / name
        self.dir.mkdir(parents=True, exist_ok=True)
        ckpt = self.dir / "checkpoints"
        self.initial_epoch = restore_checkpoint(model, ckpt) if (resume and model is not None) else 0
        if self.initial_epoch:
            print(f"Resuming {name} after epoch {self.initial_epoch} ({ckpt})")
        self.model_path = self.dir / "model.keras"
        self.callbacks = [
            keras.callbacks.TensorBoard(log_dir=str(self.dir / "logs")),
            EpochCheckpoint(ckpt),
            SaveModel(self.model_path),
        ]
        if sample is not None:
            self.callbacks.append(SampleEveryEpoch(sample, self.dir / "samples", suffix, every))
        self.callbacks.append(ExpectedDuration())  # last: its first epoch includes the sample
        print(f"Run folder: {self.dir} (tensorboard --logdir {self.dir / 'logs'})")

    def __repr__(self):
        return f"NotebookRun({str(self.dir)!r}, initial_epoch={self.initial_epoch})"
