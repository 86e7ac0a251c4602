"""``gdl train stylegan|vqgan|vqgan_prior --data digits`` then ``gdl sample``, one step each."""

import keras

from gdl.cli import main


def _train(name, tmp_path, *extra):
    run = tmp_path / name
    argv = ["train", name, "--data", "digits", "--run-dir", str(run), "--epochs", "1",
            "--batch-size", "8", "--steps-per-epoch", "1", "--verbose", "0", *extra]
    assert main(argv) == 0
    return run


def test_stylegan_then_mixing_grid_with_truncation(tmp_path, data_env):
    run = _train("stylegan", tmp_path)
    out = tmp_path / "grid.png"
    args = ["sample", "stylegan", "--run-dir", str(run), "--out", str(out), "--truncation", "0.7"]
    assert main(args) == 0 and out.stat().st_size > 0


def test_vqgan_then_prior(tmp_path, data_env):
    run = _train("vqgan", tmp_path)
    model = keras.saving.load_model(run / "model.keras")
    assert model.image_shape == (32, 32, 1)
    prior = _train("vqgan_prior", tmp_path, "--autoencoder", str(run / "model.keras"))
    assert (prior / "sample.png").exists()
