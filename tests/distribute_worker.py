"""Run in a fresh process by tests/test_distribute.py: one SGD step on 1 device and on
2 simulated CPU devices for each ``compute_loss`` model; prints one JSON object.

``python -m tests.distribute_worker`` with ``KERAS_BACKEND`` set (JAX: also
``XLA_FLAGS=--xla_force_host_platform_device_count=2``). TensorFlow gets 2 logical CPUs
before anything else touches its devices.

"Same randomness": the step's noise (VAE sampling, diffusion noise and times) is
replaced by constants, so each example sees the same noise however the batch is split,
and dropout is off; what is compared is how the loss and the gradients are aggregated.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
if BACKEND == "tensorflow":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

import gdl.distribute  # noqa: E402

#: the models whose training step is Keras' own around their compute_loss
MODELS = ("Autoencoder", "VAE", "FacesVAE", "LSTMTextGenerator", "PixelCNN", "PixelCNNMixture",
          "RealNVP", "DiffusionModel", "GPT", "MusicTransformer", "WorldModelVAE", "MDNRNN")  # fmt: skip
LEARNING_RATE = 0.5


def _constant_randomness():
    def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return ops.full(shape, 0.3, dtype=dtype or "float32") * stddev + mean

    def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        return ops.full(shape, 0.6, dtype=dtype or "float32") * (maxval - minval) + minval

    keras.random.normal, keras.random.uniform = normal, uniform
    keras.layers.Dropout.call = lambda self, inputs, training=False: inputs


def _wrong_variants():
    """Steps that average per replica: the failure the test must catch."""
    from keras.src.losses.loss import unscale_loss_for_distribution

    import gdl.models as M

    class PerReplicaVAE(M.VAE):
        """The loss averaged over this replica's slice only (gradients 2x on 2 replicas)."""

        def compute_loss(self, *args, **kwargs):
            return unscale_loss_for_distribution(super().compute_loss(*args, **kwargs))

    class PerReplicaGPT(M.GPT):
        """Masked mean per replica, then halved: wrong when replicas hold unequal tokens."""

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            y = ops.cast(y, "int32")
            logits = y_pred[0] if isinstance(y_pred, (tuple, list)) else y_pred
            per_token = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            mask = ops.cast(ops.logical_or(ops.not_equal(y, 0), ops.not_equal(x, 0)), "float32")
            local = ops.sum(per_token * mask) / ops.maximum(ops.sum(mask), 1.0)
            return gdl.distribute.global_batch_loss(local)

    return {"VAE": PerReplicaVAE, "GPT": PerReplicaGPT}


def _one_step(case, weights, devices, cls=None):
    with gdl.distribute.data_parallel(devices):
        model = case.make()
        if cls is not None:  # same architecture, wrong step
            model = cls.from_config(model.get_config())
        model(case.inputs(), training=False)  # create the variables
        gdl.distribute.sync_batch_norm(model)  # TF: global-batch statistics, as on JAX
        if weights is not None:
            model.set_weights(weights)
        start = model.get_weights()
        kwargs = {k: v for k, v in case.compile().items() if k != "optimizer"}
        model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), **kwargs)
        x, y = case.fit()
        batch = len(keras.tree.flatten(x)[0])
        # one step of fit (train_on_batch would give every replica the whole batch)
        logs = model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0).history
        return start, model.get_weights(), {k: float(v[-1]) for k, v in logs.items()}


def compare(case, cls=None) -> dict:
    start, one, logs_1 = _one_step(case, None, 1)
    _, two, logs_2 = _one_step(case, start, 2, cls)
    change = max(float(np.max(np.abs(a - b))) for a, b in zip(one, start) if a.size)
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(one, two) if a.size)
    batch = len(keras.tree.flatten(case.fit()[0])[0])
    return {"batch": batch, "logs_1": logs_1, "logs_2": logs_2, "weight_change": change,
            "weight_diff": diff}  # fmt: skip


def _padded_tokens():
    """GPT batch whose first half holds 16 real targets and second half 6 (padding 0),
    so a mean per replica differs from the mean over the global batch."""
    seq = np.random.default_rng(0).integers(1, 32, (4, 9)).astype("int32")
    seq[2:, 3:] = 0
    return seq[:, :-1], seq[:, 1:]


def cli_run(folder: str) -> dict:
    """``gdl train vae --devices 2``: one epoch, then ``--resume`` to a second; a GAN refuses."""
    from pathlib import Path

    from gdl.cli.main import main as gdl

    run = Path(folder) / "vae"
    argv = ["train", "vae", "--data", "digits", "--run-dir", str(run), "--steps-per-epoch", "2",
            "--verbose", "0", "--devices", "2", "--seed", "0"]  # fmt: skip
    codes = [gdl([*argv, "--epochs", "1"]), gdl([*argv, "--epochs", "2", "--resume"])]
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    from gdl.distribute import check_data_parallel
    from gdl.errors import ConfigError
    from gdl.models import DCGAN

    gan_code = gdl(["train", "dcgan", "--data", "digits", "--run-dir", str(Path(folder) / "gan"),
                    "--devices", "2", "--epochs", "1", "--steps-per-epoch", "1", "--verbose", "0"])  # fmt: skip
    try:
        check_data_parallel(DCGAN(), 2)
        refused = ""
    except ConfigError as exc:
        refused = f"exit {gan_code}: {exc}"
    summary = json.loads((run / "summary.json").read_text())
    return {"codes": codes, "files": files, "summary": summary, "gan_refused": refused}


def main() -> None:
    from tests.test_public_api import MODEL_CASES

    _constant_randomness()
    cases = {c.name: c for c in MODEL_CASES}
    cases["GPT"] = dataclasses.replace(cases["GPT"], fit=_padded_tokens)
    out = {"backend": BACKEND, "devices": gdl.distribute.device_count(), "models": {}}
    for name in sys.argv[1:] or MODELS:
        out["models"][name] = compare(cases[name])
    if BACKEND == "tensorflow":  # JAX runs one program over the global batch
        out["wrong"] = {n: compare(cases[n], cls) for n, cls in _wrong_variants().items()}
    if os.environ.get("GDL_DIST_CLI_DIR"):
        out["cli"] = cli_run(os.environ["GDL_DIST_CLI_DIR"])
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
