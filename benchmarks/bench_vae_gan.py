"""Chapters 3 and 4: train-step time at the book's batch sizes, VAE quality on digits,
WGAN-GP mode coverage on a ring of 8 Gaussians (each against a baseline in the same run).

CPU timings on a shared, loaded machine are noisy; compare within one run only.
"""

import numpy as np

from benchmarks.harness import benchmark, timeit

RING_MODES = 8
RING_RADIUS = 2.0
RING_SIGMA = 0.05


@benchmark
def train_step():
    """Median seconds per ``train_on_batch`` (random data) at each book batch size."""
    from gdl.models.autoencoder import Autoencoder
    from gdl.models.gan import DCGAN, WGANGP, ConditionalWGAN
    from gdl.models.vae import VAE, FacesVAE

    rng = np.random.default_rng(0)
    rows = {}

    def run(label, model, x, y=None, repeat=3):
        rows[label] = timeit(lambda: model.train_on_batch(x, y), repeat=repeat, warmup=1)[
            "median_s"
        ]

    import keras

    fashion = rng.uniform(size=(100, 32, 32, 1)).astype("float32")
    ae = Autoencoder()
    ae.compile(optimizer="adam")
    run("autoencoder, batch 100 (s)", ae, fashion)
    vae = VAE()
    vae.compile(optimizer=keras.optimizers.Adam(5e-4))
    run("vae fashion, batch 100 (s)", vae, fashion)
    faces32 = rng.uniform(size=(128, 32, 32, 3)).astype("float32")
    fvae = FacesVAE()
    fvae.compile(optimizer=keras.optimizers.Adam(5e-4))
    run("vae faces, batch 128 (s)", fvae, faces32)
    bricks = rng.uniform(-1, 1, size=(128, 64, 64, 1)).astype("float32")
    dcgan = DCGAN()
    dcgan.compile()
    run("dcgan, batch 128 (s)", dcgan, bricks)
    faces64 = rng.uniform(-1, 1, size=(128, 64, 64, 3)).astype("float32")
    cgan = ConditionalWGAN()
    cgan.compile()
    run("cgan (3 critic steps), batch 128 (s)", cgan, faces64, np.arange(128) % 2, repeat=2)
    wgan = WGANGP()
    wgan.compile()
    big = rng.uniform(-1, 1, size=(512, 64, 64, 3)).astype("float32")
    run("wgan-gp (3 critic steps), batch 512 (s)", wgan, big, repeat=1)
    return rows


@benchmark
def vae_digits():
    """Book VAE (2-D latent, beta 500) on 80% of the embedded digits, scored on the other 20%.

    Baselines in the same run: PCA with 2 components (reconstruction), an independent
    per-pixel Bernoulli with the training mean (likelihood: its NLL vs the VAE's -ELBO).
    -ELBO = sum over pixels of BCE(x, decode(z ~ q(z|x))) + KL, nats per image (beta = 1).
    """
    import keras
    from sklearn.decomposition import PCA

    from gdl.book.ch03_vae import fashion_images
    from gdl.models.vae import VAE, kl_divergence

    keras.utils.set_random_seed(0)
    (x, _), (xt, _), _ = fashion_images("digits")
    epochs = 30
    vae = VAE()
    vae.compile(optimizer=keras.optimizers.Adam(5e-4))
    vae.fit(x, batch_size=100, epochs=epochs, verbose=0)

    eps = 1e-7

    def bce_sum(target, p):
        p = np.clip(p, eps, 1 - eps)
        return -(target * np.log(p) + (1 - target) * np.log(1 - p)).reshape(len(target), -1).sum(1)

    z_mean, z_log_var, z = (np.asarray(v) for v in vae.encoder.predict(xt, verbose=0))
    rec_sample = vae.decode(z)
    neg_elbo = bce_sum(xt, rec_sample) + np.asarray(kl_divergence(z_mean, z_log_var))
    rec_mean = vae.decode(z_mean)
    pixel_mean = np.clip(x.mean(0, keepdims=True), eps, 1 - eps)
    pca = PCA(2).fit(x.reshape(len(x), -1))
    pca_rec = pca.inverse_transform(pca.transform(xt.reshape(len(xt), -1))).reshape(xt.shape)
    mse = lambda a: float(((xt - a) ** 2).mean())  # noqa: E731
    return {
        "train / test images": f"{len(x)} / {len(xt)}",
        "epochs (batch 100)": epochs,
        "VAE test reconstruction MSE (decode z_mean)": mse(rec_mean),
        "PCA-2 test reconstruction MSE": mse(pca_rec),
        "pixel-mean test MSE": mse(np.broadcast_to(pixel_mean, xt.shape)),
        "VAE test -ELBO (nats/image)": float(neg_elbo.mean()),
        "pixel-mean Bernoulli test NLL (nats/image)": float(
            bce_sum(xt, np.broadcast_to(pixel_mean, xt.shape)).mean()
        ),
        "VAE test KL (nats/image)": float(np.asarray(kl_divergence(z_mean, z_log_var)).mean()),
    }


def ring_data(n, rng):
    angles = 2 * np.pi * rng.integers(0, RING_MODES, n) / RING_MODES
    centres = RING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], 1)
    return (centres + RING_SIGMA * rng.standard_normal((n, 2))).astype("float32")


def ring_scores(samples, min_share=0.01):
    """Modes covered (>= ``min_share`` of samples within 3 sigma of it) and the share of
    samples within 3 sigma of any mode."""
    angles = 2 * np.pi * np.arange(RING_MODES) / RING_MODES
    modes = RING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], 1)
    d = np.linalg.norm(samples[:, None, :] - modes[None], axis=-1)
    near = d.min(1) < 3 * RING_SIGMA
    counts = np.bincount(d.argmin(1)[near], minlength=RING_MODES)
    return int((counts >= min_share * len(samples)).sum()), float(near.mean())


@benchmark
def wgan_ring():
    """gdl's WGANGP with small MLPs (3 x 128 ReLU) on a ring of 8 Gaussians (radius 2,
    sigma 0.05); 5 critic steps and Adam(1e-3, 0.5, 0.9), GP weight 10.

    Same run: the untrained generator as a baseline and the data itself as the ceiling.
    """
    import keras
    from keras import layers

    from gdl.models.gan import WGANGP

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)

    def mlp(n_in, n_out, name):
        inp = keras.Input((n_in,))
        h = inp
        for _ in range(3):
            h = layers.Dense(128, activation="relu")(h)
        return keras.Model(inp, layers.Dense(n_out)(h), name=name)

    model = WGANGP(
        critic=mlp(2, 1, "critic"), generator=mlp(2, 2, "generator"), latent_dim=2, critic_steps=5
    )
    model.compile(
        c_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.9),
        g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.9),
    )
    n_eval = 4000
    before = model.generate(n_eval, seed=1)
    steps, batch = 1500, 256
    model.fit(ring_data(steps * batch, rng), batch_size=batch, epochs=1, verbose=0)
    after = model.generate(n_eval, seed=1)
    rows = {"generator steps (5 critic steps each, Adam 1e-3), batch": f"{steps}, {batch}"}
    for label, s in (
        ("untrained generator", before),
        ("WGAN-GP", after),
        ("real data", ring_data(n_eval, rng)),
    ):
        covered, share = ring_scores(s)
        rows[f"{label}: modes covered of 8"] = covered
        rows[f"{label}: share within 3 sigma"] = share
    return rows
