"""Chapter 8 (diffusion models): the DDIM's training and validation images."""

from __future__ import annotations

from gdl.book.images import digits
from gdl.config import pick
from gdl.errors import ConfigError


def diffusion_data(name: str = "flowers", batch_size: int = 64, repetitions: int = 5,
                   image_size: int = 64):  # fmt: skip
    """``(train, validation, image_shape)`` for the DDIM, images in [0, 1].

    ``flowers`` (book): a ``tf.data`` pipeline of 64x64 RGB images repeated
    ``repetitions`` times, batched by ``batch_size`` (the book drops the remainder; gdl
    does not need to), plus one batch for validation (KID). ``digits``: the embedded
    digits as 32x32x1 arrays, 80/20 split (one batch of validation in smoke mode).
    """
    if name == "flowers":
        from gdl.data import load

        train = load("flowers", image_size=image_size, batch_size=batch_size, repeat=repetitions)
        valid = load("flowers", image_size=image_size, batch_size=batch_size, seed=7).take(1)
        return train, valid, (image_size, image_size, 3)
    if name == "digits":
        (x_train, _), (x_test, _) = digits(32, 1, (0.0, 1.0))
        return x_train, x_test[: pick(len(x_test), batch_size)], (32, 32, 1)
    raise ConfigError(f"the diffusion model trains on flowers or digits, not {name!r}")
