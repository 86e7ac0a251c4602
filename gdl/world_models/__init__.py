"""Chapter 12: World Models (Ha & Schmidhuber 2018) on gymnasium's CarRacing.

V (:mod:`~gdl.world_models.vae`), M (:mod:`~gdl.world_models.mdn_rnn`), C
(:mod:`~gdl.world_models.controller`) trained with CMA-ES (:mod:`~gdl.world_models.cmaes`),
in the real environment (:mod:`~gdl.world_models.rollouts`) or in the dream
(:mod:`~gdl.world_models.dream`); :mod:`~gdl.world_models.pipeline` runs the five stages
(``gdl world-models ...``).

Names are imported lazily so CMA-ES worker processes, which only need NumPy,
gymnasium and the controller, never import Keras or TensorFlow. The two Keras models
(``WorldModelVAE``, ``MDNRNN``) load from ``.keras`` after a bare ``import gdl``; the
VAE follows :mod:`gdl.models`' verbs (``encode -> (mu, log_var, z)``, ``decode``,
``generate``).
"""

from __future__ import annotations

from gdl._lazy import lazy_exports

_EXPORTS = {
    "WorldModelVAE": "vae",
    "build_encoder": "vae",
    "build_decoder": "vae",
    "MDNRNN": "mdn_rnn",
    "make_sequences": "mdn_rnn",
    "Controller": "controller",
    "CMAES": "cmaes",
    "Evaluator": "cmaes",
    "RayEvaluator": "ray_evaluator",
    "make_evaluator": "cmaes",
    "train_controller": "cmaes",
    "DreamEnv": "dream",
    "from_models": "dream",
    "NumpyWorldModel": "agent",
    "WorldModelAgent": "agent",
    "extract_weights": "agent",
    "RandomPolicy": "rollouts",
    "collect": "rollouts",
    "make_env": "rollouts",
    "WorldModelsConfig": "pipeline",
    "run": "pipeline",
}

#: the public Model subclasses (what tests/harness.py runs every one of)
MODELS = ("WorldModelVAE", "MDNRNN")

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
