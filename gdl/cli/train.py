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
from pathlib import Path

import keras

from gdl.callbacks import EpochCheckpoint, SampleEveryEpoch, restore_checkpoint
from gdl.cli.recipes.base import Recipe
from gdl.config import runs_dir, smoke_mode
from gdl.distribute import check_data_parallel, data_parallel
from gdl.errors import RunError


def run_directory(recipe: Recipe, args: argparse.Namespace) -> Path:
    given = getattr(args, "run_dir", None)
    return Path(given) if given else runs_dir() / recipe.name


def train(recipe: Recipe, args: argparse.Namespace) -> dict:
    """Train ``recipe`` as ``gdl train`` does; return a summary dict (paths, epochs, last logs).

    ``args.devices`` > 1: the whole run (build, compile, fit, samples) inside
    :func:`gdl.distribute.data_parallel`."""
    with data_parallel(getattr(args, "devices", 1) or 1):
        return _train(recipe, args)


def _train(recipe: Recipe, args: argparse.Namespace) -> dict:
    run_dir = run_directory(recipe, args)
    ckpt_dir = run_dir / "checkpoints"
    if (
        run_dir.exists()
        and (ckpt_dir / "state.json").exists()
        and not args.resume
        and not args.overwrite
    ):
        raise RunError(
            f"{run_dir} already holds a run. Continue it with --resume, "
            f"start again with --overwrite, or pick another --run-dir."
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)

    data = recipe.load_data(args)
    model = recipe.build(args, data)
    check_data_parallel(model, getattr(args, "devices", 1) or 1)
    epochs = args.epochs or (recipe.smoke_epochs if smoke_mode() else recipe.epochs)
    initial_epoch = restore_checkpoint(model, ckpt_dir) if args.resume else 0
    if args.resume:
        print(f"Resuming {recipe.name} from epoch {initial_epoch + 1} of {epochs}")

    callbacks = [
        keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs")),
        EpochCheckpoint(ckpt_dir),
        SampleEveryEpoch(
            lambda m, p: recipe.epoch_sample(m, p, data.info),
            run_dir / "samples",
            suffix=recipe.sample_suffix,
        ),
        *recipe.callbacks(args, data, run_dir),
    ]
    fit_kwargs = dict(
        epochs=epochs, initial_epoch=initial_epoch, callbacks=callbacks, verbose=args.verbose
    )
    if data.batch_size is not None:
        fit_kwargs["batch_size"] = data.batch_size
    if data.validation is not None:
        fit_kwargs["validation_data"] = data.validation
    if args.steps_per_epoch:
        fit_kwargs["steps_per_epoch"] = args.steps_per_epoch
    history = {}
    if initial_epoch < epochs:
        history = model.fit(data.x, data.y, **fit_kwargs).history

    model_path = run_dir / "model.keras"
    model.save(model_path)
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
