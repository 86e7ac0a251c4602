"""Every file-based dataset: its fixture (the real on-disk format) through the real loader,
and the one-line errors for absent, empty and corrupt files."""

from __future__ import annotations

import csv
import gzip
import json
import shutil

import numpy as np
import pytest

from gdl.data import DatasetError, MissingDatasetError, build_fixtures, get_dataset, load
from gdl.data.celeba import ATTR_CSV, ATTRIBUTES, IMAGES, attributes
from gdl.data.images import corrupt_images, list_images


@pytest.fixture
def own_data(tmp_path, monkeypatch):
    """A private GDL_DATA_DIR the test may damage."""

    def make(*names):
        build_fixtures(tmp_path, list(names))
        return tmp_path

    monkeypatch.setenv("GDL_DATA_DIR", str(tmp_path))
    return make


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist"])
def test_keras_archives_load_like_keras_datasets(data_env, name):
    (x, y), (xt, yt) = load(name)
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and y.shape == (len(x),)
    assert xt.shape[1:] == (28, 28) and yt.dtype == np.uint8 and len(xt) == len(yt)
    assert set(np.unique(y)) <= set(range(10)) and x.max() > 200  # digits, 0..255


def test_fashion_mnist_idx_bytes_round_trip(data_env):
    """The loader parses the idx header itself: compare with a raw read of the archive."""
    (x, y), _ = load("fashion_mnist")
    raw = gzip.open(data_env / "fashion-mnist/train-images-idx3-ubyte.gz").read()
    assert int.from_bytes(raw[:4], "big") == 2051 and int.from_bytes(raw[4:8], "big") == len(x)
    np.testing.assert_array_equal(
        x[3].ravel(), np.frombuffer(raw[16 + 3 * 784 : 16 + 4 * 784], np.uint8)
    )


def test_truncated_idx_names_the_file(own_data):
    root = own_data("fashion_mnist")
    path = root / "fashion-mnist/t10k-images-idx3-ubyte.gz"
    raw = gzip.open(path).read()
    with gzip.open(path, "wb") as f:
        f.write(raw[:-100])
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz.*truncated"):
        load("fashion_mnist")


def test_faces_images_scaled_to_each_book_range(data_env):
    x = next(iter(load("faces", image_size=32, batch_size=8)))
    assert x.shape == (8, 32, 32, 3) and x.dtype.name == "float32"
    assert 0.0 <= float(x.numpy().min()) and float(x.numpy().max()) <= 1.0
    x2 = next(iter(load("faces", image_size=32, batch_size=8, value_range=(-1, 1))))
    # same seed, same order: (-1, 1) is the book's (x - 127.5) / 127.5 of the same pixels
    np.testing.assert_allclose(x2.numpy(), 2 * x.numpy() - 1, atol=1e-5)
    assert float(x2.numpy().min()) < 0


def test_faces_labels_follow_the_attribute_csv(data_env):
    data = load("faces", labels="Blond_Hair", batch_size=64, shuffle=False)
    images, labels = next(iter(data))
    ids, names, values = attributes()
    assert len(names) == 40 and names == list(ATTRIBUTES) and values.dtype == np.int8
    want = (values[:, names.index("Blond_Hair")] == 1).astype(int)
    np.testing.assert_array_equal(labels.numpy(), want)
    assert images.shape == (len(ids), 64, 64, 3)
    # shuffled, each image still carries its own label: a blond-labelled image is one of
    # the fixture's blond rows (compare pixels with the unshuffled load)
    shuffled_x, shuffled_y = next(iter(load("faces", labels="Blond_Hair", batch_size=64)))
    for img, lab in zip(shuffled_x.numpy()[:6], shuffled_y.numpy()[:6]):
        j = int(np.argmin(np.abs(images.numpy() - img).reshape(len(ids), -1).sum(1)))
        assert want[j] == lab


def test_faces_labels_survive_a_missing_image(own_data):
    """Labels are matched by file name, so deleting image 2 does not shift the rest."""
    root = own_data("faces")
    (root / "celeba-dataset" / IMAGES / "000002.jpg").unlink()
    _, labels = next(iter(load("faces", labels="Blond_Hair", batch_size=64, shuffle=False)))
    with open(root / "celeba-dataset" / ATTR_CSV) as f:
        rows = [r for r in csv.DictReader(f) if r["image_id"] != "000002.jpg"]
    np.testing.assert_array_equal(labels.numpy(), [int(r["Blond_Hair"] == "1") for r in rows])


def test_unknown_attribute_lists_the_choices(data_env):
    with pytest.raises(ValueError, match="Blond_Hair"):
        load("faces", labels="Blonde")


def test_faces_validation_split(data_env):
    n = len(list_images(data_env / "celeba-dataset" / IMAGES))
    val = load(
        "faces", labels="Blond_Hair", batch_size=None, validation_split=0.25, subset="validation"
    )
    assert sum(1 for _ in val) == int(0.25 * n)


def test_bricks_grey_in_minus_one_one(data_env):
    x = next(iter(load("bricks", batch_size=4)))
    assert x.shape == (4, 64, 64, 1)
    assert -1.0 <= float(x.numpy().min()) < 0.0 and float(x.numpy().max()) <= 1.0


def test_flowers_reads_train_and_valid_unlabelled(data_env):
    n = len(list_images(data_env / "pytorch-challange-flower-dataset/dataset"))
    single = list(load("flowers", batch_size=None, image_size=16))
    assert len(single) == n and single[0].shape == (16, 16, 3)
    batches = list(load("flowers", batch_size=3, image_size=16, repeat=2, drop_remainder=True))
    assert len(batches) == (2 * n) // 3 and all(b.shape[0] == 3 for b in batches)


def test_recipes_and_wines_book_strings(data_env):
    recipes = load("recipes")
    items = json.loads((data_env / "epirecipes/full_format_recipes.json").read_text())
    kept = [x for x in items if x.get("title") is not None and x.get("directions") is not None]
    assert len(recipes) == len(kept) < len(items)
    assert recipes[0] == "Recipe for " + kept[0]["title"] + " | " + " ".join(kept[0]["directions"])
    wines = load("wines", limit=5)
    assert len(wines) == 5
    assert wines[0] == (
        "wine review : US : California : Pinot Noir : "
        "Bright cherry fruit, soft tannins and a long finish."
    )


@pytest.mark.parametrize(
    "content, message", [("", "is empty"), ("[]", "is empty"), ('[{"title": ', "not valid JSON")]
)
def test_empty_or_truncated_json_names_the_file(own_data, content, message):
    root = own_data("recipes")
    path = root / "epirecipes/full_format_recipes.json"
    path.write_text(content)
    with pytest.raises(DatasetError, match=message) as err:
        get_dataset("recipes").loader(get_dataset("recipes"))
    assert str(path) in str(err.value)


def test_empty_image_names_the_file(own_data):
    root = own_data("bricks")
    bad = sorted((root / "lego-brick-images/dataset").iterdir())[3]
    bad.write_bytes(b"")
    with pytest.raises(DatasetError, match="corrupt image file .*is empty") as err:
        load("bricks")
    assert bad.name in str(err.value)


def test_check_scans_image_headers(own_data):
    root = own_data("faces")
    folder = root / "celeba-dataset" / IMAGES
    (folder / "000005.jpg").write_bytes(b"<html>rate limited</html>")
    data = (folder / "000007.jpg").read_bytes()
    (folder / "000007.jpg").write_bytes(data[: len(data) // 2])
    problems = corrupt_images(folder)
    assert any("000005.jpg is not a JPG" in p for p in problems)
    assert any("000007.jpg is a truncated JPEG" in p for p in problems)


@pytest.mark.parametrize(
    "name", ["fashion_mnist", "mnist", "faces", "bricks", "flowers", "recipes", "wines"]
)
def test_absent_dataset_names_the_download_command(tmp_path, monkeypatch, name):
    monkeypatch.setenv("GDL_DATA_DIR", str(tmp_path))
    with pytest.raises(MissingDatasetError, match=f"gdl data download {name}"):
        load(name)


def test_partial_folder_is_not_present(own_data):
    root = own_data("faces")
    (root / "celeba-dataset" / ATTR_CSV).unlink()
    assert not get_dataset("faces").is_present()
    with pytest.raises(MissingDatasetError, match="list_attr_celeba.csv"):
        load("faces")
    shutil.rmtree(root / "celeba-dataset" / IMAGES)
    assert len(get_dataset("faces").problems()) == 2


def test_every_fixture_passes_the_full_check(data_env, capsys):
    from gdl.cli import main

    assert main(["data", "check", "all"]) == 0
    out = capsys.readouterr().out
    assert "faces: OK" in out and "music21_chorales: OK (embedded)" in out


def test_list_on_a_fresh_machine_shows_every_dataset(tmp_path, monkeypatch, capsys):
    from gdl.cli import main
    from gdl.data import list_datasets

    monkeypatch.setenv("GDL_DATA_DIR", str(tmp_path))
    assert main(["data", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    status = {ln.split()[0]: ln.split()[1] for ln in lines[1:] if ln.split()[0] in list_datasets()}
    assert set(status) >= {
        "faces", "bricks", "recipes", "flowers", "wines", "cellosuites", "chorales",
        "fashion_mnist", "mnist", "cifar10", "digits", "moons", "music21_chorales",
    }  # fmt: skip
    assert status["faces"] == "missing" and status["music21_chorales"] == "embedded"
    assert any("gdl data download" in ln for ln in lines)


def test_numpy_bilinear_resize_matches_keras():
    """The digits' NumPy resize is keras.ops.image.resize(bilinear), up and down."""
    import keras

    from gdl.data.images import resize_bilinear

    x = np.random.default_rng(0).random((3, 8, 8, 2)).astype("float32")
    for size in (32, 28, 5, (12, 6)):
        want = keras.ops.convert_to_numpy(
            keras.ops.image.resize(x, (size, size) if isinstance(size, int) else size)
        )
        np.testing.assert_allclose(resize_bilinear(x, size), want, atol=1e-5)


def test_check_notes_a_partial_copy(data_env, capsys):
    from gdl.cli import main

    assert main(["data", "check", "faces", "cellosuites"]) == 0
    out = capsys.readouterr().out
    assert "note: 32 images; the book's copy has 202,599" in out
    assert "note: 2 MIDI files; the book's copy has 36" in out


def test_corrupt_attribute_row_is_named(own_data):
    root = own_data("faces")
    path = root / "celeba-dataset" / ATTR_CSV
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace(",-1", ",x", 1).replace(",1", ",x", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DatasetError, match=r"list_attr_celeba.csv is corrupt.*row 4 is b'000003.jpg"
    ):
        attributes()


def test_attribute_parser_handles_crlf(own_data):
    root = own_data("faces")
    path = root / "celeba-dataset" / ATTR_CSV
    ids, names, values = attributes()
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    ids2, names2, values2 = attributes()
    assert ids2 == ids and names2 == names and (values2 == values).all()


def test_drop_remainder_keeps_batches_full(data_env):
    n = len(list_images(data_env / "lego-brick-images/dataset"))
    full = list(load("bricks", batch_size=5, image_size=8, drop_remainder=True))
    assert len(full) == n // 5 and all(b.shape == (5, 8, 8, 1) for b in full)
    x, y = next(
        iter(load("faces", labels="Smiling", batch_size=5, image_size=8, drop_remainder=True))
    )
    assert x.shape == (5, 8, 8, 3) and y.shape == (5,)
