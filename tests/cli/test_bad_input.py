"""Bad input through the real ``gdl`` command line (issue 21): every row ends in exactly
one ``gdl: ...`` line on stderr naming the fix, exit status 2, no traceback, and no
existing file modified or removed. Fixtures are tiny and built in ``tmp_path``; the only
training is one step of the VAE on the embedded digits (shared by the run-folder rows).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from gdl.cli import main


def _snapshot(root: Path) -> dict:
    return {
        p: (p.stat().st_size, p.stat().st_mtime_ns) for p in Path(root).rglob("*") if p.is_file()
    }


def _one_line_error(capsys, argv, *needles) -> str:
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("gdl:")]
    assert rc == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# -- numbers and options refused by the parser --------------------------------------------
PARSER_ROWS = [
    (["train", "vae", "--epochs", "0"], "--epochs"),
    (["train", "vae", "--epochs", "-1"], "--epochs"),
    (["train", "vae", "--batch-size", "0"], "--batch-size"),
    (["train", "vae", "--steps-per-epoch", "0"], "--steps-per-epoch"),
    (["train", "vae", "--epochs", "two"], "--epochs"),
    (["sample", "vae", "--num", "-1"], "--num"),
    (["sample", "vae", "--num", "0"], "--num"),
    (["sample", "vae", "--temperature", "0.5"], "--temperature"),
    (["sample", "gpt", "--temperature", "-1"], "--temperature"),
    (["sample", "gpt", "--top-p", "1.5"], "--top-p"),
    (["sample", "gpt", "--top-k", "0"], "--top-k"),
    (["sample", "pixelcnn", "--temperature", "0"], "--temperature"),
    (["train", "nosuchmodel"], "nosuchmodel"),
]


@pytest.mark.parametrize("argv,needle", PARSER_ROWS, ids=[" ".join(a) for a, _ in PARSER_ROWS])
def test_parser_refuses_in_one_line(capsys, argv, needle):
    _one_line_error(capsys, argv, needle, "--help")


# -- data ---------------------------------------------------------------------------------
def _images(folder: Path, n: int = 4, size=(20, 20)) -> Path:
    from gdl.data.images import write_fixture_images

    write_fixture_images(folder, [f"img{i}.jpg" for i in range(n)], size)
    return folder


def _data_rows(tmp: Path) -> dict:
    empty = tmp / "empty"
    empty.mkdir()
    allbad = tmp / "allbad"
    allbad.mkdir()
    (allbad / "a.jpg").write_bytes(b"\xff\xd8\xff" + b"not a jpeg" * 10 + b"\xff\xd9")
    flat = _images(tmp / "flat")
    binary = tmp / "book.txt"
    binary.write_bytes(b"good line\n" + bytes(range(128, 256)) * 4)
    midi = tmp / "midi"
    midi.mkdir()
    (midi / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    wines = tmp / "wines.json"
    wines.write_text(json.dumps([{"country": "US", "description": "no variety"}]))
    nulls = tmp / "nulls.json"
    nulls.write_text("[null, null]")
    truncated = tmp / "cut.json"
    truncated.write_text('[{"country": "US", "prov')
    return {
        "wines json with missing fields": (["train", "gpt", "--data", wines], [str(wines)]),
        "json list of nulls": (["train", "gpt", "--data", nulls], [str(nulls)]),
        "truncated json": (["train", "gpt", "--data", truncated], [str(truncated)]),
        "empty image folder": (["train", "dcgan", "--data", empty], [str(empty), ".jpg"]),
        "folder of undecodable images": (["train", "dcgan", "--data", allbad], ["a.jpg"]),
        "cgan on a folder without classes": (
            ["train", "cgan", "--data", flat], ["sub-folder", str(flat)]),
        "vae on an unknown dataset": (["train", "vae", "--data", "nosuchdata"], ["nosuchdata"]),
        "binary file as text": (["train", "lstm", "--data", binary], [str(binary), "UTF-8"]),
        "corrupt midi": (["train", "music_transformer", "--data", midi], ["broken.mid"]),
        "missing data file": (["train", "lstm", "--data", tmp / "no.txt"], ["no.txt"]),
    }  # fmt: skip


DATA_ROWS = [
    "wines json with missing fields",
    "json list of nulls",
    "truncated json",
    "empty image folder",
    "folder of undecodable images",
    "cgan on a folder without classes",
    "vae on an unknown dataset",
    "binary file as text",
    "corrupt midi",
    "missing data file",
]


@pytest.mark.parametrize("row", DATA_ROWS)
def test_bad_data_is_one_line(capsys, tmp_path, monkeypatch, row):
    monkeypatch.setenv("GDL_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("GDL_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "in").mkdir()
    argv, needles = _data_rows(tmp_path / "in")[row]
    before = _snapshot(tmp_path / "in")
    _one_line_error(capsys, [*argv, "--epochs", 1, "--verbose", 0], *needles)
    assert _snapshot(tmp_path / "in") == before


def test_mixed_image_folder_trains_and_names_the_skipped_file(tmp_path, monkeypatch, capsys):
    """A corrupt file among good ones is skipped with a warning naming it; RGBA, grey,
    CMYK, palette, 16-bit and odd-sized images are converted and resized by Pillow."""
    from PIL import Image

    from gdl.data.images import image_folder_dataset, scan_image_folder

    monkeypatch.setenv("GDL_CACHE_DIR", str(tmp_path / "cache"))
    folder = _images(tmp_path / "mixed", n=2, size=(30, 17))
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (13, 21, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert("RGBA").save(folder / "rgba.png")
    Image.fromarray(rgb).convert("L").save(folder / "grey.jpg")
    Image.fromarray(rgb).convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(rgb).convert("P").save(folder / "palette.png")
    Image.fromarray(rng.integers(0, 60000, (9, 9)).astype(np.uint16)).save(folder / "deep.png")
    Image.fromarray(rgb).save(folder / "png_named.jpg", format="PNG")
    (folder / "zz_broken.jpg").write_bytes((folder / "img0.jpg").read_bytes()[:200])
    scan = scan_image_folder(folder)
    assert list(scan["bad"]) == [str(folder / "zz_broken.jpg")]
    assert scan_image_folder(folder) == scan  # second run: from the cache
    for mode, channels in (("rgb", 3), ("grayscale", 1)):
        with pytest.warns(UserWarning, match="zz_broken.jpg"):
            ds = image_folder_dataset(folder, 16, 4, color_mode=mode, value_range=(-1, 1))
        x = np.concatenate([np.asarray(b) for b in ds])
        assert x.shape == (8, 16, 16, channels) and -1 <= x.min() and x.max() <= 1


# -- files and folders --------------------------------------------------------------------
def test_runs_dir_that_is_a_file(capsys, tmp_path, monkeypatch):
    blocker = tmp_path / "runs"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GDL_RUNS_DIR", str(blocker))
    _one_line_error(capsys, ["train", "vae", "--data", "digits"], str(blocker), "GDL_RUNS_DIR")
    assert blocker.read_text() == "not a folder"


def test_data_dir_that_is_a_file(capsys, tmp_path, monkeypatch):
    blocker = tmp_path / "data"
    blocker.write_text("x")
    monkeypatch.setenv("GDL_DATA_DIR", str(blocker))
    _one_line_error(capsys, ["data", "download", "chorales"], str(blocker), "GDL_DATA_DIR")
    _one_line_error(capsys, ["data", "fixtures", blocker], str(blocker))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_runs_dir(capsys, tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    monkeypatch.setenv("GDL_RUNS_DIR", str(ro))
    try:
        _one_line_error(capsys, ["train", "vae", "--data", "digits"], str(ro), "GDL_RUNS_DIR")
    finally:
        ro.chmod(0o700)


# -- run folders and saved models: one real (tiny) training run ---------------------------
@pytest.fixture(scope="module")
def trained_vae(tmp_path_factory):
    run = tmp_path_factory.mktemp("vae") / "run"
    argv = ["train", "vae", "--data", "digits", "--epochs", "1", "--steps-per-epoch", "1",
            "--run-dir", str(run), "--verbose", "0"]  # fmt: skip
    assert main(argv) == 0
    return run


@pytest.fixture
def run_copy(trained_vae, tmp_path, monkeypatch):
    monkeypatch.setenv("GDL_RUNS_DIR", str(tmp_path / "runs"))
    run = tmp_path / "run"
    shutil.copytree(trained_vae, run)
    return run


def test_resume_without_a_run_refuses(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GDL_RUNS_DIR", str(tmp_path / "runs"))
    _one_line_error(
        capsys, ["train", "vae", "--data", "digits", "--resume", "--run-dir", tmp_path / "r"],
        "nothing to resume", "drop --resume")  # fmt: skip


def test_resume_and_overwrite_together(capsys, run_copy):
    before = _snapshot(run_copy)
    _one_line_error(capsys, ["train", "vae", "--resume", "--overwrite", "--run-dir", run_copy],
                    "--resume", "--overwrite")  # fmt: skip
    assert _snapshot(run_copy) == before


def test_resume_from_a_truncated_state_json(capsys, run_copy):
    state = run_copy / "checkpoints" / "state.json"
    state.write_text(state.read_text()[:5])
    before = _snapshot(run_copy)
    _one_line_error(capsys, ["train", "vae", "--data", "digits", "--resume", "--run-dir", run_copy],
                    str(run_copy / "checkpoints"), "--overwrite")  # fmt: skip
    assert _snapshot(run_copy) == before


def test_resume_from_another_models_checkpoint(capsys, run_copy):
    before = _snapshot(run_copy)
    _one_line_error(
        capsys, ["train", "autoencoder", "--data", "digits", "--resume", "--run-dir", run_copy],
        "another model", "--overwrite")  # fmt: skip
    assert _snapshot(run_copy) == before


def test_existing_run_without_resume(capsys, run_copy):
    before = _snapshot(run_copy)
    _one_line_error(capsys, ["train", "vae", "--data", "digits", "--run-dir", run_copy],
                    "--resume", "--overwrite")  # fmt: skip
    assert _snapshot(run_copy) == before


def _bad_model_files(tmp: Path, model: Path) -> dict:
    text = tmp / "notes.txt"
    text.write_text("hello")
    fake = tmp / "fake.keras"
    fake.write_text("not a zip")
    cut = tmp / "cut.keras"
    cut.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    folder = tmp / "folder.keras"
    folder.mkdir()
    return {"text file": text, "non-zip .keras": fake, "truncated .keras": cut,
            "folder": folder, "missing": tmp / "none.keras"}  # fmt: skip


@pytest.mark.parametrize(
    "kind", ["text file", "non-zip .keras", "truncated .keras", "folder", "missing"]
)
def test_sample_model_path_problems(capsys, run_copy, tmp_path, kind):
    path = _bad_model_files(tmp_path, run_copy / "model.keras")[kind]
    before = _snapshot(tmp_path)
    _one_line_error(capsys, ["sample", "vae", "--model-path", path, "--out", tmp_path / "o.png"],
                    str(path), "--model-path")  # fmt: skip
    assert _snapshot(tmp_path) == before


def test_sample_a_model_of_another_kind(capsys, run_copy):
    _one_line_error(capsys, ["sample", "dcgan", "--model-path", run_copy / "model.keras"],
                    "VAE", "DCGAN")  # fmt: skip


def test_sample_without_out_writes_next_to_the_run(capsys, run_copy):
    before = _snapshot(run_copy)
    assert main(["sample", "vae", "--run-dir", str(run_copy), "--num", "2"]) == 0
    assert main(["sample", "vae", "--run-dir", str(run_copy), "--num", "2"]) == 0
    after = _snapshot(run_copy)
    assert {p: after[p] for p in before} == before  # sample.png and the rest untouched
    assert sorted(set(after) - set(before)) == [run_copy / "sample_001.png",
                                                run_copy / "sample_002.png"]  # fmt: skip


def test_overwrite_starts_in_an_empty_folder_and_keeps_the_old_run(capsys, run_copy):
    (run_copy / "samples" / "epoch_099.png").write_bytes(b"old")
    before = _snapshot(run_copy)
    argv = ["train", "vae", "--data", "digits", "--overwrite", "--epochs", "1",
            "--steps-per-epoch", "1", "--run-dir", str(run_copy), "--verbose", "0"]  # fmt: skip
    assert main(argv) == 0
    assert not (run_copy / "samples" / "epoch_099.png").exists()
    (aside,) = run_copy.parent.glob("run.replaced-*")
    events = [len(list((r / "logs").rglob("events.out.tfevents.*"))) for r in (run_copy, aside)]
    assert events[0] == events[1] > 0  # one run's logs each, not mixed
    moved = _snapshot(aside)
    assert {p.relative_to(aside) for p in moved} == {p.relative_to(run_copy) for p in before}


def test_nan_loss_stops_with_the_epoch_and_step(tmp_path):
    from gdl.callbacks import StopOnNaN
    from gdl.errors import RunError

    cb = StopOnNaN(tmp_path)
    cb.on_epoch_begin(2)
    cb.on_train_batch_end(0, {"loss": 1.0})
    with pytest.raises(RunError, match=r"epoch 3, step 5.*learning rate.*2 epochs"):
        cb.on_train_batch_end(4, {"loss": float("nan")})
    # the last step's update is in no reported loss: the weights are checked at epoch end
    import keras
    import numpy as np

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    cb.set_model(model)
    cb.on_epoch_end(2)  # finite: nothing happens
    model.layers[0].kernel.assign(np.array([[np.inf]], "float32"))
    with pytest.raises(RunError, match=r"weights became NaN or infinite during epoch 3"):
        cb.on_epoch_end(2)


def test_state_file_is_json(trained_vae):
    assert json.loads((trained_vae / "checkpoints" / "state.json").read_text())["epoch"] == 1


def test_output_path_blocked_by_a_file(capsys, run_copy, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    _one_line_error(capsys, ["sample", "vae", "--run-dir", run_copy, "--num", "2",
                             "--out", blocker / "x.png"], str(blocker))  # fmt: skip
    assert blocker.read_text() == "x"


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    from gdl.errors import RunError

    monkeypatch.setenv("GDL_DEBUG", "1")
    with pytest.raises(RunError):
        main(["sample", "vae", "--run-dir", str(tmp_path / "none")])


def test_cgan_takes_class_sub_folders(tmp_path, monkeypatch):
    import argparse

    from gdl.cli.recipes import get_recipe

    monkeypatch.setenv("GDL_CACHE_DIR", str(tmp_path / "cache"))
    for c in ("cats", "dogs", "owls"):
        _images(tmp_path / "pets" / c, n=2)
    args = argparse.Namespace(data=str(tmp_path / "pets"), batch_size=3, seed=None)
    data = get_recipe("cgan").load_data(args)
    x, y = zip(*[(np.asarray(a), np.asarray(b)) for a, b in data.x])
    assert data.info["num_classes"] == 3 and sorted(np.concatenate(y)) == [0, 0, 1, 1, 2, 2]
    assert np.concatenate(x).shape == (6, 64, 64, 3)


def test_interrupted_kaggle_download_is_resumed(capsys, tmp_path, monkeypatch):
    """The staged part of an interrupted download stays for the next run (kagglehub resumes
    it); ``--force`` starts from nothing."""
    import gdl.data.kaggle as gkaggle

    monkeypatch.setenv("GDL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KAGGLE_USERNAME", "reader")
    monkeypatch.setenv("KAGGLE_KEY", "k")
    seen = []

    class Client:
        def download(self, slug, dest):
            seen.append(sorted(p.name for p in Path(dest).iterdir()))
            (Path(dest) / "part.zip").write_bytes(b"PK" * 10)
            raise ConnectionError("reset")

    monkeypatch.setattr(gkaggle, "make_client", Client)
    for argv in (["faces"], ["faces"], ["faces", "--force"]):
        _one_line_error(capsys, ["data", "download", *argv], "faces", "no network")
    assert seen == [[], ["part.zip"], []]


def test_ctrl_c_saves_the_current_step_and_resume_continues(capsys, tmp_path, monkeypatch):
    import signal
    import threading

    from gdl.callbacks import StopOnInterrupt

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach only the main thread")
    monkeypatch.setenv("GDL_RUNS_DIR", str(tmp_path / "runs"))
    original = StopOnInterrupt.on_train_batch_end

    def press_ctrl_c(self, batch, logs=None):  # at epoch 2, step 2
        if self.epoch == 1 and batch == 1:
            signal.raise_signal(signal.SIGINT)
        return original(self, batch, logs)

    monkeypatch.setattr(StopOnInterrupt, "on_train_batch_end", press_ctrl_c)
    run = tmp_path / "run"
    argv = ["train", "vae", "--data", "digits", "--epochs", "2", "--steps-per-epoch", "3",
            "--run-dir", str(run), "--verbose", "0"]  # fmt: skip
    before = signal.getsignal(signal.SIGINT)
    assert main(argv) == 130
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("gdl:")]
    assert len(lines) == 1 and "epoch 2, step 2" in lines[0], lines
    assert f"gdl train vae --resume --run-dir {run}" in lines[0]
    state = json.loads((run / "checkpoints" / "state.json").read_text())
    assert (state["epoch"], state["interrupted"]) == (1, {"epoch": 2, "step": 2})
    assert not (run / "model.keras").exists()
    assert signal.getsignal(signal.SIGINT) is before  # the handler is given back

    monkeypatch.setattr(StopOnInterrupt, "on_train_batch_end", original)
    assert main(argv + ["--resume"]) == 0
    assert json.loads((run / "checkpoints" / "state.json").read_text())["epoch"] == 2
    assert (run / "model.keras").exists()
