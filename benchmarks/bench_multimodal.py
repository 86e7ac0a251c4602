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


@benchmark
def unclip():
    """DALL·E 2 at small scale on a CLIP trained as in ``clip`` (30 epochs): the diffusion
    prior (100 epochs, AdamW 1e-3) maps held-out caption embeddings to image embeddings;
    the decoder (40 epochs, 16x16 U-Net conditioned on CLIP image embeddings) draws them.
    Measured on the 359 held-out pairs: cosine of the prior's sample (w = 1) with the true
    image embedding vs the text embedding's own cosine; share of prior samples whose nearest
    held-out image shows the captioned digit; the judge's accuracy on text -> prior ->
    decoder images (prompt "a photo of the digit {k}", 10 per digit, decoder w = 3), and
    on 8 variations of each of 20 held-out images (label of the source image);
    :func:`gdl.book.ch13_multimodal.unclip_report`, which the notebook prints too."""
    import keras

    from gdl.book.ch13_multimodal import digit_classifier, train_clip, unclip_report
    from gdl.models.text2image import UnCLIPDecoder
    from gdl.models.unclip import DiffusionPrior

    train, test, tok = _setup()
    clip, _ = train_clip(train, tok, epochs=_epochs(30))
    t0 = time.perf_counter()
    prior = DiffusionPrior(embedding_dim=clip.embed_dim, seed=0)
    prior.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=1e-4))
    prior.fit((clip.encode_text(train.captions), clip.encode_images(train.images)),
              batch_size=64, epochs=_epochs(100), verbose=0)  # fmt: skip
    rows = {"prior train wall (s)": time.perf_counter() - t0}
    t0 = time.perf_counter()
    decoder = UnCLIPDecoder(embedding_dim=clip.embed_dim, seed=0)
    decoder.adapt(train.images)
    decoder.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=1e-4))
    decoder.fit((train.images, clip.encode_images(train.images)), batch_size=64,
                epochs=_epochs(40), verbose=0)  # fmt: skip
    rows["decoder train wall (s)"] = time.perf_counter() - t0
    judge = digit_classifier(train, epochs=_epochs(40))
    report = unclip_report(clip, prior, decoder, judge, test)
    rows["cosine(prior sample, true image embedding)"] = report["prior_cosine"]
    rows["cosine(text embedding, true image embedding)"] = report["text_cosine"]
    rows["prior sample's nearest image shows the digit"] = report["prior_nearest_right_digit"]
    rows["text -> prior -> decoder: judge says prompted digit"] = report[
        "text_prior_decoder_right_digit"]  # fmt: skip
    rows["variations: judge says source's digit"] = report["variations_keep_digit"]
    return rows


@benchmark
def captioner():
    """Flamingo-style captioner on the frozen image CNN of a CLIP trained as in ``clip``
    (30 epochs): Perceiver resampler (8 latents), 2 gated cross-attention + GPT blocks
    (width 64), 40 epochs Adam 1e-3, batch 64. Held-out (359 captions): teacher-forced
    token accuracy and perplexity vs an add-one bigram text-only baseline (what the
    captions alone predict, without the image); greedy captions naming the right digit."""
    import keras

    from gdl.book.ch13_multimodal import caption_report, train_clip
    from gdl.models.flamingo import FlamingoCaptioner

    train, test, tok = _setup()
    clip, _ = train_clip(train, tok, epochs=_epochs(30))
    model = FlamingoCaptioner(image_encoder=clip.image_features, tokenizer=tok,
                              vocab_size=clip.vocab_size, seed=0)  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    tokens = model.tokenize(train.captions)
    t0 = time.perf_counter()
    model.fit((train.images, tokens[:, :-1]), tokens[:, 1:], batch_size=64,
              epochs=_epochs(40), verbose=0)  # fmt: skip
    rows = {"train wall (s)": time.perf_counter() - t0,
            "gates tanh(alpha_attn)": [float(np.tanh(np.asarray(g.alpha_attn)))
                                       for g in model.gated]}  # fmt: skip
    rows |= caption_report(model, test, tokens)
    return rows
