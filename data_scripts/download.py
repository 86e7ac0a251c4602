#!/usr/bin/env python
"""Download the book's datasets into $GDL_DATA_DIR (default ./data): the same as
``gdl data download``, as a plain script for the Docker image and for checkouts where
gdl is not installed.

    python data_scripts/download.py faces bricks          # Kaggle sets (credentials needed)
    python data_scripts/download.py chorales cellosuites  # plain URLs
    python data_scripts/download.py all --data-dir /app/data
    python data_scripts/download.py --list                # what exists and what is present

Kaggle credentials: ~/.kaggle/kaggle.json, or KAGGLE_USERNAME and KAGGLE_KEY in the
environment or in a .env file in the current folder (the book's docker .env works).
Downloads go to a staging folder and are renamed into place only once verified, so an
interrupted run never leaves a dataset that looks complete; run it again to resume.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a checkout without install


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="dataset names (gdl data list), or 'all'")
    p.add_argument("--force", action="store_true", help="download again even if present")
    p.add_argument("--data-dir", help="where datasets live (sets GDL_DATA_DIR)")
    p.add_argument("--list", action="store_true", help="list the datasets and their status")
    p.add_argument("--check", action="store_true", help="verify instead of downloading")
    args = p.parse_args(argv)
    if args.data_dir:
        os.environ["GDL_DATA_DIR"] = args.data_dir
    from gdl.cli import main as gdl_main

    if args.list or not args.names:
        return gdl_main(["data", "list"])
    if args.check:
        return gdl_main(["data", "check", *args.names])
    return gdl_main(["data", "download", *args.names, *(["--force"] if args.force else [])])


if __name__ == "__main__":
    sys.exit(main())
