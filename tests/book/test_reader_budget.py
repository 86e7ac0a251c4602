"""reader_budget: the embedded sets get CPU-sized settings, the book's datasets the book's."""

from argparse import Namespace

import numpy as np
import pytest

from gdl.book.reader_budget import READER_SETTINGS, reader_settings, reader_value
from gdl.cli.recipes.base import get_recipe


def _args(data, **kw):
    return Namespace(data=data, batch_size=None, epochs=None, seed=None, **kw)


@pytest.mark.parametrize("name", sorted(READER_SETTINGS["digits"]))
def test_digits_settings_reach_the_recipe_and_book_datasets_keep_the_books(name):
    recipe = get_recipe(name)
    sizes = reader_settings(name, "digits")
    assert recipe.default_epochs(_args("digits")) == sizes["epochs"]
    for book in ("faces", "fashion_mnist", "mnist", "flowers", "bricks", None):
        assert reader_settings(name, book) == {}
    book_data = recipe.default_data
    assert recipe.default_epochs(_args(book_data)) == recipe.epochs
    if hasattr(recipe, "batch"):
        assert recipe.batch(_args("digits")) == sizes.get("batch_size", recipe.batch_size)
        assert recipe.batch(_args(book_data)) == recipe.batch_size
        assert recipe.batch(Namespace(data="digits", batch_size=7)) == 7  # --batch-size wins


def test_wgan_gp_on_digits_is_small_and_on_faces_is_the_books():
    recipe = get_recipe("wgan_gp")
    assert recipe.batch(_args("faces")) == 512 == recipe.batch_size
    data = recipe.load_data(_args("digits"))
    model = recipe.build(_args("digits"), data)
    assert model.image_shape == (32, 32, 1) and data.batch_size == 64
    assert data.x.shape[1:] == (32, 32, 1)
    assert model.critic_steps == 3  # the book's method is kept, only the sizes change


def test_reader_value_falls_back_to_the_book():
    assert reader_value("ebm", "digits", "epochs", 60) == READER_SETTINGS["digits"]["ebm"]["epochs"]
    assert reader_value("ebm", "mnist", "epochs", 60) == 60
    assert reader_value("nope", "digits", "epochs", 3) == 3


def test_music_transformer_on_the_chorales_trains_in_12_keys_at_batch_64(monkeypatch):
    from gdl.music import sequence_dataset, transpose_pieces
    from gdl.music.datasets import token_pieces

    monkeypatch.setenv("GDL_SMOKE", "1")  # 12 chorales
    recipe = get_recipe("music_transformer")
    data = recipe.load_data(_args("music21_chorales", seq_len=50))
    train = token_pieces("music21_chorales", limit=12)["train"]
    (x, _), _, nv, dv = sequence_dataset(transpose_pieces(train), 50)
    plain = sequence_dataset(train, 50)[0][0]
    assert data.batch_size == 64 and len(data.x[0]) == len(x) > 10 * len(plain)
    np.testing.assert_array_equal(data.x[0], x)
    assert data.info["notes_vocabulary"] == nv
    assert data.steps_per_epoch is None  # smoke runs keep whole (tiny) epochs
    assert reader_settings("music_transformer", "cellosuites") == {}  # the book's as written
    assert recipe.default_epochs(_args("cellosuites")) == 5000


def test_musegan_on_the_embedded_chorales_trains_at_batch_16(tmp_path, monkeypatch):
    recipe = get_recipe("musegan")
    sizes = reader_settings("musegan", "music21_chorales")
    assert sizes["batch_size"] == 16 and sizes["critic_steps"] == 5  # the book's 5 kept
    assert recipe.default_epochs(_args("music21_chorales")) == sizes["epochs"]
    assert recipe.default_epochs(_args("chorales")) == recipe.epochs == 6000
    assert recipe.load_data(_args("music21_chorales", limit=None)).batch_size == 16
    # without --data: the book's chorales when downloaded, else the embedded ones
    monkeypatch.setenv("GDL_DATA_DIR", str(tmp_path))
    assert recipe.data_name(_args(None)) == "music21_chorales"
    assert recipe.default_epochs(_args(None)) == sizes["epochs"]


def test_ddim_on_digits_averages_with_ema_099_and_on_flowers_the_books(monkeypatch):
    from gdl.models.diffusion import DiffusionModel

    recipe = get_recipe("ddim")
    built = {}
    monkeypatch.setattr(DiffusionModel, "adapt", lambda self, x: None)
    monkeypatch.setattr(DiffusionModel, "compile", lambda self, *a, **k: None)
    for data in ("digits", "flowers"):
        info = {"image_shape": (32, 32, 1)}
        from gdl.cli.recipes.base import TrainData

        built[data] = recipe.build(_args(data), TrainData(x=None, info=info)).ema
    assert built == {"digits": 0.99, "flowers": 0.999}
    # why: after the reader's 20 epochs of 23 steps, 0.999 would still weigh the random
    # start by more than half, 0.99 by nothing visible
    steps = 20 * int(np.ceil(1438 / 64))
    assert 0.999**steps > 0.6 and 0.99**steps < 1e-2
