"""The World Models controller ("C"): one linear layer from ``[z, h]`` to 3 actions.

With z = 32 and an LSTM of 256 units this has (32 + 256) x 3 + 3 = 867 parameters,
the number the book quotes for CarRacing. Output squashing follows Ha &
Schmidhuber's code: steering ``tanh``, gas ``(tanh + 1) / 2`` and brake
``clip(tanh, 0, 1)``, so every action lies in CarRacing's box ``[-1,1] x [0,1] x [0,1]``.

It is plain NumPy on purpose: CMA-ES evaluates thousands of parameter vectors in
worker processes that never import TensorFlow (see :mod:`gdl.world_models.agent`).
"""

from __future__ import annotations

import numpy as np

ACTION_LOW = np.array([-1.0, 0.0, 0.0], "float32")
ACTION_HIGH = np.array([1.0, 1.0, 1.0], "float32")


class Controller:
    """Linear policy ``a = squash(W^T [z, h] + b)``; ``params`` is the flat vector CMA-ES moves."""

    def __init__(self, z_dim: int = 32, hidden_units: int = 256, action_dim: int = 3, params=None):
        if action_dim != 3:
            raise ValueError(f"the CarRacing controller has 3 actions, got action_dim={action_dim}")
        self.z_dim, self.hidden_units, self.action_dim = int(z_dim), int(hidden_units), action_dim
        self.input_dim = self.z_dim + self.hidden_units
        self.set_params(np.zeros(self.num_params, "float32") if params is None else params)

    @property
    def num_params(self) -> int:
        return self.input_dim * self.action_dim + self.action_dim

    def set_params(self, params) -> None:
        params = np.asarray(params, "float32").ravel()
        if params.size != self.num_params:
            raise ValueError(
                f"controller expects {self.num_params} parameters "
                f"(({self.z_dim}+{self.hidden_units})*3+3), got {params.size}"
            )
        self.params = params
        self.weight = params[: -self.action_dim].reshape(self.input_dim, self.action_dim)
        self.bias = params[-self.action_dim :]

    def act(self, z, h) -> np.ndarray:
        """Actions for ``z`` ``(..., z_dim)`` and ``h`` ``(..., hidden_units)``."""
        return self.act_on(np.concatenate([np.asarray(z), np.asarray(h)], axis=-1))

    def act_on(self, features) -> np.ndarray:
        """Actions for the concatenated ``[z, h]`` (the dream environment's observation)."""
        features = np.asarray(features, "float32")
        if features.shape[-1] != self.input_dim:
            raise ValueError(
                f"controller input must have {self.input_dim} features ([z, h]), "
                f"got shape {features.shape}"
            )
        raw = np.tanh(features @ self.weight + self.bias)
        steer = raw[..., 0]
        gas = (raw[..., 1] + 1.0) / 2.0
        brake = np.clip(raw[..., 2], 0.0, 1.0)
        return np.stack([steer, gas, brake], axis=-1).astype("float32")
