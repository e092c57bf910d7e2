"""The Node side of the mixed-cluster tests: ``tests/node/sio_redis_node.js`` driven over
stdin (a socket.io 4.8 server on ``@socket.io/redis-adapter``, socket.io-clients and
``@socket.io/redis-emitter`` in one process). Every read is bounded by a deadline."""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

NODE_DIR = Path(__file__).resolve().parents[2] / "node"
SCRIPT = NODE_DIR / "sio_redis_node.js"


def node_ready() -> None:
    """Skip (fail under CI) without node or the npm packages."""
    missing = (
        shutil.which("node") is None
        or not (NODE_DIR / "node_modules" / "@socket.io" / "redis-adapter").is_dir()
    )
    if missing:
        if os.environ.get("CI"):
            pytest.fail("node and tests/node/node_modules are required under CI")
        pytest.skip("node or @socket.io/redis-adapter is not installed (npm install in tests/node)")


def bin_(data: bytes) -> dict[str, str]:
    """How the driver spells a binary value."""
    return {"$bin": base64.b64encode(data).decode("ascii")}


class NodeDriver:
    """One driver process; :meth:`call` sends a command and returns its result."""

    def __init__(self, redis_url: str, mode: str = "classic") -> None:
        self.proc = subprocess.Popen(
            ["node", str(SCRIPT), redis_url, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=NODE_DIR,
            start_new_session=True,
        )
        self._buffer = b""
        self._next = 0
        self.port: int = self._read(time.monotonic() + 30)["port"]

    def _read(self, deadline: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.proc.poll() is not None:
                raise RuntimeError(f"node driver: no answer (exit {self.proc.poll()})")
            ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError(f"node driver exited ({self.proc.wait(5)})")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        result: dict[str, Any] = json.loads(line)
        return result

    def call(self, cmd: str, timeout: float = 20.0, **fields: Any) -> Any:
        self._next += 1
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"id": self._next, "cmd": cmd, **fields}).encode() + b"\n")
        self.proc.stdin.flush()
        answer = self._read(time.monotonic() + timeout)
        assert answer.get("id") == self._next, answer
        assert "error" not in answer, answer["error"]
        return answer["result"]

    def node_op(self, **req: Any) -> Any:
        return self.call("node_op", req=req)

    def client_op(self, name: str, **req: Any) -> Any:
        result = self.call("client_op", name=name, req=req)
        assert isinstance(result, dict), result
        assert "error" not in result, result
        return result

    def got(self, name: str, event: str, count: int = 1, ms: int = 10000) -> list[list[Any]]:
        """The argument lists of ``event`` once ``name`` got ``count`` of them (or ``ms``)."""
        events = self.call(
            "wait", timeout=ms / 1000 + 10, name=name, event=event, count=count, ms=ms
        )
        return [args for ev, args in events if ev == event]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
