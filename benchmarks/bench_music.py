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

N_CHORALES = 60  # corpus chorales parsed for the generation timing
SEQ_LEN = 50
# the music Transformer's perplexity run (env overrides for probes: GDL_MT_BUDGET_CPU_S ...)
# training budget in CPU seconds of this process (all threads; held-out evaluations for
# the curve not counted), so that a loaded machine changes the wall time, not the run
MT_BUDGET_CPU_S = float(os.environ.get("GDL_MT_BUDGET_CPU_S", 1200))
MT_BATCH = int(os.environ.get("GDL_MT_BATCH", 64))  # the book: 256
MT_TRANSPOSE = os.environ.get("GDL_MT_TRANSPOSE", "1") == "1"  # 12 keys (not in the book)
MT_EVAL_EVERY = int(os.environ.get("GDL_MT_EVAL_EVERY", 150))  # steps between curve points
MT_CURVE_STRIDE = 5  # curve points score every 5th held-out window (the final one: all)


class _Budget:
    """A Keras callback stopping ``fit`` once ``seconds`` of training have passed (the
    held-out evaluations in between are not counted), recording a perplexity curve on
    ``(x, y)`` every ``every`` steps. ``clock``: ``time.perf_counter`` (wall) or
    ``time.process_time`` (CPU time of the process, all threads)."""

    def __new__(cls, seconds, every=0, x=None, y=None, clock=time.perf_counter):
        import keras

        class Budget(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.t0, self.batches, self.eval_s, self.curve = clock(), 0, 0.0, []

            def on_train_batch_end(self, batch, logs=None):
                self.batches += 1
                if every and self.batches % every == 0:
                    t = clock()
                    train_s = t - self.t0 - self.eval_s
                    n, d = _model_perplexity(self.model, x, y)
                    self.eval_s += clock() - t
                    self.curve.append((self.batches, round(train_s), round(n, 3), round(d, 3)))
                    print(f"step {self.batches}  {train_s:.0f} s  held-out ppl notes {n:.3f} "
                          f"durations {d:.3f}", flush=True)  # fmt: skip
                if clock() - self.t0 - self.eval_s > seconds:
                    self.model.stop_training = True

        return Budget()


def _model_perplexity(model, x, y, batch_size=256) -> tuple[float, float]:
    pn, pd = model.predict(x, batch_size=batch_size, verbose=0)

    def ppl(logits, t):
        logp = logits - np.log(
            np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)
        )
        logp -= logits.max(-1, keepdims=True)
        return float(np.exp(-np.mean(np.take_along_axis(logp, t[..., None], -1))))

    return ppl(pn, y[0]), ppl(pd, y[1])


def _chorale_windows(limit=N_CHORALES):
    from gdl.music import sequence_dataset
    from gdl.music.datasets import token_pieces

    pieces = token_pieces("music21_chorales", limit=limit)
    x, y, nv, dv = sequence_dataset(pieces["train"], SEQ_LEN)
    vx, vy, _, _ = sequence_dataset(pieces["valid"], SEQ_LEN, nv, dv)
    return pieces, x, y, vx, vy, nv, dv


def _context_model_perplexity(train, valid, target, contexts) -> float:
    """Held-out perplexity (per event of the valid pieces) of a count model of ``target``
    given nested contexts, Witten-Bell interpolated from the shortest to the longest: the
    strongest n-gram style baseline (an entropy floor estimate) for the Transformer."""
    from collections import Counter, defaultdict

    tables = []
    for ctx in contexts:
        table = defaultdict(Counter)
        for r in train:
            table[ctx(r)][r[target]] += 1
        tables.append(table)
    values = sorted({r[target] for r in train} | {r[target] for r in valid})
    logs = []
    for r in valid:
        p = dict.fromkeys(values, 1.0 / len(values))
        for ctx, table in zip(contexts, tables):
            cnt = table.get(ctx(r))
            if cnt:
                n, k = sum(cnt.values()), len(cnt)
                lam = n / (n + k)
                p = {v: lam * cnt[v] / n + (1 - lam) * p[v] for v in values}
        logs.append(np.log(p[r[target]]))
    return float(np.exp(-np.mean(logs)))


def _events(pieces):
    """Per event: its note/duration and what precedes it in the piece (last 3 events,
    position in the beat and in a 4/4 bar counted from the start, the key token)."""
    from fractions import Fraction

    rows = []
    for notes, durs in pieces:
        offset, key = Fraction(0), "?"
        for t in range(len(notes)):
            rows.append({
                "n": notes[t], "d": durs[t], "pn": tuple(notes[max(0, t - 3) : t]),
                "pd": tuple(durs[max(0, t - 3) : t]), "beat": offset % 1, "bar": offset % 4,
                "key": key,
            })  # fmt: skip
            offset += Fraction(durs[t])
            key = notes[t] if ":" in notes[t] else key
    return rows


def _floors(pieces) -> dict:
    """Strong count baselines on the same held-out pieces (per event, not per window)."""
    tr, va = _events(pieces["train"]), _events(pieces["valid"])
    m = _context_model_perplexity
    return {
        "count model durations | 3 previous durations, beat, bar position": m(tr, va, "d", [
            lambda r: (), lambda r: r["beat"], lambda r: (r["beat"], r["pd"][-1:]),
            lambda r: (r["beat"], r["pd"][-2:]), lambda r: (r["beat"], r["bar"], r["pd"]),
        ]),
        "count model notes | 3 previous notes, key, beat, previous duration": m(tr, va, "n", [
            lambda r: (), lambda r: r["pn"][-1:], lambda r: (r["key"], r["pn"][-1:]),
            lambda r: (r["key"], r["pn"][-2:], r["beat"]),
            lambda r: (r["key"], r["pn"], r["beat"], r["pd"][-1:]),
        ]),
    }  # fmt: skip


@benchmark
def transformer_perplexity():
    """The book-size music Transformer on all the embedded chorales (228 train / 76 valid
    pieces), trained for ``MT_BUDGET_CPU_S`` CPU seconds at batch ``MT_BATCH`` on the training
    pieces in 12 keys, against add-1 bigram/unigram and strong count baselines on the
    same held-out windows (the held-out pieces as written, never transposed). The
    baselines count the training pieces as written, in their own vocabulary (unseen held-out
    tokens -> [UNK]); the Transformer's vocabulary is the transposed pieces' plus any
    held-out token they lack (rows that training never updates). The stop is on CPU time,
    so the step count varies a little from run to run."""
    import keras

    from gdl.book.ch11_music import ngram_perplexity
    from gdl.models.music_transformer import MusicTransformer
    from gdl.music import sequence_dataset
    from gdl.music.tokens import transpose_pieces

    keras.utils.set_random_seed(0)
    t0 = time.perf_counter()
    pieces, x, y, vx, vy, nv, dv = _chorale_windows(limit=None)
    parse_s = time.perf_counter() - t0
    train = transpose_pieces(pieces["train"]) if MT_TRANSPOSE else pieces["train"]
    # one vocabulary for all: the transposed training pieces' plus the held-out tokens
    tx, ty, tnv, tdv = sequence_dataset(train, SEQ_LEN)
    tnv += [t for t in nv if t not in tnv]
    tx, ty, tnv, tdv = sequence_dataset(train, SEQ_LEN, tnv, tdv + [t for t in dv if t not in tdv])
    tvx, tvy, _, _ = sequence_dataset(pieces["valid"], SEQ_LEN, tnv, tdv)
    cx, cy = (a[::MT_CURVE_STRIDE] for a in tvx), (a[::MT_CURVE_STRIDE] for a in tvy)
    model = MusicTransformer(tnv, tdv, seed=0)  # book sizes
    model.compile(optimizer="adam")  # the book's Adam, learning rate 1e-3
    budget = _Budget(MT_BUDGET_CPU_S, MT_EVAL_EVERY, tuple(cx), tuple(cy), time.process_time)
    cpu0 = time.process_time()
    t1 = time.perf_counter()
    hist = model.fit(
        tx, ty, batch_size=MT_BATCH, epochs=1000, callbacks=[budget], verbose=0
    ).history
    wall_s = time.perf_counter() - t1
    cpu_s = time.process_time() - cpu0
    ppl_n, ppl_d = _model_perplexity(model, tvx, tvy)
    big_n = ngram_perplexity(x[0], y[0], vx[0], vy[0], len(nv))
    big_d = ngram_perplexity(x[1], y[1], vx[1], vy[1], len(dv))
    uni_n = ngram_perplexity(0 * x[0], y[0], 0 * vx[0], vy[0], len(nv))
    uni_d = ngram_perplexity(0 * x[1], y[1], 0 * vx[1], vy[1], len(dv))
    steps = budget.batches
    return {
        "data": f"music21 chorales (all {sum(map(len, pieces.values()))}): "
        f"{len(pieces['train'])} train / {len(pieces['valid'])} valid pieces, "
        f"{len(x[0])} / {len(vx[0])} windows of {SEQ_LEN}; parsed/cached in {parse_s:.0f} s",
        "training data": f"{len(train)} pieces ({'12 keys' if MT_TRANSPOSE else 'as written'}), "
        f"{len(tx[0])} windows; vocabularies (notes, durations) {len(tnv)}, {len(tdv)}",
        "training": f"book-size model, Adam 1e-3, batch {MT_BATCH}, {steps} steps "
        f"({steps * MT_BATCH / len(tx[0]):.2f} epochs): {(cpu_s - budget.eval_s) / 60:.1f} "
        f"CPU min (+{budget.eval_s / 60:.1f} for the curve), {wall_s / 60:.1f} min wall",
        "final train loss (last epoch mean)": hist["loss"][-1],
        "curve (step, train CPU s, held-out ppl notes, durations; every 5th window)": budget.curve,
        "held-out perplexity notes: transformer": ppl_n,
        "held-out perplexity notes: bigram (add-1)": big_n,
        "held-out perplexity notes: unigram": uni_n,
        "held-out perplexity durations: transformer": ppl_d,
        "held-out perplexity durations: bigram (add-1)": big_d,
        "held-out perplexity durations: unigram": uni_d,
        "notes: transformer / bigram": ppl_n / big_n,
        "durations: transformer / bigram": ppl_d / big_d,
        **_floors(pieces),
    }


@benchmark
def transformer_duration_floor():
    """Why the chorales' duration stream cannot reach half the bigram's perplexity: the
    chordified top line splits a held soprano note whenever another voice moves (voices
    the tokens do not carry), and even an in-sample count model of durations given the
    position in the bar and the 3 previous durations (an optimistic floor: it is scored
    on the events it was counted on) stays far above half the bigram. No training."""
    from collections import Counter, defaultdict
    from fractions import Fraction

    from gdl.book.ch11_music import ngram_perplexity

    pieces, x, y, vx, vy, nv, dv = _chorale_windows(limit=None)
    events = []
    for notes, durs in pieces["train"] + pieces["valid"]:
        offset = Fraction(0)
        for t in range(len(notes)):
            prev = notes[t - 1] if t else None
            events.append((notes[t], durs[t], prev, tuple(durs[max(0, t - 3) : t]), offset % 4))
            offset += Fraction(durs[t])
    sounding = [e for e in events if Fraction(e[1]) > 0]
    repeats = sum(e[0] == e[2] and e[0] != "rest" for e in sounding)

    def in_sample(context):
        table = defaultdict(Counter)
        for e in events:
            table[context(e)][e[1]] += 1
        nll = sum(-k * np.log(k / sum(c.values())) for c in table.values() for k in c.values())
        return float(np.exp(nll / len(events))), len(table)

    big_d = ngram_perplexity(x[1], y[1], vx[1], vy[1], len(dv))
    floor, contexts = in_sample(lambda e: (e[4], e[3]))
    return {
        "events (train + valid pieces)": len(events),
        "sounding events repeating the previous pitch (split by chordify)": repeats / len(sounding),
        "duration tokens: share of the most frequent ('0.5')": Counter(e[1] for e in events)["0.5"]
        / len(events),
        "held-out duration perplexity: add-1 bigram": big_d,
        "half the bigram (the goal)": big_d / 2,
        f"in-sample duration perplexity | bar position, 3 previous durations ({contexts} "
        "contexts)": floor,
        "in-sample duration perplexity | previous duration": in_sample(lambda e: e[3][-1:])[0],
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
