"""Mixture-density head and its negative log-likelihood, in ``keras.ops``.

Chapter 12 (World Models): the MDN-RNN models ``p(z_{t+1} | a_t, z_t, h_t)`` as, for
each of the ``output_dim`` latent dimensions independently, a mixture of
``num_mixtures`` univariate Gaussians (Ha & Schmidhuber 2018 use 5 per dimension).
The book describes this head in prose only (it has no code for chapter 12); the
original implementation used TensorFlow 1 and the ``logmix, mean, logstd`` split
reproduced here.

Where gdl differs: the log-likelihood is computed with ``logsumexp`` over
log-normalised mixture weights and the log standard deviations are clamped to
``[log_sigma_min, log_sigma_max]``, the usual cure for the NaNs and plateaus that
users hit with the original code (hardmaru/WorldModelsExperiments#6).
"""

from __future__ import annotations

import math

import keras
from keras import ops

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@keras.saving.register_keras_serializable(package="gdl")
class MDNHead(keras.layers.Layer):
    """Dense layer producing mixture parameters ``(logits, mu, log_sigma)``.

    Input ``(..., features)``; each output has shape ``(..., output_dim, num_mixtures)``.
    ``logits`` are unnormalised mixture log-weights, ``log_sigma`` is clamped.
    """

    def __init__(
        self,
        output_dim: int = 32,
        num_mixtures: int = 5,
        log_sigma_min: float = -7.0,
        log_sigma_max: float = 3.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if output_dim < 1 or num_mixtures < 1:
            raise ValueError(
                f"MDNHead needs output_dim >= 1 and num_mixtures >= 1, got {output_dim}, {num_mixtures}"
            )
        self.output_dim = int(output_dim)
        self.num_mixtures = int(num_mixtures)
        self.log_sigma_min = float(log_sigma_min)
        self.log_sigma_max = float(log_sigma_max)
        self.dense = keras.layers.Dense(3 * self.output_dim * self.num_mixtures, name="params")

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.built = True

    def call(self, inputs):
        raw = self.dense(inputs)
        shape = ops.shape(raw)[:-1]
        raw = ops.reshape(raw, (*shape, self.output_dim, 3 * self.num_mixtures))
        logits, mu, log_sigma = ops.split(raw, 3, axis=-1)
        log_sigma = ops.clip(log_sigma, self.log_sigma_min, self.log_sigma_max)
        return logits, mu, log_sigma

    def compute_output_shape(self, input_shape):
        shape = (*input_shape[:-1], self.output_dim, self.num_mixtures)
        return shape, shape, shape

    def get_config(self):
        return {
            **super().get_config(),
            "output_dim": self.output_dim,
            "num_mixtures": self.num_mixtures,
            "log_sigma_min": self.log_sigma_min,
            "log_sigma_max": self.log_sigma_max,
        }


def mdn_log_prob(y, logits, mu, log_sigma):
    """Log-density of ``y`` (shape ``(..., D)``) under the per-dimension mixtures
    (parameters ``(..., D, K)``); returns ``(..., D)``."""
    y = ops.expand_dims(ops.convert_to_tensor(y, dtype=mu.dtype), -1)
    log_weights = logits - ops.logsumexp(logits, axis=-1, keepdims=True)
    scaled = (y - mu) * ops.exp(-log_sigma)
    log_normal = -0.5 * ops.square(scaled) - log_sigma - LOG_SQRT_2PI
    return ops.logsumexp(log_weights + log_normal, axis=-1)


def mdn_nll(y, logits, mu, log_sigma, mask=None):
    """Mean negative log-likelihood per latent dimension (the World Models loss).

    ``mask`` (shape ``(...)`` without the last axis ``D``), when given, weights each
    position (e.g. 0 for padding after an episode's end).
    """
    nll = -ops.mean(mdn_log_prob(y, logits, mu, log_sigma), axis=-1)
    if mask is None:
        return ops.mean(nll)
    mask = ops.cast(mask, nll.dtype)
    return ops.sum(nll * mask) / ops.maximum(ops.sum(mask), 1.0)


def mdn_sample(logits, mu, log_sigma, temperature: float = 1.0, seed=None):
    """Draw one sample per dimension, ``(..., D)``, at ``temperature`` τ.

    As in Ha & Schmidhuber: the mixture logits are divided by τ and the standard
    deviations multiplied by ``sqrt(τ)``; τ → 0 gives the mean of the most likely
    component.
    """
    if temperature <= 0:
        index = ops.argmax(logits, axis=-1)
        return ops.take_along_axis(mu, ops.expand_dims(index, -1), axis=-1)[..., 0]
    k = ops.shape(logits)[-1]
    flat_logits = ops.reshape(logits / temperature, (-1, k))
    index = keras.random.categorical(flat_logits, 1, seed=seed)
    index = ops.reshape(index, ops.shape(logits)[:-1])
    index = ops.expand_dims(index, -1)
    chosen_mu = ops.take_along_axis(mu, index, axis=-1)[..., 0]
    chosen_ls = ops.take_along_axis(log_sigma, index, axis=-1)[..., 0]
    eps = keras.random.normal(ops.shape(chosen_mu), seed=seed, dtype=chosen_mu.dtype)
    return chosen_mu + ops.exp(chosen_ls) * math.sqrt(temperature) * eps
