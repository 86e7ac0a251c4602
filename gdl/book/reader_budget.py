"""Sizes for a chapter model trained on an embedded dataset: runs a CPU reader can wait for.

The book's settings (image size, batch size, epochs ...) stay where they are: the model
constructors' defaults and the ``gdl train`` recipes' class attributes, used with the
book's datasets. They are sized for a GPU and for tens of thousands of images: the book's
WGAN-GP takes batches of 512 faces at 64x64x3 with three critic steps, minutes a step on
a laptop CPU. When a model trains on one of the small embedded sets instead (``digits``,
``music21_chorales`` ...), the sizes below replace them, so every ``gdl train NAME --data
<embedded set>`` finishes its default epochs in at most 10 minutes on 2 idle CPU cores.
This table is the one place they are chosen; the recipes (and the notebooks' CPU routes)
read it through :func:`reader_settings`.

The budget behind the entries (CPU time of each whole run, extrapolated from 2-epoch
runs: ``python -m benchmarks reader_runs``, ``benchmarks/results/reader_runs.*.json``) is
at most 9 CPU minutes; a run also prints its own
expected duration after a few steps (:class:`gdl.callbacks.ExpectedDuration`).
Total CPU time bounds the wall time on 2 idle cores from above (TensorFlow keeps both
cores busy, so the wall time is between half of it and all of it).
"""

from __future__ import annotations

READER_SETTINGS: dict[str, dict[str, dict]] = {
    "digits": {
        # chapter 3's autoencoder: the book's 3 epochs are 45 steps on 1,437 digits, too few
        # to learn anything (held-out MSE no better than the mean digit); 30 epochs beat PCA
        # with 2 components, about 2.5 CPU minutes (benchmarks/results/
        # expected.autoencoder_digits.json)
        "autoencoder": {"epochs": 30},
        # chapter 3: the README's first example. A latent space of 16 dimensions and
        # the ELBO's own weight (beta = 1024 pixels x mean BCE = summed BCE) instead of
        # the book's 2-D latent and beta 500, which leave most prior samples unreadable;
        # batch 32 gives 45 updates an epoch on 1,437 images. Samples come from a
        # 30-Gaussian mixture fitted to the training latents after training (VAE.
        # fit_latent_mixture): N(0, I) samples are mostly blends (benchmarks/bench_showcase).
        "vae": {
            "latent_dim": 16,
            "beta": 1024.0,
            "mixture_components": 30,
            "batch_size": 32,
            "epochs": 30,
        },
        # chapter 4: 32x32 grey digits instead of 64x64 (x3 colour) photos
        "dcgan": {"image_size": 32, "channels": 1, "batch_size": 128, "epochs": 30},
        "wgan_gp": {"image_size": 32, "channels": 1, "batch_size": 64, "epochs": 6},
        "cgan": {"image_size": 32, "channels": 1, "batch_size": 64, "epochs": 15},
        # chapter 5: the book's 150 epochs are for 60,000 Fashion-MNIST images
        "pixelcnn": {"epochs": 40},
        # chapter 7: 60 Langevin steps per batch, 1,000 for each epoch's sample
        "ebm": {"epochs": 25},
        # chapter 8: U-Net of 1.9M parameters at 32x32x1; EMA 0.99 instead of the book's
        # 0.999, whose copy still weighs the random start by 0.999^460 = 0.63 after 20
        # epochs of 23 steps (its samples are noise); KID 0.038 after 20 epochs, 0.0017
        # after 30 (benchmarks/results/flows_ebm_diffusion.ddim_kid_digits.json)
        "ddim": {"epochs": 20, "ema": 0.99},
    },
    "music21_chorales": {
        # chapter 11: batch 64 (4x the updates of the book's 256 for the same work), epochs
        # of 300 steps, and the training pieces in all 12 keys (not in the book; the
        # held-out pieces stay as written). 1,500 steps are 7.9 CPU-min of training (+ about
        # 1 for the per-epoch validation) and reach held-out perplexity 3.84 on notes, 1.98
        # on durations (add-1 bigram: 5.30, 2.25); 20 CPU-min reach 3.72 / 1.97
        # (benchmarks/results/music.transformer_perplexity.json)
        "music_transformer": {
            "batch_size": 64,
            "transpose": True,
            "steps_per_epoch": 300,
            "epochs": 5,
        },
        # MuseGAN: the book's networks, Adam and 5 critic steps at batch 16 instead of 64
        # (2.7 CPU s a step instead of 8.3): 16 epochs of 14 steps, about 10 CPU minutes;
        # collapses near step 50, then from step 100 pitch classes per bar, empty
        # bar-tracks and notes in key stay near the real chorales' (bench_music: musegan)
        "musegan": {"batch_size": 16, "critic_steps": 5, "epochs": 16},
    },
}


def reader_settings(model: str, data: str | None) -> dict:
    """The sizes ``model`` (a ``gdl train`` name) uses on the embedded dataset ``data``;
    ``{}`` for the book's datasets, a folder of your own, or a model with no entry (then
    the book's settings hold). Keys are constructor arguments of the model plus
    ``batch_size`` and ``epochs`` (and, for the music Transformer, ``steps_per_epoch``
    and ``transpose``)."""
    return dict(READER_SETTINGS.get(str(data), {}).get(model, {}))


def reader_value(model: str, data: str | None, key: str, book):
    """``reader_settings(model, data).get(key, book)``: e.g. a notebook's
    ``EPOCHS = reader_value("ebm", DATA, "epochs", 60)``."""
    return reader_settings(model, data).get(key, book)
