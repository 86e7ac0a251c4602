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
from gdl.layers.pixelcnn import GatedResidualBlock, PixelResidualBlock
from gdl.layers.weight_norm import (
    WeightNormConv2D,
    WeightNormConv2DTranspose,
    WeightNormDense,
    data_dependent_init,
)
from gdl.models.optimizers import BookCompile

LN2 = math.log(2.0)


class _PixelAutoregressive(BookCompile, keras.Model):
    """Shared body of the PixelCNNs: input checks, loss bookkeeping, the two samplers.

    Subclasses define the network (``_network``), how far up it sees
    (:attr:`receptive_rows`) and the per-pixel distribution (``_scale``,
    ``_nll_per_pixel``, ``_reduce_loss``, ``_sample_pixel``).
    """

    #: number of uniforms drawn per pixel by the sampler
    _n_uniforms = 1
    #: the sampler's band of rows starts on a multiple of this (strided layers)
    _band_align = 1

    def __init__(self, image_size, dropout, seed=None, **kw):
        super().__init__(**kw)
        self.seed = seed
        self.image_size = int(image_size)
        self.dropout = float(dropout)
        self.bpd_tracker = keras.metrics.Mean(name="bits_per_dim")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._fast_steps = {}

    @property
    def receptive_rows(self) -> int:  # pragma: no cover - overridden
        """How many rows above a pixel can influence its output."""
        raise NotImplementedError

    def _scale(self, x):  # pragma: no cover - overridden
        raise NotImplementedError

    def _network(self, x, training=None):  # pragma: no cover - overridden
        raise NotImplementedError

    def call(self, inputs, training=None):
        if len(inputs.shape) == 3:
            inputs = inputs[..., None]
        if len(inputs.shape) != 4 or inputs.shape[-1] != 1:
            raise ValueError(
                f"{type(self).__name__} expects integer pixel values of shape "
                f"(batch, height, width, 1), got {tuple(inputs.shape)}"
            )
        return self._network(self._scale(ops.cast(inputs, "float32")), training=training)

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

    def _nll_batches(self, x, batch_size):
        x = np.asarray(x)
        x = x[..., None] if x.ndim == 3 else x
        for k in range(0, len(x), batch_size):
            xb = x[k : k + batch_size]
            yield self._nll_per_pixel(
                ops.cast(ops.convert_to_tensor(xb), "float32"), self(xb, training=False)
            )

    def bits_per_dim(self, x, batch_size: int = 256) -> float:
        """Mean negative log-likelihood of ``x`` in bits per pixel (no dropout)."""
        x = np.asarray(x)
        nll = sum(float(ops.convert_to_numpy(ops.sum(b))) for b in self._nll_batches(x, batch_size))
        return nll / (x[..., :1].size if x.ndim == 4 else x.size) / LN2

    def log_prob(self, x, batch_size: int = 256) -> np.ndarray:
        """Log-likelihood of each image of ``x`` in nats (no dropout): TFP's
        ``dist.log_prob(x)``. Returns a NumPy array ``(N,)``."""
        parts = [
            ops.convert_to_numpy(-ops.sum(nll, axis=(1, 2, 3)))
            for nll in self._nll_batches(x, batch_size)
        ]
        return np.concatenate(parts)

    # -- sampling --------------------------------------------------------
    def _sample_pixel(self, out, u, temperature):  # pragma: no cover - overridden
        """Draw one pixel value per row of ``out`` (``(n, D)``) from uniforms ``u``."""
        raise NotImplementedError

    @property
    def sampling_band(self) -> int:
        """Rows the fast sampler runs the network on: enough for :attr:`receptive_rows`
        above the pixel, a multiple of the strided layers' alignment, at most the image."""
        align = self._band_align
        return min(self.image_size, -(-(self.receptive_rows + align) // align) * align)

    def _band_start(self, i):
        """First row of the band for row ``i``: at least :attr:`receptive_rows` above it, on
        a multiple of the alignment (strided layers then see the full image's grid), and
        the band ends inside the image."""
        align = self._band_align
        start = ops.floor_divide(ops.maximum(i - self.receptive_rows, 0), align) * align
        return ops.minimum(start, self.image_size - self.sampling_band)

    def _fast_step(self, temperature):
        key = float(temperature)
        if key not in self._fast_steps:
            band = self.sampling_band

            def step(img, u, i, j):
                n, w = ops.shape(img)[0], ops.shape(img)[2]
                start = self._band_start(i)
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
            "dropout": self.dropout,
            "seed": self.seed,
        }


class _AutoregressiveImage(_PixelAutoregressive):
    """The book's masked-convolution stack (``02_pixelcnn``): type-A 7x7, residual blocks,
    two type-B 1x1 convolutions and a 1x1 output layer."""

    def __init__(
        self, image_size, n_filters, residual_blocks, out_channels, dropout, seed=None, **kw
    ):
        super().__init__(image_size, dropout, seed, **kw)
        self.n_filters = int(n_filters)
        self.residual_blocks = int(residual_blocks)
        self.first = MaskedConv2D("A", n_filters, 7, activation="relu", padding="same")
        self.blocks = [PixelResidualBlock(n_filters, dropout) for _ in range(residual_blocks)]
        self.head = [
            MaskedConv2D("B", n_filters, 1, activation="relu", padding="valid") for _ in range(2)
        ]
        self.out = layers.Conv2D(out_channels, 1)
        self.build((None, self.image_size, self.image_size, 1))

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

    def _network(self, x, training=None):
        x = self.first(x)
        for block in self.blocks:
            x = block(x, training=training)
        for layer in self.head:
            x = layer(x)
        return self.out(x)

    def get_config(self):
        return {
            **super().get_config(),
            "n_filters": self.n_filters,
            "residual_blocks": self.residual_blocks,
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


class _LogisticMixtureHead:
    """The per-pixel distribution of PixelCNN++: a mixture of ``n_components`` logistics
    quantised to 0..255 (:mod:`gdl.distributions`). Subclasses map the network output to
    ``logits, loc, log_scale`` in :meth:`mixture_params`. The loss is TFP's: the mean
    negative log-likelihood per image in nats."""

    book_learning_rate = 1e-3
    _n_uniforms = 2

    def _scale(self, x):
        return x / 127.5 - 1.0

    def mixture_params(self, out):  # pragma: no cover - overridden
        raise NotImplementedError

    def _nll_per_pixel(self, x, out):
        logits, loc, log_scale = self.mixture_params(out[:, :, :, None, :])
        return -discretized_logistic_mixture_log_prob(x, logits, loc, log_scale)

    def _reduce_loss(self, nll):
        return ops.mean(ops.sum(nll, axis=(1, 2, 3)))

    def _sample_pixel(self, out, u, temperature):
        if temperature <= 0:
            raise ValueError(f"{type(self).__name__} samples need temperature > 0")
        logits, loc, log_scale = self.mixture_params(out)
        return sample_discretized_logistic_mixture(
            logits, loc, log_scale, u[:, 0], u[:, 1], temperature=temperature
        )


@keras.saving.register_keras_serializable(package="gdl")
class PixelCNNMixture(_LogisticMixtureHead, _AutoregressiveImage):
    """The masked-conv PixelCNN of ``02_pixelcnn`` with PixelCNN++'s likelihood: a mixture
    of ``n_components`` discretized logistics per pixel.

    The book's ``03_pixelcnn_md`` trains TFP's gated PixelCNN++ network, which gdl
    implements as :class:`PixelCNNPlusPlus`; this lighter model keeps the distribution on
    the backbone of :class:`PixelCNN` (with dropout 0.3 in the residual blocks). The
    network outputs per pixel ``K`` logits, ``K`` locations in [-1, 1] units and ``K``
    log-scales, mapped to 0..255 units as TFP does (``loc = 127.5 (l + 1)``,
    ``scale = 127.5 s``; log-scales are floored at -7 as in PixelCNN++). Inputs must be
    integers 0..255 (the book feeds non-integer bilinear-resized values; round them, see
    :func:`gdl.book.ch05_autoregressive.load_pixel_values`). ``compile()`` uses the book's
    ``Adam(1e-3)``.
    """

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

    def mixture_params(self, out):
        """Split network outputs ``(..., 3K)`` into ``logits, loc, log_scale`` in 0..255 units."""
        k = self.n_components
        logits, raw_loc, raw_log_scale = out[..., :k], out[..., k : 2 * k], out[..., 2 * k :]
        loc = 127.5 * (raw_loc + 1.0)
        log_scale = ops.maximum(raw_log_scale, -7.0) + math.log(127.5)
        return logits, loc, log_scale

    def get_config(self):
        return {**super().get_config(), "n_components": self.n_components}


@keras.saving.register_keras_serializable(package="gdl")
class PixelCNNPlusPlus(_LogisticMixtureHead, _PixelAutoregressive):
    """The book's chapter 5 mixture network: gated PixelCNN++ (``tfp.distributions.PixelCNN``).

    Book: ``05_autoregressive/03_pixelcnn_md`` builds ``tfd.PixelCNN(image_shape=(32, 32,
    1), num_resnet=1, num_hierarchies=2, num_filters=32, num_logistic_mix=5,
    dropout_p=0.3)`` (624,990 parameters, the defaults here) and trains it with
    ``Adam(1e-3)`` on the mean negative log-likelihood per image. gdl builds the same
    network from Keras 3 layers (every backend, saved to ``.keras``), layer for layer as
    TFP does, with the same weights in the same order:

    * two streams: the *vertical* one (a 5x3 conv seeing only the rows above) and the
      *horizontal* one (the row above plus the pixels to the left), each with
      ``residual_blocks`` :class:`~gdl.layers.pixelcnn.GatedResidualBlock` per level;
      the horizontal blocks take the vertical stream through a 1x1 ``nin``;
    * ``hierarchies`` levels: on the way up each level ends with a masked stride-2 conv
      (32 -> 16), on the way down each level has ``residual_blocks + 1`` blocks (the
      first level ``residual_blocks``) fed by the matching upward outputs as skip
      connections, then a masked stride-2 transposed conv (16 -> 32);
    * ``ELU`` then a 1x1 layer to ``3 K`` outputs per pixel: for each component a logit,
      a location in [-1, 1] units and a scale ``softplus(.) + exp(-7)``, mapped to 0..255
      as TFP does (``loc = 127.5 (l + 1)``, ``scale = 127.5 s``);
    * every conv and 1x1 layer is weight-normalised (:mod:`gdl.layers.weight_norm`), with
      TFP's masks applied in the forward pass.

    Differences from TFP: the masks are part of the forward pass (TFP's
    ``kernel_constraint`` only masks after the first optimizer step); the data-dependent
    initialisation TFP runs on the first training batch is :meth:`initialize_from_data`
    (call it once before ``fit``); inputs must be integers 0..255 (the book feeds the
    non-integer values of a bilinear resize; see
    :func:`gdl.book.ch05_autoregressive.load_pixel_values`); sampling is gdl's exact
    pixel-by-pixel sampler on a band of rows (:meth:`generate`), not TFP's ``sample``.
    ``compile()`` uses the book's ``Adam(1e-3)``.
    """

    def __init__(
        self,
        image_size: int = 32,
        n_components: int = 5,
        n_filters: int = 32,
        residual_blocks: int = 1,
        hierarchies: int = 2,
        dropout: float = 0.3,
        receptive_field=(3, 3),
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(image_size, dropout, seed, **kwargs)
        self.n_components = int(n_components)
        self.n_filters = int(n_filters)
        self.residual_blocks = int(residual_blocks)
        self.hierarchies = int(hierarchies)
        self.receptive_field = tuple(int(r) for r in receptive_field)
        if self.hierarchies < 1 or self.image_size % self._band_align:
            raise ValueError(
                f"PixelCNNPlusPlus needs hierarchies >= 1 and an image_size divisible by "
                f"2 ** (hierarchies - 1) = {self._band_align}; got hierarchies="
                f"{self.hierarchies}, image_size={self.image_size}"
            )
        rows, cols = self.receptive_field
        f, kw = self.n_filters, {"dropout": self.dropout, "receptive_field": self.receptive_field}
        # created in TFP's order, so TFP's weights map one to one (see the tests)
        self.vertical_init = WeightNormConv2D(
            f, (2 * rows - 1, cols), valid_rows=(0, rows - 1), valid_cols=(0, cols)
        )
        self.horizontal_up = WeightNormConv2D(f, (3, cols), valid_rows=(0, 1), valid_cols=(0, cols))
        self.horizontal_left = WeightNormConv2D(
            f, (3, cols), valid_rows=(0, 2), valid_cols=(0, cols // 2)
        )
        self.up_blocks, self.downsample = [], []
        for level in range(self.hierarchies):
            self.up_blocks.append([
                (GatedResidualBlock(f, "vertical", **kw),
                 GatedResidualBlock(f, "horizontal", with_aux=True, **kw))
                for _ in range(self.residual_blocks)
            ])  # fmt: skip
            if level < self.hierarchies - 1:
                self.downsample.append((
                    WeightNormConv2D(f, (2 * rows - 2, cols + 1), 2, (0, rows - 1), (0, cols)),
                    WeightNormConv2D(f, (2 * rows - 2, 2 * (cols // 2 + 1)), 2, (0, rows - 1),
                                     (0, cols // 2 + 1)),
                ))  # fmt: skip
        self.down_blocks, self.upsample = [], []
        for level in range(self.hierarchies):
            n = self.residual_blocks + (level > 0)
            self.down_blocks.append([
                (GatedResidualBlock(f, "vertical", with_aux=True, **kw),
                 GatedResidualBlock(f, "horizontal", with_aux=True, **kw))
                for _ in range(n)
            ])  # fmt: skip
            if level < self.hierarchies - 1:
                h, w = rows - 1, cols // 2 + 1
                self.upsample.append((
                    WeightNormConv2DTranspose(f, (2 * h - 2, cols + 1), 2, (h - 2, 2 * h - 2),
                                              (0, cols)),
                    WeightNormConv2DTranspose(f, (2 * h - 2, 2 * w - 2), 2, (h - 2, 2 * h - 2),
                                              (w - 2, 2 * w - 2)),
                ))  # fmt: skip
        self.out = WeightNormDense(3 * self.n_components)
        self.build((None, self.image_size, self.image_size, 1))

    @property
    def _band_align(self):
        return 2 ** (self.hierarchies - 1)

    # -- network ---------------------------------------------------------
    def build(self, input_shape):
        # build through one symbolic pass in TFP's layer order
        self._network(keras.KerasTensor((1, self.image_size, self.image_size, 1)))
        self.built = True

    def _network(self, x, training=None):
        v = self.vertical_init(x)
        h = self.horizontal_up(x) + self.horizontal_left(x)
        skips_v, skips_h = [v], [h]
        for level in range(self.hierarchies):
            for vblock, hblock in self.up_blocks[level]:
                v = vblock(v, training=training)
                h = hblock(h, v, training=training)
                skips_v.append(v)
                skips_h.append(h)
            if level < self.hierarchies - 1:
                vdown, hdown = self.downsample[level]
                v, h = vdown(v), hdown(h)
                skips_v.append(v)
                skips_h.append(h)
        skips_v.pop(), skips_h.pop()  # the last outputs start the way down
        for level in range(self.hierarchies):
            for vblock, hblock in self.down_blocks[level]:
                v = vblock(v, skips_v.pop(), training=training)
                h = hblock(h, ops.concatenate([v, skips_h.pop()], axis=-1), training=training)
            if level < self.hierarchies - 1:
                vup, hup = self.upsample[level]
                v, h = vup(v), hup(h)
        return self.out(ops.elu(h))

    @property
    def receptive_rows(self) -> int:
        """An upper bound on how many rows above a pixel can influence its output: the
        forward pass of :meth:`_network` replayed on each stream's row reach (in
        full-resolution rows) instead of its tensors."""

        def reach(conv, scale, transpose=False):
            kh, s = conv.kernel_size[0], conv.strides[0]
            r0, r1 = conv.valid_rows
            pad = (kh - s) // 2 if s > 1 else (kh - 1) // 2  # "same", even sizes
            return (max(r1 - 1 - pad, 0) if transpose else max(pad - r0, 0)) * scale

        def block(b, d, aux, scale):  # x + gate(conv2(conv1(x) + nin(aux)))
            return max(d + reach(b.conv1, scale), aux) + reach(b.conv2, scale)

        v = reach(self.vertical_init, 1)
        h = max(reach(self.horizontal_up, 1), reach(self.horizontal_left, 1))
        skips = [(v, h)]
        for level in range(self.hierarchies):
            for vblock, hblock in self.up_blocks[level]:
                v = block(vblock, v, 0, 2**level)
                h = block(hblock, h, v, 2**level)
                skips.append((v, h))
            if level < self.hierarchies - 1:
                vdown, hdown = self.downsample[level]
                v, h = v + reach(vdown, 2**level), h + reach(hdown, 2**level)
                skips.append((v, h))
        skips.pop()
        for i in range(self.hierarchies):
            scale = 2 ** (self.hierarchies - 1 - i)
            for vblock, hblock in self.down_blocks[i]:
                skip_v, skip_h = skips.pop()
                v = block(vblock, v, skip_v, scale)
                h = block(hblock, h, max(v, skip_h), scale)
            if i < self.hierarchies - 1:
                vup, hup = self.upsample[i]
                v = v + reach(vup, scale // 2, transpose=True)
                h = h + reach(hup, scale // 2, transpose=True)
        return h

    def mixture_params(self, out):
        """Split network outputs ``(..., 3K)`` (TFP's layout: per component a logit, a
        location and a raw scale) into ``logits, loc, log_scale`` in 0..255 units."""
        logits, raw_loc, raw_scale = out[..., 0::3], out[..., 1::3], out[..., 2::3]
        loc = 127.5 * (raw_loc + 1.0)
        log_scale = ops.log(ops.softplus(raw_scale) + math.exp(-7.0)) + math.log(127.5)
        return logits, loc, log_scale

    def initialize_from_data(self, x):
        """TFP's data-dependent initialisation of the weight-normalised layers: one forward
        pass (no dropout) over the batch ``x`` (integer pixel values; the book's first
        training batch is 128 images) in which each layer, in order, sets ``g`` and
        ``bias`` so that its outputs have zero mean and unit variance per filter. Call it
        once, before ``fit``. Returns the model."""
        x = ops.convert_to_tensor(np.asarray(x, dtype="float32"))
        data_dependent_init(self, lambda: self(x, training=False))
        return self

    def get_config(self):
        return {
            **super().get_config(),
            "n_components": self.n_components,
            "n_filters": self.n_filters,
            "residual_blocks": self.residual_blocks,
            "hierarchies": self.hierarchies,
            "receptive_field": self.receptive_field,
        }


def compile_pixelcnn(model: _AutoregressiveImage, learning_rate: float | None = None):
    """``model.compile()`` with the book's optimizer (``book_learning_rate``: ``Adam(5e-4)``
    for :class:`PixelCNN`, ``Adam(1e-3)`` for :class:`PixelCNNMixture`) or Adam at
    ``learning_rate``; no ``loss`` argument, the model computes its own. Returns ``model``."""
    model.compile(optimizer=model.book_optimizer(learning_rate))
    return model
