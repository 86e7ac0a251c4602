"""Chapter 10 layers against hand computations: equalised LR, pixel norm, minibatch std,
AdaIN, modulation/demodulation, noise injection, spectral norm, SAGAN attention."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from gdl.layers.self_attention import SelfAttention2D
from gdl.layers.spectral import SpectralConv2D, SpectralDense
from gdl.layers.style import (
    AdaIN,
    EqualizedConv2D,
    EqualizedDense,
    MinibatchStdDev,
    ModulatedConv2D,
    NoiseInjection,
    PixelNormalization,
)

RNG = np.random.default_rng(0)


def np_(t):
    return np.asarray(ops.convert_to_numpy(t))


def randn(*shape):
    return RNG.standard_normal(shape).astype("float32")


def test_equalized_dense_scale_and_lr_multiplier():
    layer = EqualizedDense(3, lr_multiplier=0.01, bias_init=1.0, seed=0)
    x = randn(4, 5)
    y = np_(layer(x))
    assert layer.runtime_scale == pytest.approx(math.sqrt(2 / 5) * 0.01)
    w, b = np_(layer.kernel), np_(layer.bias)
    # stored weights ~ N(0, 1/lr_mul): the effective weights are ~ N(0, 2 / fan_in)
    np.testing.assert_allclose(y, x @ (w * math.sqrt(2 / 5) * 0.01) + b * 0.01, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(b * 0.01, 1.0, rtol=1e-6)  # bias_init is the scaled value


def test_equalized_conv_scale_is_he_constant():
    layer = EqualizedConv2D(4, 3, seed=0)
    x = randn(2, 5, 5, 6)
    y = np_(layer(x))
    assert layer.runtime_scale == pytest.approx(math.sqrt(2 / (3 * 3 * 6)))
    ref = keras.layers.Conv2D(4, 3, padding="same")
    ref.build(x.shape)
    ref.set_weights([np_(layer.kernel) * layer.runtime_scale, np_(layer.bias)])
    np.testing.assert_allclose(y, np_(ref(x)), rtol=1e-5, atol=1e-5)


def test_pixel_norm_gives_unit_rms_per_pixel():
    x = randn(2, 3, 3, 8) * 5
    y = np_(PixelNormalization()(x))
    np.testing.assert_allclose(np.sqrt((y**2).mean(-1)), 1.0, rtol=1e-5)
    np.testing.assert_allclose(y, x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-8), rtol=1e-5)


@pytest.mark.parametrize("batch,group", [(8, 4), (6, 4), (3, 8)])
def test_minibatch_std_matches_numpy(batch, group):
    x = randn(batch, 4, 4, 3)
    y = np_(MinibatchStdDev(group_size=group)(x))
    assert y.shape == (batch, 4, 4, 4)
    np.testing.assert_array_equal(y[..., :3], x)
    for start in range(0, batch, group):
        g = x[start : start + group]
        want = np.sqrt(g.var(axis=0) + 1e-8).mean()
        np.testing.assert_allclose(y[start : start + group, ..., 3], want, rtol=1e-5)


def test_adain_normalises_then_applies_the_style():
    x, w = randn(2, 4, 4, 3) * 3 + 1, randn(2, 5)
    layer = AdaIN()
    y = np_(layer([x, w]))
    y_s, y_b = (np_(t) for t in layer.styles(w))
    mu, var = x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True)
    want = y_s[:, None, None] * (x - mu) / np.sqrt(var + 1e-8) + y_b[:, None, None]
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
    # at initialisation the scale is A(w) = 1 + small, the shift small: styles start neutral
    assert layer.scale.bias_init == 1.0


def test_demodulated_kernels_have_unit_norm_and_match_per_image_convolution():
    x, w = randn(3, 6, 6, 4), randn(3, 5)
    layer = ModulatedConv2D(2, 3, seed=0)
    y = np_(layer([x, w]))
    kernels = np_(layer.modulated_kernel(w))  # (B, 3, 3, 4, 2)
    norms = np.sqrt((kernels**2).sum(axis=(1, 2, 3)))
    np.testing.assert_allclose(norms, 1.0, rtol=1e-4)
    for i in range(3):
        ref = np_(ops.conv(x[i : i + 1], kernels[i], 1, "same"))[0]
        np.testing.assert_allclose(y[i], ref + np_(layer.bias), rtol=1e-4, atol=1e-4)


def test_modulation_without_demodulation_scales_input_channels():
    x, w = randn(2, 5, 5, 3), randn(2, 4)
    layer = ModulatedConv2D(1, 1, demodulate=False, use_bias=False, seed=0)
    y = np_(layer([x, w]))
    s = np_(layer.affine(w))
    want = np.einsum("bhwc,bc,cf->bhwf", x, s, np_(layer.kernel)[0, 0] * layer.runtime_scale)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)


def test_noise_injection_scale_starts_at_zero_and_scales_the_given_noise():
    x, noise = randn(2, 4, 4, 3), randn(2, 4, 4, 1)
    layer = NoiseInjection(seed=0)
    np.testing.assert_array_equal(np_(layer(x)), x)
    layer.scale.assign(np.array([0.0, 1.0, 2.0], "float32"))
    np.testing.assert_allclose(np_(layer([x, noise])), x + noise * np.array([0, 1, 2.0]),
                               rtol=1e-6)
    a, b = np_(layer(x)), np_(layer(x))
    assert not np.allclose(a, b)  # fresh noise per call
    np.testing.assert_array_equal(a[..., 0], x[..., 0])


def test_spectral_norm_divides_by_the_largest_singular_value():
    dense = SpectralDense(6, power_iterations=50, seed=0)
    x = randn(4, 8)
    dense(x)
    w = np_(dense.kernel)
    sigma = np.linalg.svd(w, compute_uv=False)[0]
    np.testing.assert_allclose(float(np_(dense.sigma(training=True))), sigma, rtol=1e-3)
    np.testing.assert_allclose(np_(dense(x)), x @ (w / sigma) + np_(dense.bias), rtol=1e-3,
                               atol=1e-4)
    conv = SpectralConv2D(4, 3, power_iterations=50, seed=0)
    conv(randn(1, 5, 5, 2))
    k = np_(conv.kernel).reshape(-1, 4)
    sn = np_(conv.normalized_kernel(training=True)).reshape(-1, 4)
    np.testing.assert_allclose(np.linalg.svd(sn, compute_uv=False)[0], 1.0, rtol=1e-3)
    np.testing.assert_allclose(sn * np.linalg.svd(k, compute_uv=False)[0], k, rtol=1e-3)


def test_spectral_u_updates_only_when_training():
    dense = SpectralDense(3, seed=0)
    x = randn(2, 4)
    dense(x)
    u0 = np_(dense.u)
    dense(x, training=False)
    np.testing.assert_array_equal(np_(dense.u), u0)
    dense(x, training=True)
    assert not np.allclose(np_(dense.u), u0)


@pytest.mark.parametrize("spectral_norm", [True, False])
def test_self_attention_matches_numpy_and_starts_as_identity(spectral_norm):
    x = randn(2, 3, 4, 16)
    layer = SelfAttention2D(spectral_norm=spectral_norm, seed=0)
    y, beta = layer(x, return_attention=True)
    np.testing.assert_array_equal(np_(y), x)  # gamma = 0 at initialisation
    layer.gamma.assign(0.7)
    y, beta = (np_(t) for t in layer(x, return_attention=True))
    assert beta.shape == (2, 12, 12)
    np.testing.assert_allclose(beta.sum(-1), 1.0, rtol=1e-5)

    def kernel(conv):
        k = conv.normalized_kernel() if spectral_norm else conv.kernel
        return np_(k)[0, 0]

    flat = x.reshape(2, 12, 16)
    f, g, h = (flat @ kernel(c) for c in (layer.f, layer.g, layer.h))
    logits = f @ g.transpose(0, 2, 1)
    att = np.exp(logits - logits.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    want = flat + 0.7 * (att @ h) @ kernel(layer.o)
    np.testing.assert_allclose(beta, att, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(y.reshape(2, 12, 16), want, rtol=1e-4, atol=1e-5)
