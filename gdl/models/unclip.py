"""Chapter 13: DALL·E 2's diffusion prior (text embedding -> image embedding).

DALL·E 2 (Ramesh et al. 2022) generates in two stages: a **prior** turns the CLIP text
embedding of the prompt into a CLIP *image* embedding, and a **decoder** turns that image
embedding into pixels (:class:`gdl.models.text2image.UnCLIPDecoder`). The book notes that
the diffusion prior, a decoder-only Transformer denoising image embeddings conditioned on
the text, beats an autoregressive one. gdl's :class:`DiffusionPrior` is that at small
scale:

* the sequence ``[text embedding, noise-level embedding, noisy image embedding, query]``
  (each projected to ``width``, plus learned positions) goes through ``num_blocks`` causal
  :class:`~gdl.layers.transformer.TransformerBlock`; the query's output predicts the
  **clean** image embedding (DALL·E 2 predicts ``x0``, not the noise), mean squared error;
* embeddings are unit vectors; the prior works on them times ``sqrt(embedding_dim)`` (unit
  variance per coordinate) and normalises its samples back to unit length;
* the offset-cosine schedule and DDIM sampling of chapter 8, classifier-free guidance on
  the text (dropped to the zero vector with probability ``condition_drop``).

``fit(x=(text_embeddings, image_embeddings))``; ``generate(text_embeddings, guidance=1)``.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from gdl.backend import compile_loop
from gdl.layers.noise_embedding import SinusoidalEmbedding
from gdl.layers.transformer import transformer_blocks
from gdl.models.diffusion import offset_cosine_diffusion_schedule
from gdl.models.optimizers import BookCompile
from gdl.models.text2image import guided_noise

__all__ = ["DiffusionPrior"]


@keras.saving.register_keras_serializable(package="gdl")
class DiffusionPrior(BookCompile, keras.Model):
    """CLIP text embedding ``(B, E)`` -> CLIP image embedding ``(B, E)`` by diffusion.

    ``model([noisy, noise_rates (B, 1), text])`` predicts the clean (scaled) embedding;
    ``model((text, image))`` is the training task ``(target, prediction)``.
    """

    book_optimizer_class = "AdamW"  # as gdl's DDIM (the book has no code for chapter 13)
    book_learning_rate = 1e-3
    book_optimizer_kwargs = {"weight_decay": 1e-4}

    def __init__(self, embedding_dim: int = 64, width: int = 128, num_blocks: int = 2,
                 num_heads: int = 2, key_dim: int = 32, ff_dim: int = 256,
                 noise_embedding_dims: int = 32, condition_drop: float = 0.1,
                 min_signal_rate: float = 0.02, max_signal_rate: float = 0.95,
                 seed: int | None = None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.embedding_dim, self.width, self.num_blocks = int(embedding_dim), int(width), int(num_blocks)
        self.num_heads, self.key_dim, self.ff_dim = int(num_heads), int(key_dim), int(ff_dim)
        self.noise_embedding_dims, self.condition_drop = int(noise_embedding_dims), float(condition_drop)
        self.min_signal_rate, self.max_signal_rate = float(min_signal_rate), float(max_signal_rate)
        self.seed = seed
        self.scale = math.sqrt(self.embedding_dim)
        self.text_projection = layers.Dense(self.width, name="text_projection")
        self.noise_embedding = SinusoidalEmbedding(self.noise_embedding_dims, name="noise_embedding")
        self.noise_projection = layers.Dense(self.width, name="noise_projection")
        self.image_projection = layers.Dense(self.width, name="image_projection")
        self.blocks = transformer_blocks(self.num_blocks, self.num_heads, self.key_dim,
                                         self.width, self.ff_dim, 0.0, seed, name="prior_block")  # fmt: skip
        self.head = layers.Dense(self.embedding_dim, name="head")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self._compiled = None
        self.build(None)

    def build(self, input_shape=None):
        e, w = self.embedding_dim, self.width
        self.text_projection.build((None, e))
        self.noise_projection.build((None, self.noise_embedding_dims))
        self.image_projection.build((None, e))
        self.query = self.add_weight(shape=(w,), name="query",
                                     initializer=keras.initializers.RandomNormal(stddev=0.02))  # fmt: skip
        self.positions = self.add_weight(shape=(4, w), name="positions",
                                         initializer=keras.initializers.RandomNormal(stddev=0.02))  # fmt: skip
        for block in self.blocks:
            block.build((None, None, w))
        self.head.build((None, w))
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker]

    def diffusion_schedule(self, times):
        return offset_cosine_diffusion_schedule(times, self.min_signal_rate, self.max_signal_rate)

    def predict_clean(self, noisy, noise_rates, text, training=False):
        """The clean scaled image embedding ``(B, E)`` from ``noisy`` ``(B, E)``."""
        batch = ops.shape(noisy)[0]
        noise = self.noise_projection(self.noise_embedding(ops.square(noise_rates)))
        query = ops.broadcast_to(self.query[None], (batch, self.width))
        seq = ops.stack([self.text_projection(text), noise, self.image_projection(noisy), query],
                        axis=1) + self.positions[None]  # fmt: skip
        for block in self.blocks:
            seq = block(seq, training=training)
        return self.head(seq[:, -1])

    def call(self, inputs, training=False):
        if len(inputs) == 3:
            noisy, noise_rates, text = inputs
            return self.predict_clean(noisy, noise_rates, text, training)
        text, image = inputs
        batch = ops.shape(image)[0]
        if training:
            drop = keras.random.uniform((batch, 1), seed=self.seed_generator) < self.condition_drop
            text = ops.where(drop, ops.zeros_like(text), text)
        target = image * self.scale
        noises = keras.random.normal(ops.shape(target), seed=self.seed_generator)
        times = keras.random.uniform((batch, 1), seed=self.seed_generator)
        noise_rates, signal_rates = self.diffusion_schedule(times)
        noisy = signal_rates * target + noise_rates * noises
        return target, self.predict_clean(noisy, noise_rates, text, training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        target, pred = y_pred if y_pred is not None else self(x, training=training)
        loss = ops.mean(ops.square(target - pred))
        self.loss_tracker.update_state(loss)
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return {"loss": self.loss_tracker.result()}

    # -- sampling -----------------------------------------------------------------------
    def _step(self, step, steps, current, clean, text, guidance):
        size = 1.0 / ops.cast(steps, "float32")
        t = ops.ones((ops.shape(current)[0], 1)) - ops.cast(step, "float32") * size
        noise_rates, signal_rates = self.diffusion_schedule(t)
        both = self.predict_clean(ops.concatenate([current, current]),
                                  ops.concatenate([noise_rates, noise_rates]),
                                  ops.concatenate([text, ops.zeros_like(text)]))  # fmt: skip
        batch = ops.shape(current)[0]
        clean = guided_noise(both[:batch], both[batch:], guidance)
        noise = (current - signal_rates * clean) / noise_rates
        next_noise, next_signal = self.diffusion_schedule(t - size)
        return next_signal * clean + next_noise * noise, clean

    def _loop(self, initial, steps, text, guidance):
        _, clean = ops.fori_loop(0, steps,
                                 lambda i, c: self._step(i, steps, *c, text, guidance),
                                 (initial, initial))  # fmt: skip
        return clean

    def generate(self, text_embeddings, guidance: float = 1.0, diffusion_steps: int = 20,
                 seed=None) -> np.ndarray:  # fmt: skip
        """Unit image embeddings ``(B, E)`` (NumPy) for text embeddings ``(B, E)``:
        DDIM from ``N(0, I)`` (seeded by ``seed``, 0 included), guidance ``w``."""
        text = ops.convert_to_tensor(np.asarray(text_embeddings, "float32"))
        shape = (int(ops.shape(text)[0]), self.embedding_dim)
        noise = keras.random.normal(shape, seed=seed if seed is not None else self.seed_generator)
        if self._compiled is None:
            self._compiled = compile_loop(self, self._loop)
        out = self._compiled(noise, ops.convert_to_tensor(int(diffusion_steps), "int32"), text,
                             ops.convert_to_tensor(float(guidance), "float32"))  # fmt: skip
        out = np.asarray(ops.convert_to_numpy(out))
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def get_config(self):
        return {**super().get_config(), "embedding_dim": self.embedding_dim,
                "width": self.width, "num_blocks": self.num_blocks,
                "num_heads": self.num_heads, "key_dim": self.key_dim, "ff_dim": self.ff_dim,
                "noise_embedding_dims": self.noise_embedding_dims,
                "condition_drop": self.condition_drop,
                "min_signal_rate": self.min_signal_rate,
                "max_signal_rate": self.max_signal_rate, "seed": self.seed}  # fmt: skip
