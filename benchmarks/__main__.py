"""``python -m benchmarks [--list] [NAME ...]``: run benchmarks, write benchmarks/results/."""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    from benchmarks.harness import discover, run

    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("names", nargs="*", help="benchmark or family names (default: all)")
    p.add_argument("--list", action="store_true", help="list benchmarks and exit")
    a = p.parse_args()
    if a.list:
        print("\n".join(discover()))
        return
    run(a.names)


if __name__ == "__main__":
    main()
