"""Chapter 2: train-step time of the MLP and CNN at the book's batch size (32)."""

import numpy as np

from benchmarks.harness import benchmark, timeit


@benchmark
def train_step():
    import keras

    from gdl.models.classifiers import cnn, compile_classifier, mlp

    rng = np.random.default_rng(0)
    x = rng.random((32, 32, 32, 3), dtype="float32")
    y = keras.utils.to_categorical(np.arange(32) % 10, 10)
    rows = {}
    for name, fn in (("mlp", mlp), ("cnn", cnn)):
        model = compile_classifier(fn())
        rows[f"{name} train step, batch 32 (s)"] = timeit(
            lambda m=model: m.train_on_batch(x, y), repeat=20, warmup=3
        )["median_s"]
    return rows
