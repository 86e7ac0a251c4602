"""Chapter 11 measurements: music Transformer perplexity and generation speed, MuseGAN
statistics and train-step time. Bounded training on the embedded music21 chorales
(CPU; the machine is shared, so timings are noisy).

``python -m benchmarks music``
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.harness import alternate, benchmark

N_CHORALES = 60  # corpus chorales parsed for the Transformer (split 60/20/20 by name)
SEQ_LEN = 50
TRAIN_BUDGET_S = 240  # wall-clock budget of each bounded training run
MUSEGAN_STEPS = 8


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


def _roll_stats(chorales, keys) -> dict:
    """Per (piece, bar): empty bar-tracks, pitch classes used, notes in the key."""
    empty, classes, in_key, total = [], [], 0, 0
    for c, (tonic, mode) in zip(chorales, keys):
        # major scale; minor: natural minor plus the raised 6th and 7th (melodic/harmonic)
        steps = (0, 2, 4, 5, 7, 9, 11) if mode == "major" else (0, 2, 3, 5, 7, 8, 9, 10, 11)
        key_pcs = {(tonic + s) % 12 for s in steps}
        for b in range(len(c) // 16):
            bar = c[b * 16 : (b + 1) * 16]
            empty += [bool(np.all(np.isnan(bar[:, t]))) for t in range(bar.shape[1])]
            pcs = {int(p) % 12 for p in bar[~np.isnan(bar)]}
            classes.append(len(pcs))
            notes = bar[~np.isnan(bar)].astype(int) % 12
            in_key += int(np.isin(notes, list(key_pcs)).sum())
            total += len(notes)
    return {
        "empty bar-tracks": float(np.mean(empty)),
        "pitch classes per bar": float(np.mean(classes)),
        "notes in key": in_key / max(total, 1),
    }


def _with_keys(chorales):
    from music21 import pitch

    from gdl.music.datasets import key_of

    keys = []
    for c in chorales:
        if np.all(np.isnan(c)):
            keys.append((pitch.Pitch("C").pitchClass, "major"))
        else:
            keys.append(key_of(c))
    return keys


@benchmark
def musegan():
    import keras

    from gdl.models.musegan import MuseGAN
    from gdl.music import pianoroll_to_chorale
    from gdl.music.datasets import musegan_rolls

    keras.utils.set_random_seed(0)
    train = musegan_rolls("music21_chorales", "train")
    real = pianoroll_to_chorale(musegan_rolls("music21_chorales", "valid"))
    model = MuseGAN(seed=0)  # book sizes
    model.compile()
    untrained = pianoroll_to_chorale(model.generate(64, seed=1))
    # bounded training: MUSEGAN_STEPS generator steps (x5 critic steps), batch 64
    ds = np.concatenate([train] * 8)[: 64 * MUSEGAN_STEPS]
    t0 = time.perf_counter()
    model.fit(ds[:64], batch_size=64, epochs=1, verbose=0)  # traces the step
    first = time.perf_counter() - t0
    times = []
    for s in range(1, MUSEGAN_STEPS):
        t = time.perf_counter()
        model.fit(ds[s * 64 : (s + 1) * 64], batch_size=64, epochs=1, verbose=0)
        times.append(time.perf_counter() - t)
    trained = pianoroll_to_chorale(model.generate(64, seed=1))
    rows = {
        "data": f"music21 chorales: {len(train)} train rolls; {len(real)} valid rolls as 'real'",
        "train step (5 critic + 1 generator, batch 64), median s": float(np.median(times)),
        "first step incl. tracing, s": first,
    }
    for name, c in (("real", real), ("untrained", untrained), (f"{MUSEGAN_STEPS} steps", trained)):
        for k, v in _roll_stats(c, _with_keys(c)).items():
            rows[f"{k}: {name}"] = v
    return rows
