"""Chapter 10 on the embedded digits (32x32x1 in [-1, 1], 1,437 train / 360 held-out):
GAN quality at one wall-clock budget, VQ-GAN vs VQ-VAE vs gdl's VAE, the Transformer
prior over VQ-GAN codes, and the style-mixing sanity check. Sizes are gdl's CPU sizes
(:data:`gdl.book.ch10_advanced_gans.CPU_SIZES`), what ``gdl train ... --data digits``
and the chapter 10 notebooks use on the digits.

Budget: about 25 CPU-minutes in all on 2 shared cores (``GAN_BUDGET_S`` per GAN, the
autoencoders' and the prior's epochs below); wall times on a shared machine are
indicative only. ``GDL_BENCH_EPOCHS`` scales every budget (e.g. ``0.05`` for a check).
"""

import os
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import RESULTS, benchmark

SCALE = float(os.environ.get("GDL_BENCH_EPOCHS", "1"))
GAN_BUDGET_S = 180 * SCALE  # training seconds per GAN after 5 untimed warm-up steps
WARMUP_STEPS = 5
BATCH = 32
AE_EPOCHS = max(1, round(15 * SCALE))
PRIOR_EPOCHS = max(1, round(20 * SCALE))
PERCEPTUAL_EPOCHS = max(1, round(5 * SCALE))


def _data():
    import keras

    from gdl.book.images import digits

    keras.utils.set_random_seed(0)
    (x, y), (xt, _) = digits(32, 1, (-1.0, 1.0))
    return x, y, xt


def _train_for(model, x, seconds):
    """5 untimed steps (compilation), then ``seconds`` of training; returns the steps."""
    from gdl.book.ch10_advanced_gans import TimeBudget

    model.fit(x[: WARMUP_STEPS * BATCH], batch_size=BATCH, epochs=1, verbose=0)
    budget = TimeBudget(seconds)
    model.fit(x, batch_size=BATCH, epochs=10_000, verbose=0, callbacks=[budget])
    return WARMUP_STEPS + budget.steps


@benchmark
def gan_kid():
    """KID (gdl.metrics.KID, fixed random conv features) of 360 generated digits against
    the 360 held-out digits, for gdl's DCGAN (the book's, trimmed to 32x32), SAGAN,
    StyleGAN2 and ProGAN (growing 4 -> 32 within the budget: 25 steps per phase), each
    trained for the same wall-clock budget (batch 32, the papers' optimizers). Floor:
    360 training digits against the held-out ones. Then the style-mixing sanity check on
    the trained StyleGAN2: pixel MSE after swapping each level's styles for another
    latent's, over 64 pairs (fine should change less than coarse)."""
    import keras

    from gdl.book import ch10_advanced_gans as ch10
    from gdl.models.gan import DCGAN
    from gdl.plotting import save_grid

    x, _, xt = _data()
    n = len(xt)
    rows = {"budget per GAN (s, after 5 untimed warm-up steps), batch": f"{GAN_BUDGET_S:g}, "
            f"{BATCH}", "KID floor: train vs held-out real": ch10.kid(x[:n], xt)}  # fmt: skip
    makers = {
        "DCGAN": lambda: DCGAN(image_size=32, channels=1, seed=0),
        "SAGAN": lambda: ch10.build_model("sagan", seed=0),
        "StyleGAN2": lambda: ch10.build_model("stylegan", seed=0),
        "ProGAN": lambda: ch10.build_model("progan", seed=0, phase_steps=25),
    }
    samples, style = [], None
    for name, make in makers.items():
        keras.utils.set_random_seed(0)
        model = make()
        if name == "DCGAN":
            model.compile()
        t0 = time.perf_counter()
        steps = _train_for(model, x, GAN_BUDGET_S)
        rows[f"{name}: steps trained (wall s)"] = f"{steps} ({time.perf_counter() - t0:.0f})"
        fake = (model.generate(n, seed=1, upsample=True) if name == "ProGAN"
                else model.generate(n, seed=1))  # fmt: skip
        rows[f"{name}: KID vs held-out"] = ch10.kid(xt, fake)
        if name == "ProGAN":
            rows["ProGAN: resolution reached"] = model.stages.resolution(model.stage_and_alpha()[0])
        samples.append(fake[:10])
        print(name, rows[f"{name}: KID vs held-out"], flush=True)
        if name == "StyleGAN2":
            style = model
    mse = ch10.style_swap_mse(style, pairs=64, seed=0)
    for level, value in mse.items():
        rows[f"StyleGAN2 style swap, 64 pairs: pixel MSE swapping {level} styles"] = value
    rows["style swap: fine MSE < coarse MSE"] = bool(mse["fine"] < mse["coarse"])
    save_grid(np.concatenate(samples), RESULTS / "advanced_gans.gan_samples.png", ncols=10,
              value_range=(-1, 1), scale=2)  # fmt: skip
    rows["samples (rows: DCGAN, SAGAN, StyleGAN2, ProGAN)"] = "advanced_gans.gan_samples.png"
    return rows


def _recon_rows(label, rec, xt, rows):
    from gdl.book.ch10_advanced_gans import sharpness

    rows[f"{label}: held-out reconstruction MSE"] = float(np.mean((np.clip(rec, -1, 1) - xt) ** 2))
    rows[f"{label}: sharpness (mean |gradient|)"] = sharpness(np.clip(rec, -1, 1))


@benchmark
def autoencoders_and_prior():
    """VQ-VAE and VQ-GAN (encoder 32/64 stride 2 -> 8x8 grid of 64 codes of size 16, EMA codebook;
    VQ-GAN adds a PatchGAN, the adaptive weight and a perceptual loss on features of gdl's
    chapter 2 CNN trained 5 epochs on the train digits) against gdl's VAE with 64 latent
    dimensions (the book's encoder/decoder 32/64/128, beta 500, BCE on [0, 1]), each
    trained ``AE_EPOCHS`` epochs (batch 32). Held-out: reconstruction MSE in [-1, 1],
    sharpness (mean gradient magnitude; real held-out images for reference), codebook
    perplexity and share of codes used. Then a Transformer prior (gdl's GPT, 2 blocks,
    width 64) over the VQ-GAN's code grids, ``PRIOR_EPOCHS`` epochs: held-out code
    perplexity against a unigram baseline of the train codes; 20 sampled digits decoded."""
    import keras

    from gdl.book import ch10_advanced_gans as ch10
    from gdl.models.vae import VAE
    from gdl.models.vqgan import VQVAE, sample_from_prior
    from gdl.plotting import save_grid

    x, y, xt = _data()
    rows = {"epochs (batch 32)": AE_EPOCHS, "real held-out: sharpness": ch10.sharpness(xt)}
    keras.utils.set_random_seed(0)
    t0 = time.perf_counter()
    vae = VAE(image_shape=(32, 32, 1), latent_dim=64, seed=0)
    vae.compile()
    vae.fit((x + 1) / 2, batch_size=BATCH, epochs=AE_EPOCHS, verbose=0)
    rows["VAE (64-d latent): train wall (s)"] = time.perf_counter() - t0
    _recon_rows("VAE (64-d latent)", vae.reconstruct((xt + 1) / 2) * 2 - 1, xt, rows)

    models = {}
    for name in ("VQ-VAE", "VQ-GAN"):
        keras.utils.set_random_seed(0)
        t0 = time.perf_counter()
        if name == "VQ-VAE":
            model = VQVAE(image_shape=(32, 32, 1), seed=0, **ch10.CPU_SIZES["vqgan"])
            model.compile()
        else:
            features = ch10.perceptual_model(x, y, epochs=PERCEPTUAL_EPOCHS)
            model = ch10.build_model("vqgan", seed=0, perceptual_model=features)
        model.fit(x, batch_size=BATCH, epochs=AE_EPOCHS, verbose=0)
        ae = getattr(model, "generator", model)
        rows[f"{name}: train wall (s)"] = time.perf_counter() - t0
        _recon_rows(name, ae.reconstruct(xt), xt, rows)
        usage = ch10.code_usage(ae, xt)
        rows[f"{name}: held-out codebook perplexity (of 64)"] = usage["perplexity"]
        rows[f"{name}: held-out share of codes used"] = usage["share_used"]
        models[name] = ae
        print(name, {k: v for k, v in rows.items() if k.startswith(name)}, flush=True)

    ae = models["VQ-GAN"]
    t0 = time.perf_counter()
    prior, history = ch10.train_prior(ae, x, epochs=PRIOR_EPOCHS, batch_size=64)
    rows["prior: train wall (s)"] = time.perf_counter() - t0
    report = ch10.prior_report(prior, ae, x, xt)
    rows["prior: held-out code perplexity"] = report["prior_perplexity"]
    rows["unigram baseline: held-out code perplexity"] = report["unigram_perplexity"]
    images, _ = sample_from_prior(prior, ae, num=20, seed=0)
    path = Path(RESULTS) / "advanced_gans.prior_samples.png"
    save_grid(np.clip(images, -1, 1), path, ncols=10, value_range=(-1, 1), scale=2)
    rows["prior samples (decoded)"] = path.name
    return rows
