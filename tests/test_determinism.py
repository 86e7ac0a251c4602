"""The same seed gives the same samples on a backend in two separate processes.

Each backend runs :data:`WORKER` twice (two fresh interpreters): tiny models built after
``keras.utils.set_random_seed(0)`` and sampled with ``seed=3`` (a VAE's decoder, GPT's
cached decoding with its logits, DDIM's compiled reverse diffusion). Token ids must be
equal and float samples equal within float tolerance; whether they are bitwise equal is
printed (``-s``) and measured at book size in ``benchmarks/bench_backends.py``
(``backends.determinism``, results in ``benchmarks/results/``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests import harness

WORKER = """
import json, sys
import numpy as np
import keras
import gdl.models as M

def built(make):
    keras.utils.set_random_seed(0)
    return make()

vae = built(lambda: M.VAE(image_shape=(8, 8, 1), latent_dim=2, beta=10.0, seed=0))
gpt = built(lambda: M.GPT(vocab_size=32, max_len=16, embed_dim=8, num_heads=2, key_dim=4,
                          ff_dim=8, seed=0))
ddim = built(lambda: M.DiffusionModel(image_size=8, channels=1, widths=(4, 8), block_depth=1,
                                      embedding_dims=8, kid_features="pixels", seed=0))
ddim.adapt(np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype("float32"))
text = gpt.generate([[1, 2]], max_tokens=12, num=3, seed=3, stop_at_end=False,
                    return_logits=True)
out = {"VAE generate": vae.generate(4, seed=3), "GPT tokens": text.tokens,
       "GPT logits": text.logits, "DDIM generate": ddim.generate(2, diffusion_steps=4, seed=3)}
np.savez(sys.argv[1], **{k: np.asarray(v) for k, v in out.items()})
print(json.dumps({"backend": keras.config.backend()}))
"""


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_same_seed_same_samples_across_processes(backend, tmp_path):
    runs = []
    for i in range(2):
        path = tmp_path / f"run{i}.npz"
        assert harness.run_python(WORKER, path, backend=backend, timeout=600)["backend"] == backend
        runs.append(dict(np.load(path)))
    a, b = runs
    report = {}
    for key in a:
        report[key] = "bitwise" if np.array_equal(a[key], b[key]) else (
            f"max |diff| {np.max(np.abs(a[key].astype(float) - b[key])):.2g}")  # fmt: skip
        if a[key].dtype.kind in "iu":
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        else:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)
    print(json.dumps({backend: report}))
