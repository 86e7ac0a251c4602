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
    for _ in range(4):  # the book's loop: the whole text through the model per token
        probs = ops.convert_to_numpy(model.probabilities(np.array([tokens])))[0, -1]
        tokens.append(int(probs.argmax()))
        if tokens[-1] == 0:  # padding ends the text
            break
    expected = model.detokenize(tokens)
    assert model.generate("recipe for", max_tokens=6, temperature=0.0).text == expected
    assert model.generate("recipe for", max_tokens=6, top_k=1, seed=3).text == expected


@pytest.mark.parametrize("kw", [{}, {"cell": "gru"}, {"num_layers": 2}])
@pytest.mark.parametrize("sampling", [dict(temperature=1.0), dict(temperature=0.8, top_p=0.9)])
def test_cached_state_equals_full_rerun(vectorizer, kw, sampling):
    """Carrying (h, c) gives the logits of re-running the text, and the same tokens."""
    model = _model(vectorizer.get_vocabulary(), **kw)
    model.classifier.kernel.assign(model.classifier.kernel * 8.0)
    prompts = ["recipe for", "recipe for soup | boil", "recipe"]
    common = dict(max_tokens=14, seed=0, return_logits=True, stop_at_end=False, **sampling)
    cached = model.generate(prompts, **common)
    full = model.generate(prompts, use_cache=False, **common)
    assert cached.num_steps == 13
    np.testing.assert_allclose(cached.logits, full.logits, atol=1e-5)
    np.testing.assert_array_equal(cached.tokens, full.tokens)
    assert cached.texts[1].startswith("recipe for soup | boil")
    logits = ops.convert_to_numpy(model(cached.tokens))  # the model's own logits
    for s in range(cached.num_steps):
        np.testing.assert_allclose(cached.logits[s], logits[:, cached.start + s - 1], atol=1e-5)


@pytest.mark.parametrize("top_k, top_p", [(3, None), (None, 0.5)])
def test_top_k_and_top_p_only_sample_from_the_allowed_set(vectorizer, top_k, top_p):
    model = _model(vectorizer.get_vocabulary())
    model.classifier.set_weights(
        [np.random.default_rng(0).normal(0, 1.0, w.shape) for w in model.classifier.get_weights()]
    )
    for seed in range(2):
        gen = model.generate(
            "recipe for", 8, temperature=1.0, top_k=top_k, top_p=top_p, seed=seed,
            num=8, stop_at_end=False,
        )  # fmt: skip
        raw = ops.convert_to_numpy(model.probabilities(gen.tokens))
        for step in range(gen.num_steps):
            pos = gen.start + step
            for row in range(8):
                p = raw[row, pos - 1]
                order = np.argsort(-p)
                if top_k:
                    allowed = set(order[:top_k])
                else:
                    before = np.cumsum(p[order]) - p[order]
                    allowed = set(order[before < top_p])
                assert gen.tokens[row, pos] in allowed
                assert set(gen.top_tokens[step, row][gen.top_probs[step, row] > 0]) <= allowed


def test_training_learns_the_text(vectorizer):
    keras.utils.set_random_seed(0)
    model = compile_lstm(_model(vectorizer.get_vocabulary()), learning_rate=0.02)
    ds = language_model_dataset(TEXTS, vectorizer, batch_size=8)
    before = model.perplexity(ds)
    model.fit(ds, epochs=12, verbose=0)
    assert model.perplexity(ds) < 0.2 * before
    gen = model.generate("recipe for soup |", 6, temperature=0.0)
    assert gen.text == "recipe for soup | boil the"


def test_text_generator_callback_and_print_probs(vectorizer):
    model = _model(vectorizer.get_vocabulary())
    lines = []
    cb = TextGenerator("recipe for", max_tokens=5, print_fn=lines.append)
    cb.set_model(model)
    cb.on_epoch_end(0)
    assert lines[0].startswith("generated text:\nrecipe for")
    gen = model.generate("recipe for", 4, temperature=0.2, seed=0, stop_at_end=False)
    out = []
    print_probs(gen, top_k=3, print_fn=out.append)
    assert gen.num_steps == 2 and out[0] == "\nPROMPT: recipe for" and len(out) == 2 * (1 + 3 + 1)
    assert out[4] == out[9] == "--------\n"


def test_save_load_keeps_the_vocabulary(vectorizer, tmp_path):
    model = compile_lstm(_model(vectorizer.get_vocabulary(), cell="gru"))
    path = tmp_path / "lstm.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.tokenizer == model.tokenizer and loaded.cell == "gru"
    x = np.array([model.tokenize("recipe for soup")])
    np.testing.assert_allclose(ops.convert_to_numpy(loaded(x)), ops.convert_to_numpy(model(x)))
    a, b = loaded.generate("recipe for", 10, seed=0), model.generate("recipe for", 10, seed=0)
    np.testing.assert_array_equal(a.tokens, b.tokens)


def test_clear_errors():
    with pytest.raises(ValueError, match="vocabulary"):
        LSTMTextGenerator(vocab_size=20).generate("recipe for")
    with pytest.raises(ValueError, match=r"\(batch, time\)"):
        LSTMTextGenerator(vocab_size=20)(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="cell"):
        LSTMTextGenerator(cell="rnn")
