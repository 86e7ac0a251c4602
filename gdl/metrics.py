"""Quality metrics a reader looks at: Kernel Inception Distance (KID) in Keras 3.

The keras.io DDIM example (which the book's ``ddm.ipynb`` is adapted from) reports KID
with ImageNet InceptionV3 features. Those weights are a download, which gdl never does at
run time, so :class:`KID` takes its features from a **fixed, randomly initialised
convolutional network** (seeded, never trained; :func:`random_feature_extractor`) unless
you pass your own (``feature_extractor=...``, e.g. an InceptionV3 you have, or
``"pixels"`` for raw pixels). The kernel maths is the standard unbiased MMD² estimate
with the cubic polynomial kernel; the numbers are comparable *between runs with the same
extractor*, not with published Inception-KID values.
"""

from __future__ import annotations

import keras
from keras import layers, ops


def polynomial_kernel(x, y):
    """``k(x, y) = (x·y / d + 1)³`` for feature matrices ``(n, d)`` and ``(m, d)``."""
    d = ops.cast(ops.shape(x)[1], x.dtype)
    return (ops.matmul(x, ops.transpose(y)) / d + 1.0) ** 3.0


def kid_from_features(real, generated):
    """Unbiased MMD² between two feature sets with :func:`polynomial_kernel`.

    ``mean_{i≠j} k(r_i, r_j) + mean_{i≠j} k(g_i, g_j) - 2 mean_{i,j} k(r_i, g_j)``.
    """
    n = ops.shape(real)[0]
    m = ops.shape(generated)[0]
    k_rr = polynomial_kernel(real, real)
    k_gg = polynomial_kernel(generated, generated)
    k_rg = polynomial_kernel(real, generated)
    nf, mf = ops.cast(n, real.dtype), ops.cast(m, real.dtype)
    mean_rr = ops.sum(k_rr * (1.0 - ops.eye(n, dtype=real.dtype))) / (nf * (nf - 1.0))
    mean_gg = ops.sum(k_gg * (1.0 - ops.eye(m, dtype=real.dtype))) / (mf * (mf - 1.0))
    return mean_rr + mean_gg - 2.0 * ops.mean(k_rg)


def random_feature_extractor(image_size: int, channels: int, seed: int = 1234,
                             name: str = "kid_features") -> keras.Model:  # fmt: skip
    """A fixed random-init CNN (seeded He-normal kernels, never trained): images in [0, 1]
    -> 3 strided ReLU convolutions (32/64/128) -> global average pooling, 128 features."""
    inp = keras.Input(shape=(image_size, image_size, channels))
    x = layers.Rescaling(2.0, offset=-1.0)(inp)
    for i, width in enumerate((32, 64, 128)):
        x = layers.Conv2D(
            width, 3, strides=2, padding="same", activation="relu",
            kernel_initializer=keras.initializers.HeNormal(seed=seed + i),
        )(x)  # fmt: skip
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, x, name=name)
    model.trainable = False
    return model


@keras.saving.register_keras_serializable(package="gdl")
class KID(keras.metrics.Metric):
    """Kernel distance between real and generated images in [0, 1], averaged over batches.

    ``update_state(real_images, generated_images)``; ``result()`` is the mean KID of the
    batches seen. ``feature_extractor``: ``None`` (default) for
    :func:`random_feature_extractor` seeded with ``seed``, ``"pixels"`` for flattened
    pixels, or a Keras model mapping images to ``(batch, d)`` features.
    """

    def __init__(self, image_size: int, channels: int = 3, feature_extractor=None,
                 seed: int = 1234, name: str = "kid", **kwargs):  # fmt: skip
        super().__init__(name=name, **kwargs)
        self.image_size, self.channels, self.seed = int(image_size), int(channels), int(seed)
        self._custom = not (feature_extractor is None or isinstance(feature_extractor, str))
        self.extractor_name = feature_extractor if isinstance(feature_extractor, str) else None
        if feature_extractor is None:
            self.encoder = random_feature_extractor(self.image_size, self.channels, self.seed)
        elif feature_extractor == "pixels":
            self.encoder = None
        elif isinstance(feature_extractor, str):
            raise ValueError(f"feature_extractor must be None, 'pixels' or a model, got "
                             f"{feature_extractor!r}")  # fmt: skip
        else:
            self.encoder = feature_extractor
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def features(self, images):
        if self.encoder is None:
            return ops.reshape(images, (ops.shape(images)[0], -1))
        return self.encoder(images, training=False)

    def update_state(self, real_images, generated_images, sample_weight=None):
        real = ops.cast(self.features(real_images), "float32")
        gen = ops.cast(self.features(generated_images), "float32")
        self.total.assign_add(kid_from_features(real, gen))
        self.count.assign_add(1.0)

    def result(self):
        return self.total / ops.maximum(self.count, 1.0)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        if self._custom:
            raise ValueError("a KID with a custom feature_extractor model is not serializable; "
                             "save the extractor separately")  # fmt: skip
        return {**super().get_config(), "image_size": self.image_size,
                "channels": self.channels, "feature_extractor": self.extractor_name,
                "seed": self.seed}  # fmt: skip
