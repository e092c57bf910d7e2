"""``import websocket`` fails loudly when the PyPI package websocket-client is installed.

The test fakes an installed ``websocket-client`` distribution (its metadata directory) on
``sys.path`` of a child interpreter, which is what ``importlib.metadata`` looks at.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    paths = [str(ROOT)] + ([str(extra_path)] if extra_path else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_import_works_without_websocket_client() -> None:
    result = _run("import websocket; print(websocket.IS_SOCKETIO_STACK)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_import_fails_loudly_with_websocket_client(tmp_path: Path) -> None:
    dist = tmp_path / "websocket_client-1.8.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: websocket-client\nVersion: 1.8.0\n", encoding="utf-8"
    )
    result = _run("import websocket", extra_path=tmp_path)
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "websocket-client" in result.stderr
    assert "pip uninstall websocket-client" in result.stderr
