"""The runs behind the notebooks' "What this run should show" cells (chapters 2, 3, 4, 7).

Each benchmark trains one chapter model the way a CPU reader's route does: the
embedded digits (``gdl.book.images.digits``, 1,437 training / 360 held-out images, the
split every chapter's ``digits`` option uses) at the sizes of
:mod:`gdl.book.reader_budget` where it has an entry (``gdl train NAME --data digits``),
else at the book's settings; then it records what the notebook prints at the end of
``fit`` and a quality measure a reader can compare with what they see:

* the held-out loss / accuracy / reconstruction error, against a baseline from the
  same run (PCA, the pixel mean, chance);
* for generators, KID (:class:`gdl.metrics.KID`, random-conv features) of 320 samples
  against 320 held-out digits, with the untrained model and real-against-real as
  bounds, and the share of 500 samples that a digits judge (gdl's chapter 2 CNN with a
  "not a digit" class, :func:`benchmarks.bench_showcase.digit_judge`, trained in the same
  process) calls one digit with probability >= 0.9 (held-out real digits: the ceiling).

The book's datasets (CIFAR-10, Fashion-MNIST, LEGO bricks, CelebA, MNIST) are not on the
machine that ran these (no network) and it has no GPU: the book's settings are not run.
``python -m benchmarks expected`` runs all of them (about 30 CPU minutes: 80 minutes wall on
the shared 2 cores at load average 5-12);
``python -m benchmarks expected.dcgan_digits`` one.
"""

from __future__ import annotations

import os
import time
from functools import cache

import numpy as np

from benchmarks.harness import benchmark

N_KID = 320  # 5 batches of 64, as flows_ebm_diffusion.ddim_kid_digits
N_JUDGED = 500


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def _digits01():
    """``(x, y), (xt, yt)``: the digits at 32x32x1 in [0, 1] (what the judge reads)."""
    from gdl.book.images import digits

    return digits(32, 1, (0.0, 1.0))


@cache
def _judge():
    """The digits judge and its bounds, trained once per process on the training digits."""
    from benchmarks.bench_showcase import digit_judge, recognised

    (x, y), (xt, yt) = _digits01()
    t0 = time.perf_counter()
    judge = digit_judge(x, y)
    rows = {
        "judge: held-out accuracy": float((judge.predict(xt, verbose=0).argmax(1) == yt).mean()),
        "judge: training (s)": time.perf_counter() - t0,
        "real held-out digits recognised (ceiling)": recognised(judge, xt)[0],
    }
    return judge, rows


def _recognised(images01) -> tuple[float, list[int]]:
    from benchmarks.bench_showcase import recognised

    share, per_digit = recognised(_judge()[0], images01)
    return share, per_digit.tolist()


def _kid(generated01, real01) -> float:
    from gdl.metrics import KID

    metric = KID(32, generated01.shape[-1])
    for i in range(0, N_KID, 64):
        metric.update_state(real01[i : i + 64], generated01[i : i + 64])
    return float(metric.result())


class _Clock:
    """Wall and CPU seconds of a block, and the load average when it started."""

    def __enter__(self):
        self.load = _load()
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0

    def rows(self, what: str) -> dict:
        return {
            f"{what}: wall (s)": self.wall,
            f"{what}: CPU (s)": self.cpu,
            f"{what}: load average at start": self.load,
        }


def _last(history, *keys) -> dict:
    return {f"last epoch {k}": float(history.history[k][-1]) for k in keys if k in history.history}


@benchmark
def classifiers_digits():
    """Chapter 2's MLP and CNN, unchanged (32x32x3 inputs, the book's Adam 5e-4, batch 32,
    10 epochs), on the embedded digits as 32x32 RGB (grey in all three channels), held-out
    accuracy. A stand-in for CIFAR-10, which the notebooks load (no embedded route)."""
    import keras

    from gdl.book.images import digits
    from gdl.models.classifiers import BOOK_LEARNING_RATE, cnn, compile_classifier, mlp

    (x, y), (xt, yt) = digits(32, 3, (0.0, 1.0))
    rows = {"train / held-out images (32x32x3)": f"{len(x)} / {len(xt)}",
            "chance accuracy": float(np.bincount(yt).max() / len(yt))}  # fmt: skip
    for name, build in (("mlp", mlp), ("cnn", cnn)):
        keras.utils.set_random_seed(0)
        model = compile_classifier(build(), learning_rate=BOOK_LEARNING_RATE)
        with _Clock() as clock:
            hist = model.fit(x, keras.utils.to_categorical(y, 10), batch_size=32, epochs=10,
                             validation_data=(xt, keras.utils.to_categorical(yt, 10)),
                             verbose=0)  # fmt: skip
        rows.update({f"{name}: {k}": v for k, v in _last(hist, "loss", "accuracy",
                                                             "val_loss", "val_accuracy").items()})  # fmt: skip
        rows[f"{name}: val_accuracy after epoch 1"] = float(hist.history["val_accuracy"][0])
        rows.update(clock.rows(f"{name}: 10 epochs of batch 32"))
    return rows


@benchmark
def autoencoder_digits():
    """Chapter 3's autoencoder (2-D embedding, BCE) on the embedded digits at 32x32x1
    (``fashion_images("digits")``), batch 100: held-out loss and reconstruction MSE after
    the notebook's 3 epochs and after 30; PCA with 2 components and the pixel mean as
    baselines; the judge on decoded points drawn uniformly in the embedding's box."""
    import keras
    from sklearn.decomposition import PCA

    from gdl.book.ch03_vae import fashion_images
    from gdl.models.autoencoder import Autoencoder

    keras.utils.set_random_seed(0)
    (x, _), (xt, _), _ = fashion_images("digits")
    mse = lambda a: float(((xt - a) ** 2).mean())  # noqa: E731
    pca = PCA(2).fit(x.reshape(len(x), -1))
    rows = {
        "train / held-out images": f"{len(x)} / {len(xt)}",
        "PCA-2 held-out reconstruction MSE": mse(
            pca.inverse_transform(pca.transform(xt.reshape(len(xt), -1))).reshape(xt.shape)
        ),
        "pixel-mean held-out MSE": mse(np.broadcast_to(x.mean(0), xt.shape)),
    }
    ae = Autoencoder()
    ae.compile()
    _judge()  # trained before any clock starts
    done = 0
    for epochs in (3, 30):
        with _Clock() as clock:
            hist = ae.fit(x, batch_size=100, epochs=epochs, initial_epoch=done, shuffle=True,
                          validation_data=(xt, xt), verbose=0)  # fmt: skip
        rows.update(clock.rows(f"epochs {done + 1}-{epochs} of batch 100"))
        done = epochs
        tag = f"after {epochs} epochs"
        rows[f"{tag}: loss, val_loss (BCE per pixel)"] = [
            float(hist.history["loss"][-1]),
            float(hist.history["val_loss"][-1]),
        ]
        rows[f"{tag}: held-out reconstruction MSE"] = mse(ae.reconstruct(xt))
        emb = np.asarray(ae.encode(xt))
        box = np.random.default_rng(0).uniform(emb.min(0), emb.max(0), (N_JUDGED, 2))
        rows[f"{tag}: decoded uniform points in the embedding box recognised"] = _recognised(
            ae.decode(box)
        )[0]
        rows[f"{tag}: held-out reconstructions recognised"] = _recognised(ae.reconstruct(xt))[0]
    rows.update(_judge()[1])
    return rows


@benchmark
def vae_faces_digits():
    """Chapter 3's faces VAE at the book's settings (32x32x3, latent 200, beta 2000, batch
    128, 10 epochs, Adam 5e-4) on ``gdl train vae_faces --data digits``'s data (the
    embedded digits as 32x32 RGB): losses, held-out reconstruction MSE (PCA-200 and the
    pixel mean as baselines), KID and judge on samples from N(0, I)."""
    import keras
    from sklearn.decomposition import PCA

    from gdl.book.images import digits
    from gdl.models.vae import FacesVAE

    keras.utils.set_random_seed(0)
    (x, _), (xt, _) = digits(32, 3, (0.0, 1.0))
    vae = FacesVAE()
    vae.compile(optimizer=keras.optimizers.Adam(FacesVAE.book_learning_rate))
    before = vae.generate(N_JUDGED, seed=1).mean(-1, keepdims=True)
    with _Clock() as clock:
        hist = vae.fit(x, batch_size=128, epochs=10, shuffle=True, verbose=0)
    mse = lambda a: float(((xt - a) ** 2).mean())  # noqa: E731
    pca = PCA(200).fit(x.reshape(len(x), -1))
    samples = vae.generate(N_JUDGED, seed=1).mean(-1, keepdims=True)
    real = xt[..., :1]
    rows = {
        "train / held-out images (32x32x3)": f"{len(x)} / {len(xt)}",
        **_last(hist, "loss", "reconstruction_loss", "kl_loss"),
        "held-out reconstruction MSE (decode z_mean)": mse(vae.reconstruct(xt)),
        "PCA-200 held-out reconstruction MSE": mse(
            pca.inverse_transform(pca.transform(xt.reshape(len(xt), -1))).reshape(xt.shape)
        ),
        "pixel-mean held-out MSE": mse(np.broadcast_to(x.mean(0), xt.shape)),
        "KID samples (random-conv)": _kid(samples, real),
        "KID untrained samples (random-conv)": _kid(before, real),
        "KID train vs held-out real (random-conv)": _kid(x[:N_KID, ..., :1], real),
        "samples from N(0, I) recognised": _recognised(samples)[0],
        "samples from N(0, I): digits among them": _recognised(samples)[1],
        "held-out reconstructions recognised": _recognised(
            vae.reconstruct(xt).mean(-1, keepdims=True)
        )[0],
    }
    rows.update(clock.rows("10 epochs of batch 128"))
    rows.update(_judge()[1])
    return rows


def _gan_digits(name: str, labels: bool = False) -> dict:
    """``gdl train NAME --data digits``: the reader_budget sizes, the book's optimizers."""
    import keras

    import gdl.models
    from gdl.book.images import image_data
    from gdl.book.reader_budget import reader_settings

    keras.utils.set_random_seed(0)
    sizes = reader_settings(name, "digits")
    size, channels, batch, epochs = (
        sizes[k] for k in ("image_size", "channels", "batch_size", "epochs")
    )
    x, y = image_data(
        "digits", size, channels, (-1.0, 1.0), batch, labels="digit" if labels else None
    )
    cls = {"dcgan": "DCGAN", "wgan_gp": "WGANGP", "cgan": "ConditionalWGAN"}[name]
    kwargs = {"num_classes": 10} if labels else {}
    model = getattr(gdl.models, cls)(image_size=size, channels=channels, **kwargs)
    model.compile()  # the book's Adam settings for both players
    (_, _), (xt, yt) = _digits01()
    real = xt[:N_KID]
    label_list = np.arange(N_JUDGED) % 10

    def samples():
        kw = {"labels": label_list} if labels else {"num": N_JUDGED}
        return (model.generate(seed=1, **kw) + 1.0) / 2.0

    before = samples()
    with _Clock() as clock:
        hist = model.fit(x, y, batch_size=batch, epochs=epochs, shuffle=True, verbose=0)
    after = samples()
    rows = {
        "training": f"{len(x)} digits at {size}x{size}x{channels}, batch {batch}, {epochs} epochs "
        f"({epochs * int(np.ceil(len(x) / batch))} generator steps)",
        **_last(hist, "d_loss", "g_loss", "c_loss", "c_wass_loss", "c_gp"),
        "KID samples (random-conv)": _kid(after, real),
        "KID untrained (random-conv)": _kid(before, real),
        "KID train vs held-out real (random-conv)": _kid(_digits01()[0][0][:N_KID], real),
    }
    share, per_digit = _recognised(after)
    rows["samples recognised"] = share
    rows["samples recognised: digits among them"] = per_digit
    if labels:
        from benchmarks.bench_showcase import CONFIDENCE

        p = _judge()[0].predict(after, verbose=0)
        rows["samples recognised as the digit they were asked for"] = float(
            ((p.argmax(1) == label_list) & (p.max(1) >= CONFIDENCE)).mean()
        )
        rows["samples whose most likely digit is the one asked for"] = float(
            (p.argmax(1) == label_list).mean()
        )
    rows.update(clock.rows(f"{epochs} epochs"))
    rows.update(_judge()[1])
    return rows


@benchmark
def dcgan_digits():
    """Chapter 4's DCGAN as ``gdl train dcgan --data digits`` trains it."""
    return _gan_digits("dcgan")


@benchmark
def wgan_gp_digits():
    """Chapter 4's WGAN-GP as ``gdl train wgan_gp --data digits`` trains it."""
    return _gan_digits("wgan_gp")


@benchmark
def cgan_digits():
    """Chapter 4's conditional WGAN-GP as ``gdl train cgan --data digits`` trains it (10
    classes, the digit): also the share of samples the judge reads as the asked-for digit."""
    return _gan_digits("cgan", labels=True)


def _unpad(images01):
    """The EBM's digits (28x28 padded by 2) as the judge reads digits: the 28x28 centre
    resized to 32x32."""
    import keras

    centre = images01[:, 2:-2, 2:-2, :]
    return np.clip(np.asarray(keras.ops.image.resize(centre, (32, 32))), 0.0, 1.0)


@benchmark
def ebm_digits():
    """Chapter 7's EBM notebook with ``DATA = "digits"``: the book's network and Langevin
    settings (60 steps of size 10, noise 0.005, alpha 0.1, clip 0.03, buffer 8192), batch
    128, reader_budget's 25 epochs; the last epoch's energies, then 1,000-step samples from
    uniform noise (the notebook's section 4) and replay-buffer images, scored."""
    import keras

    from gdl.book.ch07_ebm import ebm_data
    from gdl.book.reader_budget import reader_value
    from gdl.models.ebm import EBM

    keras.utils.set_random_seed(0)
    x, xt = ebm_data("digits")
    epochs = reader_value("ebm", "digits", "epochs", 60)
    ebm = EBM(image_size=32, channels=1, steps=60, step_size=10, noise=0.005, alpha=0.1,
              grad_clip=0.03, buffer_size=8192)  # fmt: skip
    ebm.compile(optimizer=keras.optimizers.Adam(EBM.book_learning_rate))
    real = (xt[:N_KID] + 1.0) / 2.0  # the EBM's digits are 28x28 padded by 2 to 32x32

    def from_noise():
        return (ebm.generate(N_KID, steps=1000, seed=1) + 1.0) / 2.0

    before = from_noise()
    with _Clock() as clock:
        hist = ebm.fit(x, batch_size=128, epochs=epochs, shuffle=True, validation_data=(xt,),
                       verbose=0)  # fmt: skip
    with _Clock() as sampling:
        after = from_noise()
    buffer = (ebm.buffer.images.numpy()[: int(ebm.buffer.count.numpy())] + 1.0) / 2.0
    buffer = buffer[np.random.default_rng(1).permutation(len(buffer))[:N_KID]]
    rows = {
        "training": f"{len(x)} digits at 32x32x1 (28x28 padded by 2), batch 128, {epochs} epochs",
        **_last(hist, "loss", "reg", "cdiv", "real", "fake", "val_cdiv", "val_real", "val_fake"),
        "KID 1000-step samples from noise (random-conv)": _kid(after, real),
        "KID untrained, 1000-step samples (random-conv)": _kid(before, real),
        "KID replay-buffer images (random-conv)": _kid(buffer, real),
        "KID train vs held-out real (random-conv)": _kid((x[:N_KID] + 1.0) / 2.0, real),
        "held-out real digits recognised (ceiling, this format)": _recognised(_unpad(real))[0],
        "1000-step samples from noise recognised": _recognised(_unpad(after))[0],
        "1000-step samples from noise: digits among them": _recognised(_unpad(after))[1],
        "untrained 1000-step samples recognised": _recognised(_unpad(before))[0],
        "replay-buffer images recognised": _recognised(_unpad(buffer))[0],
    }
    rows.update(clock.rows(f"{epochs} epochs"))
    rows.update(sampling.rows(f"{N_KID} samples x 1000 Langevin steps"))
    rows.update(_judge()[1])
    return rows
