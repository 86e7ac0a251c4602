"""The README's library example runs as written, in a fresh interpreter."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Use the library in your own Keras code"


def readme_library_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index(SECTION) :]
    section = section[: section.find("\n## ", len(SECTION))]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, f"expected one python block under {SECTION!r}"
    return blocks[0]


def test_readme_library_section_runs_verbatim(tmp_path):
    code = readme_library_block()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "digits.png").stat().st_size > 0
    # the saved model loads in yet another interpreter after `import gdl` alone
    check = ("import gdl, keras; m = keras.saving.load_model('vae.keras'); "
             "print(type(m).__name__, m.generate(2, seed=0).shape)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "VAE (2, 32, 32, 1)" in out.stdout
