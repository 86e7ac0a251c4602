"""Chapter 10 models: hinge loss, fade-in schedule and blend, R1 against a numerical
gradient, lazy-regulariser phases, style levels, prior tokens, and one training step of
every GAN on the active backend."""

import keras
import numpy as np
import pytest
from keras import ops

from gdl.models.adversarial import hinge_d_loss, hinge_g_loss, r1_penalty
from gdl.models.progan import ProGAN, progressive_schedule
from gdl.models.sagan import SAGAN
from gdl.models.stylegan import StyleGAN2
from gdl.models.vqgan import prior_tokens, unigram_perplexity

RNG = np.random.default_rng(0)


def np_(t):
    return np.asarray(ops.convert_to_numpy(t))


def test_hinge_losses_by_hand():
    real, fake = np.array([2.0, 0.5, -1.0]), np.array([-2.0, 0.0, 0.5])
    want_d = np.maximum(0, 1 - real).mean() + np.maximum(0, 1 + fake).mean()  # 2/3 + 1
    assert float(np_(hinge_d_loss(real, fake))) == pytest.approx(want_d)
    assert float(np_(hinge_g_loss(fake))) == pytest.approx(0.5)


def test_progressive_schedule_transition_then_stabilisation():
    p = 10
    assert progressive_schedule(0, p, 3) == (0, 1.0)
    assert progressive_schedule(9, p, 3) == (0, 1.0)
    assert progressive_schedule(10, p, 3) == (1, 0.0)
    assert progressive_schedule(15, p, 3) == (1, 0.5)
    assert progressive_schedule(25, p, 3) == (1, 1.0)
    assert progressive_schedule(30, p, 3) == (2, 0.0)
    assert progressive_schedule(1000, p, 3) == (2, 1.0)


def test_progan_fade_in_blends_upsampled_old_and_new_outputs():
    model = ProGAN(filters=(8, 4), channels=1, latent_dim=4, seed=0)
    g, z = model.generator, RNG.standard_normal((2, 4)).astype("float32")
    old = np_(g(z, stage=0))
    new = np_(g(z, stage=1, alpha=1.0))
    half = np_(g(z, stage=1, alpha=0.3))
    up = old.repeat(2, 1).repeat(2, 2)
    np.testing.assert_allclose(np_(g(z, stage=1, alpha=0.0)), up, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(half, up + 0.3 * (new - up), rtol=1e-4, atol=1e-5)
    real = RNG.uniform(-1, 1, (2, 8, 8, 1)).astype("float32")
    at0 = np_(model.real_at(real, 0, 1.0))
    np.testing.assert_allclose(at0, real.reshape(2, 4, 2, 4, 2, 1).mean((2, 4)), rtol=1e-5)


def test_progan_resumes_in_the_right_stage():
    keras.utils.set_random_seed(0)
    model = ProGAN(filters=(4, 4), channels=1, latent_dim=4, phase_steps=2, seed=0)
    model.compile()
    x = RNG.uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    model.fit(x, batch_size=4, epochs=2, verbose=0)  # 4 steps: stage 1, alpha 1
    assert model.stage_and_alpha() == (1, 1.0)
    h = model.fit(x, batch_size=4, epochs=1, verbose=0).history
    assert h["resolution"][-1] == 8.0 and h["alpha"][-1] == 1.0
    assert model.generate(2, seed=0).shape == (2, 8, 8, 1)


def test_r1_matches_a_numerical_gradient():
    inp = keras.Input((3,))
    d = keras.Model(inp, keras.layers.Dense(1, activation="tanh")(keras.layers.Dense(4)(inp)))
    x = RNG.standard_normal((2, 3)).astype("float32")
    eps, want = 1e-3, []
    for row in x.astype("float64"):
        grad = []
        for j in range(3):
            e = np.zeros(3)
            e[j] = eps
            f = lambda v: float(np_(d(v[None].astype("float32")))[0, 0])  # noqa: E731
            grad.append((f(row + e) - f(row - e)) / (2 * eps))
        want.append(np.sum(np.square(grad)))
    assert float(np_(r1_penalty(d, x))) == pytest.approx(np.mean(want), rel=2e-2)


def test_stylegan_lazy_phases_and_style_levels():
    model = StyleGAN2(filters=(4, 4, 4, 4), channels=1, latent_dim=4, w_dim=4, mapping_layers=1,
                      seed=0)
    phases = [model.phase(s) for s in range(16)]
    assert [p[0] for p in phases].count(True) == 1 and [p[1] for p in phases].count(True) == 4
    assert model.style_levels() == {"coarse": (0, 4), "middle": (4, 6), "fine": (6, 8)}
    z = RNG.standard_normal((2, 4)).astype("float32")
    # psi = 0 gives the average w: every latent maps to the same image
    a, b = model.generate(latent=z, truncation_psi=0.0, noise_mode="none")
    np.testing.assert_allclose(a, b, atol=1e-6)
    same = model.mix_styles(z, z, "fine")
    np.testing.assert_allclose(same, model.generate(latent=z, noise_mode="none"), atol=1e-5)


@pytest.mark.parametrize("name", ["sagan", "progan", "stylegan"])
def test_one_training_step_on_this_backend(name):
    keras.utils.set_random_seed(0)
    make = {
        "sagan": lambda: SAGAN(image_size=8, channels=1, latent_dim=4, g_filters=(8,),
                               d_filters=(8,), attention_resolution=8, seed=0),
        "progan": lambda: ProGAN(filters=(4, 4), channels=1, latent_dim=4, phase_steps=1,
                                 seed=0),
        "stylegan": lambda: StyleGAN2(filters=(4, 4), channels=1, latent_dim=4, w_dim=4,
                                      mapping_layers=1, seed=0),
    }[name]
    model = make()
    model.compile()
    before = [np_(v).copy() for v in model.generator.trainable_variables]
    x = RNG.uniform(-1, 1, (4, 8, 8, 1)).astype("float32")
    logs = model.fit(x, batch_size=4, epochs=2, verbose=0).history
    assert all(np.isfinite(v).all() for v in logs.values())
    assert int(np_(model.d_optimizer.iterations)) == int(np_(model.g_optimizer.iterations)) == 2
    after = [np_(v) for v in model.generator.trainable_variables]
    assert any(not np.allclose(a, b) for a, b in zip(before, after))


def test_prior_tokens_and_unigram_perplexity():
    grids = np.array([[[0, 1], [2, 3]]])
    x, y = prior_tokens(grids)
    np.testing.assert_array_equal(x, [[1, 2, 3, 4]])
    np.testing.assert_array_equal(y, [[2, 3, 4, 5]])
    uniform = np.arange(4).repeat(10)
    assert unigram_perplexity(uniform, uniform, 4) == pytest.approx(4.0)


def test_vqgan_step_updates_the_ema_codebook_once():
    """The adaptive weight's extra forward passes must not move the EMA codebook: after one
    step from N_k = 1, sum_k N_k = d K + (1 - d) (number of vectors), whatever the codes."""
    from gdl.models.vqgan import VQGAN

    keras.utils.set_random_seed(0)
    model = VQGAN(image_shape=(8, 8, 1), filters=(4,), num_embeddings=6, embedding_dim=3,
                  ema=True, seed=0)  # fmt: skip
    model.compile()
    x = RNG.uniform(-1, 1, (4, 8, 8, 1)).astype("float32")
    model.fit(x, batch_size=4, epochs=1, verbose=0)
    vq = model.generator.quantizer
    h, w = model.generator.grid_shape
    want = vq.decay * 6 + (1 - vq.decay) * 4 * h * w
    assert float(np_(ops.sum(vq.cluster_size))) == pytest.approx(want, rel=1e-5)


def test_stylegan_trains_through_a_short_last_batch():
    """A path-length step on a batch of another size (the epoch's last) is traced with a
    symbolic batch size on TensorFlow; the penalty's half batch must not be a Python max."""
    keras.utils.set_random_seed(0)
    model = StyleGAN2(filters=(4, 4), channels=1, latent_dim=4, w_dim=4, mapping_layers=1,
                      r1_interval=1, pl_interval=1, seed=0)  # fmt: skip
    model.compile()
    x = RNG.uniform(-1, 1, (6, 8, 8, 1)).astype("float32")  # one phase; batches of 4, then 2
    logs = model.fit(x, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(logs["pl_mean"]).all() and int(np_(model.g_optimizer.iterations)) == 2
