"""Running the drop-in example programs with their own commands, and driving them with Node's
socket.io-client (tests/node/fiddle_client.js) and with our clients.

Each program runs as a child process in its own session (stopped by its process group id),
on a free port; it is ready once the port accepts (bounded polling, as the broker tests do).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = Path(__file__).resolve().parent / "examples"
NODE_DIR = ROOT / "tests" / "node"
TIMEOUT = 15.0

sys.path.insert(0, str(ROOT / "tests" / "socketio_core" / "brokers"))

from cluster_kit import _terminate, free_port, wait_port  # noqa: E402

__all__ = ["EXAMPLES", "ROOT", "Program", "free_port", "node_client", "program"]


class Program:
    """A running example program and its output file."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def env(**extra: str) -> dict[str, str]:
    """The environment of a child: our code first on the path."""
    return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **extra)


@contextlib.contextmanager
def program(
    command: list[str], cwd: Path, tmp_path: Path, port: int | None = None, **extra: str
) -> Iterator[Program]:
    """Run ``command`` (``{port}`` and ``{py}`` substituted) until the block ends."""
    port = port or free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    args = [a.format(port=port, py=sys.executable, gunicorn=gunicorn) for a in command]
    log = tmp_path / f"program-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=env(PORT=str(port), **extra),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        try:
            wait_port(port, proc, time.monotonic() + 30, " ".join(args))
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{log.read_text(errors='replace')}") from None
        yield Program(proc, port, log)
    finally:
        _terminate(proc, grace=5)


async def node_client(url: str, transports: str, steps: list[Any]) -> list[dict[str, Any]]:
    """Run tests/node/fiddle_client.js; its JSON lines (fails on an error line)."""
    node = shutil.which("node")
    assert node is not None, "node is not installed"
    proc = await asyncio.create_subprocess_exec(
        node,
        str(NODE_DIR / "fiddle_client.js"),
        url,
        transports,
        json.dumps(steps),
        cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT + 5)
    lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    assert proc.returncode == 0, (lines, err.decode())
    return lines


async def read_until(proc: asyncio.subprocess.Process, text: str) -> list[str]:
    """Lines of a child's stdout up to the one containing ``text`` (bounded)."""
    assert proc.stdout is not None
    lines: list[str] = []

    async def read() -> None:
        assert proc.stdout is not None
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise AssertionError(f"exited before {text!r}: {lines}")
            lines.append(line.decode(errors="replace").rstrip())
            if text in lines[-1]:
                return

    await asyncio.wait_for(read(), TIMEOUT)
    return lines


async def run_client_script(script: str, url: str, until: str) -> list[str]:
    """Run a client example (``python script``) against ``url`` until it prints ``until``."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        script,
        cwd=EXAMPLES,
        env=env(SERVER_URL=url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        return await read_until(proc, until)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)
        await asyncio.wait_for(proc.wait(), TIMEOUT)


async def seed_scenario(url_a: str, url_b: str, transports: list[str] | None) -> None:
    """The seed tutorial's rooms and sends, with two of our clients (A on ``url_a``, B on
    ``url_b``: two servers of a cluster, or the same one)."""
    import socketio_core as socketio  # noqa: PLC0415 (the module under test)

    inboxes: list[asyncio.Queue[Any]] = [asyncio.Queue(), asyncio.Queue()]
    clients = [socketio.AsyncClient(reconnection=False) for _ in inboxes]
    for client, inbox in zip(clients, inboxes, strict=True):
        client.on("*", lambda event, *args, inbox=inbox: inbox.put_nowait([event, *args]))

    async def get(index: int) -> Any:
        return await asyncio.wait_for(inboxes[index].get(), TIMEOUT)

    a, b = clients
    await a.connect(url_a, transports=transports)
    await b.connect(url_b, transports=transports)
    try:
        for index, client in enumerate(clients):
            await client.emit("chat")
            assert await get(index) == ["rooms", sorted([client.sid, "chat_users"])]
        await a.emit("my message", {"x": 1})
        assert await get(1) == ["my reply", {"x": 1}]
        await a.emit("my custom event", {"y": 2})
        foobar = {"data": "foobar"}
        mine = [await get(0) for _ in range(4)]
        assert mine == [["my event", foobar]] * 2 + [["message", foobar]] * 2  # no "my reply"
        assert [await get(1), await get(1)] == [["my event", foobar], ["message", foobar]]
        await a.emit("exit_chat")
        assert await get(0) == ["rooms", [a.sid]]
        await b.emit("my message", "only B was left in the room")
        await b.emit("chat")
        assert await get(1) == ["rooms", sorted([b.sid, "chat_users"])]
        assert inboxes[0].empty()
    finally:
        await a.disconnect()
        await b.disconnect()
