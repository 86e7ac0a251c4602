"""gdl.book.ch10_advanced_gans: data, measures by hand, the ProGAN recorder against the
schedule, the style-mixing grid's styles, truncation and noise views, attention maps,
code usage and the prior's perplexity against Keras' own cross-entropy."""

import keras
import numpy as np
import pytest
from keras import ops
from matplotlib.figure import Figure

from gdl.book import ch10_advanced_gans as ch10
from gdl.errors import ConfigError

RNG = np.random.default_rng(0)


def tiny_stylegan():
    from gdl.models.stylegan import StyleGAN2

    return StyleGAN2(filters=(4, 4, 4, 4), channels=1, latent_dim=4, w_dim=4, mapping_layers=1,
                     seed=0)  # fmt: skip


def tiny_vqvae():
    from gdl.models.vqgan import VQVAE

    return VQVAE(image_shape=(8, 8, 1), num_embeddings=6, embedding_dim=3, filters=(4,), seed=0)


def test_digits_data_sizes_and_errors():
    x_train, x_test = ch10.gan_data("digits", num_test=50)
    assert x_train.shape[1:] == (32, 32, 1) and x_test.shape == (50, 32, 32, 1)
    x_all, held_out = ch10.gan_data("digits")  # every held-out digit, as the benchmark scores
    assert len(x_all) + len(held_out) == 1797 and len(held_out) == 360
    np.testing.assert_array_equal(held_out[:50], x_test)
    assert x_train.min() >= -1.0 and x_train.max() <= 1.0 and x_train.min() < -0.9
    assert ch10.image_shape_of(x_test) == (32, 32, 1)
    kw = ch10.model_kwargs("stylegan", 32, 1, r1_gamma=1.0)
    assert kw["filters"] == (64, 64, 32, 16) and kw["r1_gamma"] == 1.0 and kw["channels"] == 1
    assert ch10.model_kwargs("vqgan", 64, 3)["image_shape"] == (64, 64, 3)
    with pytest.raises(ConfigError, match="progan"):
        ch10.model_kwargs("biggan", 32, 1)
    with pytest.raises(ConfigError, match="32x32 or 64x64"):
        ch10.model_kwargs("sagan", 48, 1)


def test_faces_route_when_downloaded(data_env, monkeypatch, tmp_path):
    assert ch10.default_data() == "faces"
    train, x_test = ch10.gan_data("faces", batch_size=4, num_test=3)
    assert x_test.shape == (3, 64, 64, 3) and ch10.image_shape_of(train) == (64, 64, 3)
    monkeypatch.setenv("GDL_DATA_DIR", str(tmp_path / "empty"))
    assert ch10.default_data() == "digits"


def test_sharpness_and_kid_by_hand():
    ramp = np.tile(np.arange(8) * 0.1, (2, 8, 1))[..., None]  # d/dx = 0.1, d/dy = 0
    assert ch10.sharpness(ramp) == pytest.approx(0.1)
    assert ch10.sharpness(np.ones((2, 8, 8, 1))) == 0.0
    diag = np.add.outer(np.arange(8), np.arange(8))[None, ..., None] * 0.3  # |grad| = 0.3 sqrt 2
    assert ch10.sharpness(diag) == pytest.approx(0.3 * np.sqrt(2))
    real = RNG.uniform(-1, 1, (40, 16, 16, 1)).astype("float32")
    other = RNG.uniform(-1, 1, (40, 16, 16, 1)).astype("float32")
    assert abs(ch10.kid(real, other)) < 0.01
    assert ch10.kid(real, np.full_like(real, -1.0)) > 0.1


def test_time_budget_stops_after_the_first_batch():
    inp = keras.Input((2,))
    model = keras.Model(inp, keras.layers.Dense(1)(inp))
    model.compile(optimizer="sgd", loss="mse")
    budget = ch10.TimeBudget(0.0)
    x = np.zeros((16, 2), "float32")
    model.fit(x, x[:, :1], batch_size=4, epochs=3, verbose=0, callbacks=[budget])
    assert budget.steps == 1


def test_time_budget_leaves_the_warmup_steps_untimed():
    inp = keras.Input((2,))
    model = keras.Model(inp, keras.layers.Dense(1)(inp))
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((16, 2), "float32")
    budget = ch10.TimeBudget(0.0, warmup_steps=3)  # 3 untimed steps, then one over budget
    model.fit(x, x[:, :1], batch_size=4, epochs=3, verbose=0, callbacks=[budget])
    assert budget.steps == 4
    long = ch10.TimeBudget(3600.0, warmup_steps=2)  # never runs out: every step trains
    model.fit(x, x[:, :1], batch_size=4, epochs=3, verbose=0, callbacks=[long])
    assert long.steps == 12


def test_stage_recorder_follows_the_schedule_and_fade_in_series():
    from gdl.models.progan import ProGAN, progressive_schedule

    keras.utils.set_random_seed(0)
    model = ProGAN(filters=(4, 4), channels=1, latent_dim=4, phase_steps=2, seed=0)
    model.compile()
    rec = ch10.StageRecorder(num=3, seed=0)
    x = RNG.uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    model.fit(x, batch_size=4, epochs=3, verbose=0, callbacks=[rec])  # 6 steps
    assert rec.steps == list(range(6))
    assert rec.alphas == [progressive_schedule(s, 2, 2)[1] for s in range(6)]
    assert rec.resolutions == [4, 4, 8, 8, 8, 8]
    assert sorted(rec.snapshots) == [4, 8]
    assert rec.snapshots[4].shape == (3, 4, 4, 1) and rec.snapshots[8].shape == (3, 8, 8, 1)
    series = ch10.fade_in_series(model, alphas=(0.0, 0.5, 1.0), num=2)
    assert series.shape == (3, 2, 8, 8, 1)
    z = np.random.default_rng(0).standard_normal((2, 4)).astype("float32")
    old = model.generate(latent=z, stage=0).repeat(2, 1).repeat(2, 2)
    np.testing.assert_allclose(series[0], old, atol=1e-5)
    u0, u1 = (ops.convert_to_numpy(model.generator(z, stage=1, alpha=a)) for a in (0.0, 1.0))
    np.testing.assert_allclose(series[1], np.clip((u0 + u1) / 2, -1, 1), atol=1e-5)  # the blend
    with pytest.raises(ConfigError):
        ch10.fade_in_series(model, stage=0)
    assert isinstance(ch10.progan_stages_figure(rec.snapshots), Figure)
    assert isinstance(ch10.fade_in_figure(model, recorder=rec, series=series), Figure)


def test_style_mixing_grid_columns_share_the_sources_level_styles():
    model = tiny_stylegan()
    g = model.generator
    rows, cols = 2, 3
    tiles, labels = model.style_mixing_grid(rows, cols, seed=5)
    assert labels == ["coarse from source"] * 2 + ["middle from source"] * 2 + [
        "fine from source"] * 2  # fmt: skip
    rng = np.random.default_rng(5)
    src = rng.standard_normal((cols, 4)).astype("float32")
    dst = rng.standard_normal((3 * rows, 4)).astype("float32")
    w_src = ops.convert_to_numpy(g.map(src))
    w_dst = ops.convert_to_numpy(g.map(dst))
    grid = tiles.reshape(1 + 3 * rows, cols + 1, *tiles.shape[1:])
    want_ws, got = [], []
    for block, (lo, hi) in enumerate(model.style_levels().values()):
        for r in range(rows):
            d = block * rows + r
            for j in range(cols):
                ws = np.repeat(w_dst[d][None], g.num_ws, axis=0)
                ws[lo:hi] = w_src[j]  # the source's styles at this level only
                want_ws.append(ws)
                got.append(grid[1 + d, 1 + j])
    want = np.clip(ops.convert_to_numpy(g.synthesize(np.stack(want_ws), "none")), -1, 1)
    np.testing.assert_allclose(np.stack(got), want, atol=1e-5)
    assert isinstance(ch10.style_mixing_figure(model, rows, cols, seed=5), Figure)


def test_truncation_noise_and_style_swaps():
    model = tiny_stylegan()
    sweep = ch10.truncation_sweep(model, (1.0, 0.0), num=3)
    assert not np.allclose(sweep[1.0][0], sweep[1.0][1])
    np.testing.assert_allclose(sweep[0.0][0], sweep[0.0][2], atol=1e-5)  # all = w_avg's image
    assert isinstance(ch10.truncation_figure(sweep), Figure)
    images, std = ch10.noise_variations(model, num=4)
    assert images.shape == (4, 32, 32, 1) and np.allclose(std, 0.0)  # noise scales start at 0
    for layer in [n for pair in model.generator.noises for n in pair]:
        layer.scale.assign(np.ones(layer.scale.shape, "float32"))
    images, std = ch10.noise_variations(model, num=4)
    assert std.shape == (32, 32) and std.mean() > 1e-3
    assert isinstance(ch10.noise_variation_figure(model, num=3), Figure)
    mse = ch10.style_swap_mse(model, pairs=4)
    assert set(mse) == {"coarse", "middle", "fine"} and all(v > 0 for v in mse.values())


def test_attention_for_query_and_figure():
    from gdl.models.sagan import SAGAN

    beta = np.arange(16 * 16).reshape(16, 16)
    np.testing.assert_array_equal(ch10.attention_for_query(beta, (2, 1), 4),
                                  np.arange(9 * 16, 10 * 16).reshape(4, 4))  # fmt: skip
    model = SAGAN(image_size=8, channels=1, latent_dim=4, g_filters=(8,), d_filters=(8,),
                  attention_resolution=8, seed=0)  # fmt: skip
    images, att = model.attention_maps(num=2, seed=0)
    np.testing.assert_allclose(att.sum(-1), 1.0, rtol=1e-5)
    assert isinstance(ch10.attention_figure(model, num=2, queries=[(1, 1), (6, 2)]), Figure)


def test_code_usage_by_hand_and_figures():
    ae = tiny_vqvae()
    x = RNG.uniform(-1, 1, (5, 8, 8, 1)).astype("float32")
    usage = ch10.code_usage(ae, x, batch_size=2)
    idx = ae.encode_indices(x)
    np.testing.assert_array_equal(usage["indices"], idx)
    counts = np.bincount(idx.ravel(), minlength=6)
    np.testing.assert_array_equal(usage["counts"], counts)
    p = counts[counts > 0] / counts.sum()
    assert usage["perplexity"] == pytest.approx(np.exp(-(p * np.log(p)).sum()))
    assert usage["share_used"] == pytest.approx((counts > 0).mean())
    for fig in (ch10.code_usage_figure(usage), ch10.codebook_index_figure(ae, x, 2),
                ch10.reconstruction_figure(ae, x, 3), ch10.prior_samples_figure(x, idx, 3)):  # fmt: skip
        assert isinstance(fig, Figure)


def test_prior_perplexity_matches_keras_cross_entropy():
    ae = tiny_vqvae()
    x = RNG.uniform(-1, 1, (12, 8, 8, 1)).astype("float32")
    prior, history = ch10.train_prior(ae, x, epochs=1, batch_size=6, embed_dim=8, num_heads=1,
                                      key_dim=8, ff_dim=8, num_blocks=1)  # fmt: skip
    assert len(history["loss"]) == 1
    tx, ty = ch10.prior_data(ae, x)
    assert tx.shape == ty.shape == (12, 16)
    logits = prior.logits_and_attention(tx)[0]
    ce = keras.losses.sparse_categorical_crossentropy(ty, logits, from_logits=True)
    want = float(np.exp(np.mean(ops.convert_to_numpy(ce))))
    assert ch10.token_perplexity(prior, tx, ty, batch_size=5) == pytest.approx(want, rel=1e-4)
    report = ch10.prior_report(prior, ae, x[:8], x[8:])
    assert report["codebook_size"] == 6 and 1.0 <= report["unigram_perplexity"] <= 6.0


def test_perceptual_model_is_a_frozen_classifier_trunk():
    x = RNG.uniform(-1, 1, (4, 8, 8, 1)).astype("float32")
    features = ch10.perceptual_model(x, np.arange(4) % 3, epochs=0, layers=2)
    assert features.trainable is False
    assert tuple(features.output.shape[1:]) == (4, 4, 32)  # second block: stride 2, 32 filters
