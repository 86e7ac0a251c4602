"""RealNVP: invertibility, exact log-determinant, normalised density, training, saving."""

import keras
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from gdl.layers.coupling import Coupling
from gdl.models.realnvp import RealNVP, alternating_masks, standard_normal_log_prob


@pytest.fixture(scope="module", params=[False, True], ids=["separate", "shared_trunk"])
def flow(request):
    keras.utils.set_random_seed(0)
    return RealNVP(
        coupling_dim=16, coupling_layers=4, num_hidden=2, seed=0, shared_trunk=request.param
    )


def test_book_sizes():
    assert Coupling(2, 256, regularization=0.01).count_params() == 397_316
    model = RealNVP()
    assert model.count_params() == 794_632
    assert model.layers_list[0].count_params() == 397_316
    np.testing.assert_array_equal(alternating_masks(2, 2), [[0, 1], [1, 0]])


def test_shared_trunk_is_one_stack_with_two_heads():
    # 4 x Dense(256) shared, then Dense(2, tanh) and Dense(2): half the book's coupling
    shared = Coupling(2, 256, shared_trunk=True)
    assert shared.count_params() == (2 * 256 + 256) + 3 * (256 * 256 + 256) + 2 * (256 * 2 + 2)
    assert shared.count_params() == 199_172
    assert RealNVP(shared_trunk=True).count_params() == 2 * 199_172
    x = np.random.default_rng(0).normal(size=(5, 2)).astype("float32")
    s, t = (np.asarray(v) for v in shared(x))
    h = x
    for layer in shared.trunk:
        h = np.maximum(h @ np.asarray(layer.kernel) + np.asarray(layer.bias), 0.0)
    (s_out,), (t_out,) = shared.s_layers, shared.t_layers
    np.testing.assert_allclose(
        s, np.tanh(h @ np.asarray(s_out.kernel) + np.asarray(s_out.bias)), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        t, h @ np.asarray(t_out.kernel) + np.asarray(t_out.bias), rtol=1e-5, atol=1e-5
    )
    again = Coupling.from_config(shared.get_config())
    assert again.shared_trunk and len(again.trunk) == 4 and len(again.s_layers) == 1


def test_inverse_of_to_latent_is_identity(flow):
    x = np.random.default_rng(1).normal(size=(64, 2)).astype("float32") * 2
    z, _ = flow.to_latent(x)
    assert np.abs(np.asarray(z) - x).max() > 1e-2  # the flow is not trivially the identity
    np.testing.assert_allclose(np.asarray(flow.inverse(z)), x, atol=1e-5)
    np.testing.assert_allclose(np.asarray(flow.to_latent(flow.inverse(x))[0]), x, atol=1e-5)


def test_log_det_matches_numerical_jacobian(flow):
    x = np.random.default_rng(2).normal(size=(8, 2)).astype("float64")
    _, log_det = flow.to_latent(x.astype("float32"))
    eps = 1e-3
    for n in range(len(x)):
        jac = np.zeros((2, 2))
        for j in range(2):
            d = np.zeros((2, 2), "float32")
            d[:, j] = [eps, -eps]
            pts = (x[n][None] + d).astype("float32")
            z = np.asarray(flow.to_latent(pts)[0], dtype="float64")
            jac[:, j] = (z[0] - z[1]) / (2 * eps)
        np.testing.assert_allclose(float(log_det[n]), np.log(abs(np.linalg.det(jac))), atol=2e-3)


def test_standard_normal_log_prob_against_scipy():
    z = np.random.default_rng(3).normal(size=(5, 3)).astype("float32")
    expected = multivariate_normal(np.zeros(3), np.eye(3)).logpdf(z)
    np.testing.assert_allclose(np.asarray(standard_normal_log_prob(z)), expected, rtol=1e-5)


def test_log_prob_integrates_to_one(flow):
    g = np.linspace(-10, 10, 401, dtype="float32")
    xx, yy = np.meshgrid(g, g)
    pts = np.stack([xx.ravel(), yy.ravel()], axis=1)
    density = np.exp(np.asarray(flow.log_prob(pts)))
    mass = density.sum() * (g[1] - g[0]) ** 2
    assert abs(mass - 1.0) < 0.01


def test_objective_adds_l2_but_headline_loss_is_the_books_nll():
    """The optimizer minimises NLL + L2; ``loss`` (and ``val_loss``) report the NLL alone,
    the book's loss, and ``l2_penalty`` the rest."""
    keras.utils.set_random_seed(1)
    from gdl.data import load

    x = load("moons", n=512)
    x = (x - x.mean(0)) / x.std(0)
    model = RealNVP(coupling_dim=32, num_hidden=2, regularization=1e-3, seed=1)
    nll = -float(np.mean(np.asarray(model.log_prob(x))))
    reg = sum(float(v) for v in model.losses)
    assert reg > 0.01  # large enough that mixing it into ``loss`` would fail the checks below
    np.testing.assert_allclose(float(model.compute_loss(x, y_pred=model(x))), nll + reg, rtol=1e-5)
    assert [m.name for m in model.metrics] == ["loss", "l2_penalty"]
    np.testing.assert_allclose(float(model.metrics[0].result()), nll, rtol=1e-5)
    np.testing.assert_allclose(float(model.metrics[1].result()), reg, rtol=1e-5)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    hist = model.fit(x, batch_size=128, epochs=3, verbose=0).history
    assert set(hist) == {"loss", "l2_penalty"}
    assert hist["loss"][-1] < hist["loss"][0] - 0.1
    held = model.evaluate(x[:256], batch_size=256, verbose=0, return_dict=True)
    np.testing.assert_allclose(
        held["loss"], -float(np.mean(np.asarray(model.log_prob(x[:256])))), rtol=1e-4
    )
    assert model.generate(7).shape == (7, 2)
    np.testing.assert_array_equal(model.generate(5, seed=0), model.generate(5, seed=0))


def test_save_load_round_trip(flow, tmp_path):
    x = np.random.default_rng(4).normal(size=(16, 2)).astype("float32")
    path = tmp_path / "flow.keras"
    flow.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded.log_prob(x)), np.asarray(flow.log_prob(x)))
    assert loaded.get_config()["coupling_layers"] == 4
    assert loaded.get_config()["shared_trunk"] == flow.shared_trunk


def test_wrong_shape_names_expected_shape(flow):
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        flow.to_latent(np.zeros((3, 3), "float32"))


def test_cli_train_then_sample(tmp_path, data_env, monkeypatch):
    from gdl.cli import main

    monkeypatch.setenv("GDL_SMOKE", "1")
    run = str(tmp_path / "run")
    args = ["--run-dir", run, "--epochs", "1", "--steps-per-epoch", "2", "--verbose", "0"]
    assert main(["train", "realnvp", *args, "--coupling-layers", "4"]) == 0
    assert main(["sample", "realnvp", "--run-dir", run, "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 0
    saved = keras.saving.load_model(f"{run}/model.keras")
    assert saved.get_config()["coupling_layers"] == 4
