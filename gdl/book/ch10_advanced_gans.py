"""Chapter 10 (advanced GANs): the data, model sizes, measures and figures the notebooks,
the ``gdl train progan|stylegan|sagan|vqgan|vqgan_prior`` recipes and the benchmarks
share.

The book describes ProGAN, StyleGAN2, SAGAN and VQ-GAN without code; gdl's models are in
:mod:`gdl.models.progan`, :mod:`gdl.models.stylegan`, :mod:`gdl.models.sagan` and
:mod:`gdl.models.vqgan`. Here:

* data: :func:`gan_data` (the embedded digits at 32x32 in [-1, 1], or the book's CelebA
  faces at 64x64 when downloaded: :func:`default_data`), :func:`model_kwargs` /
  :func:`build_model` (the papers' widths at 64x64, CPU widths at 32x32);
* ProGAN: :class:`StageRecorder` (the fade-in weight of every step and samples at the end
  of every stage), :func:`fade_in_series`, :func:`progan_stages_figure`,
  :func:`fade_in_figure`;
* StyleGAN2: :func:`style_mixing_figure` (coarse / middle / fine styles from sources),
  :func:`truncation_sweep` / :func:`truncation_figure`, :func:`noise_variations` /
  :func:`noise_variation_figure`, :func:`style_swap_mse`;
* SAGAN: :func:`attention_for_query`, :func:`attention_figure`;
* VQ-GAN: :func:`perceptual_model` (features of a classifier gdl trains on the same
  images; nothing is downloaded), :func:`code_usage` / :func:`code_usage_figure`,
  :func:`codebook_index_figure`, :func:`reconstruction_figure`, :func:`train_prior`,
  :func:`prior_report`, :func:`prior_samples_figure`;
* measures: :func:`kid` (gdl.metrics.KID), :func:`sharpness`, :class:`TimeBudget`.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np

from gdl.errors import ConfigError

__all__ = [
    "StageRecorder", "TimeBudget", "attention_figure", "attention_for_query", "build_model",
    "code_usage", "code_usage_figure", "codebook_index_figure", "default_data",
    "fade_in_figure", "fade_in_series", "gan_data", "kid", "model_kwargs",
    "image_shape_of", "noise_variation_figure", "noise_variations", "perceptual_model",
    "prior_data", "prior_report", "token_perplexity",
    "prior_samples_figure", "progan_stages_figure", "reconstruction_figure", "sharpness",
    "style_mixing_figure", "style_swap_mse", "train_prior", "truncation_figure",
    "truncation_sweep",
]  # fmt: skip

MODELS = ("progan", "stylegan", "sagan", "vqgan")

#: constructor arguments at 32x32 (the embedded digits): widths that train on a CPU
CPU_SIZES = {
    "progan": {"filters": (64, 64, 32, 16), "latent_dim": 64, "phase_steps": 100},
    "stylegan": {"filters": (64, 64, 32, 16), "latent_dim": 64, "w_dim": 64,
                 "mapping_layers": 4, "r1_gamma": 0.1},
    "sagan": {"g_filters": (128, 64, 32), "d_filters": (32, 64, 128),
              "attention_resolution": 16, "latent_dim": 64},
    "vqgan": {"filters": (32, 64), "ema": True},
}  # fmt: skip
#: at 64x64 (the book's faces): the models' own (papers') defaults, except these. Both
#: sizes update the VQ codebook by EMA: with the codebook loss (the model's default) a
#: VQ-VAE on the digits used 20 % of its 64 codes after 4 epochs (held-out MSE 0.029),
#: with EMA 78 % (MSE 0.004)
BOOK_SIZES = {"progan": {}, "stylegan": {}, "sagan": {},
              "vqgan": {"filters": (64, 128, 128), "ema": True}}  # fmt: skip


# ------------------------------------------------------------------------------ data
def default_data() -> str:
    """``"faces"`` when the book's CelebA is in ``GDL_DATA_DIR`` (``gdl data download
    faces``), else ``"digits"`` (embedded, offline)."""
    from gdl.data.registry import get_dataset

    return "faces" if get_dataset("faces").is_present() else "digits"


def gan_data(name: str = "digits", batch_size: int = 32, num_test: int | None = None):
    """``(train, x_test)`` in [-1, 1] for the chapter's models.

    ``digits``: the embedded digits at 32x32x1 (NumPy, the 80/20 split of
    :func:`gdl.book.images.digits`; ``x_test`` the held-out part: all 360 images unless
    ``num_test`` is given, the set ``benchmarks/bench_advanced_gans.py`` scores). ``faces``
    (the book's CelebA) or a folder of images: 64x64x3, ``train`` a batched
    ``tf.data.Dataset`` and ``x_test`` its first ``num_test`` images (default 256; there
    is no held-out split).
    """
    from gdl.book.images import digits, first_images, image_data

    if name == "digits":
        (x_train, _), (x_test, _) = digits(32, 1, (-1.0, 1.0))
        return x_train, x_test[:num_test]
    num_test = 256 if num_test is None else num_test
    train, _ = image_data(name, 64, 3, (-1.0, 1.0), batch_size)
    return train, first_images(train, num_test)


def image_shape_of(x) -> tuple:
    """``(H, W, C)`` of an array of images or a (batched) dataset of them."""
    from gdl.book.images import first_images

    return tuple(first_images(x, 1).shape[1:])


def model_kwargs(name: str, image_size: int, channels: int, **overrides) -> dict:
    """Constructor arguments of chapter 10 model ``name`` (``progan``, ``stylegan``,
    ``sagan``, ``vqgan``) for ``image_size`` x ``image_size`` x ``channels`` images:
    :data:`CPU_SIZES` at 32x32, :data:`BOOK_SIZES` (the papers' widths) at 64x64;
    ``overrides`` win."""
    if name not in MODELS:
        raise ConfigError(f"chapter 10 models are {', '.join(MODELS)}; got {name!r}")
    if image_size not in (32, 64):
        raise ConfigError(f"chapter 10 models train on 32x32 or 64x64 images, not {image_size}")
    base = dict((CPU_SIZES if image_size == 32 else BOOK_SIZES)[name])
    if name == "vqgan":
        base["image_shape"] = (image_size, image_size, channels)
    elif name == "sagan":
        base.update(image_size=image_size, channels=channels)
    else:
        base["channels"] = channels
    return {**base, **overrides}


def build_model(name: str, image_size: int = 32, channels: int = 1, seed=None, **overrides):
    """A compiled chapter 10 model (the paper's optimizers) of :func:`model_kwargs`."""
    import gdl.models

    cls = {"progan": "ProGAN", "stylegan": "StyleGAN2", "sagan": "SAGAN", "vqgan": "VQGAN"}
    kwargs = model_kwargs(name, image_size, channels, **overrides)
    model = getattr(gdl.models, cls[name])(seed=seed, **kwargs)
    model.compile()
    return model


class TimeBudget(keras.callbacks.Callback):
    """Stops ``fit`` after the batch that passes ``seconds`` of wall-clock time (equal
    budgets for models of different speeds); ``steps`` counts the batches trained.

    ``warmup_steps``: the clock starts when that many batches have ended, so the first
    steps' compilation is not counted (the notebooks and ``benchmarks/bench_advanced_gans``
    leave 5 steps untimed; the steps still count in ``steps``)."""

    def __init__(self, seconds: float, warmup_steps: int = 0):
        super().__init__()
        self.seconds, self.warmup_steps = float(seconds), int(warmup_steps)
        self.steps, self._t0 = 0, None

    def on_train_begin(self, logs=None):
        self._t0 = time.perf_counter() if self.warmup_steps <= self.steps else None

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self._t0 is None:
            if self.steps >= self.warmup_steps:
                self._t0 = time.perf_counter()
            return
        if time.perf_counter() - self._t0 > self.seconds:
            self.model.stop_training = True


# ---------------------------------------------------------------------------- measures
def kid(real, generated, value_range=(-1.0, 1.0), seed: int = 1234) -> float:
    """KID (:class:`gdl.metrics.KID`, its fixed random convolutional features) between two
    image sets in ``value_range``."""
    from keras import ops

    from gdl.metrics import KID
    from gdl.plotting import to_unit_range

    real, generated = to_unit_range(real, value_range), to_unit_range(generated, value_range)
    metric = KID(real.shape[1], real.shape[-1], seed=seed)
    metric.update_state(ops.convert_to_tensor(real), ops.convert_to_tensor(generated))
    return float(ops.convert_to_numpy(metric.result()))


def sharpness(images) -> float:
    """Mean gradient magnitude ``sqrt(dx^2 + dy^2)`` of forward differences over the
    pixels and channels (blurry reconstructions score lower than the real images)."""
    x = np.asarray(images, dtype="float64")
    dx, dy = np.diff(x, axis=2)[:, :-1], np.diff(x, axis=1)[:, :, :-1]
    return float(np.sqrt(dx**2 + dy**2).mean())


def _figure(nrows: int, ncols: int, scale: float = 1.0):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(scale * ncols + 0.4, scale * nrows + 0.4))
    axes = np.asarray(fig.subplots(nrows, ncols, squeeze=False))
    for ax in axes.ravel():
        ax.axis("off")
    return fig, axes


def _show(ax, image, value_range=(-1.0, 1.0)):
    from gdl.plotting import to_unit_range

    img = to_unit_range(image, value_range)
    if img.shape[-1] == 1:
        ax.imshow(img[..., 0], cmap="gray_r", vmin=0, vmax=1)
    else:
        ax.imshow(img)
    ax.axis("off")


# ------------------------------------------------------------------------------ ProGAN
class StageRecorder(keras.callbacks.Callback):
    """Records a :class:`~gdl.models.ProGAN`'s training: after every step the stage,
    ``alpha`` and resolution of the step just trained (``self.steps``, ``self.alphas``,
    ``self.resolutions``), and ``num`` samples (fixed latents, seed ``seed``) at the end
    of every stage (``self.snapshots[resolution]``, the last at the end of training)."""

    def __init__(self, num: int = 8, seed: int = 0):
        super().__init__()
        self.num, self.seed = int(num), seed
        self.steps, self.alphas, self.resolutions = [], [], []
        self.snapshots: dict[int, np.ndarray] = {}
        self._latent = None

    def _snapshot(self, stage):
        model = self.model
        if self._latent is None:
            rng = np.random.default_rng(self.seed)
            self._latent = rng.standard_normal((self.num, model.latent_dim)).astype("float32")
        res = model.stages.resolution(stage)
        self.snapshots[res] = model.generate(latent=self._latent, stage=stage, alpha=1.0)

    def on_train_batch_end(self, batch, logs=None):
        from gdl.models.progan import progressive_schedule

        model = self.model
        done = int(keras.ops.convert_to_numpy(model.g_optimizer.iterations))
        stage, alpha = progressive_schedule(done - 1, model.phase_steps, len(model.stages))
        self.steps.append(done - 1)
        self.alphas.append(alpha)
        self.resolutions.append(model.stages.resolution(stage))
        if progressive_schedule(done, model.phase_steps, len(model.stages))[0] != stage:
            self._snapshot(stage)

    def on_train_end(self, logs=None):
        if self.steps:
            self._snapshot(self.model.stage_and_alpha(self.steps[-1])[0])


def fade_in_series(model, stage: int | None = None, alphas=(0.0, 0.25, 0.5, 0.75, 1.0),
                   num: int = 4, seed: int = 0) -> np.ndarray:  # fmt: skip
    """The transition into ``stage`` (default: the current one, at least 1): the same
    ``num`` latents at every ``alpha``. Returns ``(len(alphas), num, r, r, C)`` at the
    stage's resolution ``r``; ``alpha = 0`` is the previous stage's output upsampled."""
    stage = max(1, model.stage_and_alpha()[0]) if stage is None else int(stage)
    if not 1 <= stage < len(model.stages):
        raise ConfigError(f"a fade-in needs stage 1 to {len(model.stages) - 1}, got {stage}")
    z = np.random.default_rng(seed).standard_normal((num, model.latent_dim)).astype("float32")
    return np.stack([model.generate(latent=z, stage=stage, alpha=a) for a in alphas])


def progan_stages_figure(snapshots: dict, num: int = 8):
    """One row per resolution of :attr:`StageRecorder.snapshots` (the samples at the end of
    each stage, each shown at its own resolution)."""
    rows = sorted(snapshots)
    n = min(num, min(len(snapshots[r]) for r in rows)) if rows else 0
    fig, axes = _figure(max(1, len(rows)), max(1, n))
    for i, res in enumerate(rows):
        for j in range(n):
            _show(axes[i, j], snapshots[res][j])
        axes[i, 0].set_title(f"{res}x{res}", fontsize=8, loc="left")
    return fig


def fade_in_figure(model, total_steps: int | None = None, recorder: StageRecorder | None = None,
                   series=None, alphas=(0.0, 0.25, 0.5, 0.75, 1.0)):  # fmt: skip
    """Left: the schedule, ``alpha`` (transition 0 -> 1, then 1 while stabilising) and the
    resolution per training step (``total_steps`` default: until the last stage is
    stabilised), with the steps of ``recorder`` marked. Right (when ``series`` from
    :func:`fade_in_series` is given): its first latent at each ``alpha``."""
    from matplotlib.figure import Figure

    from gdl.models.progan import progressive_schedule

    n, p = len(model.stages), model.phase_steps
    total = total_steps or (2 * n - 1) * p
    steps = np.arange(total)
    sched = [progressive_schedule(int(s), p, n) for s in steps]
    fig = Figure(figsize=(10 if series is not None else 6, 3))
    ax = fig.add_subplot(1, 2 if series is not None else 1, 1)
    ax.plot(steps, [a for _, a in sched], label="alpha (schedule)")
    if recorder is not None and recorder.steps:
        ax.plot(recorder.steps, recorder.alphas, ".", ms=2, label="alpha (trained)")
    ax.set(xlabel="training step", ylabel="alpha", ylim=(-0.05, 1.05))
    ax2 = ax.twinx()
    ax2.step(steps, [model.stages.resolution(s) for s, _ in sched], "k--", lw=1, where="post")
    ax2.set_ylabel("resolution")
    ax.legend(loc="lower right", fontsize=7)
    if series is not None:
        from gdl.plotting import image_grid

        ax3 = fig.add_subplot(1, 2, 2)
        grid = image_grid(np.asarray(series)[:, 0], ncols=len(series), value_range=(-1, 1))
        ax3.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid,
                   cmap="gray_r" if grid.shape[-1] == 1 else None)  # fmt: skip
        ax3.set_title("alpha = " + ", ".join(f"{a:g}" for a in alphas[: len(series)]), fontsize=8)
        ax3.axis("off")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- StyleGAN2
def style_mixing_figure(model, rows: int = 2, cols: int = 4, seed: int = 0,
                        truncation_psi: float = 1.0):  # fmt: skip
    """The book's style-mixing grid (:meth:`~gdl.models.StyleGAN2.style_mixing_grid`): top
    row the sources, first column the destinations; for each level (coarse, middle, fine)
    ``rows`` destinations whose ``level`` styles come from each source (so a column of a
    block shares that source's ``level`` styles, a row shares the destination's others)."""
    tiles, labels = model.style_mixing_grid(rows, cols, seed=seed,
                                            truncation_psi=truncation_psi)  # fmt: skip
    nrows = len(tiles) // (cols + 1)
    fig, axes = _figure(nrows, cols + 1)
    for k, tile in enumerate(tiles):
        if k:
            _show(axes.ravel()[k], tile)
    axes[0, 1].set_title("sources", fontsize=8, loc="left")
    for r, label in enumerate(labels, start=1):
        axes[r, 0].set_title(label.replace(" from source", ""), fontsize=8, loc="left")
    return fig


def truncation_sweep(model, psis=(1.0, 0.7, 0.4, 0.0), num: int = 8, seed: int = 0) -> dict:
    """``{psi: images}``: the same ``num`` latents at each truncation ``psi`` (no noise;
    ``psi = 0`` is the average image ``w_avg`` for every latent)."""
    z = np.random.default_rng(seed).standard_normal((num, model.latent_dim)).astype("float32")
    return {float(p): model.generate(latent=z, truncation_psi=p, noise_mode="none")
            for p in psis}  # fmt: skip


def truncation_figure(model_or_sweep, psis=(1.0, 0.7, 0.4, 0.0), num: int = 8, seed: int = 0):
    """One row per ``psi`` of :func:`truncation_sweep` (give a model or its output)."""
    sweep = (model_or_sweep if isinstance(model_or_sweep, dict)
             else truncation_sweep(model_or_sweep, psis, num, seed))  # fmt: skip
    n = min(len(v) for v in sweep.values())
    fig, axes = _figure(len(sweep), n)
    for i, (psi, images) in enumerate(sweep.items()):
        for j in range(n):
            _show(axes[i, j], images[j])
        axes[i, 0].set_title(f"psi = {psi:g}", fontsize=8, loc="left")
    return fig


def noise_variations(model, num: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The book's stochastic variation: one latent (seed ``seed``), ``num`` draws of the
    per-pixel noise. Returns ``(images (num, H, W, C), per-pixel std over the draws (H, W))``;
    only the noise differs, so the std shows where noise acts (zero for a model whose
    noise scales are still zero, as at initialisation)."""
    z = np.random.default_rng(seed).standard_normal((1, model.latent_dim)).astype("float32")
    ws = model.generator.ws(keras.ops.convert_to_tensor(np.repeat(z, num, axis=0)))
    images = np.clip(keras.ops.convert_to_numpy(model.generator.synthesize(ws, "random")), -1, 1)
    return images, images.std(axis=0).mean(axis=-1)


def noise_variation_figure(model, num: int = 6, seed: int = 0):
    """``num`` noise draws for one latent, and their per-pixel standard deviation."""
    images, std = noise_variations(model, num, seed)
    fig, axes = _figure(1, num + 1, 1.2)
    for j in range(num):
        _show(axes[0, j], images[j])
    axes[0, num].imshow(std, cmap="magma")
    axes[0, 0].set_title("same w, new noise", fontsize=8, loc="left")
    axes[0, num].set_title(f"std (max {std.max():.2f})", fontsize=8)
    return fig


def style_swap_mse(model, pairs: int = 64, seed: int = 0, truncation_psi: float = 1.0) -> dict:
    """Mean pixel MSE between an image and the same image with its ``level`` styles
    swapped for another latent's, for each level of :meth:`~gdl.models.StyleGAN2
    .style_levels` (no noise, ``pairs`` latent pairs). A style-based generator changes
    the image less when only the fine styles change than when the coarse ones do."""
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal((pairs, model.latent_dim)).astype("float32") for _ in "ab")
    base = model.generate(latent=a, truncation_psi=truncation_psi, noise_mode="none")
    return {level: float(np.mean((model.mix_styles(a, b, level, truncation_psi) - base) ** 2))
            for level, (lo, hi) in model.style_levels().items() if hi > lo}  # fmt: skip


# ------------------------------------------------------------------------------- SAGAN
def attention_for_query(attention, query, grid_size: int) -> np.ndarray:
    """``(grid_size, grid_size)`` map of where pixel ``query = (row, col)`` of the attention
    block looks: row ``row * grid_size + col`` of ``attention`` ``(N, N)`` (row-major)."""
    r, c = query
    return np.asarray(attention)[r * grid_size + c].reshape(grid_size, grid_size)


def attention_figure(model, queries=None, num: int = 2, seed: int = 0):
    """The book's SAGAN view: for ``num`` generated images, the image with each query
    pixel marked, then per query the attention map (upsampled to the image) over it.
    ``queries``: ``(row, col)`` on the attention grid (default: three spread points)."""
    images, beta = model.attention_maps(num=num, seed=seed)
    grid = int(round(math.sqrt(beta.shape[-1])))
    queries = queries or [(grid // 4, grid // 4), (grid // 2, 3 * grid // 4),
                          (3 * grid // 4, grid // 3)]  # fmt: skip
    scale = images.shape[1] / grid
    colors = ("red", "lime", "cyan", "yellow", "magenta")
    fig, axes = _figure(num, len(queries) + 1, 1.4)
    for i in range(num):
        _show(axes[i, 0], images[i])
        for k, (r, c) in enumerate(queries):
            color = colors[k % len(colors)]
            axes[i, 0].plot((c + 0.5) * scale - 0.5, (r + 0.5) * scale - 0.5, "o", ms=4,
                            color=color)  # fmt: skip
            att = attention_for_query(beta[i], (r, c), grid)
            up = np.kron(att, np.ones((int(scale), int(scale))))
            _show(axes[i, k + 1], images[i])
            axes[i, k + 1].imshow(up, cmap="jet", alpha=0.5)
            axes[i, k + 1].plot((c + 0.5) * scale - 0.5, (r + 0.5) * scale - 0.5, "o", ms=4,
                                color=color)  # fmt: skip
    axes[0, 0].set_title("generated", fontsize=8)
    gamma = float(keras.ops.convert_to_numpy(model.generator.get_layer("self_attention").gamma))
    axes[0, 1].set_title(f"attention (gamma {gamma:.2f})", fontsize=8, loc="left")
    return fig


# ------------------------------------------------------------------------------ VQ-GAN
def perceptual_model(x_train, y_train, epochs: int = 5, layers: int = 2, seed: int = 0):
    """VQ-GAN's perceptual features without downloads: gdl's chapter 2 CNN trained to
    classify ``x_train`` (labels ``y_train``), cut after its first ``layers`` conv
    blocks (frozen). Returns the feature model (images -> feature maps)."""
    from gdl.models.classifiers import cnn, compile_classifier

    keras.utils.set_random_seed(seed)
    classes = int(np.max(y_train)) + 1
    net = compile_classifier(cnn(tuple(x_train.shape[1:]), classes, dense=64), 1e-3)
    net.fit(x_train, keras.utils.to_categorical(y_train, classes), batch_size=64,
            epochs=epochs, verbose=0)  # fmt: skip
    acts = [la for la in net.layers if isinstance(la, keras.layers.LeakyReLU)]
    features = keras.Model(net.input, acts[layers - 1].output, name="perceptual_features")
    features.trainable = False
    return features


def code_usage(autoencoder, images, batch_size: int = 256) -> dict:
    """Code indices of ``images``: ``counts`` per code, ``perplexity`` ``exp(H(p))`` and
    ``share_used`` (codes used at least once / codebook size)."""
    ae = getattr(autoencoder, "generator", autoencoder)
    k = ae.quantizer.num_embeddings
    idx = np.concatenate([ae.encode_indices(images[i : i + batch_size])
                          for i in range(0, len(images), batch_size)])  # fmt: skip
    counts = np.bincount(idx.ravel(), minlength=k)
    p = counts / counts.sum()
    nz = p[p > 0]
    return {"indices": idx, "counts": counts, "perplexity": float(np.exp(-(nz * np.log(nz)).sum())),
            "share_used": float((counts > 0).mean())}  # fmt: skip


def code_usage_figure(usage: dict):
    """Histogram of how often each code is used (sorted), with perplexity and share used."""
    from matplotlib.figure import Figure

    counts = np.sort(usage["counts"])[::-1]
    fig = Figure(figsize=(7, 2.6))
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(np.arange(len(counts)), counts / counts.sum(), width=1.0)
    ax.set(xlabel="code (most used first)", ylabel="share of positions",
           title=f"{len(counts)} codes: perplexity {usage['perplexity']:.1f}, "
                 f"{usage['share_used']:.0%} used")  # fmt: skip
    fig.tight_layout()
    return fig


def codebook_index_figure(autoencoder, images, num: int = 4):
    """Each image beside its grid of code indices (colour = code; numbers written in)."""
    ae = getattr(autoencoder, "generator", autoencoder)
    idx = ae.encode_indices(images[:num])
    k = ae.quantizer.num_embeddings
    fig, axes = _figure(2, num, 1.8)
    for j in range(num):
        _show(axes[0, j], images[j])
        axes[1, j].imshow(idx[j], cmap="tab20" if k <= 20 else "viridis", vmin=0, vmax=k - 1)
        if idx.shape[1] <= 8:
            for (r, c), v in np.ndenumerate(idx[j]):
                axes[1, j].text(c, r, str(v), ha="center", va="center", fontsize=5, color="w")
    axes[1, 0].set_title(f"code indices ({idx.shape[1]}x{idx.shape[2]})", fontsize=8, loc="left")
    return fig


def reconstruction_figure(autoencoder, images, num: int = 10):
    """Originals (top) and reconstructions (bottom, through the codebook)."""
    ae = getattr(autoencoder, "generator", autoencoder)
    x = images[:num]
    rec = np.clip(ae.reconstruct(x), -1, 1)
    fig, axes = _figure(2, len(x))
    for j in range(len(x)):
        _show(axes[0, j], x[j])
        _show(axes[1, j], rec[j])
    axes[0, 0].set_title("original", fontsize=8, loc="left")
    axes[1, 0].set_title("reconstruction", fontsize=8, loc="left")
    return fig


def prior_data(autoencoder, images):
    """``(inputs, targets)`` token pairs of ``images``' code grids (:func:`gdl.models.vqgan
    .prior_tokens`)."""
    from gdl.models.vqgan import prior_tokens

    return prior_tokens(code_usage(autoencoder, images)["indices"])


def train_prior(autoencoder, x_train, epochs: int = 30, batch_size: int = 64, seed: int = 0,
                learning_rate: float = 1e-3, callbacks=None, verbose: int = 0, **kwargs):  # fmt: skip
    """A Transformer prior (:func:`gdl.models.vqgan.make_prior`, ``kwargs`` to it) fitted on
    the code grids of ``x_train``; returns ``(prior, history)``."""
    from gdl.models.vqgan import make_prior

    ae = getattr(autoencoder, "generator", autoencoder)
    keras.utils.set_random_seed(seed)
    prior = make_prior(ae.quantizer.num_embeddings, ae.grid_shape, seed=seed, **kwargs)
    prior.compile(optimizer=keras.optimizers.Adam(learning_rate))
    x, y = prior_data(ae, x_train)
    history = prior.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                        callbacks=callbacks or [])  # fmt: skip
    return prior, history.history


def token_perplexity(prior, x, y, batch_size: int = 256) -> float:
    """``exp`` of the mean next-token cross-entropy of ``prior`` on pairs ``(x, y)``."""
    nll, n = 0.0, 0
    for i in range(0, len(x), batch_size):
        logits = keras.ops.convert_to_numpy(prior.logits_and_attention(x[i : i + batch_size])[0])
        logits = logits.astype("float64")
        logz = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
        target = y[i : i + batch_size]
        picked = np.take_along_axis(logits, target[..., None], axis=-1)[..., 0]
        nll += float((logz - picked).sum())
        n += target.size
    return math.exp(nll / n)


def prior_report(prior, autoencoder, x_train, x_test) -> dict:
    """Held-out code perplexity of the prior vs the unigram baseline (training code
    frequencies, add-one), both over the codebook (a uniform guess scores its size)."""
    from gdl.models.vqgan import FIRST_CODE_TOKEN, unigram_perplexity

    ae = getattr(autoencoder, "generator", autoencoder)
    train_idx = code_usage(ae, x_train)["indices"]
    x, y = prior_data(ae, x_test)
    return {"prior_perplexity": token_perplexity(prior, x, y),
            "unigram_perplexity": unigram_perplexity(train_idx, y - FIRST_CODE_TOKEN,
                                                     ae.quantizer.num_embeddings),
            "codebook_size": ae.quantizer.num_embeddings}  # fmt: skip


def prior_samples_figure(images, codes=None, num: int = 10):
    """Images the Transformer prior sampled code by code (and their code grids below)."""
    n = min(num, len(images))
    fig, axes = _figure(1 if codes is None else 2, n)
    for j in range(n):
        _show(axes[0, j], images[j])
        if codes is not None:
            axes[1, j].imshow(codes[j], cmap="viridis")
    axes[0, 0].set_title("sampled by the prior", fontsize=8, loc="left")
    return fig
