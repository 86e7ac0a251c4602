"""The one training loop behind ``gdl train`` (and usable from a notebook).

``train(recipe, args)`` loads the recipe's data, builds the model, resumes from the
last checkpoint when asked, fits with Keras' progress bar, TensorBoard logs, a
checkpoint and a sample after every epoch, then saves the final ``model.keras`` and
a sample next to it. A run lives in one folder::

    runs/<name>/
        logs/                TensorBoard
        checkpoints/         last.weights.h5 + state.json (finished epochs)
        samples/epoch_NNN.*  one sample per epoch
        model.keras          the final model
        sample.*             a sample from the final model
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import keras

from gdl.callbacks import (
    EpochCheckpoint,
    ExpectedDuration,
    SampleEveryEpoch,
    StopOnInterrupt,
    StopOnNaN,
    restore_checkpoint,
)
from gdl.cli.recipes.base import Recipe
from gdl.config import runs_dir, smoke_mode, writable_dir
from gdl.distribute import data_parallel
from gdl.errors import ConfigError, RunError


def run_directory(recipe: Recipe, args: argparse.Namespace) -> Path:
    given = getattr(args, "run_dir", None)
    return Path(given) if given else runs_dir() / recipe.name


def _set_aside(run_dir: Path) -> Path:
    """``--overwrite``: move the old run to ``<run>.replaced-<time>`` (nothing is deleted,
    and the new run starts in an empty folder)."""
    aside = run_dir.with_name(f"{run_dir.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while aside.exists():
        n += 1
        aside = aside.with_name(f"{aside.name.split('~')[0]}~{n}")
    try:
        run_dir.rename(aside)
    except OSError as exc:
        raise RunError(
            f"--overwrite could not move the old run {run_dir} aside ({exc.strerror}); "
            "remove it yourself or pick another --run-dir"
        ) from None
    print(f"--overwrite: the previous run in {run_dir} was moved to {aside}")
    return aside


def _restore(model, ckpt_dir: Path) -> int:
    try:
        return restore_checkpoint(model, ckpt_dir)
    except Exception as exc:  # truncated state.json, weights of another model ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise RunError(
            f"cannot resume from {ckpt_dir} ({type(exc).__name__}: {first}); the checkpoint is "
            "damaged or from another model: start again with --overwrite or pick another --run-dir"
        ) from None


def train(recipe: Recipe, args: argparse.Namespace) -> dict:
    """Train ``recipe`` as ``gdl train`` does; return a summary dict (paths, epochs, last logs).

    ``args.devices`` > 1: the whole run (build, compile, fit, samples) inside
    :func:`gdl.distribute.data_parallel`."""
    with data_parallel(getattr(args, "devices", 1) or 1):
        return _train(recipe, args)


def _train(recipe: Recipe, args: argparse.Namespace) -> dict:
    run_dir = run_directory(recipe, args)
    ckpt_dir = run_dir / "checkpoints"
    has_run = run_dir.is_dir() and (ckpt_dir / "state.json").exists()
    if args.resume and args.overwrite:
        raise ConfigError("--resume and --overwrite contradict each other; pass one of them")
    if has_run and not args.resume and not args.overwrite:
        raise RunError(
            f"{run_dir} already holds a run. Continue it with --resume, "
            f"start again with --overwrite, or pick another --run-dir."
        )
    if args.resume and not has_run:
        raise RunError(
            f"nothing to resume: {run_dir} holds no checkpoint (checkpoints/state.json); "
            "drop --resume to start a new run, or pass the --run-dir of an existing run"
        )
    meta = run_dir / "run.json"  # which model the run trains, so --resume can check it
    if args.resume and meta.is_file():
        try:
            owner = json.loads(meta.read_text()).get("model")
        except ValueError:
            owner = None
        if owner and owner != recipe.name:
            raise RunError(
                f"{run_dir} is a run of {owner}, another model than {recipe.name}: resume it "
                f"with `gdl train {owner} --resume`, or start again with --overwrite"
            )
    if args.overwrite and run_dir.is_dir() and any(run_dir.iterdir()):
        _set_aside(run_dir)
    writable_dir(run_dir, "--run-dir or GDL_RUNS_DIR")
    if not meta.exists():
        meta.write_text(json.dumps({"model": recipe.name}) + "\n")
    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)

    data = recipe.load_data(args)
    model = recipe.build(args, data)
    epochs = args.epochs or (recipe.smoke_epochs if smoke_mode() else recipe.default_epochs(args))
    initial_epoch = _restore(model, ckpt_dir) if args.resume else 0
    if args.resume:
        print(f"Resuming {recipe.name} from epoch {initial_epoch + 1} of {epochs}")

    callbacks = [
        keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs")),
        StopOnNaN(ckpt_dir),
        StopOnInterrupt(ckpt_dir, f"resume with `gdl train {recipe.name} --resume"
                        f"{'' if getattr(args, 'run_dir', None) is None else f' --run-dir {run_dir}'}`"),
        EpochCheckpoint(ckpt_dir),
        SampleEveryEpoch(
            lambda m, p: recipe.epoch_sample(m, p, data.info),
            run_dir / "samples",
            suffix=recipe.sample_suffix,
        ),
        *recipe.callbacks(args, data, run_dir),
        ExpectedDuration(),  # last, so the first epoch's time includes the others' work
    ]
    fit_kwargs = dict(
        epochs=epochs, initial_epoch=initial_epoch, callbacks=callbacks, verbose=args.verbose
    )
    if data.batch_size is not None:
        fit_kwargs["batch_size"] = data.batch_size
    if data.validation is not None:
        fit_kwargs["validation_data"] = data.validation
    steps_per_epoch = args.steps_per_epoch or data.steps_per_epoch
    if steps_per_epoch:
        fit_kwargs["steps_per_epoch"] = steps_per_epoch
    history = {}
    if initial_epoch < epochs:
        history = model.fit(data.x, data.y, **fit_kwargs).history
    recipe.after_fit(model, args, data)

    model_path = run_dir / "model.keras"
    tmp = run_dir / "tmp-model.keras"
    model.save(tmp)  # a temporary name first: an interrupted save leaves no half model.keras
    os.replace(tmp, model_path)
    samples = recipe.sample(model, args, run_dir / f"sample{recipe.sample_suffix}", data.info)
    summary = {
        "model": recipe.name,
        "run_dir": str(run_dir),
        "model_path": str(model_path),
        "samples": [str(p) for p in samples],
        "epochs": epochs,
        "resumed_from": initial_epoch,
        "last": {k: float(v[-1]) for k, v in history.items() if v},
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
