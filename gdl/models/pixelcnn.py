"""Chapter 5 PixelCNNs: the book's categorical PixelCNN and a PixelCNN with a mixture of
discretized logistics (PixelCNN++ likelihood), both with a fast exact sampler.

Book notebooks: ``05_autoregressive/02_pixelcnn`` (:class:`PixelCNN`, 307,460
parameters with the defaults) and ``05_autoregressive/03_pixelcnn_md``
(:class:`PixelCNNMixture`; the book uses ``tfp.distributions.PixelCNN``).

Both models take *integer pixel values* (levels ``0..L-1``, or ``0..255``) as their only
input and scale them inside (the book feeds ``levels / 4``), so ``fit(x)`` needs no
targets: the maths of the book's loss lives in :meth:`compute_loss`, which Keras' own
``train_step`` runs on every backend. ``bits_per_dim`` is tracked beside the loss.

Generation (``generate``) differs from the book, which runs ``model.predict`` on the
whole image for each of the H*W pixels. Every layer is a causal (masked) convolution
whose kernel looks at most ``kh // 2`` rows up, so the output at row ``i`` depends only
on input rows ``i - R .. i`` where ``R`` (:attr:`receptive_rows`) sums those reaches. The
fast sampler runs the network on that fixed-size band of rows (full width, so the
side padding is the real one) inside one compiled step function; errors caused by the
band's artificial top edge travel down at most ``R`` rows, so the output at the last
row of the band is exact. The book's sampler is kept as ``method="naive"``; both draw
from the same pre-drawn uniforms, so a seed gives the same images either way.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from gdl.backend import compile_loop
from gdl.distribute import global_batch_loss
from gdl.distributions import (
    discretized_logistic_mixture_log_prob,
    sample_discretized_logistic_mixture,
)
from gdl.generation import Sampler
from gdl.layers.masked_conv import MaskedConv2D
from gdl.layers.pixelcnn import PixelResidualBlock
from gdl.models.optimizers import BookCompile

LN2 = math.log(2.0)


class _AutoregressiveImage(BookCompile, keras.Model):
    """Shared body of both PixelCNNs: masked stack, loss bookkeeping, the two samplers."""

    #: number of uniforms drawn per pixel by the sampler
    _n_uniforms = 1

    def __init__(
        self, image_size, n_filters, residual_blocks, out_channels, dropout, seed=None, **kw
    ):
        super().__init__(**kw)
        self.seed = seed
        self.image_size = int(image_size)
        self.n_filters = int(n_filters)
        self.residual_blocks = int(residual_blocks)
        self.dropout = float(dropout)
        self.first = MaskedConv2D("A", n_filters, 7, activation="relu", padding="same")
        self.blocks = [PixelResidualBlock(n_filters, dropout) for _ in range(residual_blocks)]
        self.head = [
            MaskedConv2D("B", n_filters, 1, activation="relu", padding="valid") for _ in range(2)
        ]
        self.out = layers.Conv2D(out_channels, 1)
        self.bpd_tracker = keras.metrics.Mean(name="bits_per_dim")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._fast_steps = {}
        self.build((None, self.image_size, self.image_size, 1))

    # -- network ---------------------------------------------------------
    def build(self, input_shape):
        shape = (None, None, None, 1)
        self.first.build(shape)
        shape = (None, None, None, self.n_filters)
        for layer in [*self.blocks, *self.head]:
            layer.build(shape)
        self.out.build(shape)
        self.built = True

    @property
    def receptive_rows(self) -> int:
        """How many rows above a pixel can influence its output."""
        convs = [self.first, *[b.pixel_conv for b in self.blocks], *self.head]
        return sum(c.kernel_size[0] // 2 for c in convs)

    def _scale(self, x):  # pragma: no cover - overridden
        raise NotImplementedError

    def call(self, inputs, training=None):
        if len(inputs.shape) == 3:
            inputs = inputs[..., None]
        if len(inputs.shape) != 4 or inputs.shape[-1] != 1:
            raise ValueError(
                f"{type(self).__name__} expects integer pixel values of shape "
                f"(batch, height, width, 1), got {tuple(inputs.shape)}"
            )
        x = self.first(self._scale(ops.cast(inputs, "float32")))
        for block in self.blocks:
            x = block(x, training=training)
        for layer in self.head:
            x = layer(x)
        return self.out(x)

    @property
    def metrics(self):
        return [*super().metrics, self.bpd_tracker]

    def _nll_per_pixel(self, x, y_pred):  # pragma: no cover - overridden
        raise NotImplementedError

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if len(x.shape) == 3:
            x = x[..., None]
        nll = self._nll_per_pixel(ops.cast(x, "float32"), y_pred)  # (B, H, W, 1) nats
        self.bpd_tracker.update_state(ops.mean(nll) / LN2)
        return global_batch_loss(self._reduce_loss(nll))

    def bits_per_dim(self, x, batch_size: int = 256) -> float:
        """Mean negative log-likelihood of ``x`` in bits per pixel (no dropout)."""
        x = np.asarray(x)
        total = 0.0
        for k in range(0, len(x), batch_size):
            xb = x[k : k + batch_size]
            xb = xb[..., None] if xb.ndim == 3 else xb
            nll = self._nll_per_pixel(
                ops.cast(ops.convert_to_tensor(xb), "float32"), self(xb, training=False)
            )
            total += float(ops.convert_to_numpy(ops.sum(nll)))
        return total / (x[..., :1].size if x.ndim == 4 else x.size) / LN2

    # -- sampling --------------------------------------------------------
    def _sample_pixel(self, out, u, temperature):  # pragma: no cover - overridden
        """Draw one pixel value per row of ``out`` (``(n, D)``) from uniforms ``u``."""
        raise NotImplementedError

    def _fast_step(self, temperature):
        key = float(temperature)
        if key not in self._fast_steps:
            band = min(self.image_size, self.receptive_rows + 1)

            def step(img, u, i, j):
                n, w = ops.shape(img)[0], ops.shape(img)[2]
                start = ops.maximum(i - (band - 1), 0)
                window = ops.slice(img, (0, start, 0, 0), (n, band, w, 1))
                out = self(window, training=False)
                out = ops.slice(out, (0, i - start, j, 0), (n, 1, 1, ops.shape(out)[-1]))
                uij = ops.slice(u, (0, i, j, 0), (n, 1, 1, ops.shape(u)[-1]))
                value = self._sample_pixel(
                    ops.reshape(out, (n, -1)), ops.reshape(uij, (n, -1)), key
                )
                return ops.slice_update(img, (0, i, j, 0), ops.reshape(value, (n, 1, 1, 1)))

            # on jax the weights are arguments of the compiled step (never constants)
            self._fast_steps[key] = compile_loop(self, step, reduce_retracing=True)
        return self._fast_steps[key]

    def generate(self, num: int = 10, temperature: float = 1.0, seed=None, method: str = "fast"):
        """Sample ``num`` images pixel by pixel; returns a NumPy int32 array
        ``(num, H, W, 1)`` (pixel values).

        ``method="fast"`` (default) runs a compiled step on the receptive band of rows;
        ``"naive"`` is the book's sampler (``predict`` on the whole image per pixel).
        Both consume the same uniforms, so the same ``seed`` (``0`` included) gives the
        same images; ``seed=None`` draws from the model's own generator (its ``seed``
        constructor argument).
        """
        n = int(num)
        if method not in ("fast", "naive"):
            raise ValueError(f"method must be 'fast' or 'naive', got {method!r}")
        size = self.image_size
        u = keras.random.uniform(
            (n, size, size, self._n_uniforms),
            seed=self.seed_generator if seed is None else int(seed),
        )
        img = ops.zeros((n, size, size, 1), dtype="float32")
        if method == "fast":
            step = self._fast_step(temperature)
            for i in range(size):
                for j in range(size):
                    img = step(
                        img, u, ops.convert_to_tensor(i, "int32"), ops.convert_to_tensor(j, "int32")
                    )
        else:
            img = ops.convert_to_numpy(img)
            for i in range(size):
                for j in range(size):
                    out = self.predict(img, verbose=0)[:, i, j, :]
                    value = self._sample_pixel(
                        ops.convert_to_tensor(out), u[:, i, j, :], temperature
                    )
                    img[:, i, j, 0] = ops.convert_to_numpy(value)
        return np.asarray(ops.convert_to_numpy(img)).astype("int32")

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "n_filters": self.n_filters,
            "residual_blocks": self.residual_blocks,
            "dropout": self.dropout,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="gdl")
class PixelCNN(_AutoregressiveImage):
    """The book's PixelCNN (Fashion-MNIST 16x16, 4 pixel levels, 128 filters, 5 blocks).

    ``MaskedConv2D("A", 128, 7)`` -> 5 x :class:`~gdl.layers.pixelcnn.PixelResidualBlock`
    -> 2 x ``MaskedConv2D("B", 128, 1)`` -> ``Conv2D(pixel_levels, 1)``. Inputs are integer
    levels; the network sees ``levels / pixel_levels`` as in the book. The last layer
    returns logits (the book: softmax) and the loss is the sparse cross-entropy of the
    input levels; ``compile()`` trains with the book's ``Adam(5e-4)``.
    """

    book_learning_rate = 5e-4

    def __init__(
        self,
        image_size: int = 16,
        pixel_levels: int = 4,
        n_filters: int = 128,
        residual_blocks: int = 5,
        dropout: float = 0.0,
        seed: int | None = None,
        **kwargs,
    ):
        self.pixel_levels = int(pixel_levels)
        super().__init__(
            image_size, n_filters, residual_blocks, pixel_levels, dropout, seed, **kwargs
        )

    def _scale(self, x):
        return x / self.pixel_levels

    def _nll_per_pixel(self, x, logits):
        targets = ops.cast(x[..., 0], "int32")
        nll = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
        return nll[..., None]

    def _reduce_loss(self, nll):
        return ops.mean(nll)

    def _sample_pixel(self, out, u, temperature):
        level, _ = Sampler(temperature).choose(out, u)
        return ops.cast(level, "float32")

    def get_config(self):
        return {**super().get_config(), "pixel_levels": self.pixel_levels}


@keras.saving.register_keras_serializable(package="gdl")
class PixelCNNMixture(_AutoregressiveImage):
    """PixelCNN with a mixture of ``n_components`` discretized logistics per pixel.

    Book: ``03_pixelcnn_md`` (32x32 Fashion-MNIST, 5 components, ``Adam(1e-3)``) trains
    ``tfp.distributions.PixelCNN`` (gated two-stream PixelCNN++ with 2 hierarchies, 32
    filters, dropout 0.3). gdl keeps that distribution (PixelCNN++'s discretized logistic
    mixture over 0..255, :mod:`gdl.distributions`) but puts it on the same masked-conv
    backbone as :class:`PixelCNN` (with dropout 0.3 in the residual blocks), which runs
    under Keras 3 on every backend and saves to ``.keras``; the U-Net hierarchy and
    vertical/horizontal stacks of TFP's network are not reproduced. The network outputs
    per pixel ``K`` logits, ``K`` locations in [-1, 1] units and ``K`` log-scales,
    mapped to 0..255 units as TFP does (``loc = 127.5 (l + 1)``, ``scale = 127.5 s``;
    log-scales are floored at -7 as in PixelCNN++). The loss is TFP's: the mean negative
    log-likelihood per image in nats. Inputs must be integers 0..255 (the book feeds
    non-integer bilinear-resized values; round them, see
    :func:`gdl.book.ch05_autoregressive.load_pixel_values`). ``compile()`` uses the book's
    ``Adam(1e-3)``.
    """

    book_learning_rate = 1e-3
    _n_uniforms = 2

    def __init__(
        self,
        image_size: int = 32,
        n_components: int = 5,
        n_filters: int = 128,
        residual_blocks: int = 5,
        dropout: float = 0.3,
        seed: int | None = None,
        **kwargs,
    ):
        self.n_components = int(n_components)
        super().__init__(
            image_size, n_filters, residual_blocks, 3 * n_components, dropout, seed, **kwargs
        )

    def _scale(self, x):
        return x / 127.5 - 1.0

    def mixture_params(self, out):
        """Split network outputs ``(..., 3K)`` into ``logits, loc, log_scale`` in 0..255 units."""
        k = self.n_components
        logits, raw_loc, raw_log_scale = out[..., :k], out[..., k : 2 * k], out[..., 2 * k :]
        loc = 127.5 * (raw_loc + 1.0)
        log_scale = ops.maximum(raw_log_scale, -7.0) + math.log(127.5)
        return logits, loc, log_scale

    def _nll_per_pixel(self, x, out):
        logits, loc, log_scale = self.mixture_params(out[:, :, :, None, :])
        return -discretized_logistic_mixture_log_prob(x, logits, loc, log_scale)

    def _reduce_loss(self, nll):
        return ops.mean(ops.sum(nll, axis=(1, 2, 3)))

    def _sample_pixel(self, out, u, temperature):
        if temperature <= 0:
            raise ValueError("PixelCNNMixture samples need temperature > 0")
        logits, loc, log_scale = self.mixture_params(out)
        return sample_discretized_logistic_mixture(
            logits, loc, log_scale, u[:, 0], u[:, 1], temperature=temperature
        )

    def get_config(self):
        return {**super().get_config(), "n_components": self.n_components}


def compile_pixelcnn(model: _AutoregressiveImage, learning_rate: float | None = None):
    """``model.compile()`` with the book's optimizer (``book_learning_rate``: ``Adam(5e-4)``
    for :class:`PixelCNN`, ``Adam(1e-3)`` for :class:`PixelCNNMixture`) or Adam at
    ``learning_rate``; no ``loss`` argument, the model computes its own. Returns ``model``."""
    model.compile(optimizer=model.book_optimizer(learning_rate))
    return model
