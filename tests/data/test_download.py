"""Downloads without a network: a local HTTP server on 127.0.0.1 and a fake Kaggle client.

Success, an interrupted transfer (nothing left that passes check; a re-run resumes),
checksum mismatch, no network, missing credentials, a Kaggle archive in the wrong
layout, and the CLI's list/check around them.
"""

from __future__ import annotations

import hashlib
import http.server
import shutil
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from gdl.cli import main
from gdl.data import DatasetError, build_fixtures, get_dataset, keras_builtin, load, music
from gdl.data import kaggle as gkaggle
from gdl.data.download import MANIFEST, STAGING, UrlFile, fetch_url, install_files

KEY = "s3cr3t-kaggle-key-123"


def _errors(err: str) -> list[str]:
    """The error lines of the CLI's stderr (the progress bar writes there too)."""
    return [ln for ln in err.replace("\r", "\n").splitlines() if ln.startswith("gdl:")]


class _Server:
    """Serves ``files`` ({path: bytes}); honours Range; ``cut[path] = n`` sends only the
    first n bytes of the next response (with the full Content-Length) and hangs up."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}
        self.ranges: list[str | None] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                path = self.path.lstrip("/")
                server.ranges.append(self.headers.get("Range"))
                if path not in server.files:
                    self.send_error(404)
                    return
                data, start = server.files[path], 0
                rng = self.headers.get("Range")
                if rng:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                n = server.cut.pop(path, None)
                self.wfile.write(body if n is None else body[:n])
                if n is not None:
                    self.wfile.flush()
                    self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


@pytest.fixture
def empty_data(tmp_path, monkeypatch):
    root = tmp_path / "data"
    monkeypatch.setenv("GDL_DATA_DIR", str(root))
    monkeypatch.chdir(tmp_path)  # no stray .env
    return root


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    """Fixture files to serve, built once (the real formats)."""
    return build_fixtures(
        tmp_path_factory.mktemp("src"), ["chorales", "cellosuites", "mnist", "cifar10", "faces"]
    )


def _serve_chorales(server, fixtures, monkeypatch) -> bytes:
    data = (fixtures / "bach-chorales/Jsb16thSeparated.npz").read_bytes()
    server.files["Jsb16thSeparated.npz"] = data
    monkeypatch.setattr(music, "CHORALES_URL", server.url + "Jsb16thSeparated.npz")
    return data


def test_url_download_success_then_list_and_check(
    server, fixtures, empty_data, monkeypatch, capsys
):
    _serve_chorales(server, fixtures, monkeypatch)
    assert main(["data", "download", "chorales"]) == 0
    want = np.load(fixtures / "bach-chorales/Jsb16thSeparated.npz", allow_pickle=True)["train"]
    got = load("chorales")["train"]
    assert len(got) == len(want) and all(
        np.array_equal(a, b, equal_nan=True) for a, b in zip(got, want)
    )
    assert (empty_data / "bach-chorales" / MANIFEST).is_file()
    assert not (empty_data / STAGING / "bach-chorales").exists()
    capsys.readouterr()
    assert main(["data", "check", "chorales"]) == 0
    assert "chorales: OK, 1 files" in capsys.readouterr().out
    main(["data", "list"])
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("chorales "))
    assert "present" in line
    # present: a second download is a no-op; a file removed later fails the manifest check
    assert main(["data", "download", "chorales"]) == 0
    assert "already present" in capsys.readouterr().out


def test_cello_suites_download_all_36(server, fixtures, empty_data, monkeypatch):
    midi = (fixtures / "bach-cello/cs1-1pre.mid").read_bytes()
    for name in music.CELLO_FILES:
        server.files[f"midi/{name}"] = midi
    monkeypatch.setattr(music, "CELLO_URL", server.url + "midi/")
    assert main(["data", "download", "cellosuites"]) == 0
    paths = load("cellosuites")
    assert len(paths) == 36 and paths == sorted(paths)
    (empty_data / "bach-cello/cs6-6gig.mid").unlink()
    assert any("35 files, the download had 36" in p for p in get_dataset("cellosuites").verify())


def test_interrupted_transfer_leaves_nothing_complete_then_resumes(
    server, fixtures, empty_data, monkeypatch, capsys
):
    data = _serve_chorales(server, fixtures, monkeypatch)
    server.cut["Jsb16thSeparated.npz"] = len(data) // 2
    assert main(["data", "download", "chorales"]) == 2
    err = capsys.readouterr().err
    assert "cut short" in err and "run the same command again" in err and len(_errors(err)) == 1
    ds = get_dataset("chorales")
    assert not ds.is_present() and ds.verify() and not (empty_data / "bach-chorales").exists()
    assert main(["data", "check", "chorales"]) == 1
    main(["data", "list"])
    assert "partial" in next(
        ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("chorales ")
    )
    # the re-run asks only for the missing bytes and completes
    assert main(["data", "download", "chorales"]) == 0
    assert server.ranges[-1] == f"bytes={len(data) // 2}-"
    assert (empty_data / "bach-chorales/Jsb16thSeparated.npz").read_bytes() == data
    assert ds.verify() == []


def test_checksum_mismatch_deletes_and_says_so(server, fixtures, empty_data, monkeypatch, capsys):
    data = (fixtures / "mnist/mnist.npz").read_bytes()
    server.files["mnist.npz"] = data
    monkeypatch.setattr(keras_builtin, "KERAS_DATASETS_URL", server.url)
    # the real MNIST hash does not match the fixture: refused, nothing left behind
    assert main(["data", "download", "mnist"]) == 2
    assert "checksum mismatch" in capsys.readouterr().err
    assert not get_dataset("mnist").is_present()
    assert not list((empty_data / STAGING).rglob("mnist.npz*"))
    # with the served file's hash it installs
    monkeypatch.setattr(keras_builtin, "MNIST_SHA256", hashlib.sha256(data).hexdigest())
    assert main(["data", "download", "mnist"]) == 0
    (x, _), _ = load("mnist")
    assert x.shape[1:] == (28, 28)


def test_size_and_md5_checks(server, tmp_path):
    server.files["f.bin"] = b"abc" * 100
    md5 = hashlib.md5(b"abc" * 100).hexdigest()
    assert fetch_url(server.url + "f.bin", tmp_path / "a", md5_hex=md5, progress=False).is_file()
    with pytest.raises(DatasetError, match="size 300 bytes, expected 301"):
        fetch_url(server.url + "f.bin", tmp_path / "b", size=301, progress=False)
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.part").exists()


def test_archive_is_unpacked_into_place(server, fixtures, empty_data, monkeypatch, tmp_path):
    """CIFAR-10's tar.gz goes through the real downloader: verify, unpack, rename."""
    archive = tmp_path / "cifar.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(fixtures / "cifar10/cifar-10-batches-py", arcname="cifar-10-batches-py")
    data = archive.read_bytes()
    server.files["cifar-10-python.tar.gz"] = data
    monkeypatch.setattr(keras_builtin, "CIFAR10_URL", server.url + "cifar-10-python.tar.gz")
    monkeypatch.setattr(keras_builtin, "CIFAR10_SHA256", hashlib.sha256(data).hexdigest())
    assert main(["data", "download", "cifar10"]) == 0
    (x, y), _ = load("cifar10")
    assert x.shape[1:] == (32, 32, 3)
    assert not (empty_data / "cifar10/cifar-10-python.tar.gz").exists()


def test_no_network_is_one_line(empty_data, monkeypatch, capsys):
    monkeypatch.setattr(music, "CHORALES_URL", "http://127.0.0.1:9/Jsb16thSeparated.npz")
    assert main(["data", "download", "chorales"]) == 2
    err = capsys.readouterr().err
    assert len(_errors(err)) == 1 and "no network or 127.0.0.1:9 unreachable" in err


def test_wrong_payload_fails_the_check_before_install(server, empty_data, monkeypatch):
    server.files["Jsb16thSeparated.npz"] = b"<html>Not found</html>"
    monkeypatch.setattr(music, "CHORALES_URL", server.url + "Jsb16thSeparated.npz")
    with pytest.raises(DatasetError, match="incomplete or not in the expected layout"):
        get_dataset("chorales").download(progress=False)
    assert not (empty_data / "bach-chorales").exists()


# ----------------------------------------------------------------------------- Kaggle


class FakeKaggle:
    """Copies a fixture (as if unzipped from Kaggle) into dest; can fail midway."""

    def __init__(
        self,
        src: Path,
        fail: BaseException | None = None,
        drop: str | None = None,
        folder: str = "celeba-dataset",
    ):
        self.src, self.fail, self.drop, self.calls = src, fail, drop, []
        self.folder = folder

    def download(self, slug: str, dest: Path) -> None:
        self.calls.append(slug)
        folder = self.src / self.folder
        for i, f in enumerate(sorted(folder.rglob("*"))):
            if f.is_file() and f.name != self.drop:
                out = dest / f.relative_to(folder)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, out)
            if self.fail is not None and i == 5:
                raise self.fail


@pytest.fixture
def kaggle_env(empty_data, monkeypatch, tmp_path):
    monkeypatch.delenv("KAGGLE_API_TOKEN", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle-config"))
    monkeypatch.setenv("KAGGLE_USERNAME", "reader")
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    return empty_data


def _use(monkeypatch, client):
    monkeypatch.setattr(gkaggle, "make_client", lambda: client)
    return client


def test_kaggle_success_layout_and_manifest(kaggle_env, fixtures, monkeypatch, capsys):
    client = _use(monkeypatch, FakeKaggle(fixtures))
    assert main(["data", "download", "faces"]) == 0
    assert client.calls == ["jessicali9530/celeba-dataset"]
    x, y = next(iter(load("faces", labels="Blond_Hair", batch_size=4)))
    assert x.shape == (4, 64, 64, 3)
    assert main(["data", "check", "faces"]) == 0
    out = capsys.readouterr()
    assert KEY not in out.out + out.err


@pytest.mark.parametrize(
    "name, slug",
    [
        ("bricks", "joosthazelzet/lego-brick-images"),
        ("flowers", "nunenuh/pytorch-challange-flower-dataset"),
        ("recipes", "hugodarwood/epirecipes"),
        ("wines", "zynicide/wine-reviews"),
    ],
)
def test_every_kaggle_set_installs_in_the_book_layout(
    kaggle_env, tmp_path, monkeypatch, name, slug
):
    ds = get_dataset(name)
    src = build_fixtures(tmp_path / "src", [name])
    client = _use(monkeypatch, FakeKaggle(src, folder=ds.folder))
    assert main(["data", "download", name]) == 0
    assert client.calls == [slug] and (kaggle_env / slug.split("/")[1]).is_dir()
    assert ds.verify() == []


def test_kaggle_interrupted_leaves_nothing_complete(kaggle_env, fixtures, monkeypatch, capsys):
    _use(monkeypatch, FakeKaggle(fixtures, fail=ConnectionError("connection reset")))
    assert main(["data", "download", "faces"]) == 2
    err = capsys.readouterr().err
    assert "no network or www.kaggle.com unreachable" in err and KEY not in err
    assert not get_dataset("faces").is_present() and not (kaggle_env / "celeba-dataset").exists()
    # re-running restarts cleanly
    _use(monkeypatch, FakeKaggle(fixtures))
    assert main(["data", "download", "faces"]) == 0 and get_dataset("faces").verify() == []


def test_kaggle_refusal_does_not_print_the_key(kaggle_env, fixtures, monkeypatch, capsys):
    class Refused(Exception):
        class response:  # noqa: N801 - mimics requests' HTTPError.response
            status_code = 401

    _use(monkeypatch, FakeKaggle(fixtures, fail=Refused(f"401 for key {KEY}")))
    assert main(["data", "download", "faces"]) == 2
    err = capsys.readouterr().err
    assert "Kaggle refused" in err and "kaggle.json" in err and KEY not in err


def test_kaggle_wrong_layout_is_not_installed(kaggle_env, fixtures, monkeypatch, capsys):
    _use(monkeypatch, FakeKaggle(fixtures, drop="list_attr_celeba.csv"))
    assert main(["data", "download", "faces"]) == 2
    assert "list_attr_celeba.csv" in capsys.readouterr().err
    assert not (kaggle_env / "celeba-dataset").exists()


def test_kaggle_missing_credentials_say_where(empty_data, monkeypatch, tmp_path, capsys):
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "nowhere"))
    client = _use(monkeypatch, FakeKaggle(tmp_path))
    assert main(["data", "download", "bricks"]) == 2
    err = capsys.readouterr().err
    assert len(_errors(err)) == 1
    assert "~/.kaggle/kaggle.json" in err and "KAGGLE_USERNAME and KAGGLE_KEY" in err
    assert client.calls == []
    # a username alone names the missing key variable, without echoing anything secret
    monkeypatch.setenv("KAGGLE_USERNAME", "reader")
    assert main(["data", "download", "bricks"]) == 2
    assert "KAGGLE_KEY is not set" in capsys.readouterr().err


def test_kaggle_credentials_from_dotenv_and_json(empty_data, monkeypatch, tmp_path):
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "cfg"))
    (tmp_path / ".env").write_text(f"JUPYTER_PORT=8888\nKAGGLE_USERNAME=reader\nKAGGLE_KEY={KEY}\n")
    assert "environment" in gkaggle.credentials_source()
    assert KEY not in gkaggle.credentials_source()
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    (tmp_path / ".env").write_text("KAGGLE_USERNAME=<your_kaggle_username>\n")  # sample.env
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg/kaggle.json").write_text('{"username": "reader", "key": "x"}')
    assert gkaggle.credentials_source().endswith("kaggle.json")


def test_force_replaces_an_existing_copy(server, fixtures, empty_data, monkeypatch):
    data = _serve_chorales(server, fixtures, monkeypatch)
    assert install_files(
        get_dataset("chorales"),
        [UrlFile(music.CHORALES_URL, "Jsb16thSeparated.npz")],
        progress=False,
    )
    (empty_data / "bach-chorales/Jsb16thSeparated.npz").write_bytes(b"junk")
    assert get_dataset("chorales").verify()
    assert main(["data", "download", "chorales", "--force"]) == 0
    assert (empty_data / "bach-chorales/Jsb16thSeparated.npz").read_bytes() == data
    assert sorted(p.name for p in empty_data.iterdir()) == ["bach-chorales"]  # no leftovers


def test_ctrl_c_installs_nothing_and_says_how_to_resume(kaggle_env, fixtures, monkeypatch, capsys):
    _use(monkeypatch, FakeKaggle(fixtures, fail=KeyboardInterrupt()))
    assert main(["data", "download", "faces"]) == 130
    assert "download interrupted; nothing was installed" in capsys.readouterr().err
    assert not (kaggle_env / "celeba-dataset").exists()
