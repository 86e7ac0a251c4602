"""Run in a fresh process by tests/test_distribute.py: one SGD step on 1 device and on
2 simulated CPU devices for each model; prints one JSON object.

``python -m tests.distribute_worker`` (the ``compute_loss`` models) or ``python -m
tests.distribute_worker --custom`` (the models with their own train step: GANs, EBM,
MuseGAN, chapter 10's GANs) with ``KERAS_BACKEND`` set (JAX: also
``XLA_FLAGS=--xla_force_host_platform_device_count=2``). TensorFlow gets 2 logical CPUs
before anything else touches its devices.

"Same randomness". ``compute_loss`` models: the step's noise (VAE sampling, diffusion
noise and times) is replaced by constants, so each example sees the same noise however
the batch is split; what is compared is how the loss and the gradients are aggregated.
Custom steps: *real* seeded noise. Both runs start from the same seed-generator states,
and the steps draw every random number for the global batch and keep their replica's
rows (:class:`gdl.distribute.GlobalBatch`), so example ``i`` gets the same latent,
interpolation weight, label noise, Langevin noise and replay-buffer draw on 1 and on 2
devices: the comparison checks the randomness too (a step drawing per replica fails it,
see the wrong variants). Dropout is off in both (Keras' ``Dropout`` draws the same mask
on every replica), and TensorFlow's batch norm is synchronised (:func:`sync_batch_norm`)
as JAX's is.
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
    """Constant noise (keras.random.normal / uniform) until the returned function is called;
    dropout off for good."""
    saved = keras.random.normal, keras.random.uniform

    def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return ops.full(shape, 0.3, dtype=dtype or "float32") * stddev + mean

    def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        return ops.full(shape, 0.6, dtype=dtype or "float32") * (maxval - minval) + minval

    keras.random.normal, keras.random.uniform = normal, uniform
    keras.layers.Dropout.call = lambda self, inputs, training=False: inputs

    def restore():
        keras.random.normal, keras.random.uniform = saved

    return restore


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


def cli_run(folder: str, model: str = "vae") -> dict:
    """``gdl train MODEL --devices 2``: one epoch, then ``--resume`` to a second."""
    from pathlib import Path

    from gdl.cli.main import main as gdl

    run = Path(folder) / model
    argv = ["train", model, "--data", "digits", "--run-dir", str(run), "--steps-per-epoch", "2",
            "--verbose", "0", "--devices", "2", "--seed", "0", "--batch-size", "16"]  # fmt: skip
    codes = [gdl([*argv, "--epochs", "1"]), gdl([*argv, "--epochs", "2", "--resume"])]
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    summary = json.loads((run / "summary.json").read_text())
    return {"codes": codes, "files": files, "summary": summary}


# ----------------------------------------------------------------- custom train steps
def _custom_cases() -> dict:
    """name -> (make, x, y, compile kwargs builder): tiny models, a global batch of 4."""
    import gdl.models as M
    from gdl.models.progan import ProDiscriminator
    from gdl.models.stylegan import style_discriminator
    from tests.test_public_api import _musegan

    def rand(*shape, low=-1.0):
        return np.random.default_rng(sum(shape)).uniform(low, 1.0, shape).astype("float32")

    def gan(cls, **kw):
        return lambda: cls(image_size=8, channels=1, latent_dim=4, seed=0, **kw)

    def sgd():
        return keras.optimizers.SGD(0.05)

    two = lambda: {"d_optimizer": sgd(), "g_optimizer": sgd()}  # noqa: E731
    critic = lambda: {"c_optimizer": sgd(), "g_optimizer": sgd()}  # noqa: E731
    img = rand(4, 8, 8, 1)
    # minibatch standard deviation over groups of 2: a replica's 2 images are one group
    # on 1 device too (groups are consecutive images)
    return {
        "DCGAN": (gan(M.DCGAN), img, None, two),
        "WGANGP": (gan(M.WGANGP, critic_steps=2), img, None, critic),
        "ConditionalWGAN": (gan(M.ConditionalWGAN, critic_steps=1), img,
                            np.array([0, 1, 0, 1]), critic),
        "MuseGAN": (_musegan, rand(4, 2, 16, 84, 2), None, critic),
        "EBM": (lambda: M.EBM(image_size=16, steps=3, buffer_size=64, fresh_fraction=0.5, seed=0),
                rand(4, 16, 16, 1), None, lambda: {"optimizer": keras.optimizers.SGD(10.0)}),
        "SAGAN": (lambda: M.SAGAN(image_size=8, channels=1, latent_dim=4, g_filters=(8,),
                                  d_filters=(8,), attention_resolution=8, seed=0), img, None, two),
        "ProGAN": (lambda: M.ProGAN(discriminator=ProDiscriminator((8, 4), 1, group_size=2, seed=0),
                                    filters=(8, 4), channels=1, latent_dim=4, phase_steps=100,
                                    seed=0), img, None, two),
        "StyleGAN2": (lambda: M.StyleGAN2(
            discriminator=style_discriminator((8, 4), 1, group_size=2, seed=0), filters=(8, 4),
            channels=1, latent_dim=4, w_dim=4, mapping_layers=1, r1_interval=1, pl_interval=1,
            seed=0), img, None, two),
        "VQGAN": (lambda: M.VQGAN(image_shape=(8, 8, 1), num_embeddings=8, embedding_dim=4,
                                  filters=(4, 8), ema=True, seed=0), rand(4, 8, 8, 1, low=0.0),
                  None, two),
    }  # fmt: skip


CUSTOM = ("DCGAN", "WGANGP", "ConditionalWGAN", "MuseGAN", "EBM", "SAGAN", "ProGAN", "StyleGAN2",
          "VQGAN")  # fmt: skip


def _state(model) -> list:
    """Every variable a step may change besides the weights: optimizers, the EBM's buffer,
    running averages (deduplicated, in a fixed order)."""
    out, seen = [], {id(v) for v in model.metrics_variables}
    groups = [model.variables]
    for name in ("optimizer", "d_optimizer", "g_optimizer", "c_optimizer"):
        if getattr(model, name, None) is not None:
            groups.append(getattr(model, name).variables)
    if getattr(model, "_buffer", None) is not None:
        groups.append(model._buffer.variables)
    for v in (v for g in groups for v in g):
        # seed states: unseeded layers (dropout) start from a random state in each model
        if id(v) not in seen and "seed_generator_state" not in v.path:
            seen.add(id(v))
            out.append(v)
    return out


def _copies(v) -> list:
    """The per-replica copies of a (TensorFlow, mirrored) variable, else ``[v]``."""
    copies = getattr(getattr(v, "value", v), "values", None)
    return list(copies) if isinstance(copies, (list, tuple)) and copies else [v]


def _read(v) -> np.ndarray:
    """A variable's value (the first replica's copy)."""
    return np.asarray(ops.convert_to_numpy(_copies(v)[0]), "float64")


def _spread(variables) -> float:
    """TensorFlow: the largest difference between two replicas' copies of a variable."""
    worst = 0.0
    for v in variables:
        first, *others = (np.asarray(ops.convert_to_numpy(c), "float64") for c in _copies(v))
        for other in others:
            worst = max(worst, float(np.max(np.abs(first - other), initial=0.0)))
    return worst


def _custom_step(case, weights, devices):
    make, x, y, compile_kwargs = case
    with gdl.distribute.data_parallel(devices):
        model = make()
        gdl.distribute.sync_batch_norm(model)
        if weights is not None:
            model.set_weights(weights)
        start = model.get_weights()
        model.compile(**compile_kwargs())
        logs = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0).history
        state = [_read(v) for v in _state(model)]
        spread = _spread(_state(model)) if devices > 1 else 0.0
        return start, model.get_weights(), state, {k: float(v[-1]) for k, v in logs.items()}, spread


def compare_custom(case) -> dict:
    start, one, state_1, logs_1, _ = _custom_step(case, None, 1)
    _, two, state_2, logs_2, spread = _custom_step(case, start, 2)
    change = max(float(np.max(np.abs(a - b))) for a, b in zip(one, start) if a.size)
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(one, two) if a.size)
    state_diff = max(float(np.max(np.abs(a - b), initial=0.0)) for a, b in zip(state_1, state_2))
    return {"logs_1": logs_1, "logs_2": logs_2, "weight_change": change, "weight_diff": diff,
            "state_diff": state_diff, "replica_spread": spread}  # fmt: skip


def _custom_wrong_variants() -> dict:
    """Steps that get data parallelism wrong, by patching :class:`GlobalBatch`: each
    replica differentiates its own batch mean (gradients 2x), or draws its own noise
    (every replica the same latents and penalty weights)."""
    from gdl.distribute import GlobalBatch

    return {
        "per_replica_loss": ("loss", lambda self, loss: loss),
        "per_replica_noise": ("draw", lambda self, draw: draw(self.count)),
    }, GlobalBatch


def main_custom(names) -> dict:
    cases = _custom_cases()
    out = {"backend": BACKEND, "devices": gdl.distribute.device_count(), "models": {}}
    for name in names or CUSTOM:
        out["models"][name] = compare_custom(cases[name])
    if BACKEND == "tensorflow":  # JAX runs one program over the global batch
        variants, cls = _custom_wrong_variants()
        out["wrong"] = {}
        for variant, (method, wrong) in variants.items():
            saved = getattr(cls, method)
            setattr(cls, method, wrong)
            try:
                out["wrong"][variant] = compare_custom(cases["WGANGP"])
            finally:
                setattr(cls, method, saved)
    return out


def main() -> None:
    from tests.test_public_api import MODEL_CASES

    args = sys.argv[1:]
    restore = _constant_randomness()
    if args[:1] == ["--custom"]:
        restore()  # real, seeded noise: see the module docstring
        out = main_custom(args[1:])
        if os.environ.get("GDL_DIST_CLI_DIR"):
            out["cli"] = cli_run(os.environ["GDL_DIST_CLI_DIR"], "dcgan")
        print("RESULT " + json.dumps(out))
        return
    cases = {c.name: c for c in MODEL_CASES}
    cases["GPT"] = dataclasses.replace(cases["GPT"], fit=_padded_tokens)
    out = {"backend": BACKEND, "devices": gdl.distribute.device_count(), "models": {}}
    for name in args or MODELS:
        out["models"][name] = compare(cases[name])
    if BACKEND == "tensorflow":  # JAX runs one program over the global batch
        out["wrong"] = {n: compare(cases[n], cls) for n, cls in _wrong_variants().items()}
    if os.environ.get("GDL_DIST_CLI_DIR"):
        out["cli"] = cli_run(os.environ["GDL_DIST_CLI_DIR"])
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
