"""gdl.models.gpt: book size, causality, KV-cache generation vs full re-run, sampling rules,
loss, save/load, and the ``gdl train/sample gpt`` CLI on the wine-review fixture."""

import keras
import numpy as np
import pytest
from keras import ops

from gdl.models.gpt import GPT, attention_html, plot_attention, top_k_table

VOCAB = ["", "[UNK]", "wine", "review", ":", "us", "italy", "red", "cherry", "."] + [
    f"w{i}" for i in range(22)
]


def tiny(**kw):
    keras.utils.set_random_seed(0)
    cfg = dict(vocab_size=32, max_len=24, embed_dim=16, num_heads=2, key_dim=8, ff_dim=16)
    model = GPT(**{**cfg, "vocabulary": VOCAB, **kw})
    # sharper than the init so sampling choices are not all near-uniform
    model.head.kernel.assign(model.head.kernel * 8.0)
    return model


def np_(x):
    return np.asarray(ops.convert_to_numpy(x))


@pytest.fixture(scope="module")
def model():
    return tiny()


def test_book_defaults_give_the_books_parameter_count():
    gpt = GPT()
    assert gpt.count_params() == 5_809_168
    assert (gpt.vocab_size, gpt.max_len, gpt.embed_dim, gpt.num_heads, gpt.key_dim) == (
        10000,
        80,
        256,
        2,
        256,
    )
    assert gpt.blocks[0].dropout_rate == 0.1


def test_outputs_are_logits_and_causal_attention(model):
    x = np.random.default_rng(0).integers(0, 32, size=(3, 10))
    logits, scores = (np_(a) for a in model(x))
    assert logits.shape == (3, 10, 32) and scores.shape == (3, 2, 10, 10)
    probs = np_(model.probabilities(x))
    e = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(probs, e / e.sum(-1, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-5)
    assert np.all(scores[..., np.triu(np.ones((10, 10), bool), 1)] == 0)


def test_changing_token_t_plus_1_changes_no_output_up_to_t(model):
    x = np.random.default_rng(1).integers(2, 32, size=(2, 12))
    p = np_(model.probabilities(x))
    for t in range(11):
        x2 = x.copy()
        x2[:, t + 1] = (x2[:, t + 1] + 7) % 30 + 2
        p2 = np_(model.probabilities(x2))
        np.testing.assert_allclose(p2[:, : t + 1], p[:, : t + 1], atol=1e-6)
        assert np.abs(p2[:, t + 1 :] - p[:, t + 1 :]).max() > 1e-4


@pytest.mark.parametrize(
    "kw",
    [
        dict(temperature=1.0),
        dict(temperature=0.7, top_k=5),
        dict(temperature=1.3, top_p=0.8),
    ],
)
def test_kv_cache_equals_full_rerun_at_every_step(model, kw):
    prompts = ["wine review : us", "wine review", "wine review : italy : red cherry"]
    common = dict(max_tokens=24, seed=11, return_logits=True, stop_at_end=False, **kw)
    cached = model.generate(prompts, **common)
    full = model.generate(prompts, use_cache=False, **common)
    assert cached.num_steps == full.num_steps == 24 - 2
    np.testing.assert_allclose(cached.logits, full.logits, atol=1e-5)
    np.testing.assert_array_equal(cached.tokens, full.tokens)
    np.testing.assert_allclose(cached.attention, full.attention, atol=1e-5)
    # without logits recorded: the same loop
    fast = model.generate(prompts, **{**common, "return_logits": False})
    np.testing.assert_array_equal(fast.tokens, full.tokens)
    np.testing.assert_allclose(fast.attention, full.attention, atol=1e-5)
    np.testing.assert_array_equal(fast.top_tokens, full.top_tokens)
    np.testing.assert_allclose(fast.top_probs, full.top_probs, atol=1e-5)
    # longer prompts are kept as given
    assert cached.texts[2].startswith("wine review : italy : red cherry")
    # and the cached logits are the model's own (book-style: run the model on the prefix)
    probs = np_(model.probabilities(cached.tokens))
    for s in range(cached.num_steps):
        pos = cached.start + s
        ref = np.log(probs[:, pos - 1])
        got = cached.logits[s] - np.log(np.exp(cached.logits[s]).sum(-1, keepdims=True))
        np.testing.assert_allclose(got, ref, atol=1e-4)


def test_temperature_zero_is_the_books_greedy_loop(model):
    gen = model.generate("wine review", max_tokens=16, temperature=0.0, stop_at_end=False)
    tokens = list(gen.tokens[0, :2])
    while len(tokens) < 16:  # the book's TextGenerator.generate with argmax
        probs = np_(model.probabilities(np.array([tokens])))
        tokens.append(int(probs[0, -1].argmax()))
    np.testing.assert_array_equal(gen.tokens[0], tokens)


@pytest.mark.parametrize("top_k,top_p", [(3, None), (None, 0.5), (4, 0.9)])
def test_top_k_and_top_p_never_leave_the_allowed_set(model, top_k, top_p):
    gen = model.generate(
        "wine review",
        max_tokens=24,
        temperature=1.5,
        top_k=top_k,
        top_p=top_p,
        seed=3,
        num=16,
        return_logits=True,
        stop_at_end=False,
    )
    for s in range(gen.num_steps):
        z = gen.logits[s] / 1.5
        p = np.exp(z - z.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        order = np.argsort(-p, -1)
        chosen = gen.tokens[:, gen.start + s]
        rank = np.argmax(order == chosen[:, None], axis=-1)
        if top_k:
            assert rank.max() < top_k
        if top_p:
            sorted_p = np.take_along_axis(p, order, -1)
            before = np.cumsum(sorted_p, -1) - sorted_p
            assert np.all(np.take_along_axis(before, rank[:, None], -1) < top_p)


def test_same_seed_same_text_and_rows_stop_at_the_end_token(model):
    a = model.generate("wine review", max_tokens=20, temperature=2.0, seed=5, num=8)
    b = model.generate("wine review", max_tokens=20, temperature=2.0, seed=5, num=8)
    np.testing.assert_array_equal(a.tokens, b.tokens)
    c = model.generate(
        "wine review", max_tokens=20, temperature=2.0, seed=5, num=8, use_cache=False
    )
    np.testing.assert_array_equal(a.tokens, c.tokens)
    assert a.num_steps == c.num_steps
    for row in a.tokens:
        ends = np.flatnonzero(row[2:] == 0)
        if ends.size:
            assert np.all(row[2 + ends[0] :] == 0)


def test_loss_is_cross_entropy_over_text_and_first_padding(model):
    x = np.array([[2, 3, 4, 5, 0, 0], [2, 3, 6, 7, 8, 9]])
    y = np.array([[3, 4, 5, 0, 0, 0], [3, 6, 7, 8, 9, 4]])
    probs = np_(model.probabilities(x))
    mask = (y != 0) | (x != 0)
    expected = -np.log(np.take_along_axis(probs, y[..., None], -1)[..., 0])[mask].mean()
    loss = np_(model.compute_loss(x=x, y=y, y_pred=model(x)))
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_fit_learns_a_tiny_corpus():
    gpt = tiny(dropout_rate=0.0)
    gpt.compile(optimizer=keras.optimizers.Adam(1e-2))
    text = gpt.tokenize("wine review : italy : red cherry .")
    tokens = np.zeros((16 * 30, 12), "int32")
    tokens[:, : len(text)] = text
    before = float(
        np_(gpt.compute_loss(x=tokens[:16, :-1], y=tokens[:16, 1:], y_pred=gpt(tokens[:16, :-1])))
    )
    hist = gpt.fit(tokens[:, :-1], tokens[:, 1:], epochs=1, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < before / 3
    gen = gpt.generate("wine review", max_tokens=12, temperature=0.0)
    assert gen.texts[0] == "wine review : italy : red cherry ."


def test_save_load_round_trip_keeps_outputs_and_vocabulary(model, tmp_path):
    path = tmp_path / "gpt.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(2).integers(0, 32, size=(2, 9))
    for a, b in zip(model(x), loaded(x)):
        np.testing.assert_allclose(np_(a), np_(b), atol=1e-6)
    assert loaded.vocabulary == VOCAB and loaded.tokenizer == model.tokenizer
    a = model.generate("wine review : us", max_tokens=15, seed=1)
    b = loaded.generate("wine review : us", max_tokens=15, seed=1)
    assert a.texts == b.texts


def test_views_of_a_generation(model, tmp_path):
    gen = model.generate("wine review : us", max_tokens=12, seed=0, stop_at_end=False)
    page = attention_html(gen, max_steps=3)
    assert page.count("<p>") == 3 and "rgba(135,206,250,1.000)" in page
    table = top_k_table(gen, max_steps=2)
    assert table[0]["context"] == "wine review : us" and len(table[0]["candidates"]) == 5
    probs = [p for _, p in table[0]["candidates"]]
    assert probs == sorted(probs, reverse=True)
    plot_attention(gen, path=tmp_path / "att.png")
    assert (tmp_path / "att.png").stat().st_size > 0


def test_errors_are_actionable(model):
    with pytest.raises(ValueError, match="max_len=24"):
        model.generate("wine review", max_tokens=100)
    with pytest.raises(ValueError, match="vocabulary"):
        GPT(vocab_size=32, max_len=8, embed_dim=8, key_dim=4, ff_dim=8).generate("wine")
    with pytest.raises(ValueError, match=r"\(batch, length\)"):
        model(np.zeros((3,), "int32"))


def test_cli_train_and_sample_from_the_model_file_alone(data_env, tmp_path):
    from gdl.cli import main

    run = tmp_path / "run"
    common = ["--run-dir", str(run), "--seed", "0"]
    size = ["--max-len", "16", "--vocab-size", "200"]
    assert main(["train", "gpt", "--epochs", "1", "--verbose", "0", *common, *size]) == 0
    assert (run / "model.keras").exists() and (run / "samples" / "epoch_001.txt").exists()
    out = tmp_path / "s.txt"
    argv = ["sample", "gpt", *common, "--out", str(out), "--num", "2", "--max-tokens", "12"]
    assert main([*argv, "--prompt", "wine review : us", "--top-k", "5"]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 2 and all(line.startswith("wine review : us") for line in lines)
    assert "<span" in out.with_suffix(".html").read_text()
