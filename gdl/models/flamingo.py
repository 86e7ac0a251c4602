"""Chapter 13: a Flamingo-style captioner (Alayrac et al. 2022) at small scale.

Flamingo joins a frozen vision encoder to a frozen language model with two trained
pieces: a **Perceiver resampler** that turns the vision features into a fixed number of
visual tokens, and **gated cross-attention** layers inserted before the language model's
blocks, whose ``tanh`` gates start at 0 so training begins from the unchanged language
model. gdl's :class:`FlamingoCaptioner`:

* ``image_encoder``: a Keras model images -> feature map ``(B, h, w, C)`` (or tokens
  ``(B, N, C)``), **frozen** (e.g. the image tower of a trained :class:`gdl.models.CLIP`,
  ``clip.image_features``; the captioner keeps its own copy);
* :class:`~gdl.layers.cross_attention.PerceiverResampler` (``num_latents`` visual tokens);
* a GPT-like decoder (chapter 9's :class:`~gdl.layers.embeddings.TokenAndPositionEmbedding`
  and causal :class:`~gdl.layers.transformer.TransformerBlock`), each block preceded by a
  :class:`~gdl.layers.cross_attention.GatedCrossAttentionBlock`. Unlike Flamingo, the
  language model is trained here together with the new layers (there is no pretrained
  language model of captions to freeze); :meth:`freeze_language_model` freezes it for a
  reader who pretrains one.

``fit(x=(images, tokens[:, :-1]), y=tokens[:, 1:])`` with ``tokens`` from
:meth:`tokenize`; :meth:`caption` writes captions through :func:`gdl.generation.decode`
(the shared sampler, key/value cache, compiled loop), the visual tokens passed as the
loop's context.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from gdl.generation import Generation, Sampler, decode, prompt_buffer, top_candidates
from gdl.layers.cross_attention import GatedCrossAttentionBlock, PerceiverResampler
from gdl.layers.embeddings import TokenAndPositionEmbedding
from gdl.layers.transformer import transformer_blocks
from gdl.models.clip import image_feature_network
from gdl.models.optimizers import BookCompile
from gdl.preprocessing import CaptionTokenizer

__all__ = ["FlamingoCaptioner"]


@keras.saving.register_keras_serializable(package="gdl")
class FlamingoCaptioner(BookCompile, keras.Model):
    """Images + caption tokens -> next-token logits ``(B, T, vocab_size)``.

    Args:
        image_encoder: a Keras model (or its serialized config); ``None`` builds gdl's
            CLIP image CNN (``image_size``, ``channels``, ``image_filters``), untrained.
            It is copied and frozen.
        vocab_size, max_len, embed_dim, num_heads, key_dim, ff_dim, num_blocks: the decoder.
        num_latents, resampler_depth: the Perceiver resampler.
        tokenizer / vocabulary: a :class:`gdl.preprocessing.CaptionTokenizer`.
    """

    book_learning_rate = 1e-3  # gdl's (the book has no code for chapter 13)

    def __init__(self, image_encoder=None, vocab_size: int = 64, max_len: int = 16,
                 embed_dim: int = 64, num_heads: int = 2, key_dim: int = 32, ff_dim: int = 128,
                 num_blocks: int = 2, num_latents: int = 8, resampler_depth: int = 1,
                 image_size: int = 16, channels: int = 1, image_filters=(32, 64, 128),
                 tokenizer=None, vocabulary=None, seed: int | None = None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.tokenizer = CaptionTokenizer.from_any(tokenizer, vocabulary)
        self.vocab_size, self.max_len, self.embed_dim = int(vocab_size), int(max_len), int(embed_dim)
        self.num_heads, self.key_dim, self.ff_dim = int(num_heads), int(key_dim), int(ff_dim)
        self.num_blocks, self.num_latents = int(num_blocks), int(num_latents)
        self.resampler_depth, self.seed = int(resampler_depth), seed
        self.image_size, self.channels = int(image_size), int(channels)
        self.image_filters = tuple(int(f) for f in image_filters)
        if isinstance(image_encoder, dict):
            image_encoder = keras.saving.deserialize_keras_object(image_encoder)
        elif image_encoder is None:
            image_encoder = image_feature_network(self.image_size, self.channels,
                                                  self.image_filters)  # fmt: skip
        else:
            weights = image_encoder.get_weights()
            image_encoder = keras.models.clone_model(image_encoder)
            image_encoder.set_weights(weights)
        self.image_encoder = image_encoder
        self.image_encoder.trainable = False
        self.resampler = PerceiverResampler(self.num_latents, self.embed_dim, self.num_heads,
                                            self.key_dim, self.ff_dim, self.resampler_depth,
                                            name="resampler")  # fmt: skip
        self.embedding = TokenAndPositionEmbedding(self.vocab_size, self.embed_dim, self.max_len,
                                                   name="token_and_position")  # fmt: skip
        self.gated = [GatedCrossAttentionBlock(self.num_heads, self.key_dim, self.ff_dim,
                                               name=f"gated_cross_attention_{i}")
                      for i in range(self.num_blocks)]  # fmt: skip
        self.blocks = transformer_blocks(self.num_blocks, self.num_heads, self.key_dim,
                                         self.embed_dim, self.ff_dim, 0.1, seed,
                                         name="decoder_block")  # fmt: skip
        self.head = layers.Dense(self.vocab_size, name="head")
        self.jit_generate = False
        self.build(None)

    def build(self, input_shape=None):
        feat = self.image_encoder.output.shape
        self.resampler.build((None, None, feat[-1]))
        self.embedding.build()
        d = self.embed_dim
        for gated, block in zip(self.gated, self.blocks):
            gated.build((None, None, d), (None, self.num_latents, d))
            block.build((None, None, d))
        self.head.build((None, None, d))
        self.built = True

    def freeze_language_model(self, frozen: bool = True):
        """Freeze (or unfreeze) the token embedding, the Transformer blocks and the head:
        Flamingo's setting, where only the resampler and the gated layers train."""
        for layer in (self.embedding, *self.blocks, self.head):
            layer.trainable = not frozen

    # -- forward ------------------------------------------------------------------------
    def visual_tokens(self, images):
        """``(B, num_latents, embed_dim)``: the frozen encoder's features, resampled."""
        feats = self.image_encoder(images, training=False)
        if len(feats.shape) == 4:
            s = ops.shape(feats)
            feats = ops.reshape(feats, (s[0], s[1] * s[2], s[3]))
        return self.resampler(feats)

    def _decoder(self, x, media, training=False):
        for gated, block in zip(self.gated, self.blocks):
            x = block(gated(x, media, training=training), training=training)
        return self.head(x)

    def call(self, inputs, training=False):
        """``model((images, tokens))`` -> logits ``(B, T, vocab_size)``."""
        images, tokens = inputs
        return self._decoder(self.embedding(tokens), self.visual_tokens(images), training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Cross-entropy of the next tokens, padding (0) left out."""
        y = ops.cast(y, "int32")
        per_token = keras.losses.sparse_categorical_crossentropy(y, y_pred, from_logits=True)
        mask = ops.cast(ops.not_equal(y, 0), y_pred.dtype)
        return ops.sum(per_token * mask) / ops.maximum(ops.sum(mask), 1.0)

    # -- text -----------------------------------------------------------------------------
    def tokenize(self, texts) -> np.ndarray:
        """Captions -> ``(B, max_len + 1)`` ids ``[START] ... [END]``: inputs are
        ``[:, :-1]``, targets ``[:, 1:]``."""
        if self.tokenizer is None:
            raise ValueError("this captioner has no tokenizer: build it with "
                             "FlamingoCaptioner(tokenizer=CaptionTokenizer.from_texts(...))")  # fmt: skip
        return self.tokenizer.tokenize_batch(texts, self.max_len + 1)

    def evaluate_captions(self, images, tokens, batch_size: int = 128) -> tuple[float, float]:
        """Teacher-forced ``(token accuracy, perplexity)`` over the real next tokens of
        ``tokens`` (from :meth:`tokenize`)."""
        nll, hits, total = 0.0, 0, 0
        for i in range(0, len(tokens), batch_size):
            x, y = tokens[i:i + batch_size, :-1], tokens[i:i + batch_size, 1:]
            logits = np.asarray(ops.convert_to_numpy(self((images[i:i + batch_size], x))),
                                "float64")  # fmt: skip
            logp = logits - logits.max(-1, keepdims=True)
            logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
            mask = y != 0
            nll -= np.take_along_axis(logp, y[..., None], -1)[..., 0][mask].sum()
            hits += int((logits.argmax(-1) == y)[mask].sum())
            total += int(mask.sum())
        return hits / total, math.exp(nll / total)

    # -- the steps of gdl.generation.decode (context: the visual tokens) ------------------
    def _emit(self, logits, u, sampler, cfg):
        token, probs = sampler.choose(logits, u[:, 0])
        return (token,), top_candidates(probs, cfg[0])

    def _decode_full(self, bufs, row, u, sampler, cfg, media):
        logits = self._decoder(self.embedding(bufs[0]), media)
        return self._emit(ops.take(logits, row, axis=1), u, sampler, cfg)

    def _run_cached(self, x, media, caches, index):
        new = []
        for gated, block, cache in zip(self.gated, self.blocks, caches):
            x, _, cache = block.call_with_cache(gated(x, media), cache, index)
            new.append(cache)
        return self.head(x), tuple(new)

    def _decode_prefill(self, bufs, row, u, sampler, cfg, media):
        batch = ops.shape(bufs[0])[0]
        caches = [block.init_cache(batch, self.max_len) for block in self.blocks]
        logits, caches = self._run_cached(self.embedding(bufs[0]), media, caches, 0)
        return (*self._emit(ops.take(logits, row, axis=1), u, sampler, cfg), (media, caches))

    def _decode_step(self, bufs, pos, cache, u, sampler, cfg):
        media, caches = cache
        x = self.embedding(ops.expand_dims(ops.take(bufs[0], pos, axis=1), 1), start_index=pos)
        logits, caches = self._run_cached(x, media, caches, pos)
        return (*self._emit(logits[:, 0], u, sampler, cfg), (media, caches))

    def generate(self, images, max_tokens: int | None = None, temperature: float = 0.0,
                 top_k: int | None = None, top_p: float | None = None, seed=None,
                 use_cache: bool = True, num_top: int = 5) -> Generation:  # fmt: skip
        """Caption ``images`` from ``[START]`` until ``[END]`` or ``max_tokens`` tokens
        (default ``max_len``); ``temperature=0`` is greedy. Returns a
        :class:`gdl.generation.Generation` (``texts``, ``tokens``, top candidates)."""
        images = np.asarray(images, "float32")
        max_tokens = int(max_tokens or self.max_len)
        if max_tokens > self.max_len:
            raise ValueError(f"max_tokens={max_tokens} exceeds max_len={self.max_len}")
        sampler = Sampler(temperature, top_k, top_p, seed)
        rows = [[CaptionTokenizer.start_id]] * len(images)
        buf, lengths, start = prompt_buffer(rows, self.max_len, max_tokens)
        media = self.visual_tokens(images)
        (tokens,), records = decode(
            self, (buf,), lengths, start, max_tokens, sampler, (min(num_top, self.vocab_size),),
            use_cache=use_cache, stop_token=CaptionTokenizer.end_id,
            jit_compile=self.jit_generate, context=(media,),
        )  # fmt: skip
        return Generation.of_text(tokens, lengths, start, self.tokenizer, top_tokens=records[0],
                                  top_probs=records[1])  # fmt: skip

    def caption(self, images, batch_size: int = 128, **kwargs) -> list[str]:
        """One caption per image (greedy by default; ``kwargs`` as :meth:`generate`)."""
        images = np.asarray(images, "float32")
        out = []
        for i in range(0, len(images), batch_size):
            out += self.generate(images[i:i + batch_size], **kwargs).texts
        return out

    def get_config(self):
        return {**super().get_config(),
                "image_encoder": keras.saving.serialize_keras_object(self.image_encoder),
                "vocab_size": self.vocab_size, "max_len": self.max_len,
                "embed_dim": self.embed_dim, "num_heads": self.num_heads,
                "key_dim": self.key_dim, "ff_dim": self.ff_dim, "num_blocks": self.num_blocks,
                "num_latents": self.num_latents, "resampler_depth": self.resampler_depth,
                "image_size": self.image_size, "channels": self.channels,
                "image_filters": list(self.image_filters), "seed": self.seed,
                "tokenizer": None if self.tokenizer is None
                else keras.saving.serialize_keras_object(self.tokenizer)}  # fmt: skip
