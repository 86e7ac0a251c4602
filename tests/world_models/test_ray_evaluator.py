"""CMA-ES rollouts on Ray: same rewards as the process pool, killed workers, resumption.

One local Ray instance with 2 CPUs is started for the module and shut down after it;
V and M are tiny (z 4, 8 LSTM units) and episodes 12 steps, so the CarRacing work is
small next to Ray's start-up.
"""

from __future__ import annotations

import argparse
import threading
import time

import keras
import numpy as np
import pytest

ray = pytest.importorskip("ray")

from gdl.world_models import pipeline  # noqa: E402
from gdl.world_models.agent import extract_weights  # noqa: E402
from gdl.world_models.cmaes import Evaluator, make_evaluator, train_controller  # noqa: E402
from gdl.world_models.mdn_rnn import MDNRNN  # noqa: E402
from gdl.world_models.ray_evaluator import RayEvaluator  # noqa: E402
from gdl.world_models.vae import WorldModelVAE  # noqa: E402

STEPS = 12
NUM_PARAMS = (4 + 8) * 3 + 3


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def weights():
    keras.utils.set_random_seed(0)
    return extract_weights(WorldModelVAE(z_dim=4, seed=0), MDNRNN(4, 3, 8, 2, seed=0))


def _candidates(n):
    rng = np.random.default_rng(0)
    return [rng.normal(scale=0.5, size=NUM_PARAMS) for _ in range(n)]


def test_ray_rewards_equal_the_process_pool_and_survive_a_killed_worker(local_ray, weights):
    candidates, seeds = [*_candidates(5), None], [3, 4]  # None: the random policy
    with Evaluator(weights, "real", 2, max_steps=STEPS) as pool:
        expected = pool.rewards(candidates, seeds)
    assert np.unique(expected).size > 1  # the candidates really differ

    with RayEvaluator(weights, "real", max_steps=STEPS) as ev:
        assert len(ev.actors) == 2  # one actor per CPU of the cluster
        np.testing.assert_array_equal(ev.rewards(candidates, seeds), expected)
        assert ev.retried == 0

        # kill an actor for good while the generation runs: its tasks run again elsewhere
        out = {}
        thread = threading.Thread(target=lambda: out.update(table=ev.rewards(candidates, seeds)))
        thread.start()
        deadline = time.time() + 60
        while ev.completed < 1 and time.time() < deadline:
            time.sleep(0.005)
        victim = ev.actors[0]
        ray.kill(victim)  # no_restart=True: Ray will not bring it back
        thread.join(120)
        assert not thread.is_alive()
        np.testing.assert_array_equal(out["table"], expected)
        assert ev.retried >= 1 and ev.actors[0] is not victim

        # a crash Ray restarts (max_restarts): the pending calls are retried by Ray itself
        ray.kill(ev.actors[1], no_restart=False)
        np.testing.assert_array_equal(ev.rewards(candidates, seeds), expected)


def test_ray_dream_search_resumes_like_an_uninterrupted_run(local_ray, weights, tmp_path):
    options = dict(max_steps=STEPS, initial_z=np.zeros((2, 4), "float32"))
    kw = dict(popsize=4, rollouts_per_candidate=2, num_params=NUM_PARAMS, progress=False)
    with Evaluator(weights, "dream", 1, **options) as local:
        expected = train_controller(local, tmp_path / "local.pkl", generations=2, **kw)
    with make_evaluator(weights, "dream", ray_address="auto", **options) as ev:
        assert isinstance(ev, RayEvaluator)
        train_controller(ev, tmp_path / "ray.pkl", generations=1, **kw)  # "killed" here
        resumed = train_controller(ev, tmp_path / "ray.pkl", generations=2, **kw)
    assert resumed.history == expected.history
    np.testing.assert_array_equal(resumed.mean, expected.mean)


def test_cli_has_ray_address():
    parser = argparse.ArgumentParser()
    pipeline.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["world-models", "train-controller", "--ray-address", "auto"])
    assert args.ray_address == "auto"
    assert not isinstance(make_evaluator({}, "real", 2), RayEvaluator)
