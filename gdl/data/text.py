"""Text preparation shared by the LSTM (recipes) and GPT (wine reviews) chapters.

The book pads punctuation with spaces so each mark becomes a token
(``pad_punctuation``), vectorises with ``TextVectorization(standardize="lower",
max_tokens=10000, output_sequence_length=L+1)`` and trains on ``x = t[:-1]``,
``y = t[1:]``. Vocabulary index 0 is padding (``""``) and 1 is ``[UNK]``.
The GPT notebook's regex also puts ``,`` ``'`` space and newline inside the character
class (a copy-paste slip); :func:`pad_punctuation` uses the recipes' clean class.
"""

from __future__ import annotations

from gdl.preprocessing import pad_punctuation  # noqa: F401 - re-exported (one definition)


def make_vectorizer(texts, vocab_size: int = 10000, seq_len: int = 200, batch_size: int = 32):
    """A ``TextVectorization`` adapted on ``texts`` that outputs ``seq_len + 1`` token ids."""
    import tensorflow as tf
    from keras import layers

    vectorize = layers.TextVectorization(
        standardize="lower",
        max_tokens=vocab_size,
        output_mode="int",
        output_sequence_length=seq_len + 1,
    )
    vectorize.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(batch_size))
    return vectorize


def language_model_dataset(
    texts, vectorize, batch_size: int = 32, shuffle: int = 1000, seed: int = 42
):
    """``tf.data`` of ``(x, y)`` with ``x = tokens[:, :-1]`` and ``y = tokens[:, 1:]`` (book's prepare_inputs)."""
    import tensorflow as tf

    ds = (
        tf.data.Dataset.from_tensor_slices(list(texts))
        .shuffle(shuffle, seed=seed)
        .batch(batch_size)
    )

    def prepare(text):
        tokens = vectorize(tf.expand_dims(text, -1) if text.shape.rank == 0 else text)
        return tokens[:, :-1], tokens[:, 1:]

    return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
