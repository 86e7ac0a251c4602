"""The discretized logistic mixture of PixelCNN++ (Salimans et al., 2017), in ``keras.ops``.

Book: ``05_autoregressive/03_pixelcnn_md`` uses ``tfp.distributions.PixelCNN``, whose
per-pixel distribution is a mixture of logistics shifted by -0.5 and quantized to the
integers ``low..high`` (``QuantizedDistribution(TransformedDistribution(Logistic(loc,
scale), Shift(-0.5)), low, high)``). For an integer ``x``::

    P(x) = sum_k pi_k [F_k(x + 1/2) - F_k(x - 1/2)]     low < x < high
    P(low)  = sum_k pi_k F_k(low + 1/2),   P(high) = sum_k pi_k [1 - F_k(high - 1/2)]

with ``F_k`` the logistic CDF ``sigmoid((x - loc_k) / scale_k)``, so the probabilities of
``low..high`` sum to exactly 1. TFP does not run with Keras 3 layers (it needs tf_keras),
so gdl computes this likelihood itself; the tests check it against TFP to 1e-4.

The centre-bin log-probability is computed without cancellation:
``sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - exp(b - a))``.
"""

from __future__ import annotations

import math

from keras import ops


def _log1mexp_neg(d):
    """``log(1 - exp(-d))`` for ``d > 0``, accurate for small and large ``d``."""
    return ops.where(
        d < math.log(2.0),
        ops.log(-ops.expm1(-d)),
        ops.log1p(-ops.exp(-d)),
    )


def logistic_component_log_prob(x, loc, log_scale, low: float = 0.0, high: float = 255.0):
    """Log-probability of the integer ``x`` under each quantized logistic component.

    ``x`` broadcasts against ``loc``/``log_scale`` (add a trailing axis for the
    components). Returns the elementwise log-probability.
    """
    inv_s = ops.exp(-log_scale)
    a = (x + 0.5 - loc) * inv_s  # upper edge
    b = (x - 0.5 - loc) * inv_s  # lower edge
    centre = ops.log_sigmoid(a) + ops.log_sigmoid(-b) + _log1mexp_neg(inv_s)
    lowest = ops.log_sigmoid(a)
    highest = ops.log_sigmoid(-b)
    return ops.where(x <= low, lowest, ops.where(x >= high, highest, centre))


def discretized_logistic_mixture_log_prob(
    x, logits, loc, log_scale, low: float = 0.0, high: float = 255.0
):
    """``log P(x)`` of a mixture of quantized logistics.

    ``x``: integer-valued floats of shape ``S`` (e.g. ``(batch, H, W, C)``);
    ``logits``, ``loc``, ``log_scale``: shape ``S + (K,)`` (mixture weights logits,
    component locations and log-scales in the units of ``x``). Returns shape ``S``.
    """
    x = ops.convert_to_tensor(x, dtype=loc.dtype)
    comp = logistic_component_log_prob(x[..., None], loc, log_scale, low, high)
    return ops.logsumexp(ops.log_softmax(logits, axis=-1) + comp, axis=-1)


def sample_discretized_logistic_mixture(
    logits, loc, log_scale, u_component, u_logistic, low: float = 0.0, high: float = 255.0,
    temperature: float = 1.0,
):  # fmt: skip
    """Draw integers from the mixture with given uniforms (so samplers can share noise).

    ``u_component`` and ``u_logistic`` are uniforms in (0, 1) of the sample's shape.
    The component is picked by inverse CDF on ``softmax(logits / temperature)``; the
    logistic sample ``loc + s (log u - log(1-u))`` is rounded as TFP's quantization does
    (``ceil(y - 1/2)``) and clipped to ``[low, high]``. Returns floats holding integers.
    """
    probs = ops.softmax(ops.cast(logits, "float32") / temperature, axis=-1)
    cdf = ops.cumsum(probs, axis=-1)
    k = ops.sum(ops.cast(cdf < u_component[..., None], "int32"), axis=-1)
    k = ops.minimum(k, ops.shape(logits)[-1] - 1)
    onehot = ops.one_hot(k, ops.shape(logits)[-1], dtype=loc.dtype)
    m = ops.sum(loc * onehot, axis=-1)
    s = ops.exp(ops.sum(log_scale * onehot, axis=-1))
    u = ops.clip(u_logistic, 1e-5, 1.0 - 1e-5)
    y = m + s * (ops.log(u) - ops.log1p(-u))
    return ops.clip(ops.ceil(y - 0.5), low, high)


def discretized_logistic_mixture_probs(logits, loc, log_scale, low: int = 0, high: int = 255):
    """Probabilities of every value ``low..high``: shape ``S + (high - low + 1,)``."""
    values = ops.arange(low, high + 1, dtype=loc.dtype)
    shape = (1,) * len(ops.shape(loc)[:-1])
    x = ops.reshape(values, (-1,) + shape)  # (V, 1, ..., 1)
    lp = discretized_logistic_mixture_log_prob(
        x, logits[None], loc[None], log_scale[None], low, high
    )
    return ops.moveaxis(ops.exp(lp), 0, -1)
