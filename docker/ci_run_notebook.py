"""Execute a notebook through a *running* Jupyter server's kernel (docker/test-image.sh).

    python ci_run_notebook.py http://127.0.0.1:8888 TOKEN 02_deeplearning/01_mlp.ipynb

Runs inside the lab container (the image's own Python, jupyter_server's websocket-client),
so it tests what a reader's browser does: the server starts a kernel for the notebook's
session (working directory = the notebook's folder, the server's environment, e.g.
``GDL_SMOKE=1``), and every code cell runs on it over the kernel's websocket. Exit status 1
on the first cell that raises, or when a cell writes ``cuInit`` to stderr (the CUDA probe
the CPU image must not make). Standard library + websocket-client only.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
import uuid

import websocket


def api(base: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"{base}{path}",
        data=data,
        method=method,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        text = r.read()
    return json.loads(text) if text else {}


def run_cell(ws, session: str, code: str, timeout: float) -> list[str]:
    """Execute ``code``; return the problems seen (error output, cuInit on stderr)."""
    msg_id = uuid.uuid4().hex
    ws.send(
        json.dumps(
            {
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                           "username": "ci", "date": "", "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True,
                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
            }
        )
    )  # fmt: skip
    problems, replied, idle = [], False, False
    deadline = time.monotonic() + timeout
    while not (replied and idle):
        ws.settimeout(max(1.0, deadline - time.monotonic()))
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "error":
            problems.append(f"{content['ename']}: {content['evalue']}")
        elif kind == "stream" and content.get("name") == "stderr" and "cuInit" in content["text"]:
            problems.append(f"CUDA probed on the CPU image: {content['text'].strip()[:200]}")
        elif kind == "execute_reply":
            replied = True
            if content["status"] != "ok" and not problems:
                problems.append(f"status {content['status']}")
        elif kind == "status" and content["execution_state"] == "idle":
            idle = True
        if time.monotonic() > deadline:
            problems.append(f"timed out after {timeout:.0f} s")
            break
    return problems


def main(base: str, token: str, path: str, timeout: float = 600) -> int:
    nb = api(base, token, "GET", f"/api/contents/{path}")["content"]
    session = api(
        base, token, "POST", "/api/sessions",
        {"path": path, "name": path.rsplit("/", 1)[-1], "type": "notebook",
         "kernel": {"name": "python3"}},
    )  # fmt: skip
    kernel = session["kernel"]["id"]
    ws_url = base.replace("http", "ws", 1) + f"/api/kernels/{kernel}/channels"
    ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"])
    try:
        cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
        for i, cell in enumerate(cells):
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            start = time.monotonic()
            problems = run_cell(ws, uuid.uuid4().hex, source, timeout)
            print(f"  cell {i}: {time.monotonic() - start:.1f} s", flush=True)
            if problems:
                print(f"{path}: code cell {i} failed: {'; '.join(problems)}", file=sys.stderr)
                return 1
    finally:
        ws.close()
        api(base, token, "DELETE", f"/api/sessions/{session['id']}")
    print(f"{path}: {len(cells)} code cells ran on the server's kernel")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
