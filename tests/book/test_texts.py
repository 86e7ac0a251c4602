"""gdl.book.texts.load_texts: one loader for the LSTM's and GPT's training texts."""

import json

import pytest

from gdl.book.texts import load_texts
from gdl.errors import ConfigError, DatasetError, GDLError, UnknownNameError


def test_registered_dataset_padded_like_the_book(data_env):
    texts = load_texts("recipes")
    assert texts and texts[0].startswith("Recipe for ") and " | " in texts[0]
    from gdl.data.text import pad_punctuation

    assert load_texts("recipes", limit=2, pad=True) == [pad_punctuation(t) for t in texts[:2]]


def test_your_own_wine_json_or_text_file(tmp_path):
    rows = [
        {"country": "US", "province": "Oregon", "variety": "Pinot Noir", "description": "Tart."},
        {"country": None, "province": "x", "variety": "y", "description": "dropped"},
    ]
    (tmp_path / "w.json").write_text(json.dumps(rows))
    assert load_texts(str(tmp_path / "w.json")) == [
        "wine review : US : Oregon : Pinot Noir : Tart."
    ]
    (tmp_path / "w.txt").write_text("wine review : a\n\nwine review : b\n")
    assert load_texts(str(tmp_path / "w.txt"), limit=1) == ["wine review : a"]
    assert load_texts(str(tmp_path / "w.txt"), pad=True) == ["wine review : a", "wine review : b"]
    (tmp_path / "toast.txt").write_text("Toast, then butter.\n")
    assert load_texts(str(tmp_path / "toast.txt"), pad=True) == ["Toast , then butter . "]


def test_errors_name_the_fix(tmp_path):
    with pytest.raises(ConfigError, match=r"\.txt file"):
        load_texts("my_texts.csv")  # no such file
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(DatasetError, match="no training text"):
        load_texts(str(tmp_path / "empty.txt"))
    with pytest.raises(UnknownNameError, match="known: .*recipes") as info:
        load_texts("no_such_dataset")
    assert isinstance(info.value, (GDLError, KeyError))
