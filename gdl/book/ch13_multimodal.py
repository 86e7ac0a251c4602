"""Chapter 13 helpers: data, training budgets and measures the notebooks, the CLI recipes
and the benchmarks share (so the three cannot drift apart).

* :func:`caption_data`: train/held-out captioned digits and a tokenizer built on the train
  captions;
* :func:`train_clip`, :func:`clip_report` (zero-shot accuracy, retrieval recall);
* :func:`digit_classifier`: an *independent* CNN (gdl's chapter 2 ``cnn``) trained on the
  train digits, used to judge generated images;
* :func:`prompt_fidelity`: per guidance scale, the share of generated images that
  classifier labels as the prompted digit, and the KID against held-out real digits;
* :func:`unclip_report`: the DALL·E 2-style prior's embeddings (cosine with the true
  image embedding, nearest held-out image) and the judge's verdict on text -> prior ->
  decoder images and on variations;
* :func:`caption_report`: captioner token accuracy / perplexity vs a bigram text-only
  baseline, and the share of generated captions naming the right digit;
* :func:`similarity_figure`, :func:`guidance_figure`: the views the notebooks show.
"""

from __future__ import annotations

import math

import numpy as np

from gdl.data.captions import DIGIT_NAMES, load_captioned_digits

__all__ = ["caption_data", "caption_report", "clip_report", "digit_classifier",
           "guidance_figure", "prompt_fidelity", "similarity_figure", "train_clip",
           "unclip_report", "PROMPT", "GUIDANCE_SCALES"]  # fmt: skip

PROMPT = "a photo of the digit {}"
GUIDANCE_SCALES = (0.0, 1.0, 3.0, 7.0)


def caption_data(data: str | None = None, size: int = 16, limit: int | None = None):
    """``(train, test, tokenizer)``. ``data``: ``None``/``"captioned_digits"`` (the
    stratified held-out split of :func:`gdl.data.captions.load_captioned_digits`) or a
    folder of your own with a ``captions.csv`` (:func:`gdl.data.captions
    .load_caption_folder`; a seeded 80/20 split). ``limit`` keeps the first rows of each
    split (smoke runs). The :class:`~gdl.preprocessing.CaptionTokenizer` holds the train
    captions' words and the zero-shot prompt's."""
    from gdl.data.captions import load_caption_folder
    from gdl.preprocessing import CaptionTokenizer

    if data in (None, "captioned_digits"):
        train = load_captioned_digits(size=size, split="train")
        test = load_captioned_digits(size=size, split="test")
    else:
        every = load_caption_folder(data, size=size)
        order = np.random.default_rng(0).permutation(len(every))
        cut = max(1, int(round(0.8 * len(every))))
        train, test = every.subset(order[:cut]), every.subset(order[cut:] if cut < len(every)
                                                               else order[:1])  # fmt: skip
    if limit:
        train = train.subset(np.arange(min(limit, len(train))))
        test = test.subset(np.arange(min(limit, len(test))))
    tokenizer = CaptionTokenizer.from_texts([*train.captions, PROMPT.format("")])
    return train, test, tokenizer


def train_clip(train, tokenizer, epochs: int = 30, batch_size: int = 64, seed: int = 0,
               learning_rate: float | None = None, verbose: int = 0, **kwargs):  # fmt: skip
    """A :class:`gdl.models.CLIP` fitted on ``train`` (its Adam; ``learning_rate`` overrides
    the rate); returns ``(model, history)``."""
    from gdl.models.clip import CLIP

    size, channels = train.images.shape[1], train.images.shape[-1]
    model = CLIP(tokenizer=tokenizer, image_size=size, channels=channels, seed=seed, **kwargs)
    model.compile(optimizer=model.book_optimizer(learning_rate))
    history = model.fit((train.images, model.tokenize(train.captions)), batch_size=batch_size,
                        epochs=epochs, verbose=verbose)  # fmt: skip
    return model, history.history


def clip_report(clip, test) -> dict:
    """Zero-shot accuracy by :data:`PROMPT`; text->image recall@1/5 of each held-out caption
    for its own image, and the share of captions whose nearest image shows their digit."""
    from gdl.models.clip import recall_at_k

    pred, _ = clip.classify(test.images, DIGIT_NAMES, PROMPT)
    sim = clip.similarity(test.images, test.captions).T  # (texts, images)
    nearest = sim.argmax(axis=1)
    return {"zero_shot_accuracy": float(np.mean(pred == test.labels)),
            "text_to_image_recall@1": recall_at_k(sim, 1),
            "text_to_image_recall@5": recall_at_k(sim, 5),
            "text_to_image_nearest_right_digit": float(np.mean(
                test.labels[nearest] == test.labels)),
            "image_to_text_recall@1": recall_at_k(sim.T, 1)}  # fmt: skip


def digit_classifier(train, epochs: int = 40, seed: int = 0):
    """gdl's chapter 2 CNN trained on the train digits (an independent judge of generated
    images; it never sees a caption or a generated image). 40 epochs: its batch-norm
    moving variances start at 1 and need ~1,000 steps (momentum 0.99) to reach the
    digits' (~0.003); after 10 epochs its held-out accuracy is at chance."""
    import keras

    from gdl.models.classifiers import cnn, compile_classifier

    keras.utils.set_random_seed(seed)
    model = compile_classifier(cnn(train.images.shape[1:], 10, dense=64), 1e-3)
    y = keras.utils.to_categorical(train.labels, 10)
    model.fit(train.images, y, batch_size=64, epochs=epochs, verbose=0)
    return model


def prompt_fidelity(model, classifier, real, guidance_scales=GUIDANCE_SCALES, per_digit=20,
                    template: str = "a {}", diffusion_steps: int = 20, seed: int = 0) -> dict:  # fmt: skip
    """For each guidance ``w``: ``per_digit`` images for each prompt ``template.format(name)``
    (the same initial noise at every ``w``); ``fidelity`` is the share the classifier
    labels as the prompted digit, ``kid`` the KID (gdl.metrics, fixed random features)
    against the held-out ``real`` images."""
    from keras import ops

    from gdl.metrics import KID

    prompts = [template.format(name) for name in DIGIT_NAMES]
    target = np.repeat(np.arange(10), per_digit)
    noise = np.random.default_rng(seed).standard_normal(
        (len(target), *model.image_shape)).astype("float32")  # fmt: skip
    kid = KID(model.image_size, model.channels)
    rows = {}
    for w in guidance_scales:
        images = model.generate(prompts, num=per_digit, guidance=w, initial_noise=noise,
                                diffusion_steps=diffusion_steps)  # fmt: skip
        pred = np.asarray(classifier.predict(images, verbose=0)).argmax(axis=1)
        kid.reset_state()
        kid.update_state(ops.convert_to_tensor(real.images), ops.convert_to_tensor(images))
        rows[float(w)] = {"fidelity": float(np.mean(pred == target)),
                          "kid": float(ops.convert_to_numpy(kid.result())), "images": images}  # fmt: skip
    return rows


def unclip_report(clip, prior, decoder, judge, test, per_digit: int = 10, sources: int = 20,
                  variations: int = 8, diffusion_steps: int = 20) -> dict:  # fmt: skip
    """DALL·E 2 at small scale, measured on the held-out pairs ``test``:

    * ``prior_cosine``: mean cosine of the prior's sample (w = 1, seed 0) for each
      caption's text embedding with the true image embedding; ``text_cosine`` the text
      embedding's own (what the decoder would get without a prior);
    * ``prior_nearest_right_digit``: share of prior samples whose nearest held-out image
      embedding shows the captioned digit;
    * ``text_prior_decoder_right_digit``: share of the images drawn for :data:`PROMPT`
      (``per_digit`` per digit; prior w = 1 seed 1, decoder w = 3 seed 1) that the
      ``judge`` (:func:`digit_classifier`) labels as the prompted digit (chance 10 %);
    * ``variations_keep_digit``: share of ``variations`` variations of each of the first
      ``sources`` held-out images (seed = source index) labelled as the source's digit.
    """
    text, image = clip.encode_text(test.captions), clip.encode_images(test.images)
    sample = prior.generate(text, guidance=1.0, diffusion_steps=diffusion_steps, seed=0)
    nearest = (sample @ image.T).argmax(axis=1)
    rows = {"prior_cosine": float(np.mean((sample * image).sum(1))),
            "text_cosine": float(np.mean((text * image).sum(1))),
            "prior_nearest_right_digit": float(np.mean(test.labels[nearest] == test.labels))}  # fmt: skip
    target = np.repeat(np.arange(10), per_digit)
    prompts = [PROMPT.format(DIGIT_NAMES[k]) for k in target]
    emb = prior.generate(clip.encode_text(prompts), guidance=1.0,
                         diffusion_steps=diffusion_steps, seed=1)  # fmt: skip
    images = decoder.generate(emb, guidance=3.0, diffusion_steps=diffusion_steps, seed=1)
    pred = np.asarray(judge.predict(images, verbose=0)).argmax(1)
    rows["text_prior_decoder_right_digit"] = float(np.mean(pred == target))
    source = test.subset(np.arange(min(sources, len(test))))
    var = np.concatenate([decoder.variations(e, num=variations, diffusion_steps=diffusion_steps,
                                             seed=i)
                          for i, e in enumerate(clip.encode_images(source.images))])  # fmt: skip
    pred = np.asarray(judge.predict(var, verbose=0)).argmax(1)
    rows["variations_keep_digit"] = float(np.mean(pred == np.repeat(source.labels, variations)))
    return rows


def bigram_perplexity(train_tokens, test_tokens, vocab_size: int) -> tuple[float, float]:
    """A text-only baseline: add-one bigram model of the train captions; returns its
    ``(token accuracy, perplexity)`` on the held-out captions' next tokens (after
    ``[START]``, up to and including ``[END]``)."""
    counts = np.ones((vocab_size, vocab_size))
    for row in train_tokens:
        n = int((row != 0).sum())
        np.add.at(counts, (row[: n - 1], row[1:n]), 1)
    probs = counts / counts.sum(axis=1, keepdims=True)
    nll, hits, total = 0.0, 0, 0
    for row in test_tokens:
        n = int((row != 0).sum())
        prev, nxt = row[: n - 1], row[1:n]
        nll -= np.log(probs[prev, nxt]).sum()
        hits += int((probs[prev].argmax(axis=1) == nxt).sum())
        total += n - 1
    return hits / total, math.exp(nll / total)


def caption_report(captioner, test, train_tokens=None, max_tokens: int | None = None) -> dict:
    """Held-out token accuracy and perplexity of the captioner (teacher forcing), the
    bigram baseline's, and the share of greedy captions naming the image's digit."""
    tokens = captioner.tokenize(test.captions)
    acc, ppl = captioner.evaluate_captions(test.images, tokens)
    rows = {"captioner_token_accuracy": acc, "captioner_perplexity": ppl}
    if train_tokens is not None:
        b_acc, b_ppl = bigram_perplexity(train_tokens, tokens, captioner.vocab_size)
        rows |= {"bigram_baseline_token_accuracy": b_acc, "bigram_baseline_perplexity": b_ppl}
    texts = captioner.caption(test.images, temperature=0.0, max_tokens=max_tokens)
    named = [DIGIT_NAMES[k] in t.split() for t, k in zip(texts, test.labels)]
    rows["captions_naming_right_digit"] = float(np.mean(named))
    rows["examples"] = texts[:5]
    return rows


def similarity_figure(clip, images, captions):
    """CLIP's figure: the cosine similarity of every image (columns) with every caption
    (rows), images above. Returns a matplotlib ``Figure``."""
    from matplotlib.figure import Figure

    sim = clip.similarity(images, captions).T
    n = len(images)
    fig = Figure(figsize=(1.0 + 0.8 * n, 1.5 + 0.45 * len(captions)))
    grid = fig.add_gridspec(2, n, height_ratios=(1, 0.45 * len(captions)))
    for i, img in enumerate(images):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(img[..., 0], cmap="gray_r")
        ax.axis("off")
    ax = fig.add_subplot(grid[1, :])
    ax.imshow(sim, cmap="viridis")
    ax.set_yticks(range(len(captions)), captions, fontsize=8)
    ax.set_xticks([])
    for (r, c), v in np.ndenumerate(sim):
        ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=6, color="w")
    return fig


def guidance_figure(rows: dict, per_row: int = 10):
    """One row of generated images per guidance scale (``prompt_fidelity``'s output or
    ``{w: images}``), titled with ``w`` (and fidelity/KID when known)."""
    from matplotlib.figure import Figure

    from gdl.plotting import image_grid

    fig = Figure(figsize=(per_row * 0.7, 1.0 * len(rows)))
    for i, (w, row) in enumerate(rows.items()):
        images = row["images"] if isinstance(row, dict) else row
        ax = fig.add_subplot(len(rows), 1, i + 1)
        ax.imshow(image_grid(images[:per_row], ncols=per_row)[..., 0], cmap="gray_r")
        ax.axis("off")
        extra = (f"  fidelity {row['fidelity']:.0%}, KID {row['kid']:.3f}"
                 if isinstance(row, dict) else "")  # fmt: skip
        ax.set_title(f"w = {w:g}{extra}", fontsize=9)
    return fig
