"""Keras callbacks a reader watches training through.

* :class:`EpochCheckpoint` writes the weights (optimizer state included) and the
  number of finished epochs after every epoch, atomically, so an interrupted run
  resumes from the last finished epoch (``gdl train NAME --resume``).
* :class:`SampleEveryEpoch` calls a sampling function after every epoch, the book's
  ``ImageGenerator``/``TextGenerator``/``MusicGenerator`` callbacks in one shape.
* :class:`SaveModel` saves the final ``.keras`` when ``fit`` ends.
* :class:`StopOnNaN` stops ``fit`` at the first NaN/infinite loss, before a checkpoint
  could save broken weights; :class:`StopOnInterrupt` turns Ctrl-C into a checkpoint at
  the end of the current step and a :class:`gdl.errors.TrainingInterrupted` that says how
  to resume.
* :class:`ExpectedDuration` prints, early in a run, how long ``fit`` should take.
* :class:`NotebookRun` gives a notebook's ``fit`` the callbacks of ``gdl train``
  (TensorBoard, checkpoint + resume, samples, final model) under ``runs/<name>``.
"""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import keras

from gdl.errors import RunError, TrainingInterrupted

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
        save_checkpoint(self.model, self.directory, epoch + 1, logs)


def save_checkpoint(model: keras.Model, directory: str | Path, epochs_done: int, logs=None,
                    **extra) -> None:  # fmt: skip
    """Write ``<dir>/last.weights.h5`` (optimizer state included) and ``<dir>/state.json``
    (``{"epoch": epochs_done, "logs": ..., **extra}``), each atomically: weights first,
    so the state never names weights that are not on disk."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / ("tmp-" + CHECKPOINT_NAME)
    model.save_weights(tmp)
    os.replace(tmp, directory / CHECKPOINT_NAME)
    logs = {k: float(v) for k, v in (logs or {}).items()}
    _atomic_write_text(directory / STATE_NAME,
                       json.dumps({"epoch": int(epochs_done), "logs": logs, **extra}))  # fmt: skip


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


class StopOnNaN(keras.callbacks.Callback):
    """Stop ``fit`` at the first NaN/infinite loss with a :class:`gdl.errors.RunError`
    naming the epoch and step, before the epoch's checkpoint could save broken weights
    (``checkpoints`` is only named in the message)."""

    def __init__(self, checkpoints: str | Path | None = None):
        super().__init__()
        self.checkpoints, self.epoch = checkpoints, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for key, value in (logs or {}).items():
            if "loss" in key and not math.isfinite(float(value)):
                self._stop(f"{key} became {float(value)} at epoch {self.epoch + 1}, "
                           f"step {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        """The last step's update is not in any reported loss: check the weights too,
        before an epoch checkpoint (or the caller) saves them."""
        import numpy as np

        if not all(np.isfinite(keras.ops.convert_to_numpy(v)).all()
                   for v in self.model.trainable_variables):  # fmt: skip
            self._stop(f"the weights became NaN or infinite during epoch {epoch + 1}")

    def _stop(self, what: str):
        where = f" in {self.checkpoints}" if self.checkpoints else ""
        kept = (f"the last good checkpoint ({self.epoch} epochs) is kept{where}"
                if self.epoch else "no epoch finished, so nothing was saved")  # fmt: skip
        raise RunError(f"{what}; likely cause: a learning rate too high or unscaled data; {kept}")


class StopOnInterrupt(keras.callbacks.Callback):
    """Ctrl-C (SIGINT) during ``fit``: finish the current step, save a checkpoint of it in
    ``directory`` and raise :class:`gdl.errors.TrainingInterrupted` saying how to resume
    (``resume_hint``, e.g. "gdl train vae --resume").

    The checkpoint counts the interrupted epoch as not done, so a resumed run repeats it
    from the saved weights (no step is lost; up to one epoch's data is seen twice). A
    second Ctrl-C stops at once, as Python's default does. Outside the main thread (where
    signals cannot be caught) it does nothing.
    """

    def __init__(self, directory: str | Path, resume_hint: str = "rerun with --resume"):
        super().__init__()
        self.directory, self.resume_hint = Path(directory), resume_hint
        self.epoch, self._asked, self._previous = 0, False, None

    def _on_signal(self, signum, frame):
        self._asked = True
        signal.signal(signal.SIGINT, self._previous)  # a second Ctrl-C is Python's default

    def on_train_begin(self, logs=None):
        self._asked = False
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_signal)

    def on_train_end(self, logs=None):
        self._restore()

    def _restore(self):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if not self._asked:
            return
        self._restore()
        save_checkpoint(self.model, self.directory, self.epoch, logs,
                        interrupted={"epoch": self.epoch + 1, "step": batch + 1})  # fmt: skip
        raise TrainingInterrupted(
            f"interrupted at epoch {self.epoch + 1}, step {batch + 1}; its weights are saved "
            f"in {self.directory}: {self.resume_hint} (epoch {self.epoch + 1} starts again "
            "from them)"
        )


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
