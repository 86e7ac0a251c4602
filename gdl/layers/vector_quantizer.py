"""VQ-VAE's vector quantiser (van den Oord et al. 2017), the heart of VQ-GAN (chapter 10).

Each encoder output vector ``z`` (the last axis) is replaced by its nearest code ``e_k``
of a learned codebook (``num_embeddings`` x ``embedding_dim``). The book explains the loss
that replaces the VAE's KL term: reconstruction + **codebook** ``||sg[z] - e||^2`` (moves
the codes to the encoder outputs) + ``beta`` x **commitment** ``||z - sg[e]||^2`` (keeps
the encoder near its codes). The decoder's gradient is copied to the encoder by the
**straight-through** estimator, ``z_q = z + sg[e - z]`` (value ``e``, gradient identity).

``ema=True`` replaces the codebook loss by exponential-moving-average updates of the codes
(Razavi et al. 2019, appendix of van den Oord et al.): with ``n_k`` the number of vectors
assigned to code ``k`` in the batch and ``s_k`` their sum,
``N_k <- d N_k + (1 - d) n_k``, ``m_k <- d m_k + (1 - d) s_k``, Laplace smoothing
``N'_k = (N_k + eps) / (sum N + K eps) * sum N`` and ``e_k = m_k / N'_k``. gdl starts
``N_k = 1, m_k = e_k`` (so the first update leaves unused codes where they are; starting
``N_k = 0`` sends them far away).

Metrics: :func:`code_perplexity` ``exp(H(p))`` of the batch's code frequencies ``p``
(equals the number of codes when all are used equally) and the share of codes used.

Data-parallel: the code counts behind the EMA update, the perplexity and the usage are
summed over replicas (:class:`gdl.distribute.GlobalBatch`), so they are the global
batch's on any number of devices and every replica keeps the same codebook.
"""

from __future__ import annotations

import keras
from keras import ops

from gdl.distribute import GlobalBatch


def code_perplexity(indices, num_embeddings: int):
    """``exp(-sum_k p_k log p_k)`` with ``p_k`` the frequency of code ``k`` in ``indices``."""
    one_hot = ops.one_hot(ops.reshape(ops.cast(indices, "int32"), (-1,)), num_embeddings)
    p = ops.mean(one_hot, axis=0)
    return ops.exp(-ops.sum(p * ops.log(p + 1e-10)))


@keras.saving.register_keras_serializable(package="gdl")
class VectorQuantizer(keras.layers.Layer):
    """Nearest-code quantisation with straight-through gradients; see the module docstring.

    ``call(z)`` returns the straight-through quantised tensor (same shape as ``z``) and adds
    ``codebook + beta * commitment`` to the layer's losses (so a plain functional model
    trains with ``fit``). :meth:`quantize_vectors` returns everything: ``quantized``, ``indices``,
    ``codebook_loss``, ``commitment_loss``, ``loss``, ``perplexity``, ``usage``.
    :meth:`lookup` maps code indices back to vectors (decoding a prior's samples).
    """

    def __init__(self, num_embeddings: int = 64, embedding_dim: int = 16, beta: float = 0.25,
                 ema: bool = False, decay: float = 0.99, epsilon: float = 1e-5, seed=None,
                 **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.beta, self.ema = float(beta), bool(ema)
        self.decay, self.epsilon = float(decay), float(epsilon)
        self.seed = seed

    def build(self, input_shape):
        if int(input_shape[-1]) != self.embedding_dim:
            raise ValueError(f"VectorQuantizer(embedding_dim={self.embedding_dim}) got vectors "
                             f"of size {input_shape[-1]}; match the encoder's last layer")  # fmt: skip
        k = self.num_embeddings
        self.embeddings = self.add_weight(
            shape=(k, self.embedding_dim), name="embeddings", trainable=not self.ema,
            initializer=keras.initializers.RandomUniform(-1.0 / k, 1.0 / k, self.seed),
        )  # fmt: skip
        if self.ema:
            self.cluster_size = self.add_weight(shape=(k,), name="cluster_size",
                                                initializer="ones", trainable=False)  # fmt: skip
            self.embed_sum = self.add_weight(shape=(k, self.embedding_dim), name="embed_sum",
                                             initializer="zeros", trainable=False)  # fmt: skip
            self.embed_sum.assign(self.embeddings.value)

    def nearest(self, flat):
        """Index of the nearest code for each row of ``flat`` ``(N, D)``."""
        e = self.embeddings
        d = (ops.sum(ops.square(flat), axis=1, keepdims=True) - 2.0 * ops.matmul(flat, ops.transpose(e))
             + ops.sum(ops.square(e), axis=1)[None, :])  # fmt: skip
        return ops.argmin(d, axis=1)

    def lookup(self, indices):
        """Code vectors for integer ``indices`` of any shape: ``(*indices.shape, D)``."""
        return ops.take(self.embeddings, ops.cast(indices, "int32"), axis=0)

    def ema_update(self, flat, one_hot, split: GlobalBatch | None = None):
        """One EMA step of the codebook on vectors ``flat`` ``(N, D)`` and their one-hot codes
        (with ``split``: the counts and sums of the global batch)."""
        flat, one_hot = ops.stop_gradient(flat), ops.stop_gradient(one_hot)
        split = split or GlobalBatch(ops.shape(flat)[0])
        d = self.decay
        size = d * self.cluster_size + (1.0 - d) * split.sum(ops.sum(one_hot, axis=0))
        total = ops.sum(size, axis=0, keepdims=True)
        sums = d * self.embed_sum + (1.0 - d) * split.sum(ops.matmul(ops.transpose(one_hot), flat))
        smoothed = (size + self.epsilon) / (total + self.num_embeddings * self.epsilon) * total
        self.cluster_size.assign(size)
        self.embed_sum.assign(sums)
        self.embeddings.assign(sums / smoothed[:, None])

    def quantize_vectors(self, z, training=False):
        z = ops.convert_to_tensor(z)
        flat = ops.reshape(z, (-1, self.embedding_dim))
        indices = self.nearest(flat)
        one_hot = ops.one_hot(indices, self.num_embeddings, dtype=flat.dtype)
        split = GlobalBatch(ops.shape(flat)[0])
        codes = ops.reshape(ops.matmul(one_hot, self.embeddings), ops.shape(z))
        commitment = ops.mean(ops.square(z - ops.stop_gradient(codes)))
        codebook = ops.mean(ops.square(ops.stop_gradient(z) - codes))
        if self.ema:
            codebook = ops.zeros_like(codebook)
            if training:
                self.ema_update(flat, one_hot, split)
        counts = split.sum(ops.sum(ops.stop_gradient(one_hot), axis=0))  # the global batch's
        p = counts / ops.maximum(ops.sum(counts), 1.0)
        return {
            "quantized": z + ops.stop_gradient(codes - z),
            "indices": ops.reshape(indices, ops.shape(z)[:-1]),
            "codebook_loss": codebook,
            "commitment_loss": commitment,
            "loss": codebook + self.beta * commitment,
            "perplexity": ops.exp(-ops.sum(p * ops.log(p + 1e-10))),
            "usage": ops.mean(ops.cast(p > 0, flat.dtype)),
        }

    def call(self, z, training=False):
        out = self.quantize_vectors(z, training=training)
        self.add_loss(out["loss"])
        return out["quantized"]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_embeddings": self.num_embeddings,
                "embedding_dim": self.embedding_dim, "beta": self.beta, "ema": self.ema,
                "decay": self.decay, "epsilon": self.epsilon, "seed": self.seed}  # fmt: skip
