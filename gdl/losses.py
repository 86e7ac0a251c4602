"""Losses shared by several model families.

:func:`gradient_penalty` is WGAN-GP's penalty (Gulrajani et al. 2017), used by
WGAN-GP and the conditional GAN (chapter 4) and MuseGAN (chapter 11). It fixes two
bugs of the book's code: the interpolation weight is drawn from U(0, 1) (the book,
following an old keras.io example, draws it from N(0, 1)), and the gradient norm is
taken over *every* non-batch axis (the book's MuseGAN leaves out the track axis).
A small epsilon inside the square root keeps its gradient finite at zero.
"""

from __future__ import annotations

import keras
from keras import ops

from gdl.backend import input_gradient


def binary_crossentropy(y_true, y_pred, eps: float = 1e-7):
    """Mean binary cross-entropy of probabilities ``y_pred``, as Keras computes it
    (predictions clipped to ``[eps, 1 - eps]``), for targets that may leave [0, 1]: the
    book's DCGAN trains on noisy labels ``1 + 0.1 U`` and ``-0.1 U``, which Keras' loss
    accepts on TensorFlow and JAX but PyTorch's ``binary_cross_entropy`` rejects."""
    y_pred = ops.clip(y_pred, eps, 1.0 - eps)
    y_true = ops.cast(y_true, y_pred.dtype)
    return -ops.mean(y_true * ops.log(y_pred) + (1.0 - y_true) * ops.log(1.0 - y_pred))


def interpolate(real, fake, alpha):
    """``real + alpha * (fake - real)`` with ``alpha`` of shape (B, 1, ..., 1)."""
    return real + alpha * (fake - real)


def random_alpha(batch_size: int, ndim: int, seed=None):
    """Per-sample interpolation weights ~ U(0, 1), shaped (B, 1, ..., 1) for rank ``ndim``."""
    return keras.random.uniform((batch_size,) + (1,) * (ndim - 1), 0.0, 1.0, seed=seed)


def gradient_penalty(
    critic, real, fake, alpha=None, seed=None, critic_kwargs=None, extra_inputs=None, eps=1e-12
):
    """Mean over the batch of ``(||d critic(x_hat) / d x_hat||_2 - 1)^2``, on every backend.

    ``x_hat`` interpolates ``real`` and ``fake`` with per-sample ``alpha`` (drawn from
    U(0, 1) with ``seed`` when not given). ``extra_inputs`` (e.g. a CGAN's label maps)
    are passed to the critic as ``critic([x_hat, *extra_inputs])`` and are not
    differentiated. The input gradient comes from :func:`gdl.backend.input_gradient`;
    called inside the critic step's :func:`gdl.backend.value_and_grad`, the penalty
    itself is differentiated w.r.t. the critic's weights (a second-order gradient).
    """
    real = ops.convert_to_tensor(real)
    fake = ops.cast(fake, real.dtype)
    if alpha is None:
        alpha = random_alpha(ops.shape(real)[0], len(real.shape), seed=seed)
    x_hat = interpolate(real, fake, alpha)

    def score(x):
        inputs = x if extra_inputs is None else [x, *extra_inputs]
        return critic(inputs, **(critic_kwargs or {"training": True}))

    _, grads = input_gradient(score, x_hat)
    axes = list(range(1, len(grads.shape)))
    norm = ops.sqrt(ops.sum(ops.square(grads), axis=axes) + eps)
    return ops.mean(ops.square(norm - 1.0))
