"""The book's optimizer of every model lives on its class; compile() uses it.

The expected values are the book's notebooks (reference/book_notebooks.md, the summary
table), written out here as the independent reference.
"""

import keras
import numpy as np
import pytest

import gdl.models as M
import gdl.world_models as W
from gdl.models.optimizers import BookCompile, BookOptimizer

# class -> (optimizer, learning rate, other settings)
BOOK = {
    M.Autoencoder: ("Adam", 1e-3, {}),
    M.VAE: ("Adam", 5e-4, {}),
    M.FacesVAE: ("Adam", 5e-4, {}),
    M.DCGAN: ("Adam", 2e-4, {"beta_1": 0.5, "beta_2": 0.999}),
    M.WGANGP: ("Adam", 2e-4, {"beta_1": 0.5, "beta_2": 0.9}),
    M.ConditionalWGAN: ("Adam", 5e-5, {"beta_1": 0.5, "beta_2": 0.9}),
    M.LSTMTextGenerator: ("Adam", 1e-3, {}),
    M.PixelCNN: ("Adam", 5e-4, {}),
    M.PixelCNNMixture: ("Adam", 1e-3, {}),
    M.PixelCNNPlusPlus: ("Adam", 1e-3, {}),
    M.RealNVP: ("Adam", 1e-4, {}),
    M.EBM: ("Adam", 1e-4, {}),
    M.DiffusionModel: ("AdamW", 1e-3, {"weight_decay": 1e-4}),
    M.GPT: ("Adam", 1e-3, {}),
    M.MusicTransformer: ("Adam", 1e-3, {}),
    M.MuseGAN: ("Adam", 1e-3, {"beta_1": 0.5, "beta_2": 0.9}),
    W.WorldModelVAE: ("Adam", 1e-4, {}),
    W.MDNRNN: ("Adam", 1e-3, {"clipnorm": 1.0}),
    # chapters 10 and 13 have no code in the book: the papers' settings, or gdl's
    M.ProGAN: ("Adam", 1e-3, {"beta_1": 0.0, "beta_2": 0.99, "epsilon": 1e-8}),
    M.StyleGAN2: ("Adam", 2e-3, {"beta_1": 0.0, "beta_2": 0.99, "epsilon": 1e-8}),
    M.SAGAN: ("Adam", 1e-4, {"beta_1": 0.0, "beta_2": 0.9}),
    M.VQGAN: ("Adam", 2e-4, {"beta_1": 0.5, "beta_2": 0.9}),
    M.VQVAE: ("Adam", 1e-3, {}),
    M.CLIP: ("Adam", 1e-3, {}),
    M.TextToImageDiffusion: ("AdamW", 1e-3, {"weight_decay": 1e-4}),
    M.UnCLIPDecoder: ("AdamW", 1e-3, {"weight_decay": 1e-4}),
    M.DiffusionPrior: ("AdamW", 1e-3, {"weight_decay": 1e-4}),
    M.FlamingoCaptioner: ("Adam", 1e-3, {}),
}


def test_every_model_states_the_books_optimizer():
    assert set(BOOK) == {getattr(M, n) for n in M.MODELS} | {getattr(W, n) for n in W.MODELS}
    for cls, (name, lr, extra) in BOOK.items():
        opt = cls.book_optimizer()
        assert type(opt).__name__ == name, cls
        assert float(opt.learning_rate) == pytest.approx(lr), cls
        for k, v in extra.items():
            assert getattr(opt, k) == pytest.approx(v), (cls, k)
        assert issubclass(cls, BookOptimizer)
        assert cls.book_optimizer() is not opt  # a fresh instance every time
    # overrides keep the other settings
    opt = M.DCGAN.book_optimizer(1e-2)
    assert (float(opt.learning_rate), opt.beta_2) == (pytest.approx(1e-2), 0.999)


def test_sagan_compiles_with_two_time_scales():
    model = M.SAGAN(image_size=8, channels=1, latent_dim=4, g_filters=(8, 4), d_filters=(4, 8),
                    attention_resolution=4)
    model.compile()
    assert float(model.d_optimizer.learning_rate) == pytest.approx(4e-4)
    assert float(model.g_optimizer.learning_rate) == pytest.approx(1e-4)
    assert model.d_optimizer.beta_1 == model.g_optimizer.beta_1 == 0.0


def _realnvp():
    return M.RealNVP(coupling_dim=4, num_hidden=1, seed=0)


def test_compile_without_optimizer_is_the_books_and_overrides_work():
    model = _realnvp()
    model.compile()
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)
    model = _realnvp()
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    model = _realnvp()
    model.compile("rmsprop")  # positional, as keras.Model.compile
    assert isinstance(model.optimizer, keras.optimizers.RMSprop)


def test_lstm_compile_adds_the_books_loss_unless_given():
    model = M.LSTMTextGenerator(vocabulary=["", "[UNK]", "a", "b"], embedding_dim=4, units=4)
    model.compile()
    assert model.loss.from_logits and float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    model.compile(loss="mse")
    assert model.loss == "mse"
    model.compile(None, "mae")  # positional loss, as keras.Model.compile takes it
    assert model.loss == "mae" and isinstance(model.optimizer, keras.optimizers.Adam)


def test_the_compiled_optimizer_survives_save_and_load(tmp_path):
    x = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")
    model = M.Autoencoder(image_shape=(8, 8, 1), embedding_dim=2, filters=(4,))
    model.compile(optimizer=model.book_optimizer(3e-3))
    model.fit(x, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, keras.optimizers.Adam)
    assert float(loaded.optimizer.learning_rate) == pytest.approx(3e-3)
    loaded.fit(x, batch_size=8, epochs=1, verbose=0)  # and trains on


def test_mixin_on_a_plain_model():
    class Tiny(BookCompile, keras.Sequential):
        book_optimizer_class = "SGD"
        book_learning_rate = 0.25
        book_optimizer_kwargs = {"momentum": 0.5}

        def book_compile_kwargs(self):
            return {"loss": "mse"}

    model = Tiny([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile()
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert (float(model.optimizer.learning_rate), model.optimizer.momentum) == (0.25, 0.5)
    assert model.loss == "mse"
