"""``gdl train vae|autoencoder --data digits`` and ``gdl sample vae``: PNGs and a reloadable model."""

import keras
import numpy as np
from PIL import Image

from gdl.cli import main


def test_train_vae_on_digits_then_sample(tmp_path, data_env, capsys):
    from gdl.book.reader_budget import reader_settings

    run = tmp_path / "vae"
    args = ["--data", "digits", "--run-dir", str(run)]
    assert (
        main(["train", "vae", *args, "--epochs", "1", "--steps-per-epoch", "3", "--verbose", "0"])
        == 0
    )
    assert "Expected duration: about" in capsys.readouterr().out
    # the digits showcase: 10 held-out digits, their reconstructions, 4 rows of samples
    grid = np.asarray(Image.open(run / "sample.png"))
    assert grid.shape[:2] == (2 * (6 * 33 - 1), 2 * (10 * 33 - 1))
    assert (run / "samples" / "epoch_001.png").exists()
    model = keras.saving.load_model(run / "model.keras")
    sizes = reader_settings("vae", "digits")
    assert model.beta == sizes["beta"] and model.latent_dim == sizes["latent_dim"] > 2
    # the latent mixture is fitted after training and saved: no longer K copies of N(0, I)
    assert model.mixture_components == sizes["mixture_components"] > 0
    assert np.abs(keras.ops.convert_to_numpy(model.prior_means)).max() > 0
    out = tmp_path / "prior.png"
    assert main(["sample", "vae", *args, "--out", str(out), "--num", "8", "--seed", "1"]) == 0
    assert np.asarray(Image.open(out)).shape[:2] == (3 * 33 - 1, 3 * 33 - 1)


def test_autoencoder_recipe_on_fashion_fixture(tmp_path, data_env):
    run = tmp_path / "ae"
    argv = ["train", "autoencoder", "--run-dir", str(run), "--epochs", "1", "--verbose", "0"]
    assert main(argv) == 0
    assert (run / "sample.png").exists() and (run / "model.keras").exists()
