"""``gdl train|sample pixelcnn|pixelcnn_md|lstm`` end to end on offline data."""

import keras
import pytest
from PIL import Image

from gdl.cli import main


@pytest.mark.parametrize("name, size", [("pixelcnn", 5), ("pixelcnn_md", 4)])
def test_train_then_sample_png(name, size, tmp_path, data_env):
    run = tmp_path / name
    small = ["--image-size", str(size), "--filters", "8", "--blocks", "1"]
    args = ["--data", "digits", "--epochs", "1", "--steps-per-epoch", "2", "--verbose", "0"]
    assert main(["train", name, *args, *small, "--run-dir", str(run)]) == 0
    model = keras.saving.load_model(run / "model.keras")
    assert model.image_size == size
    if name == "pixelcnn_md":  # the book's network: tfp.distributions.PixelCNN's
        assert type(model).__name__ == "PixelCNNPlusPlus" and model.hierarchies == 2
    out = tmp_path / "s.png"
    assert main(["sample", name, "--run-dir", str(run), "--out", str(out), "--num", "3",
                 "--seed", "1", "--temperature", "0.5"]) == 0  # fmt: skip
    assert Image.open(out).size[1] >= size * 4


def test_lstm_train_then_sample_text(tmp_path, data_env, capsys):
    f = tmp_path / "mine.txt"
    f.write_text("Recipe for toast | Toast the bread.\nRecipe for tea | Boil water.\n" * 4)
    run = tmp_path / "lstm"
    small = ["--vocab-size", "50", "--seq-len", "10", "--max-tokens", "8"]
    assert main(["train", "lstm", "--data", str(f), "--epochs", "1", "--verbose", "0", *small,
                 "--run-dir", str(run)]) == 0  # fmt: skip
    assert "toast" in keras.saving.load_model(run / "model.keras").vocabulary
    out = tmp_path / "t.txt"
    capsys.readouterr()
    assert main(["sample", "lstm", "--run-dir", str(run), "--out", str(out), "--num", "2",
                 "--seed", "0", "--prompt", "recipe for tea", "--top-k", "5"]) == 0  # fmt: skip
    assert out.read_text().count("recipe for tea") == 2
    assert "recipe for tea" in capsys.readouterr().out
