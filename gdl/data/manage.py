"""``gdl data list | check | download``: what the command line (and
``data_scripts/download.py``) runs. Each function prints for a person and returns an
exit status."""

from __future__ import annotations

import sys

from gdl.config import data_dir
from gdl.data.registry import Dataset, DatasetError, list_datasets


def resolve(names: list[str], downloadable_only: bool = False) -> list[Dataset]:
    """Datasets by name; ``all`` means every dataset (every downloadable one when
    ``downloadable_only``). An unknown name raises :class:`DatasetError` listing the known."""
    known = list_datasets()
    if "all" in names:
        return [ds for ds in known.values() if not (downloadable_only and ds.embedded)]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DatasetError(
            f"unknown dataset {unknown[0]!r}; known: {', '.join(known)} (see gdl data list)"
        )
    return [known[n] for n in names]


def status(ds: Dataset) -> str:
    """``embedded``, ``present``, ``missing``, ``partial`` (an interrupted download is
    staged) or ``incomplete`` (the folder exists but fails its check)."""
    from gdl.data.download import staging_dir

    if ds.embedded:
        return "embedded"
    if ds.is_present():
        return "present"
    staged = staging_dir(ds)
    if staged.is_dir() and any(staged.iterdir()):
        return "partial"
    return "incomplete" if ds.path().exists() else "missing"


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def list_command() -> int:
    datasets = list_datasets()
    width = max(map(len, datasets))
    print(f"datasets in {data_dir().resolve()} (GDL_DATA_DIR):")
    for name, ds in datasets.items():
        where = "" if ds.embedded else f"{ds.folder}/"
        print(f"{name:<{width}}  {status(ds):<10}  {where:<34}  {ds.description}")
    missing = [n for n, ds in datasets.items() if status(ds) in ("missing", "partial")]
    if missing:
        print(f"download with: gdl data download NAME   (e.g. gdl data download {missing[0]})")
    return 0


def check_command(names: list[str]) -> int:
    """Verify each dataset (headers of every file, manifest); 0 when all are complete."""
    from gdl.data.download import tree_stats

    failed = 0
    for ds in resolve(names):
        problems = ds.verify()
        if problems:
            failed += 1
            print(f"{ds.name}: INCOMPLETE at {ds.path()}")
            for p in problems[:20]:
                print(f"  - {p}")
            if len(problems) > 20:
                print(f"  ... and {len(problems) - 20} more")
            force = " --force" if ds.path().exists() else ""
            print(f"  fix with: gdl data download {ds.name}{force}")
        elif ds.embedded:
            print(f"{ds.name}: OK (embedded)")
        else:
            stats = tree_stats(ds.path())
            print(f"{ds.name}: OK, {stats['files']} files, {_size(stats['bytes'])} at {ds.path()}")
            expected, count = ds.extra.get("expected"), ds.extra.get("count")
            if expected and count and (n := count(ds)) != expected:
                print(
                    f"  note: {n:,} {ds.extra.get('unit', 'files')}; the book's copy has {expected:,}"
                )
    return 1 if failed else 0


def download_command(names: list[str], force: bool = False, progress: bool = True) -> int:
    """Download each dataset (skipping present ones unless ``force``); 0 when all worked.
    Failures are reported one line each on stderr and the others still run."""
    from gdl.data.download import tree_stats

    failed = 0
    for ds in resolve(names, downloadable_only=True):
        if ds.embedded:
            print(f"{ds.name}: embedded, nothing to download")
            continue
        if ds.is_present() and not force:
            print(f"{ds.name}: already present at {ds.path()} (--force downloads again)")
            continue
        print(f"{ds.name}: downloading from {ds.source}")
        try:
            path = ds.download(force=force, progress=progress)
        except DatasetError as exc:
            failed += 1
            print(f"gdl: {ds.name}: {exc}", file=sys.stderr)
            continue
        stats = tree_stats(path)
        print(f"{ds.name}: OK, {stats['files']} files, {_size(stats['bytes'])} at {path}")
    return 2 if failed else 0
