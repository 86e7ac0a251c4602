"""gdl.data.captions and gdl.preprocessing.CaptionTokenizer: captions true of the pixels."""

import csv

import keras
import numpy as np
import pytest
from PIL import Image

from gdl.data import DatasetError, load
from gdl.data.captions import (
    DIGIT_NAMES,
    digit_attributes,
    load_caption_folder,
    load_captioned_digits,
    load_captioned_scenes,
)
from gdl.preprocessing import CaptionTokenizer


def test_captions_name_the_class_and_the_measured_attributes():
    data = load_captioned_digits(split="all")
    assert data.images.shape == (1797, 16, 16, 1) and len(data.captions) == 1797
    for cap, k, t, s in zip(data.captions, data.labels, data.attributes["thickness"],
                            data.attributes["slant"]):
        words = cap.split()
        assert words[-1] == DIGIT_NAMES[k]
        assert (t in words) if t else not ({"thick", "thin"} & set(words))
        assert ("slanted" in words) == (s == "slanted")
    # thickness is measured: within a class, "thick" digits carry more ink than "thin" ones
    ink = data.images.sum(axis=(1, 2, 3))
    for k in range(10):
        sel = data.labels == k
        thick = ink[sel & (data.attributes["thickness"] == "thick")]
        thin = ink[sel & (data.attributes["thickness"] == "thin")]
        assert thick.min() > thin.max()


def test_shear_measure_by_hand():
    img = np.zeros((1, 5, 5, 1), "float32")
    for r in range(5):  # a stroke leaning right: x = 4 - r (top right to bottom left)
        img[0, r, 4 - r, 0] = 1.0
    shear = digit_attributes(np.concatenate([img, img[:, :, ::-1]]), np.array([0, 0]))["shear"]
    np.testing.assert_allclose(shear, [1.0, -1.0])


def test_split_is_held_out_stratified_and_fixed():
    train, test = load_captioned_digits(split="train"), load_captioned_digits(split="test")
    assert len(train) + len(test) == 1797 and abs(len(test) - 0.2 * 1797) < 10
    assert np.all(np.bincount(test.labels) >= 34)
    flat = lambda d: {x.tobytes() for x in d.images}  # noqa: E731
    assert not flat(train) & flat(test)
    assert load_captioned_digits(split="test").captions == test.captions
    assert load("captioned_digits", split="test").captions == test.captions


def test_scenes_caption_size_and_position():
    s = load_captioned_scenes(num=20, size=32)
    assert s.images.shape == (20, 32, 32, 1)
    for cap, left, right in zip(s.captions, s.attributes["left"], s.attributes["right"]):
        assert cap.startswith("a ") and f"{left} on the left" in cap and f"{right} on the right" in cap
    big = s.attributes["left_size"] == "large"  # a large digit has more ink on its half
    ink_left = s.images[:, :, :16].sum(axis=(1, 2, 3))
    assert ink_left[big].mean() > ink_left[~big].mean()


def test_a_readers_folder_with_captions_csv_loads(tmp_path):
    for i in range(3):
        Image.fromarray(np.full((20, 20), 80 * i, "uint8")).save(tmp_path / f"im{i}.png")
    with open(tmp_path / "captions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "caption"])
        w.writerows([[f"im{i}.png", f"a grey square {i}"] for i in range(3)])
    data = load_caption_folder(tmp_path, size=8)
    assert data.images.shape == (3, 8, 8, 1) and data.captions[2] == "a grey square 2"
    np.testing.assert_allclose(data.images[1], 80 / 255, atol=1e-6)
    (tmp_path / "captions.csv").write_text("name,text\n")
    with pytest.raises(DatasetError, match="file,caption"):
        load_caption_folder(tmp_path)


def test_caption_tokenizer_round_trip_padding_and_saving():
    tok = CaptionTokenizer.from_texts(["a thick seven", "a thin two", "a seven"])
    assert tok.vocabulary[:4] == ["", "[UNK]", "[START]", "[END]"]
    assert tok.vocabulary[4:6] == ["a", "seven"]  # by count, then alphabetically
    ids = tok.tokenize_batch(["a thick seven", "a zebra"], length=6)
    a, seven, thick = (tok.vocabulary.index(w) for w in ("a", "seven", "thick"))
    np.testing.assert_array_equal(ids, [[2, a, thick, seven, 3, 0], [2, a, 1, 3, 0, 0]])
    assert tok.detokenize(ids[0]) == "a thick seven"
    assert tok.tokenize_batch(["a thick seven two"], length=4)[0, -1] == 3  # [END] kept
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(tok))
    assert isinstance(again, CaptionTokenizer) and again == tok
    with pytest.raises(ValueError, match="from_texts"):
        CaptionTokenizer(["", "[UNK]", "a"])
