"""The VAE's reparameterisation trick as a layer (chapter 3).

Book: the ``Sampling`` layer of ``vae_fashion.ipynb`` / ``vae_faces.ipynb``, which draws
``epsilon`` with ``K.random_normal`` (gone from Keras 3). Here the noise comes from the
layer's own ``keras.random.SeedGenerator``, so it runs on every backend and a seeded
layer is reproducible.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="gdl")
class Sampling(keras.layers.Layer):
    """``[z_mean, z_log_var] -> z_mean + exp(z_log_var / 2) * epsilon``, ``epsilon ~ N(0, I)``.

    Gradients flow to both inputs (``dz/dmean = 1``, ``dz/dlogvar = epsilon * sigma / 2``).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        return config
