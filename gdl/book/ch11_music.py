"""Chapter 11 (music): the book's views of the music Transformer and MuseGAN that the
library's plotting does not draw (causal mask heatmap, raw piano roll, per-epoch MIDI)."""

from __future__ import annotations

import keras
import numpy as np


def causal_mask_figure(n: int = 10):
    """The book's heatmap of the transposed causal mask (row ``i``: the positions that
    can see position ``i``). Returns the matplotlib figure."""
    from matplotlib.figure import Figure

    from gdl.layers.transformer import causal_attention_mask

    mask = np.transpose(np.asarray(causal_attention_mask(n, n)).astype(int))
    fig = Figure(figsize=(4, 4))
    ax = fig.add_subplot()
    ax.imshow(mask, cmap="Greys")
    ax.set(xlabel="query position", ylabel="key position", title="causal mask (transposed)")
    return fig


def raw_pianoroll_figure(roll, track_names=None):
    """The book's ``draw_score`` on the generator's raw output: one ``(bars, steps,
    pitches, tracks)`` roll drawn as values (before the argmax), tracks x bars, pitch up.
    Returns the matplotlib figure."""
    from matplotlib.figure import Figure

    r = np.asarray(roll)
    n_bars, _, _, n_tracks = r.shape
    fig = Figure(figsize=(3 * n_bars, 2 * n_tracks))
    axes = fig.subplots(n_tracks, n_bars, squeeze=False)
    for t in range(n_tracks):
        for b in range(n_bars):
            ax = axes[t, b]
            ax.imshow(r[b, :, :, t].T, origin="lower", cmap="Greys", aspect="auto", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if b == 0 and track_names:
                ax.set_ylabel(track_names[t])
    fig.suptitle("generated, raw values (before argmax)")
    return fig


def music_sample(max_len: int, temperature: float = 0.5):
    """The book's ``MusicGenerator`` as a ``fn(model, path)`` for
    :class:`gdl.callbacks.NotebookRun`: generate from START, print the tokens, write MIDI."""

    def sample(model, path):
        gen = model.generate(["START"], ["0.0"], max_len=max_len, temperature=temperature, seed=0)
        print("generated:", " ".join(f"{n}/{d}" for n, d in zip(gen.notes, gen.durations)))
        gen.write_midi(path)

    return sample


def embedding_heatmaps(layer, tokens, title: str = "notes"):
    """The book's three heatmaps of one input window through a
    :class:`~gdl.layers.TokenAndPositionEmbedding`: the token embedding, the (sine)
    position encoding and their sum, ``(T, dim)`` each. Returns the matplotlib figure."""
    from keras import ops
    from matplotlib.figure import Figure

    tokens = np.asarray(tokens)[None]
    token = np.asarray(ops.convert_to_numpy(layer.token_emb(tokens)))[0]
    total = np.asarray(ops.convert_to_numpy(layer(tokens)))[0]
    fig = Figure(figsize=(15, 4))
    for ax, values, name in zip(
        fig.subplots(1, 3),
        (token, total - token, total),
        ("token embedding", "position encoding", "sum"),
    ):
        im = ax.imshow(values.T, cmap="coolwarm", aspect="auto")
        ax.set(title=f"{title}: {name}", xlabel="position", ylabel="dimension")
        fig.colorbar(im, ax=ax)
    return fig


def chorale_walkthrough(
    name: str, limit: int | None = None, index: int = 0, show_steps: int = 8
) -> str:
    """The book's walk through MuseGAN's data, on chorale ``index`` of the training split of
    ``name`` (``chorales`` or ``music21_chorales``): the raw ``(T, 4)`` array of MIDI
    pitches at 16th notes (NaN = rest), its first 2 bars as ``(2, 16, 4)`` with rests coded
    83, then the one-hot piano roll ``(2, 16, 84, 4)`` in {-1, 1} MuseGAN sees. Returns
    the text; every shape and value in it is computed, not written in."""
    from gdl.music.datasets import _chorale_arrays
    from gdl.music.pianoroll import N_BARS, N_STEPS_PER_BAR, REST, chorales_to_pianoroll

    chorales = _chorale_arrays(name, limit)["train"]
    chorale = np.asarray(chorales[index], dtype="float32")
    length = N_BARS * N_STEPS_PER_BAR
    roll = chorales_to_pianoroll([chorale])[0]
    bars = np.argmax(roll, axis=2)  # (bars, steps, voices): the pitch index, REST for a rest

    def step(row):
        return "  ".join("rest" if np.isnan(p) else f"{int(p):>4}" for p in row)

    lines = [
        f"{len(chorales)} chorales in the training split; chorale {index} has shape "
        f"{chorale.shape} (16th-note steps x voices S, A, T, B; NaN = rest)",
        f"its first {show_steps} steps (MIDI pitches):",
    ]
    lines += [f"  step {t:>2}: {step(chorale[t])}" for t in range(min(show_steps, len(chorale)))]
    lines += [
        f"first {length} steps as {N_BARS} bars x {N_STEPS_PER_BAR} steps x voices: "
        f"{bars.shape}, rests coded {REST}; bar 1, step 1: {bars[0, 0].tolist()}",
        f"one-hot over {roll.shape[2]} pitches, 0 -> -1, pitch before voice: {roll.shape} "
        f"in {{{int(roll.min())}, {int(roll.max())}}}; "
        f"the +1 of bar 1, step 1 sit at pitches {bars[0, 0].tolist()}",
    ]
    return "\n".join(lines)


def ngram_perplexity(x_train, y_train, x_held, y_held, vocab_size: int, alpha: float = 1.0):
    """Held-out perplexity of an add-``alpha`` bigram ``P(y_t | x_t)`` counted on the
    training windows (``x`` the inputs, ``y`` the next tokens, ids ``< vocab_size``). Give
    all-zero ``x`` arrays for the unigram. Not in the book: the baseline a sequence model
    must beat."""
    counts = np.full((vocab_size, vocab_size), float(alpha))
    np.add.at(counts, (np.ravel(x_train), np.ravel(y_train)), 1.0)
    probs = counts / counts.sum(axis=1, keepdims=True)
    return float(np.exp(-np.mean(np.log(probs[np.ravel(x_held), np.ravel(y_held)]))))


def held_out_perplexities(model, train, held_out, batch_size: int = 256) -> dict:
    """Perplexity of the music Transformer on held-out windows, next to add-1 bigram and
    unigram baselines counted on the training windows, for notes and durations.

    ``train``/``held_out``: ``((x_notes, x_durs), (y_notes, y_durs))`` as
    :func:`gdl.music.sequence_dataset` returns them, with the model's vocabularies.
    Every position of every window counts, as in the training loss. Returns
    ``{"notes": {"transformer": p, "bigram": p, "unigram": p}, "durations": {...}}``.
    """
    (x, y), (hx, hy) = train, held_out
    logits = model.predict(hx, batch_size=batch_size, verbose=0)  # the model returns logits
    sizes = (model.notes_vocab_size, model.durations_vocab_size)
    out = {}
    for i, name in enumerate(("notes", "durations")):
        z = logits[i] - logits[i].max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        nll = -np.mean(np.take_along_axis(logp, hy[i][..., None], -1))
        out[name] = {
            "transformer": float(np.exp(nll)),
            "bigram": ngram_perplexity(x[i], y[i], hx[i], hy[i], sizes[i]),
            "unigram": ngram_perplexity(0 * x[i], y[i], 0 * hx[i], hy[i], sizes[i]),
        }
    return out


class MuseGANStatistics(keras.callbacks.Callback):
    """A Keras callback recording, every ``every`` generator steps, the three statistics of
    :mod:`gdl.music.stats` (pitch classes per bar, empty bar-tracks, notes in key) of
    ``num`` rolls generated from fixed noise (``seed``): the curve of a MuseGAN's training,
    to hold against ``real`` (the same statistics of real chorales, e.g.
    ``roll_statistics(held_out_rolls)``). The book only listens to samples.

    ``history`` is a list of ``{"step": generator steps, "cpu_s": process CPU seconds
    spent in training, <the three statistics>}``, one row before the first step (the
    untrained generator) and one every ``every`` steps; ``verbose`` prints each row.
    The step count is the generator optimizer's, so a resumed run continues its curve.
    ``budget_cpu_s`` stops training once training has used that much CPU time.
    """

    def __init__(self, real=None, every: int = 50, num: int = 64, seed: int = 1,
                 verbose: bool = True, budget_cpu_s: float | None = None):  # fmt: skip
        super().__init__()
        self.real, self.every, self.num, self.seed = real, int(every), int(num), seed
        self.verbose, self.budget_cpu_s = verbose, budget_cpu_s
        self.history: list[dict] = []

    def _steps(self) -> int:
        opt = getattr(self.model, "g_optimizer", None) or self.model.optimizer
        return int(opt.iterations.numpy() if hasattr(opt.iterations, "numpy") else opt.iterations)

    def record(self) -> dict:
        import time

        from gdl.music.stats import roll_statistics

        row = {"step": self._steps(), "cpu_s": time.process_time() - self._cpu0}
        row.update(roll_statistics(self.model.generate(self.num, seed=self.seed)))
        self.history.append(row)
        if self.verbose:
            print(format_statistics(row, self.real), flush=True)
        return row

    def on_train_begin(self, logs=None):
        import time

        self._cpu0 = time.process_time() - (self.history[-1]["cpu_s"] if self.history else 0.0)
        if not self.history or self.history[-1]["step"] != self._steps():
            self.record()

    def on_train_batch_end(self, batch, logs=None):
        import time

        step = self._steps()
        if step % self.every == 0 and self.history[-1]["step"] != step:
            self.record()
        if self.budget_cpu_s is not None and time.process_time() - self._cpu0 > self.budget_cpu_s:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.history[-1]["step"] != self._steps():
            self.record()


def format_statistics(row: dict, real: dict | None = None) -> str:
    """One line: ``step 100: pitch classes per bar 6.1 (real 6.85), ...``."""
    from gdl.music.stats import DIVERSITY, STAT_NAMES

    parts = []
    for k in (*STAT_NAMES, DIVERSITY):
        if k not in row:
            continue
        ref = f" (real {real[k]:.3g})" if real and k in real else ""
        parts.append(f"{k} {row[k]:.3g}{ref}")
    head = f"step {row['step']}" + (f", {row['cpu_s']:.0f} CPU s" if "cpu_s" in row else "")
    return f"{head}: " + ", ".join(parts)


def statistics_curve_figure(history, real=None, rel: float = 0.2, empty_abs: float = 0.05):
    """The three statistics over training (from :class:`MuseGANStatistics`), each with the
    real chorales' value and the band counted as "close" (±``rel`` relative; for empty
    bar-tracks up to ``empty_abs``), and a fourth panel: how much the rolls differ from
    one another (mode collapse drives it to 0). Returns the matplotlib figure."""
    from matplotlib.figure import Figure

    from gdl.music.stats import DIVERSITY, STAT_NAMES

    steps = [r["step"] for r in history]
    fig = Figure(figsize=(16, 3.2))
    for ax, k in zip(fig.subplots(1, 4), (*STAT_NAMES, DIVERSITY)):
        ax.plot(steps, [r.get(k, np.nan) for r in history], marker=".", label="generated")
        if real is not None and k == DIVERSITY:
            ax.axhline(real[k], color="k", ls="--", lw=1, label="real")
        elif real is not None:
            v = real[k]
            lo, hi = (v - empty_abs, v + empty_abs) if k == "empty bar-tracks" else (
                v * (1 - rel), v * (1 + rel))  # fmt: skip
            ax.axhline(v, color="k", ls="--", lw=1, label="real")
            if k != "pitch classes per bar":  # shares stay in [0, 1]
                lo, hi = max(lo, 0.0), min(hi, 1.0)
            ax.axhspan(lo, hi, color="k", alpha=0.08)
        ax.set(title=k, xlabel="generator steps")
    fig.axes[0].legend()
    fig.tight_layout()
    return fig
