"""Kaggle downloads: credentials, the client (``kagglehub`` or the official ``kaggle``
package) and the downloader every Kaggle-sourced dataset shares.

Credentials are looked up, in order, in ``KAGGLE_USERNAME`` + ``KAGGLE_KEY`` (also read
from a ``.env`` file in the working directory, as in the book's docker set-up),
``KAGGLE_API_TOKEN``, and ``kaggle.json`` in ``KAGGLE_CONFIG_DIR`` or ``~/.kaggle``.
The key is never printed.

A Kaggle dataset is unpacked into ``GDL_DATA_DIR/<slug>/``, the layout the book's
``download_kaggle_data.sh`` produces (``celeba-dataset/``, ``lego-brick-images/`` ...),
through the same staging/verify/rename path as every gdl download
(:mod:`gdl.data.download`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol

from gdl.data.registry import Dataset, DatasetError

CREDENTIALS_HELP = (
    "Kaggle credentials not found. Create an API token at https://www.kaggle.com/settings "
    "(API -> Create New Token) and either save the downloaded kaggle.json as "
    "~/.kaggle/kaggle.json (chmod 600), or set KAGGLE_USERNAME and KAGGLE_KEY in the "
    "environment (or in a .env file in this folder)."
)


class KaggleClient(Protocol):
    def download(self, slug: str, dest: Path) -> None:
        """Put the unpacked files of Kaggle dataset ``owner/name`` into ``dest``."""


def load_dotenv(path: str | Path = ".env") -> None:
    """Copy ``KAGGLE_*`` assignments from a ``.env`` file into the environment (never
    overriding variables already set), so the book's ``.env`` works outside docker."""
    path = Path(path)
    if not path.is_file():
        return
    for line in path.read_text(errors="replace").splitlines():
        key, sep, value = line.strip().partition("=")
        key = key.removeprefix("export ").strip()
        if sep and key.startswith("KAGGLE_") and key not in os.environ:
            value = value.strip().strip("'\"")
            if value and not value.startswith("<"):  # sample.env placeholders
                os.environ[key] = value


def credentials_source() -> str:
    """Where the Kaggle credentials come from (a description, never the key), or raise
    :class:`DatasetError` saying where to put them."""
    load_dotenv()
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "environment (KAGGLE_USERNAME/KAGGLE_KEY)"
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "environment (KAGGLE_API_TOKEN)"
    folder = Path(os.environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle").expanduser()
    for name in ("kaggle.json", "access_token"):
        if (folder / name).is_file():
            return str(folder / name)
    if os.environ.get("KAGGLE_USERNAME") or os.environ.get("KAGGLE_KEY"):
        missing = "KAGGLE_KEY" if os.environ.get("KAGGLE_USERNAME") else "KAGGLE_USERNAME"
        raise DatasetError(f"{missing} is not set. {CREDENTIALS_HELP}")
    raise DatasetError(CREDENTIALS_HELP)


class KagglehubClient:
    """Downloads with ``kagglehub`` (``pip install 'gdl[kaggle]'``) straight into ``dest``."""

    def download(self, slug: str, dest: Path) -> None:
        import kagglehub

        # no force_download: a partial archive left in ``dest`` by an interrupted run is
        # resumed by kagglehub (``gdl data download NAME --force`` clears ``dest`` first)
        kagglehub.dataset_download(slug, output_dir=str(dest))
        shutil.rmtree(dest / ".complete", ignore_errors=True)  # kagglehub's own markers


class OfficialKaggleClient:
    """Downloads with the official ``kaggle`` package (``pip install kaggle``)."""

    def download(self, slug: str, dest: Path) -> None:
        from kaggle.api.kaggle_api_extended import KaggleApi

        api = KaggleApi()
        api.authenticate()
        api.dataset_download_files(slug, path=str(dest), unzip=True, quiet=False)


def make_client() -> KaggleClient:
    """``kagglehub`` if installed, else the official ``kaggle`` package."""
    import importlib.util

    if importlib.util.find_spec("kagglehub"):
        return KagglehubClient()
    if importlib.util.find_spec("kaggle"):
        return OfficialKaggleClient()
    raise DatasetError(
        "downloading from Kaggle needs kagglehub: pip install 'gdl[kaggle]' "
        "(or pip install kagglehub)"
    )


def _explain(slug: str, exc: Exception) -> DatasetError:
    """One actionable line for a failed Kaggle download (no key in it)."""
    try:
        import requests

        network = (requests.ConnectionError, ConnectionError, TimeoutError)
    except ImportError:
        network = (ConnectionError, TimeoutError)
    status = getattr(getattr(exc, "response", None), "status_code", None)
    text = f"{type(exc).__name__}: {exc}"
    key = os.environ.get("KAGGLE_KEY")
    if key:
        text = text.replace(key, "***")
    if isinstance(exc, network):
        return DatasetError(
            f"cannot download {slug} from Kaggle: no network or www.kaggle.com unreachable"
        )
    if status in (401, 403) or "Unauthenticated" in type(exc).__name__:
        return DatasetError(
            f"Kaggle refused the download of {slug} ({status or 'unauthenticated'}): check "
            "your credentials (~/.kaggle/kaggle.json or KAGGLE_USERNAME/KAGGLE_KEY) and that "
            f"you accepted the dataset's terms on https://www.kaggle.com/datasets/{slug}"
        )
    return DatasetError(f"Kaggle download of {slug} failed: {text}")


def download_kaggle(
    ds: Dataset, force: bool = False, client: KaggleClient | None = None, **_
) -> Path:
    """Download ``ds.source`` (``kaggle:owner/name``) into its folder, atomically."""
    from gdl.data.download import finish_install, staging_dir

    slug = ds.source.removeprefix("kaggle:")
    if client is None:
        credentials_source()
        client = make_client()
    staging = staging_dir(ds)
    if force and staging.exists():  # --force: start again from nothing
        shutil.rmtree(staging)
    staging.mkdir(parents=True, exist_ok=True)  # kept after an interruption: resumed
    try:
        client.download(slug, staging)
    except DatasetError:
        raise
    except Exception as exc:
        raise _explain(slug, exc) from exc
    return finish_install(ds, staging)
