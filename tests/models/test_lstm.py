"""Chapter 5 LSTM text generator: sizes, sampling rules, training, saving."""

import keras
import numpy as np
import pytest
from keras import ops

from gdl.data.text import language_model_dataset, make_vectorizer, pad_punctuation
from gdl.models.lstm import LSTMTextGenerator, TextGenerator, compile_lstm, print_probs

TEXTS = [
    pad_punctuation(t)
    for t in [
        "Recipe for soup | Boil the water. Add salt.",
        "Recipe for salad | Wash the lettuce. Add salt and oil.",
        "Recipe for tea | Boil the water. Pour over the leaves.",
    ]
    * 8
]


@pytest.fixture(scope="module")
def vectorizer():
    return make_vectorizer(TEXTS, vocab_size=100, seq_len=16)


def _model(vocab, **kw):
    return LSTMTextGenerator(vocabulary=vocab, embedding_dim=8, units=16, **kw)


def test_book_parameter_count():
    assert LSTMTextGenerator().count_params() == 2_407_248


@pytest.mark.parametrize(
    "kw, rnn_params",
    [
        ({"cell": "gru"}, 3 * (16 * (8 + 16) + 2 * 16)),  # reset_after=True: two biases
        ({"num_layers": 2}, 4 * (16 * (8 + 16) + 16) + 4 * (16 * (16 + 16) + 16)),
        ({"bidirectional": True}, 2 * 4 * (16 * (8 + 16) + 16)),
    ],
)
def test_variants_have_the_expected_sizes(kw, rnn_params):
    model = LSTMTextGenerator(vocab_size=50, embedding_dim=8, units=16, **kw)
    width = 32 if kw.get("bidirectional") else 16
    assert model.count_params() == 50 * 8 + rnn_params + width * 50 + 50
    assert model(np.zeros((2, 5), "int32")).shape == (2, 5, 50)


def test_tokenize_uses_the_vocabulary(vectorizer):
    model = _model(vectorizer.get_vocabulary())
    vocab = vectorizer.get_vocabulary()
    ids = model.tokenize("Recipe for zebra|")
    assert [vocab[i] for i in ids] == ["recipe", "for", "[UNK]", "|"]


def test_temperature_zero_is_greedy_and_top_k_one_too(vectorizer):
    keras.utils.set_random_seed(1)
    model = _model(vectorizer.get_vocabulary())
    tokens = model.tokenize("recipe for")
    for _ in range(4):
        probs = ops.convert_to_numpy(model(np.array([tokens])))[0, -1]
        tokens.append(int(probs.argmax()))
        if tokens[-1] == 0:  # padding ends the text
            break
    expected = model.detokenize(t for t in tokens if t != 0)
    assert model.generate("recipe for", max_tokens=6, temperature=0.0) == expected
    assert model.generate("recipe for", max_tokens=6, top_k=1, seed=3) == expected


@pytest.mark.parametrize("top_k, top_p", [(3, None), (None, 0.5)])
def test_top_k_and_top_p_only_sample_from_the_allowed_set(vectorizer, top_k, top_p):
    model = _model(vectorizer.get_vocabulary())
    model.classifier.set_weights(
        [np.random.default_rng(0).normal(0, 1.0, w.shape) for w in model.classifier.get_weights()]
    )
    for seed in range(2):
        text, info = model.generate(
            "recipe for", 8, temperature=1.0, top_k=top_k, top_p=top_p, seed=seed,
            return_info=True,
        )  # fmt: skip
        tokens = model.tokenize(text)
        for step, step_info in enumerate(info):
            raw = ops.convert_to_numpy(model(np.array([tokens[: 2 + step]])))[0, -1]
            allowed = step_info["word_probs"] > 0
            order = np.argsort(-raw)
            if top_k:
                assert set(np.flatnonzero(allowed)) == set(order[:top_k])
            else:
                before = np.cumsum(raw[order]) - raw[order]
                assert set(np.flatnonzero(allowed)) == set(order[before < top_p])
            if 2 + step < len(tokens):
                assert allowed[tokens[2 + step]]


def test_training_learns_the_text(vectorizer):
    keras.utils.set_random_seed(0)
    model = compile_lstm(_model(vectorizer.get_vocabulary()), learning_rate=0.02)
    ds = language_model_dataset(TEXTS, vectorizer, batch_size=8)
    before = model.perplexity(ds)
    model.fit(ds, epochs=12, verbose=0)
    assert model.perplexity(ds) < 0.2 * before
    assert model.generate("recipe for soup |", 6, temperature=0.0) == "recipe for soup | boil the"


def test_text_generator_callback_and_print_probs(vectorizer):
    model = _model(vectorizer.get_vocabulary())
    lines = []
    cb = TextGenerator("recipe for", max_tokens=5, print_fn=lines.append)
    cb.set_model(model)
    cb.on_epoch_end(0)
    assert lines[0].startswith("generated text:\nrecipe for")
    _, info = model.generate("recipe for", 4, temperature=0.2, seed=0, return_info=True)
    out = []
    print_probs(info, model.vocabulary, top_k=3, print_fn=out.append)
    assert len(info) == 2 and out[0] == "\nPROMPT: recipe for" and len(out) == 2 * 4 + 1


def test_save_load_keeps_the_vocabulary(vectorizer, tmp_path):
    model = compile_lstm(_model(vectorizer.get_vocabulary(), cell="gru"))
    path = tmp_path / "lstm.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.vocabulary == model.vocabulary and loaded.cell == "gru"
    x = np.array([model.tokenize("recipe for soup")])
    np.testing.assert_allclose(ops.convert_to_numpy(loaded(x)), ops.convert_to_numpy(model(x)))
    assert loaded.generate("recipe for", 10, seed=1) == model.generate("recipe for", 10, seed=1)


def test_clear_errors():
    with pytest.raises(ValueError, match="vocabulary"):
        LSTMTextGenerator(vocab_size=20).generate("recipe for")
    with pytest.raises(ValueError, match=r"\(batch, time\)"):
        LSTMTextGenerator(vocab_size=20)(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="cell"):
        LSTMTextGenerator(cell="rnn")
