"""PixelCNN++ (the book's ``tfp.distributions.PixelCNN`` network): parameter count, the
log-likelihood against TFP with the same weights, causality, weight normalisation,
data-dependent init and the band sampler."""

import keras
import numpy as np
import pytest
from keras import ops

from gdl.layers.weight_norm import (
    WeightNormConv2D,
    WeightNormConv2DTranspose,
    WeightNormDense,
    kernel_mask,
)
from gdl.models.pixelcnn import PixelCNNPlusPlus

TINY = dict(image_size=8, n_components=2, n_filters=4, residual_blocks=1, hierarchies=2,
            dropout=0.0)  # fmt: skip


def _tiny(**kw):
    keras.utils.set_random_seed(0)
    return PixelCNNPlusPlus(**{**TINY, **kw})


def _images(n, size, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 1)).astype("float32")


def _np(x):
    return ops.convert_to_numpy(x)


def test_book_parameter_count():
    # tfd.PixelCNN((32, 32, 1), num_resnet=1, num_hierarchies=2, num_filters=32,
    # num_logistic_mix=5, dropout_p=0.3): the book's model.summary()
    assert PixelCNNPlusPlus().count_params() == 624_990


def _layers_in_tfp_order(model):
    """gdl's weight-normalised layers in the order TFP's PixelCNN creates its own."""
    out = [model.vertical_init, model.horizontal_up, model.horizontal_left]

    def blocks(level):
        return [
            layer
            for pair in level
            for block in pair
            for layer in (block.conv1, block.nin, block.conv2)
            if layer is not None
        ]

    for level, up in enumerate(model.up_blocks):
        out += blocks(up) + (list(model.downsample[level]) if level < len(model.downsample) else [])
    for level, down in enumerate(model.down_blocks):
        out += blocks(down) + (list(model.upsample[level]) if level < len(model.upsample) else [])
    return out + [model.out]


def test_log_prob_equals_tfp_pixelcnn_with_the_same_weights():
    tf = pytest.importorskip("tensorflow")
    tfp = pytest.importorskip("tensorflow_probability")

    dist = tfp.distributions.PixelCNN(
        image_shape=(8, 8, 1), num_resnet=1, num_hierarchies=2, num_filters=4,
        num_logistic_mix=2, dropout_p=0.0,
    )  # fmt: skip
    x = _images(3, 8)
    dist.log_prob(x, training=False)  # TFP's data-dependent init on this batch
    wrapped = sorted(
        (layer for layer in dist.network._network.layers if hasattr(layer, "g")),
        key=lambda layer: int(layer.name.rsplit("_", 1)[-1]) if layer.name[-1].isdigit() else -1,
    )
    model = _tiny()
    mine = _layers_in_tfp_order(model)
    assert len(mine) == len(wrapped)
    for ours, theirs in zip(mine, wrapped):
        v = theirs.v
        if theirs.layer.kernel_constraint is not None:  # TFP masks after each update
            v.assign(theirs.layer.kernel_constraint(v))
        ours.set_weights([v.numpy(), theirs.g.numpy(), theirs.layer.bias.numpy()])
    expect = dist.log_prob(x, training=False).numpy()
    np.testing.assert_allclose(model.log_prob(x), expect, rtol=1e-4)
    loss = _np(model.compute_loss(x=x, y_pred=model(x, training=False)))
    np.testing.assert_allclose(loss, -expect.mean(), rtol=1e-4)
    del tf


@pytest.mark.parametrize("hierarchies", [1, 2, 3])
def test_output_at_a_pixel_ignores_that_pixel_and_the_ones_after_it(hierarchies):
    model = _tiny(hierarchies=hierarchies)
    size = model.image_size
    x = _images(1, size)
    base = _np(model(x))
    order = np.arange(size * size).reshape(size, size)
    for i, j in [(0, 0), (2, 5), (3, 0), (4, 4), (7, 7), (5, 7)]:
        y = x.copy()
        y[0, i, j, 0] = (y[0, i, j, 0] + 97) % 256
        changed = np.abs(_np(model(y)) - base).max(axis=-1)[0] > 1e-6
        assert not changed[order <= i * size + j].any(), (i, j)
        if (i, j) != (size - 1, size - 1):
            assert changed[order > i * size + j].any(), (i, j)
        # the band sampler relies on this bound
        assert not changed[i + model.receptive_rows + 1 :].any(), (i, j)


def test_gradient_of_a_pixel_likelihood_is_zero_for_later_pixels():
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        pytest.skip("input gradient through tf.GradientTape")
    model = _tiny()
    x = tf.constant(_images(1, 8) / 127.5 - 1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = model._network(x)
        target = tf.reduce_sum(out[0, 3, 4])
    grad = np.abs(tape.gradient(target, x).numpy()[0, :, :, 0])
    order = np.arange(64).reshape(8, 8)
    assert grad[order >= 3 * 8 + 4].max() == 0.0
    assert grad[order < 3 * 8 + 4].max() > 0.0


def test_weight_norm_layers_match_plain_layers_with_the_normalised_kernel():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 6, 3)).astype("float32")
    for layer, plain in [
        (WeightNormConv2D(5, (4, 4), 2, (0, 2), (0, 3)),
         keras.layers.Conv2D(5, (4, 4), 2, padding="same")),
        (WeightNormConv2DTranspose(5, (2, 4), 2, (0, 2), (0, 3)),
         keras.layers.Conv2DTranspose(5, (2, 4), 2, padding="same")),
        (WeightNormDense(5), keras.layers.Dense(5)),
    ]:  # fmt: skip
        layer.build(x.shape)
        layer.g.assign(rng.uniform(0.5, 2.0, 5).astype("float32"))
        layer.bias.assign(rng.normal(size=5).astype("float32"))
        v = _np(layer.kernel)
        if layer is not None and getattr(layer, "valid_rows", None):
            v = (
                v
                * kernel_mask(layer.kernel_size, layer.valid_rows, layer.valid_cols)[
                    :, :, None, None
                ]
            )
        axes = tuple(a for a in range(v.ndim) if a != v.ndim + layer._filter_axis)
        w = v / np.sqrt((v**2).sum(axis=axes, keepdims=True))
        w = w * np.expand_dims(_np(layer.g), tuple(a for a in range(v.ndim) if a in axes))
        plain.build(x.shape)
        plain.set_weights([w, _np(layer.bias)])
        np.testing.assert_allclose(_np(layer(x)), _np(plain(x)), rtol=1e-5, atol=1e-5)
        # per filter the kernel's norm is g
        norms = np.sqrt((_np(layer.normalized_kernel()) ** 2).sum(axis=axes))
        np.testing.assert_allclose(norms, _np(layer.g), rtol=1e-5)


def test_initial_forward_kernel_is_the_masked_initial_kernel():
    layer = WeightNormConv2D(4, (3, 3), valid_rows=(0, 2))
    layer.build((1, 5, 5, 2))
    mask = kernel_mask((3, 3), (0, 2))[:, :, None, None]
    np.testing.assert_allclose(_np(layer.normalized_kernel()), _np(layer.kernel) * mask, atol=1e-6)


def test_data_dependent_init_standardises_each_layer_on_the_batch():
    model = _tiny()
    x = _images(16, 8)
    model.initialize_from_data(x)
    out = _np(model(x, training=False)).reshape(-1, 3 * TINY["n_components"])
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(0), 1.0, rtol=1e-3)
    first = _np(model.vertical_init(_np(x) / 127.5 - 1.0)).reshape(-1, TINY["n_filters"])
    np.testing.assert_allclose(first.std(0), 1.0, rtol=1e-3)
    assert not any(getattr(layer, "_data_init_pending", False) for layer in model._flatten_layers())


@pytest.mark.parametrize("hierarchies, size", [(2, 16), (3, 32)])
def test_the_band_gives_the_full_image_output_at_its_row(hierarchies, size):
    # what the fast sampler relies on: for every row i, the network run on the band of
    # rows chosen for i gives, at row i, the output of the whole image
    model = _tiny(image_size=size, residual_blocks=0, hierarchies=hierarchies)
    band = model.sampling_band
    assert band < size  # the band really is smaller than the image
    x = _images(2, size, seed=1)
    full = _np(model(x))
    for i in range(size):
        start = int(_np(model._band_start(i)))
        assert start % model._band_align == 0 and start <= i < start + band
        out = _np(model(x[:, start : start + band]))
        np.testing.assert_allclose(out[:, i - start], full[:, i], atol=1e-4)


def test_generate_draws_pixel_values_with_the_seed():
    model = _tiny(image_size=4, hierarchies=1)
    a = model.generate(2, seed=3)
    assert a.shape == (2, 4, 4, 1) and a.dtype == np.int32
    assert a.min() >= 0 and a.max() <= 255 and len(np.unique(a)) > 1
    np.testing.assert_array_equal(a, model.generate(2, seed=3))


def test_image_size_must_suit_the_hierarchies():
    with pytest.raises(ValueError, match="divisible"):
        PixelCNNPlusPlus(image_size=10, hierarchies=3)
