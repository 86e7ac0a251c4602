"""The five-stage World Models pipeline of chapter 12, resumable, and its CLI.

    gdl world-models collect|train-vae|train-rnn|train-controller|evaluate|all [options]

Stages (book: collect random rollouts, train the VAE, encode the data, train the
MDN-RNN, train the controller with CMA-ES), each writing into one run folder
(default ``$GDL_RUNS_DIR/world-models``)::

    episodes/episode_00000.npz   collect           (one compressed npz per episode)
    vae.keras, vae.progress.json train-vae         (saved after every epoch)
    z_sequences.npz              train-vae         (mu, log_var, action, reward, done)
    rnn.keras, rnn.progress.json train-rnn         (saved after every epoch)
    controller/cma_state.pkl     train-controller  (whole CMA-ES state, every generation)
    controller/params.npy        train-controller  (CMA-ES mean; best.npy: best candidate)
    controller/history.json, controller/reward_curve.png
    evaluation.json              evaluate          (controller vs random, same seeds)
    real_episode.gif/.png, dream.gif/.png          (an episode and a dream, GIF + strip)

Every stage skips finished work, so rerunning a killed command continues it.
``--ray-address auto|HOST:PORT|local`` runs the controller's rollouts (train-controller,
evaluate) on Ray actors, one per CPU of the cluster, instead of ``--workers`` processes.
Defaults are the paper's (10,000 episodes, population 64, 16 rollouts, 200
generations); ``GDL_SMOKE=1`` or ``--smoke`` selects a tiny run.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from gdl.config import runs_dir, smoke_mode
from gdl.world_models import rollouts

STAGES = ("collect", "train-vae", "train-rnn", "train-controller", "evaluate")


@dataclass
class WorldModelsConfig:
    """Every knob of the pipeline; the defaults are Ha & Schmidhuber's CarRacing run.

    Their VAE learning rate (1e-4) suits 10,000 episodes; with a few thousand frames it
    leaves V blurry and the controller nearly blind (measured: 2 epochs at 1e-4 on 16
    episodes, then 60 generations of population 12: only +42 over random in 500-step
    episodes). The bounded benchmark run (``benchmarks/bench_world_models.py``) uses
    ``vae_learning_rate=1e-3`` with 8 epochs on 32 random episodes: +587 in 1000-step ones.
    """

    episodes: int = 10000
    max_steps: int = 1000
    workers: int = 2
    ray_address: str | None = None
    seed: int = 0
    z_dim: int = 32
    vae_epochs: int = 10
    vae_batch_size: int = 100
    vae_learning_rate: float | None = None  # None: WorldModelVAE.book_learning_rate
    hidden_units: int = 256
    num_mixtures: int = 5
    rnn_epochs: int = 20
    rnn_batch_size: int = 100
    rnn_seq_len: int = 1000
    rnn_learning_rate: float | None = None  # None: MDNRNN.book_learning_rate
    mode: str = "real"
    generations: int = 200
    popsize: int = 64
    rollouts: int = 16
    sigma0: float = 0.1
    temperature: float = 1.15
    controller_max_steps: int = 1000
    patience: int | None = None
    eval_episodes: int = 10
    eval_seed: int = 100000
    gif_steps: int = 200
    verbose: int = 1

    @classmethod
    def smoke(cls, **overrides) -> WorldModelsConfig:
        """The CI-sized run: 2 episodes x 50 steps, 1 epoch each, population 4, 1 generation."""
        small = dict(
            episodes=2,
            max_steps=50,
            workers=1,
            vae_epochs=1,
            vae_batch_size=32,
            rnn_epochs=1,
            rnn_batch_size=2,
            rnn_seq_len=50,
            generations=1,
            popsize=4,
            rollouts=1,
            controller_max_steps=50,
            eval_episodes=2,
            gif_steps=20,
            verbose=0,
        )
        return cls(**{**small, **overrides})

    @classmethod
    def default(cls, **overrides) -> WorldModelsConfig:
        return cls.smoke(**overrides) if smoke_mode() else cls(**overrides)


def default_run_dir() -> Path:
    return runs_dir() / "world-models"


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def _read_json(path: Path, default=None):
    return json.loads(path.read_text()) if path.exists() else default


# ------------------------------------------------------------------- stage 1
def collect(run_dir, cfg: WorldModelsConfig) -> list[Path]:
    """Random-policy episodes into ``run_dir/episodes`` (resumable)."""
    return rollouts.collect(
        Path(run_dir) / "episodes",
        cfg.episodes,
        cfg.max_steps,
        cfg.workers,
        cfg.seed,
        progress=cfg.verbose > 0,
    )


def _episodes(run_dir) -> list[Path]:
    paths = rollouts.list_episodes(Path(run_dir) / "episodes")
    if not paths:
        raise FileNotFoundError(
            f"no episodes in {Path(run_dir) / 'episodes'}: run `gdl world-models collect` first"
        )
    return paths


# ------------------------------------------------------- resumable Keras fits
def _fit_resumable(path: Path, epochs: int, build, fit_one_epoch, verbose: int):
    """Train ``epochs`` in total, saving ``path`` (.keras, with optimizer) after each one.

    ``fit_one_epoch(model, epoch, callbacks)``; a NaN/infinite loss stops the stage with a
    :class:`gdl.errors.RunError` before the epoch is saved (:class:`gdl.callbacks.StopOnNaN`),
    so the last good model is kept and the stage is not marked done."""
    import keras

    from gdl.callbacks import StopOnNaN

    progress_path = path.with_suffix(".progress.json")
    done = _read_json(progress_path, {"epochs": 0})["epochs"] if path.exists() else 0
    model = keras.saving.load_model(path) if done else build()
    for epoch in range(done, epochs):
        if verbose:
            print(f"{path.stem}: epoch {epoch + 1}/{epochs}", flush=True)
        fit_one_epoch(model, epoch, [StopOnNaN(path)])
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
        model.save(tmp)
        os.replace(tmp, path)
        _write_json(progress_path, {"epochs": epoch + 1})
    return model


# ------------------------------------------------------------------- stage 2
def load_frames(paths) -> np.ndarray:
    """Every observation of the given episode files, uint8 ``(N, 64, 64, 3)``."""
    return np.concatenate([rollouts.load_episode(p)["obs"] for p in paths])


def train_vae(run_dir, cfg: WorldModelsConfig):
    """Train the VAE on every collected frame, then encode the episodes."""

    from gdl.world_models.vae import WorldModelVAE

    run_dir = Path(run_dir)
    frames = load_frames(_episodes(run_dir))

    def build():
        vae = WorldModelVAE(cfg.z_dim, seed=cfg.seed)
        vae.compile(optimizer=vae.book_optimizer(cfg.vae_learning_rate))
        return vae

    def fit_one_epoch(vae, epoch, callbacks):
        vae.fit(
            frames,
            batch_size=cfg.vae_batch_size,
            epochs=epoch + 1,
            initial_epoch=epoch,
            shuffle=True,
            callbacks=callbacks,
            verbose=cfg.verbose,
        )

    vae = _fit_resumable(run_dir / "vae.keras", cfg.vae_epochs, build, fit_one_epoch, cfg.verbose)
    if _stale(run_dir / "z_sequences.npz", run_dir / "vae.keras"):
        encode_episodes(run_dir, vae)
    return vae


def _stale(derived: Path, source: Path) -> bool:
    """True when ``derived`` is missing or older than ``source``."""
    return not derived.exists() or derived.stat().st_mtime < source.stat().st_mtime


def encode_episodes(run_dir, vae) -> Path:
    """Write ``z_sequences.npz``: per episode ``mu``/``log_var`` of every frame, actions,
    rewards, dones (book step 3, "encode the collected data with the VAE")."""
    run_dir = Path(run_dir)
    arrays = {}
    for path in _episodes(run_dir):
        ep = rollouts.load_episode(path)
        mu, log_var, _ = vae.encode(ep["obs"])
        key = path.stem
        arrays.update(
            {
                f"{key}/mu": mu,
                f"{key}/log_var": log_var,
                f"{key}/action": ep["action"],
                f"{key}/reward": ep["reward"],
                f"{key}/done": ep["done"],
            }
        )
    return rollouts.save_episode_npz(run_dir / "z_sequences.npz", **arrays)


def load_series(run_dir) -> list[dict]:
    """The encoded episodes of ``z_sequences.npz`` as a list of dicts."""
    path = Path(run_dir) / "z_sequences.npz"
    if not path.exists():
        raise FileNotFoundError(f"no {path}: run `gdl world-models train-vae` first")
    with np.load(path) as data:
        keys = sorted({k.split("/")[0] for k in data.files})
        return [
            {f: data[f"{k}/{f}"] for f in ("mu", "log_var", "action", "reward", "done")}
            for k in keys
        ]


def load_vae(run_dir):
    import keras

    path = Path(run_dir) / "vae.keras"
    if not path.exists():
        raise FileNotFoundError(f"no {path}: run `gdl world-models train-vae` first")
    return keras.saving.load_model(path)


def load_rnn(run_dir):
    import keras

    path = Path(run_dir) / "rnn.keras"
    if not path.exists():
        raise FileNotFoundError(f"no {path}: run `gdl world-models train-rnn` first")
    return keras.saving.load_model(path)


# ------------------------------------------------------------------- stage 3
def train_rnn(run_dir, cfg: WorldModelsConfig):
    """Train the MDN-RNN on the z-sequences, resampling z from (mu, log_var) every epoch."""

    from gdl.world_models.mdn_rnn import MDNRNN, make_sequences

    run_dir = Path(run_dir)
    if _stale(run_dir / "z_sequences.npz", run_dir / "vae.keras"):
        encode_episodes(run_dir, load_vae(run_dir))
    series = load_series(run_dir)

    def build():
        rnn = MDNRNN(cfg.z_dim, 3, cfg.hidden_units, cfg.num_mixtures, seed=cfg.seed)
        rnn.compile(optimizer=rnn.book_optimizer(cfg.rnn_learning_rate))  # Adam, clipnorm 1
        return rnn

    def fit_one_epoch(rnn, epoch, callbacks):
        x, y = make_sequences(series, cfg.rnn_seq_len, rng=cfg.seed * 1000 + epoch)
        rnn.fit(
            x,
            y,
            batch_size=cfg.rnn_batch_size,
            epochs=epoch + 1,
            initial_epoch=epoch,
            shuffle=True,
            callbacks=callbacks,
            verbose=cfg.verbose,
        )

    return _fit_resumable(run_dir / "rnn.keras", cfg.rnn_epochs, build, fit_one_epoch, cfg.verbose)


# ------------------------------------------------------------------- stage 4
def world_model_weights(run_dir, vae=None, rnn=None) -> dict:
    """NumPy copies of V and M (loaded from ``run_dir`` unless given)."""
    from gdl.world_models.agent import extract_weights

    return extract_weights(vae or load_vae(run_dir), rnn or load_rnn(run_dir))


def initial_latents(run_dir) -> np.ndarray:
    """Latent means of every episode's first frame: where dreams start."""
    return np.stack([ep["mu"][0] for ep in load_series(run_dir)])


def plot_reward_curve(history: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gens = [h["generation"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(gens, [h["mean"] for h in history], label="population mean")
    ax.plot(gens, [h["max"] for h in history], label="best candidate")
    ax.set_xlabel("generation")
    ax.set_ylabel("average reward")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def train_controller(run_dir, cfg: WorldModelsConfig):
    """CMA-ES on the 867 controller parameters (real CarRacing or the dream), resumable."""
    from gdl.world_models.cmaes import make_evaluator
    from gdl.world_models.cmaes import train_controller as _cma_loop

    run_dir = Path(run_dir)
    out = run_dir / "controller"
    out.mkdir(parents=True, exist_ok=True)
    weights = world_model_weights(run_dir)
    options = {"max_steps": cfg.controller_max_steps, "patience": cfg.patience}
    if cfg.mode == "dream":
        options.update(temperature=cfg.temperature, initial_z=initial_latents(run_dir))
    num_params = (cfg.z_dim + cfg.hidden_units) * 3 + 3

    def save(es, row):
        np.save(out / "params.npy", es.mean)
        np.save(out / "best.npy", es.best_params)
        _write_json(out / "history.json", es.history)
        plot_reward_curve(es.history, out / "reward_curve.png")

    with make_evaluator(weights, cfg.mode, cfg.workers, cfg.ray_address, **options) as evaluator:
        es = _cma_loop(
            evaluator,
            out / "cma_state.pkl",
            generations=cfg.generations,
            popsize=cfg.popsize,
            rollouts_per_candidate=cfg.rollouts,
            sigma0=cfg.sigma0,
            seed=cfg.seed,
            num_params=num_params,
            callback=save,
            progress=cfg.verbose > 0,
        )
    if not (out / "params.npy").exists():
        save(es, None)
    return es


# ------------------------------------------------------------------- stage 5
def save_gif(frames, path: Path, fps: int = 25) -> Path:
    """Animated GIF of uint8 frames ``(T, H, W, 3)``."""
    from PIL import Image

    images = [Image.fromarray(np.asarray(f, np.uint8)) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path


def save_strip(frames, path: Path, n: int = 10) -> Path:
    """A PNG strip of ``n`` frames evenly spaced through the sequence."""
    from PIL import Image

    frames = np.asarray(frames, np.uint8)
    idx = np.linspace(0, len(frames) - 1, min(n, len(frames))).astype(int)
    Image.fromarray(np.concatenate(list(frames[idx]), axis=1)).save(path)
    return path


def dream_frames(
    vae, rnn, params=None, steps: int = 200, temperature: float = 1.15, seed=0, z0=None
):
    """Decode a dream: the controller (zeros if ``params`` is None) acting in the MDN-RNN."""
    from gdl.world_models.controller import Controller
    from gdl.world_models.dream import from_models

    env = from_models(vae, rnn, temperature=temperature, max_steps=steps, initial_z=z0)
    controller = Controller(rnn.z_dim, rnn.hidden_units, params=params)
    obs, _ = env.reset(seed=seed)
    zs = [env.z.copy()]
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(controller.act_on(obs))
        zs.append(env.z.copy())
        if terminated or truncated:
            break
    return (np.clip(vae.decode(np.stack(zs)), 0, 1) * 255).astype(np.uint8)


def evaluate(run_dir, cfg: WorldModelsConfig) -> dict:
    """Mean ± std reward of the controller and of the random policy on the same seeds."""
    from gdl.world_models.agent import NumpyWorldModel, WorldModelAgent
    from gdl.world_models.cmaes import make_evaluator, single_thread_blas

    run_dir = Path(run_dir)
    params_path = run_dir / "controller" / "params.npy"
    if not params_path.exists():
        raise FileNotFoundError(f"no {params_path}: run `gdl world-models train-controller`")
    params = np.load(params_path)
    vae, rnn = load_vae(run_dir), load_rnn(run_dir)
    weights = world_model_weights(run_dir, vae, rnn)
    seeds = [cfg.eval_seed + i for i in range(cfg.eval_episodes)]
    # episodes as long as the controller's (CarRacing's 1000 steps by default), not the
    # collection's max_steps, which only bounds the random data for V and M
    steps = cfg.controller_max_steps
    with make_evaluator(weights, "real", cfg.workers, cfg.ray_address, max_steps=steps) as ev:
        table = ev.rewards([params, None], seeds)
    result = {"seeds": seeds, "max_steps": steps}
    for name, row in zip(("controller", "random"), table):
        result[name] = {"mean": float(row.mean()), "std": float(row.std()), "rewards": row.tolist()}
    _write_json(run_dir / "evaluation.json", result)
    if cfg.verbose:
        for name in ("controller", "random"):
            r = result[name]
            print(f"{name}: {r['mean']:.1f} ± {r['std']:.1f} over {len(seeds)} episodes")

    env = rollouts.make_env()
    agent = WorldModelAgent(NumpyWorldModel(weights), params)
    with single_thread_blas():
        ep = rollouts.run_episode(env, agent, seeds[0], max_steps=cfg.gif_steps, record=True)
    env.close()
    save_gif(ep["obs"], run_dir / "real_episode.gif")
    save_strip(ep["obs"], run_dir / "real_episode.png")
    frames = dream_frames(
        vae,
        rnn,
        params,
        cfg.gif_steps,
        cfg.temperature,
        seed=cfg.seed,
        z0=initial_latents(run_dir),
    )
    save_gif(frames, run_dir / "dream.gif")
    save_strip(frames, run_dir / "dream.png")
    return result


RUNNERS = {
    "collect": collect,
    "train-vae": train_vae,
    "train-rnn": train_rnn,
    "train-controller": train_controller,
    "evaluate": evaluate,
}


def run(stage: str, run_dir=None, cfg: WorldModelsConfig | None = None):
    """Run one stage (or ``"all"`` in order) in ``run_dir``; return the last stage's result."""
    cfg = cfg or WorldModelsConfig.default()
    run_dir = Path(run_dir) if run_dir else default_run_dir()
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(run_dir / "config.json", asdict(cfg))
    stages = STAGES if stage == "all" else (stage,)
    result = None
    for name in stages:
        if name not in RUNNERS:
            raise ValueError(f"unknown stage {name!r}; choose from {', '.join(STAGES)} or all")
        if cfg.verbose:
            print(f"== world-models {name} ({run_dir})", flush=True)
        result = RUNNERS[name](run_dir, cfg)
    return result


# ----------------------------------------------------------------------- CLI
def add_parser(sub) -> None:
    """Register ``gdl world-models STAGE`` on the CLI's subparsers."""
    p = sub.add_parser(
        "world-models",
        help="chapter 12: World Models on CarRacing (collect, VAE, MDN-RNN, CMA-ES)",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("stage", choices=(*STAGES, "all"), help="pipeline stage, or all in order")
    p.add_argument("--run-dir", help="run folder (default: $GDL_RUNS_DIR/world-models)")
    p.add_argument(
        "--smoke", action="store_true", help="tiny run (also with GDL_SMOKE=1); defaults: paper"
    )
    book = WorldModelsConfig()
    for f in fields(WorldModelsConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.name == "mode":
            p.add_argument(flag, choices=("real", "dream"), help="train C in CarRacing or dream")
            continue
        if f.name == "ray_address":
            p.add_argument(
                flag,
                metavar="ADDRESS",
                help="run rollouts on a Ray cluster: auto, HOST:PORT, ray://HOST:PORT, "
                "or local (a fresh instance here); default: --workers processes",
            )
            continue
        default = getattr(book, f.name)
        if f.name.endswith("learning_rate"):  # None: the model's book_learning_rate
            p.add_argument(flag, type=float, help="default: the model's book_learning_rate")
            continue
        kind = int if f.name == "patience" else type(default)
        p.add_argument(flag, type=kind, help=f"default {default}")


def main(args: argparse.Namespace) -> int:
    overrides = {
        f.name: getattr(args, f.name)
        for f in fields(WorldModelsConfig)
        if getattr(args, f.name, None) is not None
    }
    cfg = (
        WorldModelsConfig.smoke(**overrides)
        if args.smoke
        else WorldModelsConfig.default(**overrides)
    )
    result = run(args.stage, args.run_dir, cfg)
    if isinstance(result, dict):
        print(json.dumps({k: v for k, v in result.items() if k != "seeds"}, indent=2))
    return 0
