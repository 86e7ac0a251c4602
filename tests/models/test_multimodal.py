"""Chapter 13 models: the maths by hand (InfoNCE, recall@k, guidance), the null
condition, the gates, cached vs full caption decoding."""

import keras
import numpy as np
from keras import ops

from gdl.models.clip import CLIP, contrastive_loss, recall_at_k
from gdl.models.flamingo import FlamingoCaptioner
from gdl.models.text2image import TextToImageDiffusion, UnCLIPDecoder, guided_noise
from gdl.models.unclip import DiffusionPrior
from gdl.preprocessing import CaptionTokenizer

RNG = np.random.default_rng(0)
TOK = CaptionTokenizer.from_texts(["a thick seven", "a thin two", "a photo of the digit one"])


def np_(x):
    return np.asarray(ops.convert_to_numpy(x))


def test_infonce_matches_numpy():
    logits = RNG.normal(size=(5, 5)).astype("float32") * 3

    def ce_rows(z):  # -log softmax at the diagonal, per row
        z = z - z.max(1, keepdims=True)
        return -(np.diag(z) - np.log(np.exp(z).sum(1)))

    want = 0.5 * (ce_rows(logits).mean() + ce_rows(logits.T).mean())
    np.testing.assert_allclose(float(np_(contrastive_loss(logits))), want, rtol=1e-5)
    # perfect alignment at a large scale: loss near 0
    assert float(np_(contrastive_loss(np.eye(4, dtype="float32") * 50))) < 1e-6


def test_recall_at_k_by_hand():
    sim = np.array([[0.9, 0.1, 0.0],   # query 0: its item ranks 1st
                    [0.8, 0.5, 0.1],   # query 1: 2nd
                    [0.7, 0.6, 0.2]])  # query 2: 3rd
    assert recall_at_k(sim, 1) == 1 / 3
    assert recall_at_k(sim, 2) == 2 / 3
    assert recall_at_k(sim, 3) == 1.0
    assert recall_at_k(np.ones((2, 2)), 1) == 0.0  # ties count against the query


def small_clip():
    return CLIP(vocab_size=TOK.vocab_size, max_len=8, image_size=8, image_filters=(4, 8),
                embed_dim=8, text_width=8, num_heads=2, key_dim=4, ff_dim=8, text_blocks=1,
                tokenizer=TOK, seed=0)


def test_clip_embeddings_temperature_and_zero_shot_plumbing():
    keras.utils.set_random_seed(0)
    clip = small_clip()
    images = RNG.uniform(size=(3, 8, 8, 1)).astype("float32")
    img, txt = clip([images, clip.tokenize(["a thick seven", "a thin two", "a seven"])])
    np.testing.assert_allclose(np.linalg.norm(np_(img), axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(np_(txt), axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(float(np_(clip.scale())), 1 / 0.07, rtol=1e-5)
    logits = np_(clip.logits(img, txt))
    np.testing.assert_allclose(logits, np_(img) @ np_(txt).T / 0.07, rtol=1e-4, atol=1e-4)
    clip.logit_scale.assign(10.0)  # exp(10) > 100: clipped as CLIP does
    np.testing.assert_allclose(float(np_(clip.scale())), 100.0)
    pred, probs = clip.classify(images, ["seven", "two"])
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    sim = clip.similarity(images, ["a photo of the digit seven", "a photo of the digit two"])
    np.testing.assert_array_equal(pred, sim.argmax(1))


def small_t2i(**kw):
    model = TextToImageDiffusion(vocab_size=TOK.vocab_size, max_len=8, text_width=8,
                                 text_heads=1, text_key_dim=4, text_blocks=1, attention_heads=1,
                                 attention_key_dim=4, image_size=8, widths=(4, 8),
                                 embedding_dims=8, tokenizer=TOK, seed=0, **kw)
    model.adapt(RNG.uniform(size=(8, 8, 8, 1)).astype("float32"))
    for w in model.ema_network.weights:  # an "untrained" U-Net outputs 0: give it weights
        if "kernel" in w.path:
            w.assign(RNG.normal(scale=0.3, size=w.shape).astype("float32"))
    return model


def test_guidance_is_eps_u_plus_w_times_eps_c_minus_eps_u():
    eps_c, eps_u = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    for w in (0.0, 1.0, 3.0):
        np.testing.assert_allclose(np_(guided_noise(eps_c, eps_u, w)), eps_u + w * (eps_c - eps_u))
    keras.utils.set_random_seed(0)
    model = small_t2i()
    noisy = RNG.normal(size=(2, 8, 8, 1)).astype("float32")
    rates = np.full((2, 1, 1, 1), 0.7, "float32")
    signal = np.sqrt(1 - rates**2)
    tokens = model.tokenize(["a thick seven", "a thin two"])
    null = np.tile([[2, 3, 0, 0, 0, 0, 0, 0]], (2, 1)).astype("int32")  # "" = [START][END]
    np.testing.assert_array_equal(np_(model.null_condition(2)), null)
    eps_c = np_(model([noisy, rates, tokens]))
    eps_u = np_(model([noisy, rates, null]))
    assert not np.allclose(eps_c, eps_u)
    for w in (0.0, 1.0, 3.0, 7.0):
        pred, images = model.denoise(noisy, rates, signal, False, tokens, np.float32(w))
        np.testing.assert_allclose(np_(pred), eps_u + w * (eps_c - eps_u), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(np_(images), (noisy - rates * np_(pred)) / signal, rtol=1e-5,
                                   atol=1e-4)


def test_condition_is_dropped_with_probability_p_in_training_only():
    model = small_t2i(condition_drop=0.3)
    tokens = np.tile(model.tokenize(["a thick seven"]), (4000, 1))
    dropped = np_(model._drop(ops.convert_to_tensor(tokens)))
    share = np.mean((dropped == np_(model.null_condition(1))).all(axis=1))
    assert abs(share - 0.3) < 0.03
    assert small_t2i(condition_drop=0.0)._drop(tokens[:5]) is not None


def test_text2image_generation_is_seeded_and_trains_then_saves(tmp_path):
    keras.utils.set_random_seed(0)
    model = small_t2i()
    a = model.generate(["a thick seven", "a two"], num=2, guidance=3, diffusion_steps=3, seed=0)
    b = model.generate(["a thick seven", "a two"], num=2, guidance=3, diffusion_steps=3, seed=0)
    assert a.shape == (4, 8, 8, 1) and 0 <= a.min() and a.max() <= 1
    np.testing.assert_array_equal(a, b)
    eager = model.generate(["a thick seven", "a two"], num=2, guidance=3, diffusion_steps=3,
                           seed=0, compiled=False)
    np.testing.assert_allclose(eager, a, atol=1e-4)
    model.save(tmp_path / "t2i.keras")
    again = keras.saving.load_model(tmp_path / "t2i.keras")
    assert again.tokenizer == TOK
    np.testing.assert_allclose(again.generate(["a thick seven", "a two"], num=2, guidance=3,
                                              diffusion_steps=3, seed=0), a, atol=1e-4)


def test_unclip_decoder_null_is_zero_and_variations_share_the_embedding():
    model = UnCLIPDecoder(embedding_dim=6, condition_tokens=2, attention_heads=1,
                          attention_key_dim=4, image_size=8, widths=(4, 8), embedding_dims=8,
                          seed=0)
    model.adapt(RNG.uniform(size=(8, 8, 8, 1)).astype("float32"))
    np.testing.assert_array_equal(np_(model.null_condition(3)), np.zeros((3, 6)))
    out = model.variations(RNG.normal(size=6), num=3, diffusion_steps=2, seed=1)
    assert out.shape == (3, 8, 8, 1)


def test_prior_samples_are_unit_embeddings_and_guidance_zero_ignores_the_text():
    keras.utils.set_random_seed(0)
    prior = DiffusionPrior(embedding_dim=6, width=8, num_blocks=1, num_heads=2, key_dim=4,
                           ff_dim=8, noise_embedding_dims=4, seed=0)
    text = RNG.normal(size=(3, 6)).astype("float32")
    out = prior.generate(text, guidance=2.0, diffusion_steps=4, seed=0)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(out, prior.generate(text, 2.0, 4, seed=0))
    u1 = prior.generate(text, guidance=0.0, diffusion_steps=4, seed=0)
    u2 = prior.generate(-text, guidance=0.0, diffusion_steps=4, seed=0)
    np.testing.assert_allclose(u1, u2, atol=1e-5)  # w = 0: the unconditional prior
    target, pred = prior((text, out))
    np.testing.assert_allclose(np_(target), out * np.sqrt(6), rtol=1e-5)


def small_captioner():
    return FlamingoCaptioner(vocab_size=TOK.vocab_size, max_len=8, embed_dim=8, num_heads=2,
                             key_dim=4, ff_dim=8, num_blocks=2, num_latents=3, image_size=8,
                             image_filters=(4, 8), tokenizer=TOK, seed=0)


def test_captioner_ignores_the_image_while_gates_are_closed_and_encoder_is_frozen():
    keras.utils.set_random_seed(0)
    cap = small_captioner()
    tokens = cap.tokenize(["a thick seven", "a thin two"])[:, :-1]
    im1, im2 = (RNG.uniform(size=(2, 8, 8, 1)).astype("float32") for _ in range(2))
    np.testing.assert_allclose(np_(cap((im1, tokens))), np_(cap((im2, tokens))), atol=1e-6)
    for g in cap.gated:
        g.alpha_attn.assign(1.0)
    assert not np.allclose(np_(cap((im1, tokens))), np_(cap((im2, tokens))), atol=1e-4)
    assert not cap.image_encoder.trainable
    assert all(not w.trainable for w in cap.image_encoder.weights)
    cap.freeze_language_model()
    names = {w.path.split("/")[1] for w in cap.trainable_weights}
    assert names and all("resampler" in n or "gated" in n for n in names), names


def test_captions_cached_equal_full_rerun_and_stop_at_end():
    keras.utils.set_random_seed(0)
    cap = small_captioner()
    for g in cap.gated:
        g.alpha_attn.assign(1.0)
    images = RNG.uniform(size=(3, 8, 8, 1)).astype("float32")
    cached = cap.generate(images, temperature=1.0, seed=3)
    full = cap.generate(images, temperature=1.0, seed=3, use_cache=False)
    np.testing.assert_array_equal(cached.tokens, full.tokens)
    assert (cached.tokens[:, 0] == TOK.start_id).all() and len(cached.texts) == 3
    for row in cached.tokens:  # after [END], only padding
        ends = np.flatnonzero(row == TOK.end_id)
        if len(ends):
            assert (row[ends[0] + 1:] == 0).all()
    acc, ppl = cap.evaluate_captions(images, cap.tokenize(["a seven", "a two", "a one"]))
    assert 0 <= acc <= 1 and 1 < ppl < 10 * TOK.vocab_size
