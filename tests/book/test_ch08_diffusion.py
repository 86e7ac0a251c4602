"""gdl.book.ch08_diffusion.diffusion_data on the embedded digits."""

import numpy as np
import pytest

from gdl.book.ch03_vae import fashion_images
from gdl.book.ch08_diffusion import diffusion_data
from gdl.errors import ConfigError


def test_diffusion_digits_use_the_shared_split():
    train, valid, shape = diffusion_data("digits", batch_size=8)
    assert shape == (32, 32, 1) and len(train) == 1437
    # one permutation for every chapter: the same images in the same order
    (x, _), _, _ = fashion_images("digits")
    np.testing.assert_allclose(train, x, atol=1e-6)
    with pytest.raises(ConfigError, match="flowers or digits"):
        diffusion_data("cifar10")
