"""NumPy copies of the trained V and M networks, for rollouts in worker processes.

CMA-ES needs tens of thousands of single-frame steps: a VAE encoding and an LSTM step
per frame. Doing them in NumPy (a few small matmuls) is faster than calling Keras
once per frame, and lets worker processes run without importing TensorFlow (spawn
start-up and memory stay small). :func:`extract_weights` takes the arrays out of a
:class:`~gdl.world_models.vae.WorldModelVAE` and an :class:`~gdl.world_models.mdn_rnn.MDNRNN`;
the tests check that these copies reproduce the Keras outputs.
"""

from __future__ import annotations

import numpy as np

from gdl.world_models.controller import Controller


def extract_weights(vae, rnn) -> dict:
    """Plain NumPy arrays of the encoder (mean path) and of the MDN-RNN."""
    w = {}
    for i in range(4):
        kernel, bias = vae.encoder.get_layer(f"conv{i}").get_weights()
        w[f"conv{i}/kernel"], w[f"conv{i}/bias"] = kernel, bias
    w["mu/kernel"], w["mu/bias"] = vae.encoder.get_layer("mu").get_weights()
    kernel, recurrent, bias = rnn.lstm.get_weights()
    w["lstm/kernel"], w["lstm/recurrent"], w["lstm/bias"] = kernel, recurrent, bias
    w["mdn/kernel"], w["mdn/bias"] = rnn.mdn.dense.get_weights()
    w["reward/kernel"], w["reward/bias"] = rnn.reward_head.get_weights()
    w["done/kernel"], w["done/bias"] = rnn.done_head.get_weights()
    w["num_mixtures"] = np.int64(rnn.num_mixtures)
    w["log_sigma_range"] = np.array([rnn.mdn.log_sigma_min, rnn.mdn.log_sigma_max])
    return {k: np.asarray(v) for k, v in w.items()}


def _conv_valid(x, kernel, bias, stride=2):
    """'valid' convolution of one image ``(H, W, C)`` with ``kernel`` ``(k, k, C, F)``."""
    k = kernel.shape[0]
    patches = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(0, 1))
    patches = patches[::stride, ::stride]  # (oh, ow, C, k, k)
    patches = patches.transpose(0, 1, 3, 4, 2)  # (oh, ow, k, k, C) like the kernel
    return np.tensordot(patches, kernel, axes=3) + bias


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


class NumpyWorldModel:
    """Encoder mean, LSTM step and MDN/reward/done heads from :func:`extract_weights`."""

    def __init__(self, weights: dict):
        self.w = weights
        self.z_dim = weights["mu/kernel"].shape[1]
        self.hidden_units = weights["lstm/recurrent"].shape[0]
        self.num_mixtures = int(weights["num_mixtures"])
        self.log_sigma_min, self.log_sigma_max = (float(v) for v in weights["log_sigma_range"])

    def encode(self, frame) -> np.ndarray:
        """Posterior mean ``z`` of one uint8 frame ``(64, 64, 3)``."""
        x = np.asarray(frame, "float32") / 255.0
        for i in range(4):
            x = np.maximum(_conv_valid(x, self.w[f"conv{i}/kernel"], self.w[f"conv{i}/bias"]), 0)
        return (x.reshape(-1) @ self.w["mu/kernel"] + self.w["mu/bias"]).astype("float32")

    def initial_state(self):
        zeros = np.zeros(self.hidden_units, "float32")
        return zeros, zeros.copy()

    def lstm_step(self, z, a, state):
        """Keras LSTM cell maths (gates i, f, c, o; sigmoid/tanh) on one ``[z, a]``."""
        h, c = state
        x = np.concatenate([z, a]).astype("float32")
        gates = x @ self.w["lstm/kernel"] + h @ self.w["lstm/recurrent"] + self.w["lstm/bias"]
        i, f, g, o = np.split(gates, 4)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        return h.astype("float32"), c.astype("float32")

    def heads(self, h):
        """Mixture ``(logits, mu, log_sigma)`` each ``(z_dim, K)``, reward, done probability."""
        raw = (h @ self.w["mdn/kernel"] + self.w["mdn/bias"]).reshape(self.z_dim, -1)
        logits, mu, log_sigma = np.split(raw, 3, axis=-1)
        log_sigma = np.clip(log_sigma, self.log_sigma_min, self.log_sigma_max)
        reward = float((h @ self.w["reward/kernel"] + self.w["reward/bias"])[0])
        done = float(_sigmoid(h @ self.w["done/kernel"] + self.w["done/bias"])[0])
        return (logits, mu, log_sigma), reward, done

    def sample_z(self, logits, mu, log_sigma, temperature: float, rng) -> np.ndarray:
        """One draw per dimension at temperature τ (logits / τ, sigma * sqrt(τ))."""
        if temperature <= 0:
            return mu[np.arange(self.z_dim), logits.argmax(-1)].astype("float32")
        scaled = logits / temperature
        probs = np.exp(scaled - scaled.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        u = rng.random((self.z_dim, 1))
        k = np.minimum((probs.cumsum(-1) < u).sum(-1), self.num_mixtures - 1)
        rows = np.arange(self.z_dim)
        sigma = np.exp(log_sigma[rows, k]) * np.sqrt(temperature)
        return (mu[rows, k] + sigma * rng.standard_normal(self.z_dim)).astype("float32")


class WorldModelAgent:
    """The full agent in the real environment: V encodes, C acts on ``[z, h]``, M updates h."""

    def __init__(self, model: NumpyWorldModel, params):
        self.model = model
        self.controller = Controller(model.z_dim, model.hidden_units, params=params)
        self.reset()

    def reset(self):
        self.state = self.model.initial_state()

    def act(self, frame) -> np.ndarray:
        z = self.model.encode(frame)
        action = self.controller.act(z, self.state[0])
        self.state = self.model.lstm_step(z, action, self.state)
        return action
