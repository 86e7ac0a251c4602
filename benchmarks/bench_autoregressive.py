"""Chapter 5: PixelCNN sampling speed (fast vs the book's naive sampler), LSTM generation
speed (cached state vs full re-run vs the previous loop), held-out
bits/dim of both PixelCNNs on embedded digits against a per-pixel independent
categorical baseline, the book's PixelCNN++ (``PixelCNNPlusPlus``) at the mixture
notebook's CPU budget, and LSTM held-out perplexity against a bigram baseline.

Training runs are bounded by wall time (``BUDGET_S`` each), so the numbers depend on
the machine's load; the CI machine is shared (2 cores, several users).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.harness import benchmark, cached_vs_full
from gdl.generation import sample_from_probs

BUDGET_S = 170


class _TimeBudget:
    """A Keras callback stopping ``fit`` after ``seconds`` of wall time."""

    def __new__(cls, seconds):
        import keras

        class Stop(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.t0 = time.perf_counter()
                self.epochs = 0

            def on_epoch_end(self, epoch, logs=None):
                self.epochs = epoch + 1
                if time.perf_counter() - self.t0 > seconds:
                    self.model.stop_training = True

        return Stop()


@benchmark
def sampling():
    """16 images of 16x16 from the book-size PixelCNN (128 filters, 5 blocks)."""
    from gdl.models.pixelcnn import PixelCNN

    model = PixelCNN(seed=0)
    model.generate(num=16, seed=0)  # trace the compiled step
    t0 = time.perf_counter()
    fast = model.generate(num=16, seed=1)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = model.generate(num=16, seed=1, method="naive")
    t_naive = time.perf_counter() - t0
    return {
        "fast sampler, 16 images 16x16 (s)": t_fast,
        "naive sampler (book: predict per pixel) (s)": t_naive,
        "speed-up": t_naive / t_fast,
        "identical samples": bool((fast == naive).all()),
    }


def _categorical_baseline_bpd(train, test, levels, alpha=1.0):
    """Per-pixel independent categorical with add-``alpha`` smoothing, fitted on ``train``."""
    t, s = train.astype(int)[..., 0], test.astype(int)[..., 0]
    counts = np.stack([(t == v).sum(0) for v in range(levels)], -1) + alpha
    p = counts / counts.sum(-1, keepdims=True)
    picked = np.take_along_axis(p[None], s[..., None], axis=-1)
    return float(-np.log2(picked).mean())


@benchmark
def bits_per_dim():
    """Digits 16x16: PixelCNN on 4 levels and PixelCNNMixture on 0..255, each trained for at
    most BUDGET_S seconds (book architecture, 128 filters, 5 blocks), against per-pixel
    categorical baselines (add-one smoothing) fitted on the same training split."""
    import keras

    from gdl.book.ch05_autoregressive import load_pixel_values
    from gdl.models.pixelcnn import PixelCNN, PixelCNNMixture, compile_pixelcnn

    rows = {}
    for name, cls, levels in (("pixelcnn", PixelCNN, 4), ("pixelcnn_md", PixelCNNMixture, None)):
        keras.utils.set_random_seed(0)
        train, test = load_pixel_values("digits", 16, levels)
        model = compile_pixelcnn(cls(image_size=16) if levels is None else cls())
        stop = _TimeBudget(BUDGET_S)
        t0 = time.perf_counter()
        model.fit(train, batch_size=128 if levels else 32, epochs=1000, callbacks=[stop], verbose=0)
        rows[f"{name}: training (s, epochs)"] = f"{time.perf_counter() - t0:.0f}, {stop.epochs}"
        rows[f"{name}: held-out bits/dim"] = model.bits_per_dim(test)
        rows[f"{name}: independent categorical baseline bits/dim"] = _categorical_baseline_bpd(
            train, test, levels or 256
        )
    return rows


#: the CPU route of chapters/05_autoregressive/03_pixelcnn_md.ipynb
PIXELCNNPP_EPOCHS = 10


@benchmark
def pixelcnnpp_digits():
    """The book's chapter 5 mixture network (:class:`PixelCNNPlusPlus`, 624,990 parameters:
    gated PixelCNN++, 32 filters, 1 residual block, 2 hierarchies, 5 logistics, dropout
    0.3, Adam 1e-3, batch 128) on the notebook's CPU route: embedded digits at 16x16,
    0..255, data-dependent init on the first batch, PIXELCNNPP_EPOCHS epochs. Held-out
    bits/dim after each epoch, against a per-pixel independent categorical (add-one), and
    the time to sample 2 images (the book's ImageGenerator)."""
    import keras

    from gdl.book.ch05_autoregressive import load_pixel_values
    from gdl.models.pixelcnn import PixelCNNPlusPlus, compile_pixelcnn

    keras.utils.set_random_seed(0)
    train, test = load_pixel_values("digits", 16)
    model = compile_pixelcnn(PixelCNNPlusPlus(image_size=16, seed=0))
    model.initialize_from_data(train[:128])
    rows = {
        "parameters": model.count_params(),
        "held-out bits/dim at init": model.bits_per_dim(test),
    }
    t0 = time.perf_counter()
    for epoch in range(1, PIXELCNNPP_EPOCHS + 1):
        model.fit(train, batch_size=128, epochs=epoch, initial_epoch=epoch - 1, verbose=0)
        rows[f"held-out bits/dim after epoch {epoch}"] = model.bits_per_dim(test)
        rows[f"training wall after epoch {epoch} (s)"] = time.perf_counter() - t0
    rows["independent categorical baseline bits/dim"] = _categorical_baseline_bpd(train, test, 256)
    model.generate(2, seed=0)  # trace the compiled step
    t0 = time.perf_counter()
    images = model.generate(2, seed=1)
    rows["2 samples 16x16, fast sampler (s)"] = time.perf_counter() - t0
    rows["sample pixel mean (test set mean)"] = f"{images.mean():.1f} ({test.mean():.1f})"
    return rows


_DISHES = {
    "soup": ["simmer the soup for 20 minutes", "ladle the soup into bowls", "add the stock"],
    "salad": ["toss the salad with the dressing", "wash the lettuce", "chill the salad"],
    "cake": ["bake the cake at 350 degrees", "cool the cake on a rack", "whisk the eggs"],
    "stew": ["brown the beef", "simmer the stew for 2 hours", "season the stew"],
    "pasta": ["boil the pasta until al dente", "drain the pasta", "toss the pasta with sauce"],
    "bread": ["knead the dough", "let the dough rise for 1 hour", "bake the bread"],
}
_ADJ = ["easy", "quick", "spicy", "classic", "roasted", "fresh", "creamy", "rustic"]
_COMMON = ["season with salt and pepper", "serve warm", "garnish with parsley", "preheat oven"]


def synthetic_recipes(n: int, seed: int = 0) -> list[str]:
    """Recipe-format text ("Recipe for {title} | {directions}") from a small grammar in which
    the directions depend on the dish named in the title (so longer context helps)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        dish = rng.choice(list(_DISHES))
        steps = list(rng.permutation(_DISHES[dish]))[: rng.integers(2, 4)]
        steps += list(rng.choice(_COMMON, size=rng.integers(1, 3), replace=False))
        steps.insert(int(rng.integers(0, len(steps))), f"serve the {dish}")
        title = f"{rng.choice(_ADJ)} {dish}"
        out.append(f"Recipe for {title} | " + " ".join(s.capitalize() + "." for s in steps))
    return out


@benchmark
def lstm_generation():
    """200 new tokens after a 2-token prompt from the book-size LSTM (vocabulary 10,000,
    2,407,248 parameters), top-p 0.9 (and plain temperature 1): the cached loop (the prompt once, then one cell step
    per token from the carried h, c) alternating with the full re-run (the whole buffer
    through the network per token, compiled), same seed; and the previous implementation
    (the book's loop: the model on the growing text per token, eager) once."""
    import keras
    from keras import ops

    from gdl.models.lstm import LSTMTextGenerator

    keras.utils.set_random_seed(0)
    model = LSTMTextGenerator()
    rows = cached_vs_full(model, "cached state", tag=", top-p 0.9", top_p=0.9)
    rows.update(cached_vs_full(model, "cached state", ((1, 3),), ", temperature 1 (book)"))
    tokens, rng = [2, 3], np.random.default_rng(0)
    t0 = time.perf_counter()
    while len(tokens) < 202:  # the previous generate: eager model call on the prefix
        logits = ops.convert_to_numpy(model(np.array([tokens], "int32")))[0, -1]
        p = np.exp(logits.astype("float64") - logits.max())
        tokens.append(int(sample_from_probs(p / p.sum(), top_p=0.9, rng=rng)))
    old = time.perf_counter() - t0
    rows["batch 1: previous loop (eager model call on the growing text), 200 tokens (s)"] = old
    rows["batch 1: speed-up cached vs previous loop"] = (
        old / rows["batch 1, top-p 0.9: cached state, 200 tokens (s)"]
    )
    return rows


@benchmark
def lstm_perplexity():
    """Held-out perplexity (non-padding targets) of the book's LSTM (emb 100, LSTM 128)
    trained for at most BUDGET_S seconds, vs an add-0.1 bigram model on the same tokens.
    Text: 2,000 + 500 synthetic recipe-format texts (the Epicurious data is not on this
    machine)."""
    import keras

    from gdl.data.text import language_model_dataset, make_vectorizer, pad_punctuation
    from gdl.models.lstm import LSTMTextGenerator, compile_lstm

    keras.utils.set_random_seed(0)
    texts = [pad_punctuation(t) for t in synthetic_recipes(2500)]
    train_t, test_t = texts[:2000], texts[2000:]
    vec = make_vectorizer(train_t, 10000, 200)
    train = language_model_dataset(train_t, vec, batch_size=32)
    test = language_model_dataset(test_t, vec, batch_size=32)
    vocab = vec.get_vocabulary()
    model = compile_lstm(LSTMTextGenerator(vocabulary=vocab))
    stop = _TimeBudget(BUDGET_S)
    t0 = time.perf_counter()
    model.fit(train, epochs=1000, callbacks=[stop], verbose=0)
    elapsed = time.perf_counter() - t0

    v = len(vocab)
    counts = np.full((v, v), 0.1)
    for x, y in train:
        np.add.at(counts, (np.asarray(x).ravel(), np.asarray(y).ravel()), 1)
    p = counts / counts.sum(1, keepdims=True)
    nll, n = 0.0, 0
    for x, y in test:
        x, y = np.asarray(x).ravel(), np.asarray(y).ravel()
        keep = y != 0
        nll -= np.log(p[x[keep], y[keep]]).sum()
        n += keep.sum()
    return {
        "text": "synthetic recipes, 2000 train / 500 held-out",
        "vocabulary": v,
        "lstm training (s, epochs)": f"{elapsed:.0f}, {stop.epochs}",
        "lstm held-out perplexity": model.perplexity(test),
        "bigram (add-0.1) held-out perplexity": float(np.exp(nll / n)),
    }
