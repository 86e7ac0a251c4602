"""Downloads that cannot leave anything that looks complete.

Every download follows one path, whatever the source (a list of URLs or a Kaggle
dataset):

1. files are fetched into a staging folder ``GDL_DATA_DIR/.gdl-download/<folder>/``,
   each one streamed to ``<name>.part`` (resumed with an HTTP Range request when a
   previous run was interrupted) and renamed when complete;
2. sizes and checksums are verified (a mismatch deletes the file and says so);
3. archives are unpacked inside the staging folder;
4. the dataset's own check runs on the staging folder, a manifest
   (``.gdl-manifest.json``: file count and bytes) is written, and only then is the
   staging folder renamed into place (an existing copy is swapped out atomically).

An interrupted run therefore leaves only the staging folder, which ``gdl data check``
does not accept; re-running ``gdl data download NAME`` resumes or restarts cleanly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import json
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from gdl.config import data_dir
from gdl.data.registry import Dataset, DatasetError

STAGING = ".gdl-download"
MANIFEST = ".gdl-manifest.json"


@dataclass(frozen=True)
class UrlFile:
    """One file of a URL-sourced dataset: where it comes from, its name in the dataset
    folder and what it must look like (``sha256``/``md5`` hex, ``size`` in bytes).
    ``unpack=True`` extracts a zip/tar archive into the folder and deletes it."""

    url: str
    name: str
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    unpack: bool = False


def file_hash(path: Path, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256(path: Path) -> str:
    return file_hash(path, "sha256")


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _network_error(url: str, exc: BaseException) -> DatasetError:
    reason = getattr(exc, "reason", exc)
    return DatasetError(
        f"cannot download {url}: no network or {_host(url)} unreachable ({reason}); "
        "check your connection and run the same command again"
    )


def fetch_url(
    url: str,
    target: str | Path,
    sha256_hex: str | None = None,
    md5_hex: str | None = None,
    size: int | None = None,
    timeout: float = 60,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``target`` via ``<target>.part``; verify; rename. Return ``target``.

    A ``.part`` left by an interrupted run is resumed with a Range request (or restarted
    when the server ignores it). A transfer cut short keeps its ``.part`` (for resuming)
    and raises :class:`DatasetError`; a size or checksum mismatch deletes it and raises.
    """
    from tqdm.auto import tqdm

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    start = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "gdl"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        try:
            resp = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and start:  # the .part is already whole (or bogus): restart
                part.unlink()
                return fetch_url(url, target, sha256_hex, md5_hex, size, timeout, progress)
            raise DatasetError(
                f"cannot download {url}: the server answered {exc.code} {exc.reason}"
            ) from exc
        with resp:
            resumed = start and resp.status == 206
            if not resumed:
                start = 0
            length = int(resp.headers.get("Content-Length") or 0) or None
            total = (start + length) if length is not None else None
            with (
                open(part, "ab" if resumed else "wb") as out,
                tqdm(
                    total=total,
                    initial=start,
                    unit="B",
                    unit_scale=True,
                    desc=target.name,
                    disable=not progress,
                    leave=False,
                ) as bar,
            ):
                while block := resp.read(1 << 16):
                    out.write(block)
                    bar.update(len(block))
    except DatasetError:
        raise
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise _network_error(url, exc) from exc
    except http.client.IncompleteRead as exc:
        raise DatasetError(
            f"download of {url} was cut short; run the same command again to resume"
        ) from exc
    got = part.stat().st_size
    if total is not None and got < total:
        raise DatasetError(
            f"download of {url} was cut short ({got} of {total} bytes); "
            "run the same command again to resume"
        )
    _verify_file(part, url, sha256_hex, md5_hex, size)
    os.replace(part, target)
    return target


def _verify_file(path: Path, url: str, sha256_hex, md5_hex, size) -> None:
    problem = None
    if size is not None and path.stat().st_size != size:
        problem = f"size {path.stat().st_size} bytes, expected {size}"
    elif sha256_hex and file_hash(path, "sha256") != sha256_hex.lower():
        problem = "SHA-256 mismatch"
    elif md5_hex and file_hash(path, "md5") != md5_hex.lower():
        problem = "MD5 mismatch"
    if problem:
        path.unlink(missing_ok=True)
        raise DatasetError(
            f"checksum mismatch for {url} ({problem}): the download is corrupt and was "
            "deleted; run the same command again"
        )


def unpack(archive: Path, into: Path) -> None:
    """Extract a zip or tar archive into ``into`` (paths outside it are refused)."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                root = into.resolve()
                for member in z.namelist():
                    if not (into / member).resolve().is_relative_to(root):
                        raise DatasetError(f"{archive} holds an unsafe path {member!r}")
                z.extractall(into)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tar:
                tar.extractall(into, filter="data")
        else:
            raise DatasetError(f"{archive} is neither a zip nor a tar archive")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise DatasetError(f"{archive} is a corrupt archive ({exc}); download it again") from exc


def tree_stats(folder: Path) -> dict:
    """``{"files": count, "bytes": total}`` of the regular files under ``folder``
    (hidden bookkeeping files such as the manifest excluded)."""
    files = total = 0
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".gdl")]
        for n in names:
            if n.startswith(".gdl") or n.endswith(".part"):
                continue
            files += 1
            total += os.stat(os.path.join(root, n)).st_size
    return {"files": files, "bytes": total}


def manifest_problems(folder: Path) -> list[str]:
    """Compare ``folder`` with the manifest written when gdl downloaded it (if any)."""
    path = folder / MANIFEST
    if not path.is_file():
        return []
    try:
        want = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return [f"{path} is unreadable ({exc})"]
    have = tree_stats(folder)
    problems = []
    if have["files"] != want.get("files"):
        problems.append(f"{have['files']} files, the download had {want.get('files')}")
    elif have["bytes"] != want.get("bytes"):
        problems.append(f"{have['bytes']} bytes, the download had {want.get('bytes')}")
    return problems


def verify_by_loading(ds: Dataset) -> list[str]:
    """A ``verifier`` for small datasets: load everything; report what the loader says."""
    try:
        ds.loader(ds)
    except DatasetError as exc:
        return [str(exc)]
    return []


def staging_dir(ds: Dataset) -> Path:
    return data_dir() / STAGING / ds.folder


def _staged(ds: Dataset) -> Dataset:
    """The same dataset, looked at in its staging folder (for checking before the move)."""
    return dataclasses.replace(ds, folder=f"{STAGING}/{ds.folder}")


def finish_install(ds: Dataset, staging: Path) -> Path:
    """Check the staged copy, write its manifest and rename it into place."""
    staged = _staged(ds)
    problems = staged.problems() or (staged.verifier(staged) if staged.verifier else [])
    if problems:
        raise DatasetError(
            f"the download of {ds.name!r} is incomplete or not in the expected layout: "
            + "; ".join(problems[:3])
            + f". It is left in {staging}; run `gdl data download {ds.name} --force`"
        )
    stats = tree_stats(staging)
    manifest = {"dataset": ds.name, "source": ds.source, "downloaded": time.time(), **stats}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))
    target = ds.path()
    target.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    try:
        staging.parent.rmdir()  # the staging root, when no other download is pending
    except OSError:
        pass
    return target


def install_files(
    ds: Dataset, files: list[UrlFile], force: bool = False, progress: bool = True, **_
) -> Path:
    """Fetch ``files`` into the staging folder, verify, unpack, then rename into place."""
    staging = staging_dir(ds)
    if force and staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True, exist_ok=True)
    for f in files:
        dest = staging / f.name
        if f.unpack or not dest.exists():  # finished files of an interrupted run are kept
            fetch_url(f.url, dest, f.sha256, f.md5, f.size, progress=progress)
        if f.unpack:
            unpack(dest, staging)
            dest.unlink()
    return finish_install(ds, staging)
