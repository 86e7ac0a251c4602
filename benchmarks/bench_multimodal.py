"""Chapter 13 on captioned digits (embedded, offline): CLIP zero-shot accuracy and
retrieval, text-to-image prompt fidelity and KID per guidance scale, the DALL·E 2-style
prior + decoder, the Flamingo-style captioner. CPU budgets are stated in each row; the
machine is shared, so wall times are indicative only.

``GDL_BENCH_EPOCHS`` scales every training budget (e.g. ``0.05`` for a quick check).
"""

import os
import time

import numpy as np

from benchmarks.harness import benchmark

SCALE = float(os.environ.get("GDL_BENCH_EPOCHS", "1"))


def _epochs(n: int) -> int:
    return max(1, int(round(n * SCALE)))


def _setup():
    import keras

    from gdl.book.ch13_multimodal import caption_data

    keras.utils.set_random_seed(0)
    return caption_data()


@benchmark
def clip():
    """CLIP (text Transformer 2 blocks, CNN 32/64/128, shared space 64) trained 30 epochs
    (Adam 1e-3, batch 64) on the 1,438 train digits; measured on the 359 held-out."""
    from gdl.book.ch13_multimodal import clip_report, train_clip

    train, test, tok = _setup()
    t0 = time.perf_counter()
    model, history = train_clip(train, tok, epochs=_epochs(30))
    rows = {"epochs": _epochs(30), "train wall (s)": time.perf_counter() - t0,
            "final train loss": history["loss"][-1],
            "learned temperature": float(1 / np.asarray(model.scale()))}  # fmt: skip
    rows |= clip_report(model, test)
    return rows


@benchmark
def text2image_guidance():
    """Pixel-space text-to-image diffusion (16x16, U-Net 32/64/96, cross-attention at 8x8
    and 4x4, text encoder trained with it, condition dropped with p = 0.1), AdamW 1e-3,
    batch 64, on the 1,438 train digits. Judge: gdl's chapter 2 CNN trained on the same
    train digits (held-out accuracy stated). Per w: 20 images per digit for the prompt
    "a {digit}" (same initial noise at every w), 20 DDIM steps; fidelity = share
    classified as the prompted digit (chance 10 %); KID against the 359 held-out digits
    (gdl.metrics.KID, fixed random features)."""
    import keras

    from gdl.book.ch13_multimodal import GUIDANCE_SCALES, digit_classifier, prompt_fidelity
    from gdl.models.text2image import TextToImageDiffusion

    train, test, tok = _setup()
    judge = digit_classifier(train, epochs=_epochs(40))
    pred = np.asarray(judge.predict(test.images, verbose=0)).argmax(axis=1)
    rows = {"judge held-out accuracy": float(np.mean(pred == test.labels))}
    model = TextToImageDiffusion(tokenizer=tok, seed=0)
    model.adapt(train.images)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=1e-4))
    x = (train.images, model.tokenize(train.captions))
    t0, done = time.perf_counter(), 0
    for epochs in (_epochs(30), _epochs(60)):
        model.fit(x, batch_size=64, epochs=epochs, initial_epoch=done, verbose=0)
        done = epochs
        rows[f"{epochs} epochs: train wall (s)"] = time.perf_counter() - t0
        result = prompt_fidelity(model, judge, test, GUIDANCE_SCALES)
        for w, r in result.items():
            rows[f"{epochs} epochs, w={w:g}: fidelity"] = r["fidelity"]
            rows[f"{epochs} epochs, w={w:g}: KID"] = r["kid"]
            print(epochs, w, r["fidelity"], r["kid"], flush=True)
    rows["network parameters"] = model.network.count_params()
    return rows
