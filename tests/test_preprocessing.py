"""gdl.preprocessing: the book's text preparation, round trips, saving with a model."""

import keras
import numpy as np
import pytest

from gdl.preprocessing import WordTokenizer, pad_punctuation

VOCAB = ["", "[UNK]", "recipe", "for", "soup", ".", "|", "1", "/", "2"]


def test_pad_punctuation_is_the_books():
    assert pad_punctuation("chop 1/2 onion.") == "chop 1 / 2 onion . "
    assert pad_punctuation("a,b") == "a , b"


def test_tokenize_detokenize_round_trip():
    tok = WordTokenizer(VOCAB)
    ids = tok.tokenize("Recipe for SOUP|1/2 zebra.")
    assert ids == [2, 3, 4, 6, 7, 8, 9, 1, 5]
    assert tok.detokenize(ids) == "recipe for soup | 1 / 2 [UNK] ."
    assert tok.tokenize(tok.detokenize([2, 3, 4, 5])) == [2, 3, 4, 5]
    assert tok.detokenize([2, 3, 0, 0]) == "recipe for"  # padding left out
    with pytest.raises(ValueError, match="vocabulary"):
        WordTokenizer([])


def test_serializable_alone_and_inside_a_model(tmp_path):
    tok = WordTokenizer(VOCAB)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(tok))
    assert again == tok and again.tokenize("recipe for soup") == [2, 3, 4]
    from gdl.models.lstm import LSTMTextGenerator

    model = LSTMTextGenerator(tokenizer=tok, embedding_dim=4, units=4)
    assert model.vocab_size == len(VOCAB)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.tokenizer == tok and loaded.tokenize("soup .") == [4, 5]
    x = np.array([[2, 3, 4]])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x))
    )
