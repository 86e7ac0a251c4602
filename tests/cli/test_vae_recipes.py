"""``gdl train vae|autoencoder --data digits`` and ``gdl sample vae``: PNGs and a reloadable model."""

import keras
import numpy as np
from PIL import Image

from gdl.cli import main


def test_train_vae_on_digits_then_sample(tmp_path, data_env):
    run = tmp_path / "vae"
    args = ["--data", "digits", "--run-dir", str(run)]
    assert (
        main(["train", "vae", *args, "--epochs", "1", "--steps-per-epoch", "3", "--verbose", "0"])
        == 0
    )
    grid = np.asarray(Image.open(run / "sample.png"))
    assert grid.shape[:2] == (15 * 33 - 1, 15 * 33 - 1)  # the 15x15 latent grid of 32x32 images
    assert (run / "samples" / "epoch_001.png").exists()
    model = keras.saving.load_model(run / "model.keras")
    assert model.beta == 500.0 and model.latent_dim == 2
    out = tmp_path / "prior.png"
    assert main(["sample", "vae", *args, "--out", str(out), "--num", "8", "--seed", "1"]) == 0
    assert np.asarray(Image.open(out)).shape[:2] == (3 * 33 - 1, 3 * 33 - 1)


def test_autoencoder_recipe_on_fashion_fixture(tmp_path, data_env):
    run = tmp_path / "ae"
    argv = ["train", "autoencoder", "--run-dir", str(run), "--epochs", "1", "--verbose", "0"]
    assert main(argv) == 0
    assert (run / "sample.png").exists() and (run / "model.keras").exists()
