"""Chapter 11 measurements: music Transformer perplexity and generation speed, MuseGAN
statistics and train-step time. Bounded training on the embedded music21 chorales
(CPU; the machine is shared, so timings are noisy).

``python -m benchmarks music``
"""

from __future__ import annotations

import os
import time

import numpy as np

from benchmarks.harness import RESULTS, alternate, benchmark

N_CHORALES = 60  # corpus chorales parsed for the Transformer (split 60/20/20 by name)
SEQ_LEN = 50
TRAIN_BUDGET_S = 240  # wall-clock budget of each bounded training run


class _Budget:
    """A Keras callback stopping ``fit`` once ``seconds`` have passed (counts batches)."""

    def __new__(cls, seconds):
        import keras

        class Budget(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.t0, self.batches = time.perf_counter(), 0

            def on_train_batch_end(self, batch, logs=None):
                self.batches += 1
                if time.perf_counter() - self.t0 > seconds:
                    self.model.stop_training = True

        return Budget()


def _bigram_perplexity(train_pairs, x, y, vocab_size: int, alpha: float = 1.0) -> float:
    """Perplexity of an add-``alpha`` bigram model ``P(y_t | x_t)`` on held-out windows."""
    counts = np.full((vocab_size, vocab_size), alpha)
    np.add.at(counts, (train_pairs[0].ravel(), train_pairs[1].ravel()), 1.0)
    probs = counts / counts.sum(axis=1, keepdims=True)
    return float(np.exp(-np.mean(np.log(probs[x.ravel(), y.ravel()]))))


def _model_perplexity(model, x, y, batch_size=256) -> tuple[float, float]:
    pn, pd = model.predict(x, batch_size=batch_size, verbose=0)

    def ppl(p, t):
        return float(np.exp(-np.mean(np.log(np.take_along_axis(p, t[..., None], -1) + 1e-12))))

    return ppl(pn, y[0]), ppl(pd, y[1])


def _chorale_windows():
    from gdl.music import sequence_dataset
    from gdl.music.datasets import token_pieces

    pieces = token_pieces("music21_chorales", limit=N_CHORALES)
    x, y, nv, dv = sequence_dataset(pieces["train"], SEQ_LEN)
    vx, vy, _, _ = sequence_dataset(pieces["valid"], SEQ_LEN, nv, dv)
    return pieces, x, y, vx, vy, nv, dv


@benchmark
def transformer_perplexity():
    import keras

    from gdl.models.music_transformer import MusicTransformer

    keras.utils.set_random_seed(0)
    pieces, x, y, vx, vy, nv, dv = _chorale_windows()
    model = MusicTransformer(nv, dv, seed=0)  # book sizes
    model.compile(optimizer="adam")
    budget = _Budget(TRAIN_BUDGET_S)
    t0 = time.perf_counter()
    hist = model.fit(x, y, batch_size=256, epochs=100, callbacks=[budget], verbose=0).history
    train_s = time.perf_counter() - t0
    ppl_n, ppl_d = _model_perplexity(model, vx, vy)
    big_n = _bigram_perplexity((x[0], y[0]), vx[0], vy[0], len(nv))
    big_d = _bigram_perplexity((x[1], y[1]), vx[1], vy[1], len(dv))
    uni_n = _bigram_perplexity((np.zeros_like(x[0]), y[0]), np.zeros_like(vx[0]), vy[0], len(nv))
    uni_d = _bigram_perplexity((np.zeros_like(x[1]), y[1]), np.zeros_like(vx[1]), vy[1], len(dv))
    return {
        "data": f"music21 chorales: {len(pieces['train'])} train / {len(pieces['valid'])} "
        f"valid pieces, {len(x[0])} / {len(vx[0])} windows of {SEQ_LEN}",
        "vocabularies (notes, durations)": f"{len(nv)}, {len(dv)}",
        "training": f"book-size model, batch 256, {budget.batches} steps "
        f"({budget.batches * 256 / len(x[0]):.2f} epochs) in {train_s:.0f} s",
        "final train loss": hist["loss"][-1],
        "held-out perplexity notes: transformer": ppl_n,
        "held-out perplexity notes: bigram (add-1)": big_n,
        "held-out perplexity notes: unigram": uni_n,
        "held-out perplexity durations: transformer": ppl_d,
        "held-out perplexity durations: bigram (add-1)": big_d,
        "held-out perplexity durations: unigram": uni_d,
    }


@benchmark
def transformer_generation():
    from gdl.models.music_transformer import MusicTransformer

    pieces, x, y, vx, vy, nv, dv = _chorale_windows()
    model = MusicTransformer(nv, dv, max_len=256, seed=0)

    def run(cache):
        return lambda: model.generate(
            max_len=201, temperature=1.0, seed=0, use_cache=cache, stop_at_start=False
        )

    med, out = alternate({c: run(c) for c in (True, False)}, repeat=2)
    return {
        "events": "200 generated after START, book-size model, batch 1, tf.function",
        "with KV cache (s)": med[True],
        "full re-run (s)": med[False],
        "speed-up": med[False] / med[True],
        "identical tokens": out[True].notes == out[False].notes
        and out[True].durations == out[False].durations,
    }


# Where a MuseGAN step's time goes (book networks, batch 64, TensorFlow, tf.function without
# XLA, measured 2026-12-03 on the shared 2-core machine): generator forward 0.43 s, critic
# forward 0.04 s, critic gradient 0.43 s without / 0.83 s with the gradient penalty,
# generator update 1.45 s; a whole step (5 critic + 1 generator updates) 8.3 CPU s, i.e.
# the sum of its parts (no retracing; 5 x generator forward = 28%, critic + GP = 54%).
# TF's XLA (jit_compile=True) had not finished compiling the step after 3 CPU minutes.
# Batching the per-track bar generators would change the maths (batch-norm statistics are
# per call in the book), so the CPU route gets its speed from batch 16 (2.7 CPU s a step).
# MuseGAN curve: the reader-budget settings (gdl.book.reader_budget) unless overridden
# through GDL_MUSEGAN_BATCH / GDL_MUSEGAN_CRITIC_STEPS (e.g. 64 / 5: the book's)
MUSEGAN_BUDGET_CPU_S = float(os.environ.get("GDL_MUSEGAN_BUDGET_CPU_S", 10 * 60))  # issue: <= 30
MUSEGAN_EVERY = int(os.environ.get("GDL_MUSEGAN_EVERY", 25))


def _close_and_varied(row, real, within) -> bool:
    from gdl.music.stats import DIVERSITY

    return all(within(row, real).values()) and row[DIVERSITY] >= 0.5 * real[DIVERSITY]


@benchmark
def musegan():
    """Book networks on the embedded chorales, trained for at most 30 CPU minutes; every
    MUSEGAN_EVERY generator steps, the statistics of 64 rolls from fixed noise against
    the 72 held-out chorales' (the curve, also drawn to results/music.musegan.png)."""
    import keras

    from gdl.book.ch11_music import MuseGANStatistics, statistics_curve_figure
    from gdl.book.reader_budget import reader_settings
    from gdl.models.musegan import MuseGAN
    from gdl.music.datasets import musegan_rolls
    from gdl.music.stats import DIVERSITY, STAT_NAMES, roll_statistics, within

    reader = reader_settings("musegan", "music21_chorales")
    batch = int(os.environ.get("GDL_MUSEGAN_BATCH", reader.get("batch_size", 64)))
    critic_steps = int(os.environ.get("GDL_MUSEGAN_CRITIC_STEPS", reader.get("critic_steps", 5)))
    keras.utils.set_random_seed(0)
    train = musegan_rolls("music21_chorales", "train")
    real = roll_statistics(musegan_rolls("music21_chorales", "valid"))
    model = MuseGAN(critic_steps=critic_steps, seed=0)  # book networks
    model.compile()  # book Adam(1e-3, 0.5, 0.9)
    stats = MuseGANStatistics(real, every=MUSEGAN_EVERY, budget_cpu_s=MUSEGAN_BUDGET_CPU_S)
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(train, batch_size=batch, epochs=100_000, callbacks=[stats], verbose=0)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    steps = stats.history[-1]["step"]
    close = [r["step"] for r in stats.history if all(within(r, real).values())]
    # the three cannot see mode collapse: also ask the rolls to differ from one another in
    # at least half as many cells as the real chorales do
    varied = [r["step"] for r in stats.history if _close_and_varied(r, real, within)]
    fig = statistics_curve_figure(stats.history, real)
    fig.savefig(RESULTS / "music.musegan.png", dpi=80)
    rows = {
        "data": f"music21 chorales: {len(train)} train rolls; 72 held-out rolls as 'real'",
        "settings": f"book networks and Adam(1e-3, 0.5, 0.9); batch {batch}, "
        f"{critic_steps} critic steps per generator step",
        "training": f"{steps} generator steps in {cpu / 60:.1f} CPU min ({wall / 60:.1f} min "
        f"wall, load average {os.getloadavg()[0]:.1f} at the end)",
        "CPU budget, s": MUSEGAN_BUDGET_CPU_S,
        "CPU s per generator step (incl. statistics)": cpu / max(steps, 1),
        "first step where all three are close (within 20%; empty bar-tracks <= 0.05)": (
            close[0] if close else None
        ),
        "close at the end": all(within(stats.history[-1], real).values()),
        "steps where all three are close and rolls differ >= half as much as real ones": varied,
        "close and varied at the end": _close_and_varied(stats.history[-1], real, within),
    }
    for k in (*STAT_NAMES, DIVERSITY):
        rows[f"{k}: real"] = real[k]
        rows[f"{k}: untrained"] = stats.history[0][k]
        rows[f"{k}: final"] = stats.history[-1][k]
    rows["curve"] = stats.history
    return rows
