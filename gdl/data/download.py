"""Downloads that cannot leave a half-written file that looks complete.

:func:`fetch_url` streams to ``<target>.part`` and renames it into place only when
the transfer is complete (and its SHA-256 matches, when given).
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from gdl.data.registry import DatasetError


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def fetch_url(
    url: str, target: str | Path, sha256_hex: str | None = None, timeout: float = 60
) -> Path:
    """Download ``url`` to ``target`` via a ``.part`` file; verify; rename. Return ``target``."""
    from tqdm.auto import tqdm

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(part, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name) as bar:
                while block := resp.read(1 << 16):
                    out.write(block)
                    bar.update(len(block))
        if total is not None and part.stat().st_size != total:
            raise DatasetError(
                f"download of {url} was cut short ({part.stat().st_size} of {total} bytes)"
            )
        if sha256_hex and sha256(part) != sha256_hex:
            raise DatasetError(f"checksum mismatch for {url}: the download is corrupt, try again")
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        part.unlink(missing_ok=True)
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(
            f"cannot download {url}: no network or server unreachable ({exc})"
        ) from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, target)
    return target
