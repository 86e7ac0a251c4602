"""Chapters 6-8: RealNVP likelihood vs a Gaussian mixture, DDIM generation speed and KID,
train-step times. CPU timings on a shared machine are noisy: compare within one run."""

import time

import numpy as np

from benchmarks.harness import alternate, benchmark, timeit


def _moons_split():
    """30,000 training and 5,000 held-out two-moons points, normalised by the training
    mean and standard deviation (the book's Normalization layer)."""
    import keras

    from gdl.data import load

    keras.utils.set_random_seed(0)
    train = load("moons", n=30000, seed=0)
    test = load("moons", n=5000, seed=1)
    mean, std = train.mean(0), train.std(0)
    return (train - mean) / std, (test - mean) / std


def _held_out_nll(flow, test) -> float:
    """Mean negative log-likelihood of ``test`` under ``flow`` (nats per point)."""
    return -float(np.mean(np.asarray(flow.log_prob(test))))


@benchmark
def realnvp_nll():
    """Held-out NLL (nats per point, normalised space) of the book's RealNVP trained as the
    book trains it (``gdl train realnvp``: Adam 1e-4, batch 256, 300 epochs of 30,000 points)
    vs scikit-learn's GaussianMixture(10) fitted on the same points; the flow's NLL is
    recorded every 50 epochs."""
    import keras
    from sklearn.mixture import GaussianMixture

    from gdl.models.realnvp import RealNVP

    train, test = _moons_split()
    gmm = GaussianMixture(10, random_state=0).fit(train)
    rows = {"GaussianMixture(10) held-out NLL (nats)": -float(np.mean(gmm.score_samples(test)))}
    model = RealNVP(seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    t0 = time.perf_counter()
    for epoch in range(50, 301, 50):
        model.fit(train, batch_size=256, epochs=epoch, initial_epoch=epoch - 50, verbose=0)
        nll = _held_out_nll(model, test)
        rows[f"RealNVP held-out NLL after {epoch} epochs (nats)"] = nll
        print(epoch, nll, f"{time.perf_counter() - t0:.0f} s", flush=True)
    rows["RealNVP training wall (s)"] = time.perf_counter() - t0
    return rows


@benchmark
def realnvp_capacity():
    """Is the book's flow limited by its 2 coupling layers? The same RealNVP with the 6
    couplings of the keras.io example it adapts, 60 epochs at Adam 1e-3, held-out NLL."""
    import keras

    from gdl.models.realnvp import RealNVP

    train, test = _moons_split()
    rows = {}
    for layers in (2, 6):
        model = RealNVP(coupling_layers=layers, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        t0 = time.perf_counter()
        model.fit(train, batch_size=256, epochs=60, verbose=0)
        nll = _held_out_nll(model, test)
        rows[f"{layers} couplings: held-out NLL after 60 epochs (nats)"] = nll
        rows[f"{layers} couplings: training wall (s)"] = time.perf_counter() - t0
        print(rows, flush=True)
    return rows


@benchmark
def realnvp_shared_trunk():
    """The book's coupling (separate scale and translation stacks, 397,316 parameters)
    vs ``shared_trunk=True`` (one 4x256 stack, two heads, 199,172), 2 couplings each:
    train-step time at batch 256 (10 steps per call, alternating, median of 5), then both
    trained in alternating rounds of 20 epochs (Adam 1e-3, batch 256, 30,000 points; the
    setting of ``realnvp_capacity``) to 60 epochs: held-out NLL (nats per point) and the
    training wall of each after every round."""
    import keras

    from gdl.models.realnvp import RealNVP

    train, test = _moons_split()
    models = {}
    for name, shared in (("separate (book)", False), ("shared trunk", True)):
        keras.utils.set_random_seed(0)
        models[name] = RealNVP(seed=0, shared_trunk=shared)
        models[name].compile(optimizer=keras.optimizers.Adam(1e-3))
    rows = {f"{n}: parameters": m.count_params() for n, m in models.items()}
    x = train[:256]

    def steps(model):
        return lambda: [model.train_on_batch(x) for _ in range(10)]

    times, _ = alternate({n: steps(m) for n, m in models.items()}, repeat=5)
    for name, t in times.items():
        rows[f"{name}: train step, batch 256 (ms)"] = 1000 * t / 10
    rows["step-time ratio separate / shared"] = times["separate (book)"] / times["shared trunk"]
    for name, model in models.items():  # fresh starts for the NLL race
        keras.utils.set_random_seed(0)
        fresh = RealNVP(seed=0, shared_trunk=model.shared_trunk)
        fresh.compile(optimizer=keras.optimizers.Adam(1e-3))
        models[name] = fresh
    wall = dict.fromkeys(models, 0.0)
    for epoch in (20, 40, 60):
        for name, model in models.items():
            t0 = time.perf_counter()
            model.fit(train, batch_size=256, epochs=epoch, initial_epoch=epoch - 20, verbose=0)
            wall[name] += time.perf_counter() - t0
            rows[f"{name}: held-out NLL after {epoch} epochs (nats)"] = _held_out_nll(model, test)
            rows[f"{name}: training wall after {epoch} epochs (s)"] = wall[name]
        print(epoch, {k: v for k, v in rows.items() if str(epoch) in k}, flush=True)
    return rows


@benchmark
def ddim_generation():
    """DDIM generation of 64 images with 20 steps: compiled loop vs eager Python loop."""
    from gdl.models.diffusion import DiffusionModel

    rows = {}
    # the book size is slow on a CPU: one timed call after one warm-up call
    for size, channels, label, repeat in ((32, 1, "32x32x1 (digits)", 3),
                                          (64, 3, "64x64x3 (book)", 1)):  # fmt: skip
        model = DiffusionModel(image_size=size, channels=channels, seed=0)
        noise = np.random.default_rng(0).standard_normal((64, size, size, channels))
        noise = noise.astype("float32")
        compiled = timeit(lambda m=model, z=noise: m.generate(initial_noise=z, diffusion_steps=20),
                          repeat=repeat, warmup=1)["median_s"]  # fmt: skip
        eager = timeit(lambda m=model, z=noise: m.generate(initial_noise=z, diffusion_steps=20,
                       compiled=False), repeat=repeat, warmup=1)["median_s"]  # fmt: skip
        rows[f"{label} compiled (s)"] = compiled
        rows[f"{label} eager (s)"] = eager
        rows[f"{label} speed-up"] = eager / compiled
        print(rows, flush=True)
    return rows


KID_EPOCHS = 30  # 690 steps of batch 64


@benchmark
def ddim_kid_digits():
    """KID (random-conv features and pixels) of 20-step DDIM samples vs held-out digits after
    a bounded training budget; with the untrained model and a real/real split as bounds."""
    import keras

    from gdl.book.ch08_diffusion import diffusion_data
    from gdl.metrics import KID
    from gdl.models.diffusion import DiffusionModel

    keras.utils.set_random_seed(0)
    x_train, x_test, _ = diffusion_data("digits")
    # EMA 0.99, not the book's 0.999: the budget is ~700 steps, after which a 0.999 EMA
    # network would still be ~50% its initial weights
    model = DiffusionModel(image_size=32, channels=1, ema=0.99, seed=0)
    model.adapt(x_train)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=1e-4))

    def kid(generated, real):
        out = {}
        for name in ("random-conv", "pixels"):
            metric = KID(32, 1, feature_extractor=None if name == "random-conv" else "pixels")
            for i in range(0, len(real) - 63, 64):
                metric.update_state(real[i : i + 64], generated[i : i + 64])
            out[name] = float(metric.result())
        return out

    n = (len(x_test) // 64) * 64
    real = x_test[:n]
    before = kid(model.generate(n, 20, seed=1), real)
    t0, rows = time.perf_counter(), {}
    for epoch in range(10, KID_EPOCHS + 1, 10):
        model.fit(x_train, batch_size=64, epochs=epoch, initial_epoch=epoch - 10, verbose=0)
        rows[f"KID after {epoch} epochs (random-conv, pixels)"] = kid(
            model.generate(n, 20, seed=1), real
        )
        print(epoch, rows, f"{time.perf_counter() - t0:.0f} s", flush=True)
    wall = time.perf_counter() - t0
    floor = kid(x_train[:n], real)
    return {
        **rows,
        "KID untrained (random-conv, pixels)": before,
        "KID train vs held-out real (random-conv, pixels)": floor,
        "training": f"{KID_EPOCHS} epochs of {len(x_train)} digits 32x32x1, batch 64, "
        f"EMA 0.99, {wall:.0f} s",
        "evaluated images": n,
    }


@benchmark
def train_step():
    """Median train-step time of the three book models at the book's batch sizes."""
    import keras

    from gdl.models.diffusion import DiffusionModel
    from gdl.models.ebm import EBM
    from gdl.models.realnvp import RealNVP

    rng = np.random.default_rng(0)
    rows = {}
    flow = RealNVP(seed=0)
    flow.compile(optimizer=keras.optimizers.Adam(1e-4))
    x = rng.normal(size=(256, 2)).astype("float32")
    rows["RealNVP, batch 256 (s)"] = timeit(lambda: flow.train_on_batch(x), 10, 2)["median_s"]
    ebm = EBM(seed=0)
    ebm.compile(optimizer=keras.optimizers.Adam(1e-4))
    x = rng.uniform(-1, 1, (128, 32, 32, 1)).astype("float32")
    rows["EBM (60 Langevin steps), batch 128 (s)"] = timeit(
        lambda: ebm.train_on_batch(x), 3, 1)["median_s"]  # fmt: skip
    ddm = DiffusionModel(seed=0)
    x = rng.uniform(0, 1, (64, 64, 64, 3)).astype("float32")
    ddm.adapt(x)
    ddm.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=1e-4))
    rows["DDIM 64x64x3 (with EMA), batch 64 (s)"] = timeit(
        lambda: ddm.train_on_batch(x), 3, 1)["median_s"]  # fmt: skip
    return rows
