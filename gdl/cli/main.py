"""The ``gdl`` command line: the same models as the notebooks, headless.

    gdl train MODEL [--data NAME] [--epochs N] [--resume] [--devices N] ...
    gdl sample MODEL [--model runs/MODEL/model.keras] [--out FILE] [--num N]
    gdl data list | check NAME | download NAME | fixtures DIR
    gdl world-models collect|train-vae|train-rnn|train-controller|evaluate|all [options]

``gdl --help`` and ``gdl train --help`` list what exists; models come from the
recipe registry (:mod:`gdl.cli.recipes`), datasets from :mod:`gdl.data`. A problem the
user can fix (a :class:`gdl.errors.GDLError`) ends the command with one line on stderr
and exit status 2; this module is the only place that turns exceptions into exits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from gdl.cli.recipes.base import positive_int

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# TensorFlow's start-up lines that are noise for a reader: always the CPU-feature and
# oneDNN notes; the CUDA ones ("Could not find cuda drivers", "failed call to cuInit")
# only on a machine without an NVIDIA device, where a GPU was never expected.
_TF_NOISE = ("cpu_feature_guard.cc", "To enable the following instructions",
             "All log messages before absl::InitializeLog", "oneDNN custom operations")  # fmt: skip
_TF_NO_GPU_NOISE = ("cudart_stub.cc", "failed call to cuInit", "cuda_platform.cc")


def _start_tensorflow_quietly() -> None:
    """Import TensorFlow and list its devices with stderr captured at the file-descriptor
    level (its C++ logging bypasses Python and ``TF_CPP_MIN_LOG_LEVEL``), then print
    back every captured line that is not known start-up noise. Only for the TensorFlow
    backend, and only once per process."""
    import importlib.util
    import tempfile

    if (os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow"
            or "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None):  # fmt: skip
        return
    noise = _TF_NOISE + (() if Path("/dev/nvidiactl").exists() else _TF_NO_GPU_NOISE)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        for line in captured.read().decode(errors="replace").splitlines():
            if line.strip() and not any(n in line for n in noise):
                print(line, file=sys.stderr)


class _UsageError(Exception):
    """A command line argparse refused (printed as one line, exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one ``gdl: ...`` line (no usage block)."""

    def error(self, message):
        where = self.prog.removeprefix("gdl").strip()
        raise _UsageError(f"{where + ': ' if where else ''}{message} (see {self.prog} --help)")

    def parse_args(self, args=None, namespace=None):
        ns, extra = self.parse_known_args(args, namespace)
        if extra:  # name the command that does not take them (not just "gdl")
            words = ("gdl", getattr(ns, "command", None), getattr(ns, "model", None))
            where = " ".join(w for w in words if isinstance(w, str))
            raise _UsageError(
                f"{where} does not take {' '.join(extra)} (see {where} --help for its options)"
            )
        return ns


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="dataset name (gdl data list) or a folder/file of your own")
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument("--run-dir", help="run folder (default: $GDL_RUNS_DIR/MODEL, i.e. runs/MODEL)")


def _train_parser(sub, recipes) -> None:
    tp = sub.add_parser(
        "train", help="train a model (progress bar, TensorBoard, checkpoints, samples)"
    )
    tsub = tp.add_subparsers(dest="model", metavar="MODEL", required=True)
    for name, cls in recipes.items():
        p = tsub.add_parser(name, help=cls.help, description=cls.help)
        _add_common(p)
        p.add_argument("--epochs", type=positive_int, help=f"epochs (book: {cls.epochs})")
        p.add_argument("--batch-size", type=positive_int, help=f"batch size (book: {cls.batch_size})")
        p.add_argument("--steps-per-epoch", type=positive_int, help="limit the steps per epoch")
        p.add_argument(
            "--resume", action="store_true", help="continue from the last checkpoint of the run"
        )
        p.add_argument(
            "--overwrite", action="store_true", help="start again in an existing run folder"
        )
        p.add_argument(
            "--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras fit verbosity"
        )
        p.add_argument(
            "--devices", type=int, default=1,
            help="train data-parallel on N GPUs (TensorFlow/JAX); --batch-size is the global batch",
        )  # fmt: skip
        cls.add_arguments(p)


def _sample_parser(sub, recipes) -> None:
    sp = sub.add_parser("sample", help="write samples of a trained model")
    ssub = sp.add_subparsers(dest="model", metavar="MODEL", required=True)
    for name, cls in recipes.items():
        p = ssub.add_parser(name, help=cls.help, description=cls.help)
        _add_common(p)
        p.add_argument("--model-path", help="a .keras file (default: RUN_DIR/model.keras)")
        p.add_argument(
            "--out",
            help=f"output file (default: RUN_DIR/sample_NNN{cls.sample_suffix}, a new number)",
        )
        p.add_argument("--num", type=positive_int, default=None, help="how many samples")
        # training-only options, so recipes can read one namespace shape
        p.set_defaults(
            batch_size=None,
            epochs=None,
            steps_per_epoch=None,
            resume=False,
            overwrite=False,
            verbose=0,
            devices=1,
        )
        cls.add_arguments(p)


def _data_parser(sub) -> None:
    dp = sub.add_parser("data", help="list, check and download the book's datasets")
    dsub = dp.add_subparsers(dest="data_cmd", metavar="COMMAND", required=True)
    dsub.add_parser("list", help="every dataset and whether it is on disk")
    c = dsub.add_parser("check", help="verify a dataset is complete (every file's header)")
    c.add_argument("name", nargs="+", help="dataset name(s), or 'all'")
    d = dsub.add_parser("download", help="download a dataset into $GDL_DATA_DIR")
    d.add_argument("name", nargs="+", help="dataset name(s), or 'all'")
    d.add_argument("--force", action="store_true", help="download again even if present")
    f = dsub.add_parser(
        "fixtures", help="write tiny fixtures of every dataset (real formats) to DIR"
    )
    f.add_argument("dir")


def build_parser() -> argparse.ArgumentParser:
    from gdl import __version__
    from gdl.cli.recipes import all_recipes

    recipes = all_recipes()
    parser = _Parser(
        prog="gdl",
        description="Keras 3 companion to Generative Deep Learning (2nd ed.). Models: "
        + ", ".join(recipes),
    )
    parser.add_argument("--version", action="version", version=f"gdl {__version__}")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="Keras backend for this command (a shortcut for KERAS_BACKEND; default: "
        "KERAS_BACKEND, else tensorflow, the book's)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("info", help="gdl, Python, Keras and backend versions, and the devices")
    _train_parser(sub, recipes)
    _sample_parser(sub, recipes)
    _data_parser(sub)
    from gdl.world_models.pipeline import add_parser as _world_models_parser

    _world_models_parser(sub)
    return parser


BACKENDS = ("tensorflow", "jax", "torch")


def _select_backend(argv: list[str]) -> None:
    """Honour ``--backend NAME`` (anywhere before the command's own options) by setting
    ``KERAS_BACKEND`` before Keras is imported; Keras reads it once, at import."""
    from gdl.errors import ConfigError

    name = None
    for i, arg in enumerate(argv):
        if arg == "--backend" and i + 1 < len(argv):
            name = argv[i + 1]
        elif arg.startswith("--backend="):
            name = arg.split("=", 1)[1]
    if name is None or name not in BACKENDS:
        return  # absent, or argparse names the valid choices
    keras = sys.modules.get("keras")
    if keras is not None and keras.config.backend() != name:
        raise ConfigError(
            f"--backend {name}: Keras is already imported with the {keras.config.backend()} "
            f"backend in this process; set KERAS_BACKEND={name} before starting Python"
        )
    os.environ["KERAS_BACKEND"] = name


def info() -> dict:
    """What ``gdl info`` prints: versions of gdl, Python, Keras and the installed backends,
    the active backend and the devices it sees."""
    import importlib.metadata as md
    import platform

    import keras

    from gdl import __version__

    def version(dist):
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            return None

    tf_dist = next((d for d in ("tensorflow", "tensorflow-cpu") if version(d)), "tensorflow")
    backend = keras.config.backend()
    try:
        devices = [str(d) for d in keras.distribution.list_devices()]
    except Exception as exc:  # a backend without device listing
        devices = [f"unknown ({type(exc).__name__})"]
    return {
        "gdl": __version__,
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": backend,
        "tensorflow": version(tf_dist),
        "jax": version("jax"),
        "torch": version("torch"),
        "devices": devices,
    }


def _cmd_info(args) -> int:
    for key, value in info().items():
        shown = ", ".join(value) if isinstance(value, list) else (value or "not installed")
        print(f"{key:<11}{shown}")
    return 0


def _cmd_train(args) -> int:
    from gdl.cli.recipes import get_recipe
    from gdl.cli.train import train

    summary = train(get_recipe(args.model), args)
    print(json.dumps(summary, indent=2))
    return 0


def _load_model(path: Path, recipe):
    """``keras.saving.load_model`` with one actionable line for each way a file can be wrong."""
    import zipfile

    import keras

    from gdl.errors import RunError

    fix = f"pass the model.keras that `gdl train {recipe.name}` wrote (--model-path)"
    if path.is_dir():
        raise RunError(f"--model-path {path} is a folder, not a .keras file; {fix}")
    if path.suffix != ".keras":
        raise RunError(f"--model-path {path} is not a .keras file; {fix}")
    if not zipfile.is_zipfile(path):
        raise RunError(
            f"{path} is not a Keras model archive (truncated or corrupt .keras, a .keras is a "
            f"zip); train again or {fix}"
        )
    try:
        model = keras.saving.load_model(path)  # import gdl registered every gdl class
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise RunError(
            f"cannot load {path} ({type(exc).__name__}: {first}); the file is damaged or "
            f"not a gdl model: train again or {fix}"
        ) from None
    expected = getattr(recipe, "model_class", "")
    if expected and type(model).__name__ != expected:
        raise RunError(
            f"{path} holds a {type(model).__name__}, not the {expected} that "
            f"`gdl sample {recipe.name}` samples; pick the matching model name or {fix}"
        )
    return model


def _default_sample_path(run_dir: Path, suffix: str) -> Path:
    """``RUN_DIR/sample_NNN<suffix>``, the first free number: next to the training's own
    ``sample<suffix>``, never over it."""
    n = 1
    while (run_dir / f"sample_{n:03d}{suffix}").exists():
        n += 1
    return run_dir / f"sample_{n:03d}{suffix}"


def _cmd_sample(args) -> int:
    from gdl.cli.recipes import get_recipe
    from gdl.cli.train import run_directory
    from gdl.errors import RunError

    recipe = get_recipe(args.model)
    run_dir = run_directory(recipe, args)
    model_path = Path(args.model_path) if args.model_path else run_dir / "model.keras"
    if not model_path.exists():
        raise RunError(
            f"no trained model at {model_path}: run `gdl train {args.model}` first or pass --model-path"
        )
    model = _load_model(model_path, recipe)
    if args.out:
        out = Path(args.out)
    else:
        out = _default_sample_path(model_path.parent, recipe.sample_suffix)
    paths = recipe.sample(model, args, out, recipe.sample_info(args))
    for p in paths:
        print(p)
    return 0


def _cmd_data(args) -> int:
    from gdl.data import build_fixtures
    from gdl.data.manage import check_command, download_command, list_command

    if args.data_cmd == "list":
        return list_command()
    if args.data_cmd == "fixtures":
        print(build_fixtures(args.dir))
        return 0
    if args.data_cmd == "check":
        return check_command(args.name)
    if args.data_cmd == "download":
        return download_command(args.name, force=args.force)
    return 2


def _cmd_world_models(args) -> int:
    from gdl.world_models.pipeline import main as world_models_main

    return world_models_main(args)


def main(argv: list[str] | None = None) -> int:
    """Run one ``gdl`` command; return its exit status.

    A :class:`gdl.errors.GDLError` (anything a person can fix: a missing dataset, an
    unknown name, an existing run folder ...), a bad command line or a file the system
    refused becomes one line on stderr and status 2; ``GDL_DEBUG=1`` shows the traceback.
    """
    from gdl.errors import GDLError, TrainingInterrupted

    try:
        _select_backend(sys.argv[1:] if argv is None else list(argv))
        args = build_parser().parse_args(argv)
    except GDLError as exc:
        print(f"gdl: {exc}", file=sys.stderr)
        return 2
    except _UsageError as exc:
        print(f"gdl: {exc}", file=sys.stderr)
        return 2
    handlers = {
        "train": _cmd_train,
        "sample": _cmd_sample,
        "data": _cmd_data,
        "world-models": _cmd_world_models,
        "info": _cmd_info,
    }
    debug = os.environ.get("GDL_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")
    if args.command in ("train", "sample", "world-models", "info"):
        _start_tensorflow_quietly()
    try:
        return handlers[args.command](args)
    except TrainingInterrupted as exc:
        print(f"\ngdl: {exc}", file=sys.stderr)
        return 130
    except GDLError as exc:
        if debug:
            raise
        print(f"gdl: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file or folder the system refused (permissions, full disk)
        if debug or exc.filename is None:
            raise
        print(
            f"gdl: cannot use {exc.filename}: {exc.strerror or exc}; check the path and its "
            "permissions (GDL_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(
            "\ngdl: interrupted; the last finished epoch is checkpointed: rerun with --resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
