"""Chapter 12 World Models: V, M, C, CMA-ES, the dream, rollouts and the whole pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from gdl.world_models import rollouts
from gdl.world_models.agent import NumpyWorldModel, WorldModelAgent, extract_weights
from gdl.world_models.cmaes import CMAES
from gdl.world_models.controller import Controller
from gdl.world_models.dream import DreamEnv
from gdl.world_models.mdn_rnn import MDNRNN, make_sequences
from gdl.world_models.vae import WorldModelVAE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    return WorldModelVAE(seed=0), MDNRNN(seed=0)


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)


# ------------------------------------------------------------------ controller
def test_controller_has_867_params_and_actions_in_range():
    c = Controller()
    assert c.num_params == 867 == (32 + 256) * 3 + 3
    rng = np.random.default_rng(0)
    c.set_params(rng.normal(scale=5.0, size=867))
    a = c.act(rng.normal(size=(500, 32)), rng.uniform(-1, 1, size=(500, 256)))
    assert a.shape == (500, 3)
    assert a[:, 0].min() >= -1 and a[:, 0].max() <= 1
    assert a[:, 1:].min() >= 0 and a[:, 1:].max() <= 1
    # a hand-computed case: bias only
    c.set_params(np.r_[np.zeros(864), 0.5, 0.3, -0.2])
    np.testing.assert_allclose(
        c.act(np.zeros(32), np.zeros(256)),
        [np.tanh(0.5), (np.tanh(0.3) + 1) / 2, 0.0],
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="867"):
        c.set_params(np.zeros(866))


# ------------------------------------------------------------------------- V
def test_vae_architecture_loss_and_roundtrip(models, frames, tmp_path):
    vae, _ = models
    assert [vae.encoder.get_layer(f"conv{i}").filters for i in range(4)] == [32, 64, 128, 256]
    assert vae.encoder.get_layer("conv0").kernel_size == (4, 4)
    assert vae.decoder.output_shape == (None, 64, 64, 3)
    mu, log_var, z = vae.encode(frames)  # the order of every gdl VAE
    assert mu.shape == log_var.shape == z.shape == (3, 32)

    # compute_loss = per-frame summed squared error + KL with free bits (0.5 nats x 32)
    x = frames.astype("float32") / 255
    rng = np.random.default_rng(1)
    recon = rng.uniform(size=x.shape).astype("float32")
    m, lv = rng.normal(size=(3, 32)).astype("float32"), rng.normal(size=(3, 32)).astype("float32")
    lv[0] = 0.0
    m[0] = 0.01  # KL of row 0 is below the free-bits floor
    kl = -0.5 * (1 + lv - m**2 - np.exp(lv)).sum(1)
    expected = ((x - recon) ** 2).sum((1, 2, 3)).mean() + np.maximum(kl, 16.0).mean()
    got = float(vae.compute_loss(frames, None, (m, lv, recon)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)

    vae.save(tmp_path / "vae.keras")
    again = keras.saving.load_model(tmp_path / "vae.keras")
    np.testing.assert_array_equal(again.encode(frames)[0], mu)
    np.testing.assert_array_equal(again.decode(mu), vae.decode(mu))
    with pytest.raises(ValueError, match=r"\(N, 64, 64, 3\)"):
        vae.encode(np.zeros((2, 96, 96, 3), np.uint8))


# ------------------------------------------------------------------------- M
def test_mdn_rnn_loss_sampling_and_roundtrip(models, tmp_path):
    _, rnn = models
    rng = np.random.default_rng(2)
    z, a = rng.normal(size=(2, 5, 32)).astype("float32"), rng.uniform(size=(2, 5, 3))
    out = rnn((z, a))
    assert out[0].shape == (2, 5, 32, 5) and out[3].shape == (2, 5)
    z_next = rng.normal(size=(2, 5, 32)).astype("float32")
    reward, done = rng.normal(size=(2, 5)), (rng.uniform(size=(2, 5)) < 0.3).astype("float32")
    mask = np.ones((2, 5), "float32")
    mask[1, 3:] = 0
    loss = float(rnn.compute_loss(None, (z_next, reward, done, mask), out))
    logits, mu, log_sigma, r_pred, d_logit = (ops.convert_to_numpy(t) for t in out)
    logw = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    comp = -0.5 * ((z_next[..., None] - mu) / np.exp(log_sigma)) ** 2 - log_sigma
    logp = np.log(np.exp(logw + comp - 0.5 * np.log(2 * np.pi)).sum(-1)).mean(-1)
    p = 1 / (1 + np.exp(-d_logit))
    bce = -(done * np.log(p) + (1 - done) * np.log(1 - p))
    keep = mask > 0
    expected = -logp[keep].mean() + ((reward - r_pred) ** 2)[keep].mean() + bce[keep].mean()
    np.testing.assert_allclose(loss, expected, rtol=1e-4)

    z0, a0 = z[:, 0], a[:, 0]
    zn, r, d, (h, c) = rnn.sample_next(z0, a0, None, temperature=0.0)
    assert zn.shape == (2, 32) and r.shape == d.shape == (2,) and h.shape == (2, 256)
    np.testing.assert_array_equal(zn, rnn.sample_next(z0, a0, None, temperature=0.0)[0])
    zt = rnn.sample_next(z0, a0, (h, c), temperature=1.0)[0]
    assert zt.shape == (2, 32) and np.isfinite(zt).all()

    rnn.save(tmp_path / "rnn.keras")
    again = keras.saving.load_model(tmp_path / "rnn.keras")
    for x, y in zip(rnn((z, a)), again((z, a))):
        np.testing.assert_array_equal(ops.convert_to_numpy(x), ops.convert_to_numpy(y))


def test_make_sequences_targets_are_shifted_and_masked():
    T = 7
    mu = np.arange(T + 1, dtype="float32")[:, None].repeat(2, 1)
    ep = {
        "mu": mu,
        "log_var": np.full((T + 1, 2), -40.0, "float32"),  # z == mu
        "action": np.arange(T * 3, dtype="float32").reshape(T, 3),
        "reward": np.arange(T, dtype="float32"),
        "done": np.r_[np.zeros(T - 1), 1.0],
    }
    (z, a), (zn, r, d, m) = make_sequences([ep], seq_len=4, rng=0)
    assert z.shape == (2, 4, 2) and m.tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    np.testing.assert_allclose(zn[m > 0][:, 0], z[m > 0][:, 0] + 1)  # z_{t+1} after z_t
    assert r[1, :3].tolist() == [4, 5, 6] and d[1, 2] == 1 and d[m > 0].sum() == 1


# ------------------------------------------------------- NumPy copies of V, M
def test_numpy_world_model_matches_keras(models, frames):
    vae, rnn = models
    model = NumpyWorldModel(extract_weights(vae, rnn))
    mu = vae.encode(frames)[0]
    np.testing.assert_allclose(np.stack([model.encode(f) for f in frames]), mu, atol=1e-4)
    a = np.array([0.3, 0.7, 0.1], "float32")
    state = model.lstm_step(mu[0], a, model.initial_state())
    (logits, mdn_mu, log_sigma, reward, done), (h, c) = rnn(
        (mu[:1, None], a[None, None]), return_state=True
    )
    np.testing.assert_allclose(state[0], ops.convert_to_numpy(h)[0], atol=1e-5)
    np.testing.assert_allclose(state[1], ops.convert_to_numpy(c)[0], atol=1e-5)
    (lg, m2, ls), r, d = model.heads(state[0])
    np.testing.assert_allclose(lg, ops.convert_to_numpy(logits)[0, 0], atol=1e-5)
    np.testing.assert_allclose(m2, ops.convert_to_numpy(mdn_mu)[0, 0], atol=1e-5)
    np.testing.assert_allclose(ls, ops.convert_to_numpy(log_sigma)[0, 0], atol=1e-5)
    np.testing.assert_allclose(r, float(reward[0, 0]), atol=1e-5)
    np.testing.assert_allclose(d, float(ops.sigmoid(done[0, 0])), atol=1e-6)

    agent = WorldModelAgent(model, np.zeros(867))
    assert agent.act(frames[0]).tolist() == [0.0, 0.5, 0.0]  # zero controller: half gas
    expected = model.lstm_step(model.encode(frames[0]), [0.0, 0.5, 0.0], model.initial_state())
    np.testing.assert_allclose(agent.state[0], expected[0])  # h updated with [z, a]


# -------------------------------------------------------------------- CMA-ES
def test_cmaes_minimises_shifted_sphere_and_resumes(tmp_path):
    target = np.linspace(-1, 1, 10)
    reward = lambda x: -float(((x - target) ** 2).sum())  # noqa: E731
    es = CMAES(num_params=10, popsize=12, sigma0=0.5, seed=1)
    es.optimize(reward, 60)
    assert np.abs(es.mean - target).max() < 1e-2
    assert es.history[-1]["max"] > es.history[0]["max"]

    a = CMAES(num_params=10, popsize=8, sigma0=0.5, seed=2).optimize(reward, 3)
    a.save(tmp_path / "state.pkl")
    b = CMAES.load(tmp_path / "state.pkl")
    assert b.generation == 3 and b.history == a.history
    np.testing.assert_array_equal(a.ask(), b.ask())  # same random state, same covariance
    with pytest.raises(ValueError, match="rewards"):
        b.tell(b.ask(), [0.0])


# --------------------------------------------------------------------- dream
def test_dream_env_passes_checker_and_temperature(models):
    from gymnasium.utils.env_checker import check_env

    vae, rnn = models
    model = NumpyWorldModel(extract_weights(vae, rnn))
    z0 = np.random.default_rng(0).normal(size=(4, 32)).astype("float32")
    env = DreamEnv(
        model,
        temperature=1.15,
        max_steps=20,
        initial_z=z0,
        decoder=vae.decode,
        render_mode="rgb_array",
    )
    check_env(env, skip_render_check=False)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (288,) and any(np.allclose(obs[:32], z) for z in z0)
    assert env.render().shape == (64, 64, 3)
    c = Controller()
    steps = 0
    done = False
    while not done:
        obs, r, term, trunc, info = env.step(c.act_on(obs))
        steps += 1
        done = term or trunc
    assert steps <= 20
    # tau = 0: deterministic dream regardless of the random state
    cold = DreamEnv(model, temperature=0.0, done_mode="threshold")
    cold.reset(seed=1)
    cold.z = z0[0].copy()
    first = cold.step(np.zeros(3))[0]
    cold.reset(seed=2)
    cold.z = z0[0].copy()
    np.testing.assert_array_equal(first, cold.step(np.zeros(3))[0])


# ------------------------------------------------------------------ rollouts
def test_process_frame_and_random_policy():
    frame = rollouts.process_frame(np.full((96, 96, 3), 200, np.uint8))
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8 and (frame == 200).all()
    with pytest.raises(ValueError, match="RGB"):
        rollouts.process_frame(np.zeros((96, 96)))
    a = np.stack([rollouts.RandomPolicy(0).act(None) for _ in range(3)])
    assert a[:, 0].min() >= -1 and a[:, 1:].min() >= 0 and a.max() <= 1


def test_killed_collection_resumes(tmp_path):
    folder = tmp_path / "episodes"
    code = (
        "from gdl.world_models.rollouts import collect; "
        f"collect({str(folder)!r}, episodes=3, max_steps=150, workers=1, seed=5, progress=False)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    first = rollouts.episode_path(folder, 0)
    deadline = time.time() + 120
    while not first.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert first.exists(), "the collection never finished its first episode"
    kept = first.read_bytes()
    (folder / ".episode_00001.npz.999.tmp").write_bytes(b"half-written")
    done_before = len(rollouts.list_episodes(folder))
    assert done_before < 3
    paths = rollouts.collect(folder, episodes=3, max_steps=30, workers=1, seed=5, progress=False)
    assert [p.exists() for p in paths] == [True] * 3
    assert first.read_bytes() == kept  # finished episodes are kept, not redone
    assert not list(folder.glob(".*.tmp"))
    ep = rollouts.load_episode(paths[2])
    assert ep["obs"].shape == (31, 64, 64, 3) and ep["action"].shape == (30, 3)
    assert int(ep["seed"]) == 7


# ------------------------------------------------------------------ pipeline
def test_tiny_pipeline_leaves_every_artifact_and_resumes(tmp_path, monkeypatch):
    from gdl.cli import main
    from gdl.world_models.pipeline import WorldModelsConfig, run

    monkeypatch.setenv("GDL_RUNS_DIR", str(tmp_path / "runs"))
    run_dir = tmp_path / "runs" / "world-models"
    # CLI: collect 2 episodes x 50 steps in 2 worker processes
    assert main(["world-models", "collect", "--smoke", "--workers", "2", "--verbose", "0"]) == 0
    # 1 epoch each, population 4, 1 generation; controller episodes shorter than collection's
    cfg = WorldModelsConfig.smoke(workers=2, controller_max_steps=40)
    run("all", run_dir, cfg)
    expected = [
        "episodes/episode_00000.npz",
        "episodes/episode_00001.npz",
        "vae.keras",
        "z_sequences.npz",
        "rnn.keras",
        "controller/params.npy",
        "controller/best.npy",
        "controller/cma_state.pkl",
        "controller/history.json",
        "controller/reward_curve.png",
        "evaluation.json",
        "real_episode.gif",
        "real_episode.png",
        "dream.gif",
        "dream.png",
    ]
    missing = [p for p in expected if not (run_dir / p).exists()]
    assert not missing, missing
    assert np.load(run_dir / "controller/params.npy").shape == (867,)
    ev = json.loads((run_dir / "evaluation.json").read_text())
    assert len(ev["controller"]["rewards"]) == len(ev["random"]["rewards"]) == 2
    assert ev["max_steps"] == 40  # evaluated like the controller was trained

    # a stopped controller stage continues from its saved CMA-ES state
    state_before = CMAES.load(run_dir / "controller/cma_state.pkl")
    run("train-controller", run_dir, WorldModelsConfig.smoke(generations=2))
    history = json.loads((run_dir / "controller/history.json").read_text())
    assert [h["generation"] for h in history] == [1, 2]
    assert history[0] == state_before.history[0]
    # a VAE stage asked for one more epoch resumes from the saved epoch
    run("train-vae", run_dir, WorldModelsConfig.smoke(vae_epochs=2))
    assert json.loads((run_dir / "vae.progress.json").read_text()) == {"epochs": 2}

    # a diverging stage stops with the epoch named and leaves nothing marked done
    import shutil

    from gdl.errors import RunError

    bad = tmp_path / "diverging"
    shutil.copytree(run_dir / "episodes", bad / "episodes")
    with pytest.raises(RunError, match=r"epoch 1.*learning rate.*nothing was saved"):
        run("train-vae", bad, WorldModelsConfig.smoke(vae_learning_rate=1e6))
    assert not [p.name for p in bad.iterdir() if p.name.startswith(("vae", "z_"))]


def test_carracing_dataset_is_embedded_and_cached(tmp_path, monkeypatch):
    from gdl.data import get_dataset, load

    monkeypatch.setenv("GDL_CACHE_DIR", str(tmp_path))
    assert get_dataset("carracing").embedded
    x = load("carracing", episodes=1, steps=5, seed=3)
    assert x.shape == (6, 64, 64, 3) and x.dtype == np.uint8
    cached = next((tmp_path / "carracing").rglob("episode_00000.npz"))
    stamp = cached.stat().st_mtime_ns
    eps = load("carracing", episodes=1, steps=5, seed=3, with_actions=True)
    assert cached.stat().st_mtime_ns == stamp and eps[0]["action"].shape == (5, 3)
    np.testing.assert_array_equal(eps[0]["obs"], x)
