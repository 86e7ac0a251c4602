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


class _Slow(keras.callbacks.Callback):
    """Every training step takes at least ``seconds`` (slept inside the step's timing)."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_batch_end(self, batch, logs=None):
        import time

        time.sleep(self.seconds)


def test_expected_duration_from_timed_steps_and_from_the_first_epoch():
    import re

    from gdl.callbacks import ExpectedDuration, format_duration

    lines = []
    x, y = np.ones((32, 3), "float32"), np.zeros((32, 1), "float32")
    model = _model()
    cb = ExpectedDuration(timed_steps=3, printer=lines.append)
    model.fit(x, y, batch_size=4, epochs=5, initial_epoch=1, callbacks=[_Slow(0.05), cb], verbose=0)
    assert len(lines) == 2, lines
    m = re.search(r"about (.+) \(4 epochs x 8 steps x ([0-9.e-]+) s, the median of 3 timed", lines[0])
    assert m, lines[0]
    assert 0.05 <= float(m.group(2)) < 1.0  # the sleep is inside each timed step
    assert m.group(1) == format_duration(4 * 8 * float(m.group(2)))
    assert "the 3 epochs left" in lines[1]
    assert float(re.search(r"took (\d+) s", lines[1]).group(1)) >= 0  # 8 steps x 0.05 s ~ 0 s
    assert format_duration(42) == "42 s" and format_duration(210) == "3.5 min"
    assert format_duration(3 * 3600) == "3.0 h"
