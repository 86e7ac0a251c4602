"""Chapter 13: text-to-image diffusion with classifier-free guidance, and the DALL·E 2 decoder.

The book describes DALL·E 2, Imagen and Stable Diffusion in prose. Their common core is
gdl's chapter 8 model (:class:`gdl.models.diffusion.DiffusionModel`: U-Net, offset-cosine
schedule, EMA network, deterministic DDIM sampling, KID), **conditioned**:

* the U-Net cross-attends to the condition (:func:`gdl.layers.text_unet`);
* **classifier-free guidance** (Ho & Salimans 2022): in training the condition is
  replaced by a *null* condition with probability ``condition_drop`` (0.1), so one network
  learns both ``eps(x, c)`` and ``eps(x, ∅)``; at sampling the noise estimate is
  :func:`guided_noise` ``eps_u + w (eps_c - eps_u)``. ``w = 0`` is the unconditional
  model, ``w = 1`` the plain conditional one, ``w > 1`` trades diversity for fidelity.

:class:`TextToImageDiffusion` conditions on a caption: a
:class:`~gdl.layers.text_encoder.TextEncoder` inside the network, trained with it; the null
condition is the empty caption (``[START] [END]``). It runs in **pixel space** (16x16
digits are small enough; Stable Diffusion runs the same U-Net in the latent space of an
autoencoder to make large images affordable, Imagen in pixel space with upsamplers).

:class:`UnCLIPDecoder` is DALL·E 2's decoder: conditioned on a CLIP *image* embedding
(null: the zero vector), so :meth:`UnCLIPDecoder.variations` draws several images of one
embedding. The prior that maps a text embedding to an image embedding is
:class:`gdl.models.unclip.DiffusionPrior`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from gdl.layers.text_encoder import TextEncoder
from gdl.layers.text_unet import embedding_conditioned_unet, text_conditioned_unet
from gdl.models.diffusion import DiffusionModel
from gdl.preprocessing import CaptionTokenizer

__all__ = ["ConditionalDiffusion", "TextToImageDiffusion", "UnCLIPDecoder", "guided_noise"]


def guided_noise(eps_conditional, eps_unconditional, guidance):
    """Classifier-free guidance: ``eps_u + w (eps_c - eps_u)``."""
    return eps_unconditional + guidance * (eps_conditional - eps_unconditional)


class ConditionalDiffusion(DiffusionModel):
    """A :class:`DiffusionModel` whose network takes a third input, the condition ``c``
    ``(B, ...)``, with condition dropout in training and guidance at sampling.

    Subclasses implement :meth:`build_network` and :meth:`null_condition`.
    ``model([noisy, noise_rates, c])`` is the denoiser; ``model((images, c))`` the training
    task; ``fit(x=(images, c))``.
    """

    def __init__(self, condition_drop: float = 0.1, **kwargs):
        self.condition_drop = float(condition_drop)
        kwargs.setdefault("image_size", 16)
        kwargs.setdefault("channels", 1)
        kwargs.setdefault("widths", (32, 64, 96))
        kwargs.setdefault("block_depth", 1)
        kwargs.setdefault("ema", 0.99)
        super().__init__(**kwargs)

    def null_condition(self, batch):  # pragma: no cover - abstract
        raise NotImplementedError

    def _drop(self, condition):
        batch = ops.shape(condition)[0]
        drop = keras.random.uniform((batch, 1), seed=self.seed_generator) < self.condition_drop
        return ops.where(drop, ops.cast(self.null_condition(batch), condition.dtype), condition)

    def call(self, inputs, training=False):
        """``model([noisy, noise_rates, c])`` -> predicted noise (EMA network unless
        training); ``model((images, c))`` -> ``(noises, predicted_noises)`` of the training
        task, with ``c`` replaced by the null condition with probability
        ``condition_drop`` when training."""
        if len(inputs) == 3:
            noisy, noise_rates, condition = inputs
            net = self.network if training else self.ema_network
            return net([noisy, ops.square(noise_rates), condition], training=training)
        images, condition = inputs
        self._check(images)
        if training:
            condition = self._drop(condition)
        noises, noisy, noise_rates, _ = self.add_noise(images, training)
        net = self.network if training else self.ema_network
        pred = net([noisy, ops.square(noise_rates), condition], training=training)
        return noises, pred

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        noises, pred_noises = y_pred if y_pred is not None else self(x, training=training)
        loss = ops.mean(ops.abs(noises - pred_noises))
        self.noise_loss_tracker.update_state(loss)
        self._evaluating = False  # KID needs prompts: measured by the benchmarks instead
        return loss

    def denoise(self, noisy_images, noise_rates, signal_rates, training, *condition):
        """With ``condition = (c, guidance)``: the guided noise :func:`guided_noise` of the
        EMA network's conditional and unconditional estimates (one batched call)."""
        if training or not condition:
            return super().denoise(noisy_images, noise_rates, signal_rates, training)
        c, guidance = condition
        noisy_images, noise_rates, signal_rates = (
            ops.convert_to_tensor(t, "float32") for t in (noisy_images, noise_rates, signal_rates))
        batch = ops.shape(noisy_images)[0]
        both = [ops.concatenate([noisy_images, noisy_images], axis=0),
                ops.concatenate([noise_rates, noise_rates], axis=0) ** 2,
                ops.concatenate([c, ops.cast(self.null_condition(batch), c.dtype)], axis=0)]  # fmt: skip
        eps = self.ema_network(both, training=False)
        pred_noises = guided_noise(eps[:batch], eps[batch:], guidance)
        pred_images = (noisy_images - noise_rates * pred_noises) / signal_rates
        return pred_noises, pred_images

    def generate_from(self, condition, guidance: float = 3.0, diffusion_steps: int = 20,
                      seed=None, initial_noise=None, compiled: bool = True) -> np.ndarray:  # fmt: skip
        """One image per row of ``condition`` at guidance ``w`` (NumPy, [0, 1]); the same
        ``seed`` (0 included) gives the same images."""
        condition = ops.convert_to_tensor(condition)
        if initial_noise is None:
            seed = seed if seed is not None else self.seed_generator
            shape = (int(ops.shape(condition)[0]), *self.image_shape)
            initial_noise = keras.random.normal(shape, seed=seed)
        if diffusion_steps < 1:
            raise ValueError(f"diffusion_steps must be >= 1, got {diffusion_steps}")
        noise = ops.convert_to_tensor(initial_noise, dtype="float32")
        w = ops.convert_to_tensor(float(guidance), "float32")
        run = self.compiled_reverse_diffusion if compiled else self.reverse_diffusion
        return ops.convert_to_numpy(self.denormalize(run(noise, diffusion_steps, condition, w)))

    def get_config(self):
        return {**super().get_config(), "condition_drop": self.condition_drop}


@keras.saving.register_keras_serializable(package="gdl")
class TextToImageDiffusion(ConditionalDiffusion):
    """Text-to-image diffusion in pixel space with classifier-free guidance.

    ``TextToImageDiffusion(tokenizer=CaptionTokenizer.from_texts(captions))``; then
    ``adapt(images)``, ``compile(AdamW(1e-3, weight_decay=1e-4))``, ``fit(x=(images,
    model.tokenize(captions)), batch_size=64)`` and ``generate("a thick seven", num=8,
    guidance=3)``. Defaults: 16x16x1 images, U-Net widths 32/64/96 (cross-attention at 8x8
    and 4x4), block depth 1, text encoder of width 64 with 2 blocks, ``condition_drop``
    0.1, EMA 0.999, offset-cosine schedule (the chapter 8 settings).
    """

    def __init__(self, vocab_size: int = 64, max_len: int = 16, text_width: int = 64,
                 text_heads: int = 2, text_key_dim: int = 32, text_blocks: int = 2,
                 attention_heads: int = 2, attention_key_dim: int = 32, tokenizer=None,
                 vocabulary=None, **kwargs):  # fmt: skip
        self.tokenizer = CaptionTokenizer.from_any(tokenizer, vocabulary)
        self.vocab_size, self.max_len, self.text_width = int(vocab_size), int(max_len), int(text_width)
        self.text_heads, self.text_key_dim = int(text_heads), int(text_key_dim)
        self.text_blocks = int(text_blocks)
        self.attention_heads, self.attention_key_dim = int(attention_heads), int(attention_key_dim)
        null = np.zeros((self.max_len,), "int32")
        null[:2] = (CaptionTokenizer.start_id, CaptionTokenizer.end_id)
        self._null_tokens = null  # the empty caption: [START] [END]
        super().__init__(**kwargs)

    def build_network(self):
        text = TextEncoder(self.vocab_size, self.max_len, self.text_width, self.text_heads,
                           self.text_key_dim, 2 * self.text_width, self.text_blocks,
                           name="text_encoder")  # fmt: skip
        return text_conditioned_unet(self.image_size, self.channels, self.widths,
                                     self.block_depth, self.embedding_dims, text,
                                     self.attention_heads, self.attention_key_dim,
                                     name="network")  # fmt: skip

    def null_condition(self, batch):
        return ops.broadcast_to(ops.convert_to_tensor(self._null_tokens)[None],
                                (batch, self.max_len))  # fmt: skip

    def tokenize(self, texts) -> np.ndarray:
        """Captions -> ``(B, max_len)`` token ids."""
        if self.tokenizer is None:
            raise ValueError("this model has no tokenizer: pass token ids, or build it with "
                             "TextToImageDiffusion(tokenizer=CaptionTokenizer.from_texts(...))")  # fmt: skip
        return self.tokenizer.tokenize_batch(texts, self.max_len)

    def generate(self, prompts="", num: int = 1, guidance: float = 3.0,
                 diffusion_steps: int = 20, seed=None, initial_noise=None,
                 compiled: bool = True) -> np.ndarray:  # fmt: skip
        """Images ``(len(prompts) * num, H, W, C)`` in [0, 1]: ``num`` per prompt (a string,
        a list of strings, or token ids), guidance scale ``w = guidance``."""
        if isinstance(prompts, str) or (len(prompts) and isinstance(prompts[0], str)):
            tokens = self.tokenize(prompts)
        else:
            tokens = np.asarray(prompts, "int32").reshape(-1, self.max_len)
        tokens = np.repeat(tokens, int(num), axis=0)
        return self.generate_from(tokens, guidance, diffusion_steps, seed, initial_noise,
                                  compiled)  # fmt: skip

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "max_len": self.max_len,
                "text_width": self.text_width, "text_heads": self.text_heads,
                "text_key_dim": self.text_key_dim, "text_blocks": self.text_blocks,
                "attention_heads": self.attention_heads,
                "attention_key_dim": self.attention_key_dim,
                "tokenizer": None if self.tokenizer is None
                else keras.saving.serialize_keras_object(self.tokenizer)}  # fmt: skip


@keras.saving.register_keras_serializable(package="gdl")
class UnCLIPDecoder(ConditionalDiffusion):
    """DALL·E 2's decoder: images from a CLIP image embedding ``(B, embedding_dim)``.

    The embedding becomes ``condition_tokens`` context tokens for cross-attention and is
    added to the noise embedding (GLIDE-style; DALL·E 2 also conditions on the caption,
    which gdl leaves out: the embedding carries it). Null condition: the zero vector.
    ``fit(x=(images, clip.encode_images(images)))``.
    """

    def __init__(self, embedding_dim: int = 64, condition_tokens: int = 4,
                 attention_heads: int = 2, attention_key_dim: int = 32, **kwargs):  # fmt: skip
        self.embedding_dim, self.condition_tokens = int(embedding_dim), int(condition_tokens)
        self.attention_heads, self.attention_key_dim = int(attention_heads), int(attention_key_dim)
        super().__init__(**kwargs)

    def build_network(self):
        return embedding_conditioned_unet(self.image_size, self.channels, self.widths,
                                          self.block_depth, self.embedding_dims,
                                          self.embedding_dim, self.condition_tokens,
                                          self.attention_heads, self.attention_key_dim,
                                          name="network")  # fmt: skip

    def null_condition(self, batch):
        return ops.zeros((batch, self.embedding_dim))

    def generate(self, embeddings, guidance: float = 3.0, diffusion_steps: int = 20,
                 seed=None, initial_noise=None, compiled: bool = True) -> np.ndarray:  # fmt: skip
        """One image per embedding row."""
        emb = np.asarray(embeddings, "float32").reshape(-1, self.embedding_dim)
        return self.generate_from(emb, guidance, diffusion_steps, seed, initial_noise, compiled)

    def variations(self, embedding, num: int = 8, guidance: float = 3.0,
                   diffusion_steps: int = 20, seed=None) -> np.ndarray:  # fmt: skip
        """DALL·E 2's image variations: ``num`` images decoded from one embedding (e.g. a
        real image's ``clip.encode_images``) with different initial noise."""
        emb = np.asarray(embedding, "float32").reshape(1, self.embedding_dim)
        return self.generate(np.repeat(emb, int(num), axis=0), guidance, diffusion_steps, seed)

    def get_config(self):
        return {**super().get_config(), "embedding_dim": self.embedding_dim,
                "condition_tokens": self.condition_tokens,
                "attention_heads": self.attention_heads,
                "attention_key_dim": self.attention_key_dim}  # fmt: skip
