"""``serve --workers`` checks (socketio_core/aio/workers.py); the cluster itself is tested in
tests/socketio_core/brokers/test_sio_roundrobin.py."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from socketio_core.aio import AsyncClient, AsyncServer
from socketio_core.aio.redis_manager import AsyncRedisManager
from socketio_core.aio.workers import check_workers, reserve_port

ROOT = Path(__file__).resolve().parents[3]


def test_polling_without_forwarding_is_refused() -> None:
    with pytest.raises(SystemExit, match="forward_requests=True"):
        check_workers(AsyncServer())
    with pytest.raises(SystemExit, match="forward_requests=True"):
        check_workers(AsyncServer(client_manager=AsyncRedisManager("redis://127.0.0.1:1/0")))


def test_websocket_only_or_forwarding_is_accepted() -> None:
    check_workers(AsyncServer(transports=["websocket"]))
    mgr = AsyncRedisManager(
        "redis://127.0.0.1:1/0", forward_requests=True, max_forwarded=5, max_message_size=9999
    )
    sio = AsyncServer(client_manager=mgr)
    check_workers(sio)
    assert sio.eio.remote_sessions is mgr.remote_sessions
    assert mgr.remote_sessions is not None
    assert (mgr.remote_sessions.max_pending, mgr.remote_sessions.max_message_size) == (5, 9999)
    assert mgr.remote_sessions.timeout == 45.0  # ping interval + ping timeout


def test_forwarding_needs_a_subscriber() -> None:
    with pytest.raises(ValueError, match="write-only"):
        AsyncRedisManager("redis://127.0.0.1:1/0", write_only=True, forward_requests=True)


def test_reserved_port_is_shared_with_reuse_port() -> None:
    reserved = reserve_port("127.0.0.1", 0)
    try:
        port = reserved.getsockname()[1]
        assert port > 0
        with socket.socket() as worker:
            worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            worker.bind(("127.0.0.1", port))  # what a worker does; no EADDRINUSE
            worker.listen()
    finally:
        reserved.close()


CHATTY_APP = """
from socketio_core.aio import AsyncServer

sio = AsyncServer(transports=["websocket"])


@sio.event
async def disconnect(sid, reason):
    print("disconnect:", reason, flush=True)


@sio.event
async def chat(sid, n):
    print("x" * n, flush=True)  # the application's own output, on the worker's stdout
    return n
"""


@pytest.mark.asyncio
async def test_a_worker_that_prints_does_not_block(tmp_path: Path) -> None:
    """A worker's stdout is the supervisor's, not a pipe that nobody reads after the banner:
    a handler printing more than a pipe holds (64 KiB on Linux) still answers."""
    (tmp_path / "chatty_app.py").write_text(CHATTY_APP)
    out_path = tmp_path / "stdout.txt"
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    with out_path.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "socketio_core", "serve", "chatty_app:sio", "--port", "0",
            "--workers", "2", cwd=tmp_path, env=env, stdout=out, start_new_session=True,
        )  # fmt: skip
    try:
        banner = await wait_for_line(out_path, proc, 60.0)
        assert "2 workers" in banner, banner
        port = int(banner.split(":")[2].split("/")[0])
        clients = [AsyncClient(reconnection=False) for _ in range(4)]  # on one worker or both
        try:
            for client in clients:
                await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
            for client in clients:
                assert await client.call("chat", 200_000, timeout=20) == 200_000
        finally:
            for client in clients:
                await client.disconnect()
    finally:
        if proc.returncode is None:
            proc.terminate()  # the supervisor stops its workers
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0
    lines = out_path.read_bytes().splitlines()
    assert lines.count(b"x" * 200_000) == 4  # the workers' output reached the supervisor's
    assert sum(b"2 workers" in line for line in lines) == 1  # one banner, the supervisor's


@pytest.mark.asyncio
async def test_workers_stop_gracefully_on_sigterm(tmp_path: Path) -> None:
    """SIGTERM to the supervisor: each worker closes its sessions (the ``disconnect``
    handlers run with ``server disconnect``) before it exits, rather than dying at once."""
    (tmp_path / "chatty_app.py").write_text(CHATTY_APP)
    out_path = tmp_path / "stdout.txt"
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    with out_path.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "socketio_core", "serve", "chatty_app:sio", "--port", "0",
            "--workers", "2", cwd=tmp_path, env=env, stdout=out, start_new_session=True,
        )  # fmt: skip
    clients = [AsyncClient(reconnection=False) for _ in range(4)]
    try:
        banner = await wait_for_line(out_path, proc, 60.0)
        port = int(banner.split(":")[2].split("/")[0])
        for client in clients:
            await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
            assert await client.call("chat", 1, timeout=20) == 1
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for client in clients:
            await client.disconnect()
    assert proc.returncode == 0
    lines = out_path.read_bytes().splitlines()
    assert lines.count(b"disconnect: server disconnect") == 4, lines[-6:]


async def wait_for_line(path: Path, proc: asyncio.subprocess.Process, timeout: float) -> str:
    """The first line written to ``path`` by ``proc`` (a file: polled, bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        data = path.read_bytes()
        if b"\n" in data:
            return data.split(b"\n", 1)[0].decode()
        if proc.returncode is not None or time.monotonic() > deadline:
            raise AssertionError(f"no banner (exit {proc.returncode}): {data[:200]!r}")
        await asyncio.sleep(0.05)  # a file has no readiness event to await


FLAKY_APP = """
import os

from socketio_core.aio import AsyncServer

if os.path.exists(os.environ["FLAKY_FLAG"]):
    raise SystemExit("refusing to start")  # a worker that cannot start (a broker down, say)

sio = AsyncServer(transports=["websocket"])


@sio.event
async def ping(sid):
    return os.getpid()
"""


def children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


async def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait until ``check()`` holds (processes and files: polled, bounded)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)  # process exits and log lines have no event to await here


@pytest.mark.asyncio
async def test_a_worker_that_fails_to_restart_does_not_stop_the_others(tmp_path: Path) -> None:
    """A worker dies and its restart fails (its module refuses to start): the supervisor keeps
    the other worker serving and tries again, backing off, until the worker starts."""
    (tmp_path / "flaky_app.py").write_text(FLAKY_APP)
    flag = tmp_path / "flag"
    err_path = tmp_path / "stderr.txt"
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "FLAKY_FLAG": str(flag)}
    out_path = tmp_path / "stdout.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "socketio_core", "serve", "flaky_app:sio", "--port", "0",
            "--workers", "2", cwd=tmp_path, env=env, stdout=out, stderr=err,
            start_new_session=True,
        )  # fmt: skip
    try:
        banner = await wait_for_line(out_path, proc, 60.0)
        url = f"http://127.0.0.1:{int(banner.split(':')[2].split('/')[0])}"
        first = children(proc.pid)
        assert len(first) == 2, first
        flag.write_text("")
        os.kill(first[0], signal.SIGKILL)
        await until(lambda: b"did not start" in err_path.read_bytes(), 30, "a failed restart")
        assert proc.returncode is None  # the supervisor is still there ...
        client = AsyncClient(reconnection=False)
        await client.connect(url, transports=["websocket"])
        try:  # ... and so is the other worker, which now takes every connection
            assert await client.call("ping", timeout=20) == first[1]
        finally:
            await client.disconnect()
        flag.unlink()
        await until(lambda: len(children(proc.pid)) == 2, 30, "the worker started again")
        assert first[1] in children(proc.pid)
    finally:
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0
