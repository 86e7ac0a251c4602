"""NotebookRun: the notebook's fit writes a gdl-train run folder and resumes from it."""

from __future__ import annotations

import json

import keras
import numpy as np

from gdl.callbacks import NotebookRun


def _model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_notebook_run_writes_run_folder_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("GDL_RUNS_DIR", str(tmp_path))
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
    samples = []

    model = _model()
    run = NotebookRun("01_x/01_y", model, sample=lambda m, p: samples.append(p.name))
    assert run.initial_epoch == 0
    model.fit(x, y, epochs=2, initial_epoch=run.initial_epoch, callbacks=run.callbacks, verbose=0)
    folder = tmp_path / "01_x" / "01_y"
    assert (folder / "model.keras").exists() and any((folder / "logs").iterdir())
    assert json.loads((folder / "checkpoints" / "state.json").read_text())["epoch"] == 2
    assert samples == ["epoch_001.png", "epoch_002.png"]

    again = _model()
    run2 = NotebookRun("01_x/01_y", again)
    assert run2.initial_epoch == 2
    np.testing.assert_allclose(again.get_weights()[0], model.get_weights()[0])
    assert NotebookRun("01_x/01_y", _model(), resume=False).initial_epoch == 0
