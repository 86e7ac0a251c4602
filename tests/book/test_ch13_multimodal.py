"""gdl.book.ch13_multimodal: the DALL·E 2 report's shares and cosines against stand-ins
whose answers are known by hand (the models themselves are tested in
tests/models/test_multimodal.py), and the bigram baseline by hand."""

import math

import numpy as np
import pytest

from gdl.book import ch13_multimodal as ch13
from gdl.data.captions import DIGIT_NAMES


def one_hot(k, n=10):
    v = np.zeros(n, "float32")
    v[k] = 1.0
    return v


class Pairs:
    """Held-out pairs: image i is a 2x2 grey square whose value is its digit."""

    def __init__(self, labels):
        self.labels = np.asarray(labels)
        self.images = np.repeat(self.labels.astype("float32"), 4).reshape(-1, 2, 2, 1)
        self.captions = [f"a thick {DIGIT_NAMES[k]}" for k in self.labels]

    def __len__(self):
        return len(self.labels)

    def subset(self, idx):
        return Pairs(self.labels[idx])


class Clip:
    """Text -> (2 digit + next digit) / sqrt 5; image -> its digit; all unit vectors."""

    def encode_text(self, captions):
        ks = [DIGIT_NAMES.index(c.split()[-1]) for c in captions]
        return np.stack([(2 * one_hot(k) + one_hot((k + 1) % 10)) / math.sqrt(5) for k in ks])

    def encode_images(self, images):
        return np.stack([one_hot(int(round(float(x.mean())))) for x in images])


class Prior:
    """Maps a text embedding to the image embedding of its first digit (exactly)."""

    def __init__(self):
        self.calls = []

    def generate(self, text, guidance=1.0, diffusion_steps=20, seed=None):
        self.calls.append((len(text), guidance, diffusion_steps, seed))
        return np.stack([one_hot(int(np.argmax(t))) for t in text])


class Decoder:
    """Draws the embedding's digit, except that it draws a 4 for every 3; variations:
    half of them the source's digit, half the next digit."""

    def generate(self, emb, guidance=3.0, diffusion_steps=20, seed=None):
        ks = [int(np.argmax(e)) for e in emb]
        return Pairs([4 if k == 3 else k for k in ks]).images

    def variations(self, emb, num=8, guidance=3.0, diffusion_steps=20, seed=None):
        k = int(np.argmax(emb))
        return Pairs([k] * (num // 2) + [(k + 1) % 10] * (num - num // 2)).images


class Judge:
    def __init__(self):
        self.seen = 0

    def predict(self, images, verbose=0):
        self.seen += len(images)
        return np.stack([one_hot(int(round(float(x.mean())))) for x in images])


def test_unclip_report_by_hand():
    test = Pairs(np.arange(30) % 10)
    prior, judge = Prior(), Judge()
    rows = ch13.unclip_report(Clip(), prior, Decoder(), judge, test, per_digit=3, sources=5,
                              variations=4, diffusion_steps=7)  # fmt: skip
    assert rows["prior_cosine"] == pytest.approx(1.0)
    assert rows["text_cosine"] == pytest.approx(2 / math.sqrt(5))
    assert rows["prior_nearest_right_digit"] == 1.0
    assert rows["text_prior_decoder_right_digit"] == pytest.approx(0.9)  # every 3 drawn as 4
    assert rows["variations_keep_digit"] == pytest.approx(0.5)
    assert judge.seen == 10 * 3 + 5 * 4
    # held-out captions at seed 0, the prompts at seed 1; w = 1 and the steps asked for
    assert prior.calls == [(30, 1.0, 7, 0), (30, 1.0, 7, 1)]


def test_bigram_baseline_by_hand():
    # vocabulary 0 pad, 1 start, 2 end, 3 "a", 4 "b"; train: start a b end, twice
    train = np.array([[1, 3, 4, 2, 0], [1, 3, 4, 2, 0]])
    acc, ppl = ch13.bigram_perplexity(train, train[:1], vocab_size=5)
    # add-one counts: row start -> a: 3 of 7; a -> b: 3 of 7; b -> end: 3 of 7
    assert acc == 1.0 and ppl == pytest.approx(7 / 3)
