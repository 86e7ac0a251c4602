"""The public API: every name the subpackages export, and every public layer and model
class through :mod:`tests.harness` (build, config round trip, ``.keras`` load in a fresh
process with ``import gdl`` only, and a few ``fit`` steps that lower the loss)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import gdl
import gdl.book
import gdl.data
import gdl.errors
import gdl.layers
import gdl.models
import gdl.world_models
from tests import harness
from tests.harness import Case

BACKEND = keras.backend.backend()


def rand(*shape, low=0.0, high=1.0):
    return np.random.default_rng(sum(shape)).uniform(low, high, shape).astype("float32")


def ints(high, *shape):
    return np.random.default_rng(sum(shape)).integers(0, high, shape).astype("int32")


def seeded(fn):
    def make():
        keras.utils.set_random_seed(0)
        return fn()

    return make


L, M, W = gdl.layers, gdl.models, gdl.world_models
IMG8 = (4, 8, 8, 1)


def _tokens(vocab, n=4, t=9):
    seq = ints(vocab, n, t)
    return seq[:, :-1], seq[:, 1:]


def _mdn_fit():
    z, a = rand(2, 6, 4), rand(2, 6, 3)
    return (z, a), (rand(2, 6, 4), rand(2, 6), (rand(2, 6) > 0.8).astype("float32"),
                    np.ones((2, 6), "float32"))  # fmt: skip


def _musegan():
    from gdl.models.musegan import musegan_generator

    generator = musegan_generator(8, 2, 2, temporal_filters=8, bar_dense=16,
                                  bar_filters=(8, 8, 8, 8))  # fmt: skip
    # a linear critic: the book's (musegan_critic, N(0, 0.02) weights through 10 layers)
    # scores ~1e-14 at test widths, and a 5-step fit moves its loss below float32 resolution
    critic = keras.Sequential([keras.Input((2, 16, 84, 2)), keras.layers.Flatten(),
                               keras.layers.Dense(1)], name="critic")  # fmt: skip
    return M.MuseGAN(critic=critic, generator=generator, latent_dim=8, critic_steps=1, seed=0)


def _gan(cls, **kw):
    return cls(image_size=8, channels=1, latent_dim=4, seed=0, **kw)


def _diffusion():
    model = M.DiffusionModel(image_size=8, channels=1, widths=(4, 8), block_depth=1,
                             embedding_dims=8, kid_features="pixels", seed=0)  # fmt: skip
    model.adapt(rand(*IMG8))
    return model


def _caption_tokens():
    """Four 6-token captions ``[START] w w [END] 0 0`` of a 12-word vocabulary."""
    return np.array([[2, 5, 6, 3, 0, 0], [2, 7, 3, 0, 0, 0], [2, 8, 9, 10, 3, 0],
                     [2, 11, 4, 3, 0, 0]], "int32")  # fmt: skip


def _clip():
    return M.CLIP(vocab_size=12, max_len=6, image_size=8, image_filters=(4, 8), embed_dim=8,
                  text_width=8, num_heads=2, key_dim=4, ff_dim=8, text_blocks=1, seed=0)


_T2I = dict(vocab_size=12, max_len=6, text_width=8, text_heads=1, text_key_dim=4, text_blocks=1,
            attention_heads=1, attention_key_dim=4)


def _conditional(cls, **kw):
    model = cls(image_size=8, channels=1, widths=(4, 8), block_depth=1, embedding_dims=8,
                kid_features="pixels", seed=0, **kw)
    model.adapt(rand(*IMG8))
    return model


def _captioner():
    return M.FlamingoCaptioner(vocab_size=12, max_len=5, embed_dim=8, num_heads=2, key_dim=4,
                               ff_dim=8, num_blocks=1, num_latents=2, image_size=8,
                               image_filters=(4, 8), seed=0)


LAYER_CASES = [
    # log-variance -inf-like: the draw is the mean, so outputs compare exactly
    Case("Sampling", seeded(lambda: L.Sampling(seed=0)),
         lambda: [rand(2, 3), np.full((2, 3), -200.0, "float32")]),
    Case("MaskedConv2D", seeded(lambda: L.MaskedConv2D("A", 4, 3, padding="same")),
         lambda: rand(2, 5, 5, 1)),
    Case("PixelResidualBlock", seeded(lambda: L.PixelResidualBlock(8)), lambda: rand(2, 5, 5, 8)),
    Case("GatedResidualBlock", seeded(lambda: L.GatedResidualBlock(4, "horizontal", True)),
         lambda: [rand(2, 4, 4, 4), rand(2, 4, 4, 8)], forward="m(*x)", tol=1e-6),
    Case("WeightNormDense", seeded(lambda: L.WeightNormDense(3)), lambda: rand(2, 4, 5)),
    Case("WeightNormConv2D",
         seeded(lambda: L.WeightNormConv2D(3, (4, 4), 2, valid_rows=(0, 2), valid_cols=(0, 3))),
         lambda: rand(2, 6, 6, 2), tol=1e-6),
    Case("WeightNormConv2DTranspose",
         seeded(lambda: L.WeightNormConv2DTranspose(3, (2, 4), 2, (0, 2), (0, 3))),
         lambda: rand(2, 3, 3, 2), tol=1e-6),
    Case("Coupling", seeded(lambda: L.Coupling(2, 16, 2)), lambda: rand(4, 2)),
    Case("Coupling_shared", seeded(lambda: L.Coupling(2, 16, 2, shared_trunk=True)),
         lambda: rand(4, 2)),
    Case("SinusoidalEmbedding", seeded(lambda: L.SinusoidalEmbedding(8)),
         lambda: rand(3, 1, 1, 1)),
    Case("TokenAndPositionEmbedding", seeded(lambda: L.TokenAndPositionEmbedding(20, 8, 10)),
         lambda: ints(20, 2, 6)),
    Case("TokenAndPositionEmbedding_sine",
         seeded(lambda: L.TokenAndPositionEmbedding(20, 8, None, positions="sine")),
         lambda: ints(20, 2, 6)),
    Case("SinePositionEncoding", seeded(lambda: L.SinePositionEncoding()), lambda: rand(2, 5, 8)),
    Case("TransformerBlock", seeded(lambda: L.TransformerBlock(2, 4, 8, 16, seed=0)),
         lambda: rand(2, 5, 8), tol=1e-6),
    Case("MDNHead", seeded(lambda: L.MDNHead(3, 2)), lambda: rand(2, 4, 6)),
    Case("TakeAlong", seeded(lambda: L.TakeAlong(1)), lambda: rand(2, 3, 4)),
    Case("CrossAttention", seeded(lambda: L.CrossAttention(2, 4)),
         lambda: [rand(2, 3, 6), rand(2, 5, 7), np.array([[1, 1, 1, 0, 0], [1] * 5], "float32")],
         forward="m(*x)", tol=1e-6),
    Case("SpatialCrossAttention", seeded(lambda: L.SpatialCrossAttention(2, 4)),
         lambda: [rand(2, 4, 4, 3), rand(2, 5, 6)], forward="m(*x)", tol=1e-6),
    Case("GatedCrossAttentionBlock", seeded(lambda: L.GatedCrossAttentionBlock(2, 4, 8)),
         lambda: [rand(2, 3, 6), rand(2, 4, 5)], forward="m(*x)", tol=1e-6),
    Case("PerceiverResampler", seeded(lambda: L.PerceiverResampler(3, 8, 2, 4, 8)),
         lambda: rand(2, 5, 6), tol=1e-6),
    Case("TextEncoder", seeded(lambda: L.TextEncoder(10, 6, 8, 2, 4, 8, 1)),
         lambda: np.array([[2, 5, 6, 3, 0, 0], [2, 7, 3, 0, 0, 0]], "int32"), tol=1e-6),
    # chapter 10
    Case("EqualizedDense", seeded(lambda: L.EqualizedDense(4, seed=0)), lambda: rand(2, 3)),
    Case("EqualizedConv2D", seeded(lambda: L.EqualizedConv2D(4, 3, seed=0)),
         lambda: rand(2, 5, 5, 2), tol=1e-6),
    Case("PixelNormalization", seeded(lambda: L.PixelNormalization()), lambda: rand(2, 3, 3, 4)),
    Case("MinibatchStdDev", seeded(lambda: L.MinibatchStdDev(2)), lambda: rand(4, 3, 3, 2)),
    Case("AdaIN", seeded(lambda: L.AdaIN(seed=0)), lambda: [rand(2, 4, 4, 3), rand(2, 5)],
         tol=1e-6),
    Case("ModulatedConv2D", seeded(lambda: L.ModulatedConv2D(4, seed=0)),
         lambda: [rand(2, 5, 5, 3), rand(2, 6)], tol=1e-6),
    Case("NoiseInjection", seeded(lambda: L.NoiseInjection(seed=0)), lambda: rand(2, 4, 4, 3)),
    Case("SpectralDense", seeded(lambda: L.SpectralDense(4, seed=0)), lambda: rand(2, 3),
         tol=1e-6),
    Case("SpectralConv2D", seeded(lambda: L.SpectralConv2D(4, 3, seed=0)),
         lambda: rand(2, 5, 5, 2), tol=1e-6),
    Case("SelfAttention2D", seeded(lambda: L.SelfAttention2D(seed=0)),
         lambda: rand(2, 4, 4, 16), tol=1e-6),
    Case("VectorQuantizer", seeded(lambda: L.VectorQuantizer(8, 3, seed=0)),
         lambda: rand(2, 2, 2, 3)),
]  # fmt: skip

def _vae_with_mixture():
    vae = M.VAE(image_shape=(8, 8, 1), latent_dim=2, beta=10.0, seed=0, mixture_components=2)
    vae.fit_latent_mixture(rand(*IMG8))
    return vae


MODEL_CASES = [
    Case("Autoencoder",
         seeded(lambda: M.Autoencoder(image_shape=(8, 8, 1), embedding_dim=2, filters=(4, 8))),
         lambda: rand(*IMG8), fit=lambda: (rand(*IMG8), None)),
    # with a latent mixture fitted to the input's latents: it is saved and loaded too
    Case("VAE", seeded(lambda: _vae_with_mixture()), lambda: rand(*IMG8),
         forward="[*m.encoder(x)[:2], m.decoder(m.encoder(x)[0]), m.prior_logits, "
                 "m.prior_means, m.prior_scale_tril]",
         fit=lambda: (rand(*IMG8), None)),
    Case("FacesVAE",
         seeded(lambda: M.FacesVAE(image_shape=(8, 8, 3), latent_dim=4, num_features=8, seed=0)),
         lambda: rand(4, 8, 8, 3), forward="[*m.encoder(x)[:2], m.decoder(m.encoder(x)[0])]",
         fit=lambda: (rand(4, 8, 8, 3), None)),
    Case("DCGAN", seeded(lambda: _gan(M.DCGAN)), lambda: rand(3, 4, low=-1),
         fit=lambda: (rand(*IMG8, low=-1), None), compile=lambda: {}, metric="d_loss"),
    Case("WGANGP", seeded(lambda: _gan(M.WGANGP, critic_steps=1)), lambda: rand(3, 4, low=-1),
         fit=lambda: (rand(*IMG8, low=-1), None), compile=lambda: {}, metric="c_loss"),
    Case("ConditionalWGAN", seeded(lambda: _gan(M.ConditionalWGAN, critic_steps=1)),
         lambda: [rand(3, 4, low=-1), np.eye(2, dtype="float32")[[0, 1, 0]]],
         fit=lambda: (rand(*IMG8, low=-1), np.array([0, 1, 0, 1])), compile=lambda: {},
         metric="c_loss"),
    Case("MuseGAN", seeded(_musegan),
         lambda: [rand(2, 8), rand(2, 8), rand(2, 2, 8), rand(2, 2, 8)],
         fit=lambda: (rand(4, 2, 16, 84, 2, low=-1), None), compile=lambda: {},
         metric="c_loss"),
    Case("LSTMTextGenerator", seeded(lambda: M.LSTMTextGenerator(vocab_size=30, embedding_dim=8,
                                                                 units=8)),
         lambda: ints(30, 2, 7), fit=lambda: _tokens(30),
         compile=lambda: {"optimizer": keras.optimizers.Adam(1e-2),
                          "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}),
    Case("PixelCNN", seeded(lambda: M.PixelCNN(image_size=6, pixel_levels=4, n_filters=8,
                                               residual_blocks=1)),
         lambda: ints(4, 2, 6, 6, 1).astype("float32"),
         fit=lambda: (ints(4, 8, 6, 6, 1).astype("float32"), None),
         compile=lambda: {"optimizer": keras.optimizers.Adam(5e-3)}),
    Case("PixelCNNMixture", seeded(lambda: M.PixelCNNMixture(image_size=6, n_components=2,
                                                             n_filters=8, residual_blocks=1,
                                                             dropout=0.0)),
         lambda: ints(256, 2, 6, 6, 1).astype("float32"),
         fit=lambda: (ints(256, 8, 6, 6, 1).astype("float32"), None),
         compile=lambda: {"optimizer": keras.optimizers.Adam(5e-3)}, tol=1e-5),
    Case("PixelCNNPlusPlus", seeded(lambda: M.PixelCNNPlusPlus(image_size=4, n_components=2,
                                                               n_filters=4, dropout=0.0)),
         lambda: ints(256, 2, 4, 4, 1).astype("float32"),
         fit=lambda: (ints(256, 8, 4, 4, 1).astype("float32"), None),
         compile=lambda: {"optimizer": keras.optimizers.Adam(5e-3)}, tol=1e-5),
    Case("RealNVP", seeded(lambda: M.RealNVP(coupling_dim=16, num_hidden=2, seed=0)),
         lambda: rand(8, 2, low=-1), fit=lambda: (rand(64, 2, low=-1), None),
         compile=lambda: {"optimizer": keras.optimizers.Adam(1e-3)}),
    Case("RealNVP_shared", seeded(lambda: M.RealNVP(coupling_dim=16, num_hidden=2, seed=0,
                                                    shared_trunk=True)),
         lambda: rand(8, 2, low=-1), fit=lambda: (rand(64, 2, low=-1), None),
         compile=lambda: {"optimizer": keras.optimizers.Adam(1e-3)}),
    Case("EBM", seeded(lambda: M.EBM(image_size=16, steps=2, buffer_size=64, seed=0)),
         lambda: rand(4, 16, 16, 1, low=-1),
         fit=lambda: (rand(16, 16, 16, 1, low=-1), None),
         compile=lambda: {"optimizer": keras.optimizers.Adam(1e-3)}),
    Case("DiffusionModel", seeded(_diffusion),
         lambda: [rand(*IMG8, low=-2, high=2), np.full((4, 1, 1, 1), 0.5, "float32")],
         fit=lambda: (rand(16, 8, 8, 1), None), metric="n_loss",
         compile=lambda: {"optimizer": keras.optimizers.Adam(1e-2)}, tol=1e-6),
    Case("GPT", seeded(lambda: M.GPT(vocab_size=32, max_len=16, embed_dim=8, num_heads=2,
                                     key_dim=4, ff_dim=8, seed=0)),
         lambda: ints(32, 2, 8), fit=lambda: _tokens(32),
         compile=lambda: {"optimizer": keras.optimizers.Adam(1e-2)}, tol=1e-6),
    Case("MusicTransformer",
         seeded(lambda: M.MusicTransformer(notes_vocab_size=10, durations_vocab_size=7,
                                           embed_dim=8, num_heads=2, key_dim=4, ff_dim=8,
                                           max_len=32, seed=0)),
         lambda: [ints(10, 2, 6), ints(7, 2, 6)],
         fit=lambda: ((ints(10, 4, 6), ints(7, 4, 6)), (ints(10, 4, 6), ints(7, 4, 6))),
         compile=lambda: {"optimizer": keras.optimizers.Adam(1e-2)}, tol=1e-6),
    Case("CLIP", seeded(_clip), lambda: [rand(*IMG8), _caption_tokens()],
         fit=lambda: ((rand(*IMG8), _caption_tokens()), None),
         compile=lambda: {"optimizer": keras.optimizers.Adam(2e-3)}, tol=1e-5),
    Case("TextToImageDiffusion", seeded(lambda: _conditional(M.TextToImageDiffusion, **_T2I)),
         lambda: [rand(*IMG8, low=-2, high=2), np.full((4, 1, 1, 1), 0.5, "float32"),
                  _caption_tokens()],
         fit=lambda: ((rand(16, 8, 8, 1), np.tile(_caption_tokens(), (4, 1))), None),
         metric="n_loss", compile=lambda: {"optimizer": keras.optimizers.Adam(1e-2)}, tol=1e-5),
    Case("UnCLIPDecoder",
         seeded(lambda: _conditional(M.UnCLIPDecoder, embedding_dim=6, condition_tokens=2,
                                     attention_heads=1, attention_key_dim=4)),
         lambda: [rand(*IMG8, low=-2, high=2), np.full((4, 1, 1, 1), 0.5, "float32"),
                  rand(4, 6, low=-1)],
         fit=lambda: ((rand(16, 8, 8, 1), rand(16, 6, low=-1)), None), metric="n_loss",
         compile=lambda: {"optimizer": keras.optimizers.Adam(1e-2)}, tol=1e-5),
    Case("DiffusionPrior",
         seeded(lambda: M.DiffusionPrior(embedding_dim=6, width=8, num_blocks=1, num_heads=2,
                                         key_dim=4, ff_dim=8, noise_embedding_dims=4, seed=0)),
         lambda: [rand(4, 6, low=-1), np.full((4, 1), 0.5, "float32"), rand(4, 6, low=-1)],
         fit=lambda: ((rand(32, 6, low=-1), rand(32, 6, low=-1)), None),
         compile=lambda: {"optimizer": keras.optimizers.Adam(1e-2)}, tol=1e-5),
    Case("FlamingoCaptioner", seeded(_captioner), lambda: [rand(*IMG8), _caption_tokens()[:, :-1]],
         fit=lambda: ((rand(*IMG8), _caption_tokens()[:, :-1]), _caption_tokens()[:, 1:]),
         compile=lambda: {"optimizer": keras.optimizers.Adam(1e-2)}, tol=1e-5),
    Case("WorldModelVAE", seeded(lambda: W.WorldModelVAE(z_dim=4, seed=0)),
         lambda: rand(2, 64, 64, 3), forward="[*m.encoder(x)[:2], m.decoder(m.encoder(x)[0])]",
         fit=lambda: (rand(4, 64, 64, 3), None), tol=1e-6),
    Case("MDNRNN", seeded(lambda: W.MDNRNN(z_dim=4, hidden_units=8, num_mixtures=2, seed=0)),
         lambda: [rand(2, 6, 4), rand(2, 6, 3)], forward="m(tuple(x))", fit=_mdn_fit,
         compile=lambda: {"optimizer": keras.optimizers.Adam(1e-2)}, tol=1e-6),
]  # fmt: skip

def _adv(cls, **kw):
    return cls(channels=1, latent_dim=4, seed=0, **kw)


# the chapter 10 GANs' steps run on every backend in tests/models/test_advanced_gans.py
MODEL_CASES += [
    Case("SAGAN", seeded(lambda: _adv(M.SAGAN, image_size=8, g_filters=(8,), d_filters=(8,),
                                      attention_resolution=8)),
         lambda: rand(3, 4, low=-1), tol=1e-6),
    Case("ProGAN", seeded(lambda: _adv(M.ProGAN, filters=(8, 4), phase_steps=100)),
         lambda: rand(3, 4, low=-1), tol=1e-6),
    Case("StyleGAN2", seeded(lambda: _adv(M.StyleGAN2, filters=(8, 4), w_dim=4,
                                          mapping_layers=1, r1_interval=1, pl_interval=1)),
         lambda: rand(3, 4, low=-1), tol=1e-5),
    Case("VQVAE", seeded(lambda: M.VQVAE(image_shape=(8, 8, 1), num_embeddings=8,
                                         embedding_dim=4, filters=(4, 8), seed=0)),
         lambda: rand(*IMG8), fit=lambda: (rand(*IMG8), None),
         compile=lambda: {"optimizer": keras.optimizers.Adam(1e-2)},
         metric="reconstruction_loss", tol=1e-6),
    Case("VQGAN", seeded(lambda: M.VQGAN(image_shape=(8, 8, 1), num_embeddings=8,
                                         embedding_dim=4, filters=(4, 8), seed=0)),
         lambda: rand(*IMG8), fit=lambda: (rand(*IMG8), None),
         compile=lambda: {"g_optimizer": keras.optimizers.Adam(1e-2)},
         metric="reconstruction_loss", tol=1e-6),
]  # fmt: skip

CASES = LAYER_CASES + MODEL_CASES


# ------------------------------------------------------------------- the public names
def test_import_gdl_is_fast_and_framework_free():
    code = ("import sys, time; t = time.time(); import gdl; import gdl.layers, gdl.models, "
            "gdl.world_models, gdl.book, gdl.errors; print(time.time() - t, 'keras' in sys.modules, "
            "'tensorflow' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(harness.ROOT)}, check=True)  # fmt: skip
    seconds, has_keras, has_tf = out.stdout.split()
    assert (has_keras, has_tf) == ("False", "False")  # CMA-ES workers stay framework-free
    assert float(seconds) < 2.0


@pytest.mark.parametrize("package", [gdl.layers, gdl.models, gdl.world_models, gdl.data,
                                     gdl.book, gdl.errors])  # fmt: skip
def test_every_exported_name_resolves(package):
    assert package.__all__ == sorted(set(package.__all__)) or package is gdl.data
    for name in package.__all__:
        assert getattr(package, name) is not None, name
        assert name in dir(package)
    with pytest.raises(AttributeError):
        package.NoSuchThing  # noqa: B018


def test_no_layer_or_model_defines_forward():
    """On PyTorch, Keras layers are ``torch.nn.Module``s whose ``__call__`` runs
    ``forward``: a gdl method of that name would replace ``call`` there (seen twice)."""
    import inspect

    for package in (gdl.layers, gdl.models, gdl.world_models):
        for name in package.__all__:
            obj = getattr(package, name)
            if inspect.isclass(obj) and issubclass(obj, keras.layers.Layer):
                for base in obj.__mro__:
                    if base.__module__.startswith("gdl"):
                        assert "forward" not in vars(base), f"{base.__name__}.forward (torch clash)"


def test_readme_layers_import_from_gdl_layers():
    from gdl.layers import (  # noqa: F401  (the README's list)
        Coupling,
        MaskedConv2D,
        MDNHead,
        Sampling,
        SinePositionEncoding,
        SinusoidalEmbedding,
        TokenAndPositionEmbedding,
        TransformerBlock,
        unet,
    )


def test_every_public_class_has_a_case_and_is_registered():
    layers = {n: getattr(L, n) for n in L.LAYERS}
    models = {n: getattr(M, n) for n in M.MODELS} | {n: getattr(W, n) for n in W.MODELS}
    assert all(issubclass(c, keras.layers.Layer) for c in layers.values())
    assert all(issubclass(c, keras.Model) for c in models.values())
    classes = {**layers, **models}
    # every Layer/Model class exported anywhere is in LAYERS/MODELS
    for package in (L, M, W):
        for name in package.__all__:
            obj = getattr(package, name)
            if isinstance(obj, type) and issubclass(obj, keras.layers.Layer):
                assert name in classes or name == "EncoderDecoderModel", name
    covered = {c.name.split("_")[0] for c in CASES}
    assert covered == set(classes), set(classes) ^ covered
    for name, cls in classes.items():
        assert keras.saving.get_registered_object(f"gdl>{name}") is cls, name
    print(f"{len(layers)} layers + {len(models)} models = {len(classes)} public classes")


# ------------------------------------------------------------------------ the harness
@pytest.mark.parametrize("case", CASES, ids=str)
def test_build_and_config_round_trip(case):
    obj, x, out = harness.check_build(case)
    harness.check_config_round_trip(case, obj, x, out)


FIT_CASES = [c for c in CASES if c.fit is not None]


@pytest.mark.parametrize("case", FIT_CASES, ids=str)
def test_fit_lowers_the_loss_on_a_fixed_batch(case):
    if BACKEND not in case.fit_backends:
        pytest.skip(f"{case} trains on {case.fit_backends} only")
    harness.check_fit(case, case.make())


@pytest.fixture(scope="module")
def tf_saved(tmp_path_factory):
    """Every case saved on this (TensorFlow) process: ``(folder, manifest)``."""
    folder = tmp_path_factory.mktemp("saved_on_tensorflow")
    manifest = []
    for case in CASES:
        obj = case.make()
        x = harness._as_input(case.inputs())
        harness.run_forward(obj, x, case.forward)
        manifest.append(harness.save_for_fresh_process(case, obj, x, folder))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder, manifest


def test_every_class_loads_in_a_fresh_process_with_import_gdl_only(tf_saved):
    """The Done-when test: another interpreter, ``import gdl`` and nothing else from gdl,
    loads the ``.keras`` of every public class saved here and gets identical outputs."""
    folder, manifest = tf_saved
    report = harness.check_in_fresh_process(folder, manifest)
    assert report["failures"] == [], json.dumps(report, indent=1)
    assert report["checked"] == len(CASES)


# ------------------------------------------------------------------ the other backends
OTHER_BACKENDS = ("jax", "torch")
#: outputs of a model saved on one backend and loaded on another agree to this tolerance
#: (the backends' kernels round differently; on one backend they are identical)
CROSS_TOL = 1e-4

WORKER = """
import json, sys
from tests import test_public_api as T
print(json.dumps(T.backend_worker(sys.argv[1], sys.argv[2])))
"""


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_every_class_on_another_backend(backend, tf_saved, tmp_path):
    """On jax and torch, in ONE subprocess each (:func:`backend_worker`): every case builds,
    round-trips its config, fits (the loss goes down), generates with seeds, is saved, and
    every ``.keras`` saved on TensorFlow loads there with the same outputs (within
    :data:`CROSS_TOL`). Then a fresh ``import gdl``-only process on the same backend loads
    what it saved (identical outputs), and this TensorFlow process loads it too. On jax
    the compiled generation loops must see the weights ``fit`` just changed."""
    tf_folder, _ = tf_saved
    report = harness.run_python(WORKER, tmp_path, tf_folder, backend=backend, timeout=2400)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    fresh = harness.check_in_fresh_process(tmp_path, manifest, backend=backend)
    to_tf = [f"to tensorflow: {f}" for f in harness.check_saved(tmp_path, manifest, CROSS_TOL)]
    failures = report["failures"] + fresh["failures"] + to_tf
    assert failures == [], "\n".join(failures)
    assert report["checked"] == fresh["checked"] == len(CASES)


def backend_worker(folder, tf_folder) -> dict:
    """Everything :func:`test_every_class_on_another_backend` checks in the subprocess on
    this process's backend; returns ``{"backend", "checked", "failures"}``."""
    folder, failures, manifest = Path(folder), [], []
    for case in CASES:
        try:
            obj, x, out = harness.check_build(case)
            harness.check_config_round_trip(case, obj, x, out)
            manifest.append(harness.save_for_fresh_process(case, obj, x, folder))
            if case.fit is not None and BACKEND in case.fit_backends:
                harness.check_fit(case, case.make())
            if case.name in GENERATE:
                check_generate(case)
        except Exception as exc:
            failures.append(f"{case} on {BACKEND}: {type(exc).__name__}: {str(exc)[:400]}")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    tf_manifest = json.loads((Path(tf_folder) / "manifest.json").read_text())
    failures += [f"from tensorflow to {BACKEND}: {f}"
                 for f in harness.check_saved(tf_folder, tf_manifest, CROSS_TOL)]  # fmt: skip
    if BACKEND == "jax":
        failures += compiled_loops_see_new_weights()
    return {"backend": BACKEND, "checked": len(manifest), "failures": failures}


#: generation through a compiled loop (KV-cache decode, PixelCNN's fast sampler, DDIM)
COMPILED_LOOPS = {
    "GPT": lambda m: m.generate([[1, 2]], max_tokens=10, seed=0, stop_at_end=False,
                                return_logits=True).logits,
    "PixelCNN": lambda m: m.generate(4, seed=0),
    "DiffusionModel": lambda m: m.generate(2, diffusion_steps=3, seed=0),
}  # fmt: skip


def compiled_loops_see_new_weights() -> list[str]:
    """generate -> fit -> generate: the second call must equal a freshly built model's with
    the fitted weights (a compiled function that baked the weights in as constants would
    repeat the first call). Returns failures."""
    cases, failures = {c.name: c for c in MODEL_CASES}, []
    for name, generate in COMPILED_LOOPS.items():
        try:
            case = cases[name]
            model = case.make()
            before = np.asarray(generate(model))
            harness.check_fit(case, model)
            after = np.asarray(generate(model))
            fresh = case.make()
            fresh.set_weights(model.get_weights())
            expected = np.asarray(generate(fresh))
            assert not np.array_equal(before, expected), "fit did not change the samples"
            np.testing.assert_array_equal(after, expected)
        except Exception as exc:
            failures.append(f"{name} generate -> fit -> generate: {type(exc).__name__}: "
                            f"{str(exc)[:400]}")  # fmt: skip
    return failures


#: every image/sequence generator's ``generate`` with a seed, small settings
GENERATE = {
    "VAE": lambda m, s: m.generate(3, seed=s),
    "FacesVAE": lambda m, s: m.generate(3, seed=s),
    "DCGAN": lambda m, s: m.generate(3, seed=s),
    "WGANGP": lambda m, s: m.generate(3, seed=s),
    "ConditionalWGAN": lambda m, s: m.generate(3, seed=s),
    "EBM": lambda m, s: m.generate(3, steps=2, seed=s),
    "DiffusionModel": lambda m, s: m.generate(3, diffusion_steps=2, seed=s),
    "MuseGAN": lambda m, s: m.generate(3, seed=s),
    "RealNVP": lambda m, s: m.generate(3, seed=s),
    "WorldModelVAE": lambda m, s: m.generate(3, seed=s),
    "PixelCNN": lambda m, s: m.generate(3, seed=s),
    "PixelCNNMixture": lambda m, s: m.generate(3, seed=s),
    "PixelCNNPlusPlus": lambda m, s: m.generate(3, seed=s),
    "GPT": lambda m, s: m.generate([[1, 2]], max_tokens=10, seed=s, num=3,
                                   stop_at_end=False).tokens,
    "LSTMTextGenerator": lambda m, s: m.generate([[1, 2]], max_tokens=10, seed=s, num=3,
                                                 stop_at_end=False).tokens,
}  # fmt: skip


def check_generate(case, model=None):
    """``generate(num, seed=...)`` -> NumPy with ``num`` rows; the same seed (0 included)
    gives the same output, another seed another."""
    call = GENERATE[case.name]
    model = case.make() if model is None else model
    a, b, c = call(model, 0), call(model, 0), call(model, 1)
    assert isinstance(a, np.ndarray) and len(a) == 3, case.name
    np.testing.assert_array_equal(a, b, err_msg=case.name)
    assert not np.array_equal(a, c), case.name


def test_generate_contract_and_seeds():
    """Image generators: ``generate(num, seed=...)`` -> float NumPy ``(num, H, W, C)``; the
    same seed (0 included) gives the same output."""
    for case in MODEL_CASES:
        if case.name in GENERATE:
            check_generate(case)


def test_vae_families_return_their_parts_in_one_order():
    for case in (c for c in MODEL_CASES if c.name in ("VAE", "FacesVAE", "WorldModelVAE")):
        model, x = case.make(), case.inputs()
        z_mean, z_log_var, z = model.encode(x)
        assert (
            z_mean.shape
            == z_log_var.shape
            == z.shape
            == (len(x), model.encoder.output[0].shape[-1])
        )
        out = model(x)
        assert len(out) == 3 and tuple(out[2].shape) == x.shape, case.name
        np.testing.assert_allclose(np.asarray(out[0]), z_mean, atol=1e-5)


def test_registration_survives_importing_tensorflow_first():
    """``import gdl; import tensorflow; import keras`` (TensorFlow asks for Keras' spec
    before importing it) still restores gdl classes by name."""
    code = ("import gdl, tensorflow, keras; "
            "print(keras.saving.get_registered_object('gdl>VAE').__name__)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(harness.ROOT)}, timeout=300)  # fmt: skip
    assert out.stdout.strip() == "VAE", out.stderr[-2000:]
