"""Write a chapter notebook (no outputs) from a percent-format script.

    python tools/write_notebook.py draft.py chapters/03_vae/02_vae_fashion.ipynb

Cells start with ``# %%`` (code) or ``# %% [markdown]`` (markdown; lines are
un-commented). Keep only the .ipynb in the repo.
"""

from __future__ import annotations

import sys

import nbformat


def cells_from_percent(text: str):
    cells, kind, lines = [], None, []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(
                line[2:] if line.startswith("# ") else line.lstrip("#")
                for line in body.splitlines()
            )
            cells.append(nbformat.v4.new_markdown_cell(body))
        elif body.strip():
            cells.append(nbformat.v4.new_code_cell(body))

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line)
    flush()
    return cells


def main(src: str, dst: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells_from_percent(open(src).read())
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, dst)


if __name__ == "__main__":
    main(*sys.argv[1:3])
