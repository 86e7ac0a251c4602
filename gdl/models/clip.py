"""Chapter 13: CLIP, a contrastive text–image model, at small scale.

The book describes CLIP (Radford et al. 2021) without code: a text encoder and an image
encoder map captions and images into one space, trained so that the cosine similarity of
matching pairs is high and of all other pairs in the batch low; text prompts then act as
classifiers ("zero-shot"). gdl's :class:`CLIP` is that model, trained from scratch on
captioned digits (:mod:`gdl.data.captions`) in a few CPU minutes:

* text: :class:`~gdl.layers.text_encoder.TextEncoder` (causal Transformer pooled at the
  ``[END]`` token, like CLIP's), then a linear projection;
* image: a small CNN (CLIP uses a ResNet or a ViT) whose last feature map is also what the
  Flamingo-style captioner reads (:attr:`CLIP.image_features`), global average pooling,
  a linear projection;
* both embeddings L2-normalised; the logits are ``exp(s) * I Tᵀ`` with a **learned
  temperature** ``s`` (initialised at ``log(1/0.07)``, clipped at ``log(100)``, as CLIP);
* the symmetric InfoNCE loss :func:`contrastive_loss`: cross-entropy of each image
  against all texts and of each text against all images, the matches on the diagonal.

:meth:`CLIP.classify` is zero-shot classification by prompt (``"a photo of the digit
{}"``); :meth:`CLIP.similarity` and :func:`recall_at_k` measure retrieval.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from gdl.layers.text_encoder import TextEncoder
from gdl.models.optimizers import BookCompile
from gdl.preprocessing import CaptionTokenizer

__all__ = ["CLIP", "contrastive_loss", "image_feature_network", "recall_at_k"]


def contrastive_loss(logits):
    """Symmetric InfoNCE of a ``(B, B)`` image-text logit matrix (matches on the diagonal):
    the mean of the image->text and text->image cross-entropies."""
    labels = ops.arange(ops.shape(logits)[0])
    ce = keras.losses.sparse_categorical_crossentropy
    per_image = ce(labels, logits, from_logits=True)
    per_text = ce(labels, ops.transpose(logits), from_logits=True)
    return 0.5 * (ops.mean(per_image) + ops.mean(per_text))


def recall_at_k(similarity, k: int = 1) -> float:
    """Share of queries (rows) whose match (the item with the same index) is among the
    ``k`` most similar items (columns). Ties count against the query."""
    sim = np.asarray(similarity)
    correct = np.diagonal(sim)[:, None]
    rank = (sim > correct).sum(axis=1) + (sim == correct).sum(axis=1) - 1
    return float(np.mean(rank < k))


def image_feature_network(image_size: int = 16, channels: int = 1, filters=(32, 64, 128),
                          name: str = "image_features") -> keras.Model:  # fmt: skip
    """Images ``(B, H, W, C)`` in [0, 1] -> a feature map ``(B, H/2^(n-1), W/2^(n-1),
    filters[-1])``: per width a 3x3 convolution and a 3x3 convolution with stride 2 (the
    last width: stride 1), GELU, with a LayerNormalization at the end."""
    inp = keras.Input(shape=(image_size, image_size, channels), name="images")
    x = layers.Rescaling(2.0, offset=-1.0)(inp)
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, padding="same", activation="gelu")(x)
        stride = 1 if i == len(filters) - 1 else 2
        x = layers.Conv2D(f, 3, strides=stride, padding="same", activation="gelu")(x)
    x = layers.LayerNormalization(epsilon=1e-5)(x)
    return keras.Model(inp, x, name=name)


def _l2_normalize(x):
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), 1e-12))


@keras.saving.register_keras_serializable(package="gdl")
class CLIP(BookCompile, keras.Model):
    """A small CLIP: ``model([images, tokens])`` -> ``(image_embeddings, text_embeddings)``,
    both ``(B, embed_dim)`` with unit norm; ``fit(x=(images, tokens))`` trains on
    :func:`contrastive_loss`.

    Args:
        vocab_size, max_len: of the tokens (``max_len`` includes ``[START]``/``[END]``).
        image_size, channels, image_filters: of the image encoder.
        embed_dim: the shared space. ``text_width``, ``num_heads``, ``key_dim``,
            ``ff_dim``, ``text_blocks``: the text Transformer.
        temperature: initial temperature (CLIP: 0.07); ``max_logit_scale``: 100.
        tokenizer / vocabulary: a :class:`gdl.preprocessing.CaptionTokenizer` (saved with
            the model) so prompts can be given as text.
    """

    book_learning_rate = 1e-3  # gdl's: Adam at 1e-3 (Radford et al. 2021 used AdamW, cosine)

    def __init__(self, vocab_size: int = 64, max_len: int = 16, image_size: int = 16,
                 channels: int = 1, image_filters=(32, 64, 128), embed_dim: int = 64,
                 text_width: int = 64, num_heads: int = 2, key_dim: int = 32,
                 ff_dim: int = 128, text_blocks: int = 2, temperature: float = 0.07,
                 max_logit_scale: float = 100.0, tokenizer=None, vocabulary=None,
                 seed: int | None = None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.tokenizer = CaptionTokenizer.from_any(tokenizer, vocabulary)
        if self.tokenizer is not None and self.tokenizer.vocab_size > vocab_size:
            raise ValueError(f"the vocabulary has {self.tokenizer.vocab_size} words but "
                             f"vocab_size={vocab_size}")  # fmt: skip
        self.vocab_size, self.max_len = int(vocab_size), int(max_len)
        self.image_size, self.channels = int(image_size), int(channels)
        self.image_filters = tuple(int(f) for f in image_filters)
        self.embed_dim, self.text_width = int(embed_dim), int(text_width)
        self.num_heads, self.key_dim, self.ff_dim = int(num_heads), int(key_dim), int(ff_dim)
        self.text_blocks, self.temperature = int(text_blocks), float(temperature)
        self.max_logit_scale, self.seed = float(max_logit_scale), seed
        self.text_encoder = TextEncoder(self.vocab_size, self.max_len, self.text_width,
                                        self.num_heads, self.key_dim, self.ff_dim,
                                        self.text_blocks, seed=seed, name="text_encoder")  # fmt: skip
        self.image_features = image_feature_network(self.image_size, self.channels,
                                                    self.image_filters)  # fmt: skip
        self.pool = layers.GlobalAveragePooling2D(name="pool")
        self.image_projection = layers.Dense(self.embed_dim, use_bias=False,
                                             name="image_projection")  # fmt: skip
        self.text_projection = layers.Dense(self.embed_dim, use_bias=False,
                                            name="text_projection")  # fmt: skip
        self.logit_scale = self.add_weight(
            shape=(), name="logit_scale",
            initializer=keras.initializers.Constant(math.log(1.0 / self.temperature)),
        )  # fmt: skip
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="batch_accuracy")
        self.build(None)

    def build(self, input_shape=None):
        self.text_encoder.build((None, self.max_len))
        self.pool.build(self.image_features.output.shape)
        self.image_projection.build((None, self.image_filters[-1]))
        self.text_projection.build((None, self.text_width))
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    # -- forward ------------------------------------------------------------------------
    def embed_images(self, images, training=False):
        """``(B, embed_dim)`` unit vectors (tensors)."""
        feats = self.pool(self.image_features(images, training=training))
        return _l2_normalize(self.image_projection(feats))

    def embed_tokens(self, tokens, training=False):
        """``(B, embed_dim)`` unit vectors of token ids ``(B, max_len)`` (tensors)."""
        _, pooled, _ = self.text_encoder(tokens, training=training)
        return _l2_normalize(self.text_projection(pooled))

    def call(self, inputs, training=False):
        images, tokens = inputs
        return self.embed_images(images, training), self.embed_tokens(tokens, training)

    def scale(self):
        """``exp(s)``, the inverse temperature, clipped at ``max_logit_scale``."""
        return ops.minimum(ops.exp(self.logit_scale), self.max_logit_scale)

    def logits(self, image_embeddings, text_embeddings):
        return self.scale() * ops.matmul(image_embeddings, ops.transpose(text_embeddings))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        image_emb, text_emb = y_pred if y_pred is not None else self(x, training=training)
        logits = self.logits(image_emb, text_emb)
        loss = contrastive_loss(logits)
        hits = ops.equal(ops.argmax(logits, axis=1), ops.arange(ops.shape(logits)[0]))
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(ops.mean(ops.cast(hits, "float32")))
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return {m.name: m.result() for m in self.metrics}

    # -- text -----------------------------------------------------------------------------
    def tokenize(self, texts) -> np.ndarray:
        """Captions -> ``(B, max_len)`` token ids (needs the model's tokenizer)."""
        if self.tokenizer is None:
            raise ValueError("this CLIP has no tokenizer: pass token ids, or build it with "
                             "CLIP(tokenizer=CaptionTokenizer.from_texts(captions))")  # fmt: skip
        return self.tokenizer.tokenize_batch(texts, self.max_len)

    def _tokens(self, texts):
        if isinstance(texts, str) or (len(texts) and isinstance(texts[0], str)):
            return self.tokenize(texts)
        return np.asarray(texts, "int32")

    def encode_text(self, texts, batch_size: int = 256) -> np.ndarray:
        """Captions (or token ids) -> unit embeddings ``(N, embed_dim)`` (NumPy)."""
        tokens = self._tokens(texts)
        return np.concatenate([ops.convert_to_numpy(self.embed_tokens(tokens[i:i + batch_size]))
                               for i in range(0, len(tokens), batch_size)])  # fmt: skip

    def encode_images(self, images, batch_size: int = 256) -> np.ndarray:
        """Images -> unit embeddings ``(N, embed_dim)`` (NumPy)."""
        images = np.asarray(images, "float32")
        return np.concatenate([ops.convert_to_numpy(self.embed_images(images[i:i + batch_size]))
                               for i in range(0, len(images), batch_size)])  # fmt: skip

    def similarity(self, images, texts) -> np.ndarray:
        """Cosine similarities ``(len(images), len(texts))``."""
        return self.encode_images(images) @ self.encode_text(texts).T

    def classify(self, images, class_names, template: str = "a photo of the digit {}"):
        """Zero-shot classification: ``(predicted class indices (N,), probabilities (N, K))``
        from the similarity of each image to the prompts ``template.format(name)``."""
        prompts = [template.format(name) for name in class_names]
        logits = float(ops.convert_to_numpy(self.scale())) * self.similarity(images, prompts)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        return probs.argmax(axis=1), probs

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "max_len": self.max_len,
                "image_size": self.image_size, "channels": self.channels,
                "image_filters": list(self.image_filters), "embed_dim": self.embed_dim,
                "text_width": self.text_width, "num_heads": self.num_heads,
                "key_dim": self.key_dim, "ff_dim": self.ff_dim, "text_blocks": self.text_blocks,
                "temperature": self.temperature, "max_logit_scale": self.max_logit_scale,
                "seed": self.seed,
                "tokenizer": None if self.tokenizer is None
                else keras.saving.serialize_keras_object(self.tokenizer)}  # fmt: skip
