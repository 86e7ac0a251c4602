"""gdl.book.ch09_transformer: GPT generations as text, page and picture."""

import numpy as np
from PIL import Image

from gdl.book.ch09_transformer import generation_png, generation_words, write_generation
from gdl.generation import Generation
from gdl.preprocessing import WordTokenizer

VOCAB = ["", "[UNK]", "wine", "review", ":", "us", "red", "cherry", "."]


def _gen():
    tok = WordTokenizer(VOCAB)
    tokens = np.array([[2, 3, 4, 5, 6, 7, 8, 0], [2, 3, 6, 6, 7, 0, 0, 0]])
    return Generation.of_text(tokens, np.array([4, 2]), 2, tok)


def _yellow(img):
    rgb = np.asarray(img.convert("RGB")).astype(int)
    return (rgb[..., 0] > 200) & (rgb[..., 1] > 180) & (rgb[..., 2] < 150)


def test_generation_words_split_prompt_from_generated():
    assert generation_words(_gen()) == [
        (["wine", "review", ":", "us"], ["red", "cherry", "."]),
        (["wine", "review"], ["red", "red", "cherry"]),
    ]


def test_png_highlights_exactly_the_prompt(tmp_path):
    gen = _gen()
    img = Image.open(generation_png(gen, tmp_path / "g.png", width=40, font_size=15))
    yellow = _yellow(img)
    rows = np.flatnonzero(yellow.any(1))
    # two paragraphs, one line each: two separate highlighted bands
    bands = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
    assert len(bands) == 2
    widths = [np.ptp(np.flatnonzero(yellow[b].any(0))) for b in bands]
    # the highlight spans the prompt's characters: "wine review : us" (16) vs "wine review" (11)
    assert abs(widths[0] / widths[1] - (16 * 9 + 4) / (11 * 9 + 4)) < 0.08
    # a long text wraps onto more lines, and the prompt stays on the first one only
    long = Generation.of_text(np.array([[2, 3] + [6, 7] * 20]), np.array([2]), 2,
                              WordTokenizer(VOCAB))  # fmt: skip
    img = Image.open(generation_png(long, tmp_path / "long.png", width=20))
    assert img.height > 4 * 15 and _yellow(img)[: img.height // 4].any()
    assert not _yellow(img)[img.height // 2 :].any()


def test_write_generation_writes_text_page_and_picture(tmp_path):
    from tests.models.test_gpt import tiny

    gen = tiny().generate("wine review", max_tokens=10, num=2, seed=0)
    paths = write_generation(gen, tmp_path / "sample.txt")
    assert [p.name for p in paths] == ["sample.txt", "sample.html", "sample.png"]
    assert (tmp_path / "sample.txt").read_text().splitlines() == gen.texts
    assert generation_words(gen)[1][0] == ["wine", "review"]
    assert _yellow(Image.open(tmp_path / "sample.png")).any()
    assert [p.name for p in write_generation(gen, tmp_path / "e.txt", html=False)] == ["e.txt"]
