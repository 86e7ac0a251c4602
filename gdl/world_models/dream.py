"""Training in the dream: the MDN-RNN as a gymnasium environment.

Chapter 12: "the MDN-RNN acts as the environment; a temperature parameter scales
model uncertainty to stop the controller exploiting model errors" (the paper found
τ = 1.15 best for DoomTakeCover). The observation is the controller's input
``[z, h]``; each step feeds ``[z, a]`` through the LSTM, samples the next ``z`` from
the mixture at temperature τ, and reads the reward and done heads. ``render()``
decodes ``z`` with the VAE when a decoder is given.

It runs on :class:`~gdl.world_models.agent.NumpyWorldModel` (NumPy), so CMA-ES worker
processes can dream without TensorFlow; :func:`from_models` builds one from Keras models.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from gdl.world_models.controller import ACTION_HIGH, ACTION_LOW


class DreamEnv(gym.Env):
    """A gymnasium ``Env`` whose dynamics are the MDN-RNN's.

    ``model``: a :class:`~gdl.world_models.agent.NumpyWorldModel`; ``temperature``: τ;
    ``initial_z``: latents to start episodes from (one row drawn per reset; N(0, I)
    when None); ``max_steps``: truncation; ``decoder``: ``z (1, z_dim) -> frames`` in
    [0, 1] for ``render()``; ``done_threshold``: the episode ends when a uniform draw
    falls below the done head's probability (``"sample"``) or when it exceeds 0.5.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(
        self,
        model,
        temperature: float = 1.15,
        max_steps: int = 1000,
        initial_z=None,
        decoder: Callable | None = None,
        render_mode: str | None = None,
        done_mode: str = "sample",
    ):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if render_mode is not None and decoder is None:
            raise ValueError("render_mode='rgb_array' needs a decoder (the VAE's decode)")
        if done_mode not in ("sample", "threshold"):
            raise ValueError(f"done_mode must be 'sample' or 'threshold', got {done_mode!r}")
        self.model, self.temperature, self.max_steps = model, float(temperature), int(max_steps)
        self.decoder, self.render_mode, self.done_mode = decoder, render_mode, done_mode
        self.initial_z = None if initial_z is None else np.asarray(initial_z, "float32")
        size = model.z_dim + model.hidden_units
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)
        self.action_space = gym.spaces.Box(ACTION_LOW, ACTION_HIGH, dtype=np.float32)
        self.z = np.zeros(model.z_dim, "float32")
        self.state = model.initial_state()
        self.steps = 0

    def _obs(self):
        return np.concatenate([self.z, self.state[0]]).astype(np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if self.initial_z is not None and len(self.initial_z):
            self.z = self.initial_z[self.np_random.integers(len(self.initial_z))].copy()
        else:
            self.z = self.np_random.standard_normal(self.model.z_dim).astype(np.float32)
        self.state = self.model.initial_state()
        self.steps = 0
        return self._obs(), {}

    def step(self, action):
        action = np.clip(np.asarray(action, np.float32).reshape(-1), ACTION_LOW, ACTION_HIGH)
        if action.shape != (3,):
            raise ValueError(f"action must have shape (3,), got {np.shape(action)}")
        self.state = self.model.lstm_step(self.z, action, self.state)
        mixture, reward, done_prob = self.model.heads(self.state[0])
        self.z = self.model.sample_z(*mixture, self.temperature, self.np_random)
        self.steps += 1
        if self.done_mode == "sample":
            terminated = bool(self.np_random.random() < done_prob)
        else:
            terminated = done_prob > 0.5
        truncated = self.steps >= self.max_steps
        return self._obs(), float(reward), terminated, truncated, {"done_prob": done_prob}

    def render(self):
        if self.decoder is None:
            raise RuntimeError("DreamEnv.render needs a decoder: DreamEnv(..., decoder=vae.decode)")
        frame = np.asarray(self.decoder(self.z[None]))[0]
        return (np.clip(frame, 0, 1) * 255).astype(np.uint8)


def from_models(vae, rnn, **kwargs) -> DreamEnv:
    """A :class:`DreamEnv` from a trained :class:`WorldModelVAE` and :class:`MDNRNN`."""
    from gdl.world_models.agent import NumpyWorldModel, extract_weights

    kwargs.setdefault("decoder", vae.decode)
    return DreamEnv(NumpyWorldModel(extract_weights(vae, rnn)), **kwargs)
