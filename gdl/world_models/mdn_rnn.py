"""The World Models MDN-RNN ("M"): ``p(z_{t+1}, r_t, done_t | z_t, a_t, h_t)``.

Chapter 12 describes it in prose (no notebook). As in Ha & Schmidhuber (2018): an
LSTM with 256 units over ``[z_t, a_t]`` followed by a mixture-density head with 5
Gaussians per latent dimension (:class:`gdl.layers.mdn.MDNHead`), trained on
sequences of VAE latents (resampled from the stored ``mu``/``log_var`` every epoch)
with Adam and gradient clipping 1.0. Reward and done heads are added as in the
paper's DoomTakeCover model and the book's description ("predicts the next z and the
reward"), so the network can serve as a dream environment (:mod:`gdl.world_models.dream`).

The book-style custom ``train_step`` is written as ``compute_loss`` (one optimizer;
DESIGN.md): mixture NLL + ``reward_weight`` x MSE + ``done_weight`` x binary
cross-entropy, masked where a window is padded past an episode's end.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from gdl.distribute import global_batch_loss
from gdl.layers.mdn import MDNHead, mdn_nll, mdn_sample
from gdl.models.optimizers import BookCompile


@keras.saving.register_keras_serializable(package="gdl")
class MDNRNN(BookCompile, keras.Model):
    """``model((z, a))`` -> ``(logits, mu, log_sigma, reward, done_logit)``.

    ``z``: ``(B, T, z_dim)``, ``a``: ``(B, T, action_dim)``. Mixture parameters have
    shape ``(B, T, z_dim, num_mixtures)``; ``reward`` and ``done_logit`` ``(B, T)``.
    Targets for ``fit``: ``(z_next, reward, done, mask)`` (see :func:`make_sequences`).
    """

    book_learning_rate = 1e-3
    book_optimizer_kwargs = {"clipnorm": 1.0}

    def __init__(
        self,
        z_dim: int = 32,
        action_dim: int = 3,
        hidden_units: int = 256,
        num_mixtures: int = 5,
        reward_weight: float = 1.0,
        done_weight: float = 1.0,
        seed: int | None = None,
        **kw,
    ):
        super().__init__(**kw)
        self.z_dim, self.action_dim = int(z_dim), int(action_dim)
        self.hidden_units, self.num_mixtures = int(hidden_units), int(num_mixtures)
        self.reward_weight, self.done_weight = float(reward_weight), float(done_weight)
        self.seed = seed
        self.lstm = layers.LSTM(
            self.hidden_units, return_sequences=True, return_state=True, name="lstm"
        )
        self.mdn = MDNHead(self.z_dim, self.num_mixtures, name="mdn")
        self.reward_head = layers.Dense(1, name="reward")
        self.done_head = layers.Dense(1, name="done")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss", "z_nll", "reward_mse", "done_bce")
        }
        self.build()

    def build(self, input_shape=None):
        self.lstm.build((None, None, self.z_dim + self.action_dim))
        for head in (self.mdn, self.reward_head, self.done_head):
            head.build((None, None, self.hidden_units))
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, initial_state=None, training=False, return_state=False):
        z, a = inputs
        x = ops.concatenate([ops.cast(z, "float32"), ops.cast(a, "float32")], axis=-1)
        seq, h, c = self.lstm(x, initial_state=initial_state, training=training)
        logits, mu, log_sigma = self.mdn(seq)
        reward = self.reward_head(seq)[..., 0]
        done_logit = self.done_head(seq)[..., 0]
        out = (logits, mu, log_sigma, reward, done_logit)
        return (out, (h, c)) if return_state else out

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        z_next, reward, done, mask = y
        logits, mu, log_sigma, reward_pred, done_logit = y_pred
        mask = ops.cast(mask, "float32")
        denom = ops.maximum(ops.sum(mask), 1.0)
        z_nll = mdn_nll(z_next, logits, mu, log_sigma, mask=mask)
        reward_mse = ops.sum(ops.square(ops.cast(reward, "float32") - reward_pred) * mask) / denom
        bce = ops.binary_crossentropy(ops.cast(done, "float32"), done_logit, from_logits=True)
        done_bce = ops.sum(bce * mask) / denom
        total = z_nll + self.reward_weight * reward_mse + self.done_weight * done_bce
        for name, value in zip(self.trackers, (total, z_nll, reward_mse, done_bce)):
            self.trackers[name].update_state(value, sample_weight=denom)  # per step
        return global_batch_loss(total, ops.sum(mask))  # replicas hold unequal steps

    def initial_state(self, batch_size: int = 1):
        """Zero LSTM state ``(h, c)``, each ``(batch_size, hidden_units)``."""
        zeros = np.zeros((batch_size, self.hidden_units), "float32")
        return zeros, zeros.copy()

    def sample_next(self, z, a, h=None, temperature: float = 1.0, seed=None):
        """One dream step: ``(z_next, reward, done_prob, (h, c))`` as NumPy arrays.

        ``seed`` (an int, 0 included) fixes the draw of ``z_next``; ``None`` uses the
        model's own ``SeedGenerator``.

        ``z``: ``(B, z_dim)``, ``a``: ``(B, action_dim)``, ``h``: the LSTM state
        ``(h, c)`` (zeros when None). ``temperature`` τ scales the mixture as in the paper.
        """
        z = np.asarray(z, "float32").reshape(-1, self.z_dim)
        a = np.asarray(a, "float32").reshape(-1, self.action_dim)
        if z.shape[0] != a.shape[0]:
            raise ValueError(f"z has batch {z.shape[0]} but a has batch {a.shape[0]}")
        state = self.initial_state(z.shape[0]) if h is None else h
        (logits, mu, log_sigma, reward, done_logit), (hn, cn) = self(
            (z[:, None], a[:, None]), initial_state=list(state), return_state=True
        )
        z_next = mdn_sample(
            logits[:, 0],
            mu[:, 0],
            log_sigma[:, 0],
            temperature,
            seed=self.seed_generator if seed is None else seed,
        )
        return (
            ops.convert_to_numpy(z_next),
            ops.convert_to_numpy(reward[:, 0]),
            ops.convert_to_numpy(ops.sigmoid(done_logit[:, 0])),
            (ops.convert_to_numpy(hn), ops.convert_to_numpy(cn)),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "z_dim": self.z_dim,
            "action_dim": self.action_dim,
            "hidden_units": self.hidden_units,
            "num_mixtures": self.num_mixtures,
            "reward_weight": self.reward_weight,
            "done_weight": self.done_weight,
            "seed": self.seed,
        }


def make_sequences(series: list[dict], seq_len: int = 1000, rng=None):
    """Cut encoded episodes into training windows for :class:`MDNRNN`.

    ``series``: one dict per episode with ``mu``, ``log_var`` (``(T+1, z_dim)``, the
    latents of every observation), ``action`` ``(T, 3)``, ``reward`` ``(T,)`` and
    ``done`` ``(T,)``. Latents are sampled ``z = mu + exp(log_var/2) eps`` (fresh for
    every call, as the paper resamples each epoch). Returns ``(x, y)`` for ``fit``:
    ``x = (z, a)`` and ``y = (z_next, reward, done, mask)``, windows padded to ``seq_len``.
    """
    rng = np.random.default_rng(rng)
    zs, acts, z_next, rews, dones, masks = [], [], [], [], [], []
    for ep in series:
        mu, log_var = ep["mu"], ep["log_var"]
        z = mu + np.exp(0.5 * log_var) * rng.standard_normal(mu.shape).astype("float32")
        steps = len(ep["action"])
        for start in range(0, steps, seq_len):
            stop = min(start + seq_len, steps)
            pad = seq_len - (stop - start)

            def cut(arr, lo, hi, pad=pad):
                arr = np.asarray(arr[lo:hi], "float32")
                return np.pad(arr, [(0, pad)] + [(0, 0)] * (arr.ndim - 1))

            zs.append(cut(z, start, stop))
            acts.append(cut(ep["action"], start, stop))
            z_next.append(cut(z, start + 1, stop + 1))
            rews.append(cut(ep["reward"], start, stop))
            dones.append(cut(ep["done"], start, stop))
            masks.append(cut(np.ones(steps), start, stop))
    stack = np.stack
    return (stack(zs), stack(acts)), (stack(z_next), stack(rews), stack(dones), stack(masks))
