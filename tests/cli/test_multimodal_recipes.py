"""``gdl train|sample clip|text2image|prior|unclip_decoder|captioner`` end to end, smoke
mode (128 captioned digits), one epoch of a few steps each."""

import keras
import pytest
from PIL import Image

from gdl.cli import main

STEPS = ["--epochs", "1", "--steps-per-epoch", "2", "--verbose", "0", "--seed", "0"]


@pytest.fixture
def smoke(data_env, monkeypatch):
    monkeypatch.setenv("GDL_SMOKE", "1")


def test_chapter13_recipes_train_and_sample(tmp_path, smoke, capsys):
    runs = tmp_path / "runs"
    assert main(["train", "clip", *STEPS, "--run-dir", str(runs / "clip")]) == 0
    clip_path = str(runs / "clip" / "model.keras")
    assert keras.saving.load_model(clip_path).tokenizer is not None
    assert main(["train", "text2image", *STEPS, "--run-dir", str(runs / "t2i")]) == 0
    out = tmp_path / "seven.png"
    assert main(["sample", "text2image", "--run-dir", str(runs / "t2i"), "--prompt",
                 "a thick seven", "--guidance", "3", "--num", "4", "--diffusion-steps", "2",
                 "--out", str(out)]) == 0  # fmt: skip
    assert Image.open(out).size == ((16 * 4 + 3) * 4, 16 * 4)
    for name in ("prior", "unclip_decoder", "captioner"):
        assert main(["train", name, *STEPS, "--clip", clip_path,
                     "--run-dir", str(runs / name)]) == 0, name  # fmt: skip
    capsys.readouterr()
    out = tmp_path / "captions.txt"
    assert main(["sample", "captioner", "--run-dir", str(runs / "captioner"), "--clip",
                 clip_path, "--num", "3", "--out", str(out)]) == 0  # fmt: skip
    assert len(out.read_text().splitlines()) == 3 and "(true: " in capsys.readouterr().out


def test_recipes_needing_clip_say_how_to_get_one(tmp_path, smoke):
    with pytest.raises(SystemExit, match="gdl train clip"):
        main(["train", "prior", *STEPS, "--clip", str(tmp_path / "none.keras"),
              "--run-dir", str(tmp_path / "p")])  # fmt: skip
