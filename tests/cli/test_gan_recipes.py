"""``gdl train cgan|dcgan --data digits`` then ``gdl sample``: PNG grids, reloadable models."""

import keras
import numpy as np
from PIL import Image

from gdl.cli import main


def test_train_cgan_on_digits_then_sample(tmp_path, data_env):
    run = tmp_path / "cgan"
    args = ["--data", "digits", "--run-dir", str(run)]
    train = ["train", "cgan", *args, "--epochs", "1", "--steps-per-epoch", "1"]
    assert main([*train, "--batch-size", "16", "--verbose", "0"]) == 0
    model = keras.saving.load_model(run / "model.keras")
    assert model.num_classes == 10 and model.image_shape == (32, 32, 1)  # reader_budget
    out = tmp_path / "rows.png"
    assert main(["sample", "cgan", *args, "--out", str(out), "--num", "4", "--seed", "0"]) == 0
    # one row per digit, 4 columns of 32x32 images, scaled x2
    assert np.asarray(Image.open(out)).shape[:2] == (2 * (10 * 33 - 1), 2 * (4 * 33 - 1))


def test_train_dcgan_on_digits(tmp_path, data_env):
    run = tmp_path / "dcgan"
    argv = ["train", "dcgan", "--data", "digits", "--run-dir", str(run), "--epochs", "1"]
    assert main([*argv, "--batch-size", "16", "--steps-per-epoch", "1", "--verbose", "0"]) == 0
    model = keras.saving.load_model(run / "model.keras")
    assert model.image_shape == (32, 32, 1) and (run / "sample.png").exists()
