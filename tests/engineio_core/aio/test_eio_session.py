"""Tests for engineio_core.aio.session: what a SessionDriver costs and when it runs tasks.

A session owns no task while idle: its timer is a ``loop.call_at`` handle and its inbox task
exists only while application events wait. The cost test opens 5,000 idle polling sessions,
each with its GET parked, over 5,000 raw loopback sockets driven with ``loop.sock_*`` calls
(the client side holds no task and no stream objects), then counts the tasks and prints the
server-side memory per session, measured with tracemalloc.
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import tracemalloc
from collections.abc import Callable

import pytest

from engineio_core.aio.server import AsyncServer

TIMEOUT = 10.0
SESSIONS = 5000
MEASURED = 500
BATCH = 50  # under the listen backlog (100): no SYN retransmits
HANDSHAKE = b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll a condition with a bounded deadline."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def read_response(sock: socket.socket) -> bytes:
    """Read one HTTP response (with a Content-Length) from a non-blocking socket."""
    loop = asyncio.get_running_loop()
    data = b""
    async with asyncio.timeout(TIMEOUT):
        while True:
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                if len(body) >= length:
                    return data
            chunk = await loop.sock_recv(sock, 65536)
            assert chunk, "the server closed the connection"
            data += chunk


async def open_idle_session(port: int) -> socket.socket:
    """Handshake, then park a GET on the same keep-alive connection."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, HANDSHAKE)
        response = await read_response(sock)
        sid = json.loads(response.partition(b"\r\n\r\n")[2][1:])["sid"]
        get = (
            f"GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        )
        await loop.sock_sendall(sock, get.encode())
    except BaseException:
        sock.close()
        raise
    return sock


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


@pytest.mark.asyncio
async def test_cost_of_idle_polling_sessions() -> None:
    raise_fd_limit(2 * SESSIONS + 200)
    eio = AsyncServer()
    sockets: list[socket.socket] = []

    async def open_sessions(count: int) -> None:
        for start in range(0, count, BATCH):
            batch = await asyncio.gather(
                *(open_idle_session(front.port) for _ in range(min(BATCH, count - start))),
                return_exceptions=True,
            )
            for sock in batch:
                assert isinstance(sock, socket.socket), sock
                sockets.append(sock)

    def parked(count: int) -> Callable[[], bool]:
        return lambda: (
            len(eio.sessions) == count and all(d.responder for d in eio.sessions.values())
        )

    try:
        async with eio.listen("127.0.0.1", 0) as front:
            baseline_tasks = len(asyncio.all_tasks())
            # tracemalloc slows allocation tenfold: measure the last MEASURED sessions only.
            await open_sessions(SESSIONS - MEASURED)
            await until(parked(SESSIONS - MEASURED), timeout=30)
            tracemalloc.start()
            try:
                before = tracemalloc.take_snapshot()
                await open_sessions(MEASURED)
                await until(parked(SESSIONS), timeout=30)
                after = tracemalloc.take_snapshot()
            finally:
                tracemalloc.stop()

            # One reader task per TCP connection, plus what ran before (this test).
            tasks = len(asyncio.all_tasks())
            assert tasks <= baseline_tasks + SESSIONS + 5, tasks
            # No session holds a task of its own while idle; its only timer is a handle.
            for driver in eio.sessions.values():
                assert driver._inbox is None or not driver._inbox.busy
                assert driver._timer.when is not None

            # Leave out what this test's own lines allocated; the client sockets' objects
            # (socket.py, a few hundred bytes each) are counted in.
            ignore = [
                tracemalloc.Filter(False, __file__),
                tracemalloc.Filter(False, tracemalloc.__file__),
            ]
            stats = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "filename")
            total = sum(stat.size_diff for stat in stats)
            print(
                f"\n{SESSIONS} idle polling sessions, one TCP connection and a parked GET each: "
                f"{total / MEASURED:,.0f} bytes of Python heap per session "
                f"(measured over the last {MEASURED}); {tasks} tasks"
            )
            for stat in stats[:8]:
                print(f"  {stat.size_diff / MEASURED:8,.0f} B  {stat.traceback[0].filename}")

            # Every client goes away: each parked GET is aborted and its session freed.
            for sock in sockets:
                sock.close()
            sockets.clear()
            await until(lambda: not eio.sessions, timeout=30)
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.asyncio
async def test_inbox_task_exists_only_while_events_wait() -> None:
    eio = AsyncServer()
    release = asyncio.Event()
    got: list[str | bytes] = []

    async def on_message(sid: str, data: str | bytes) -> None:
        await release.wait()
        got.append(data)

    eio.on("message", on_message)
    async with eio.listen("127.0.0.1", 0) as front:
        loop = asyncio.get_running_loop()
        sock = await open_idle_session(front.port)
        try:
            await until(lambda: len(eio.sessions) == 1)
            driver = next(iter(eio.sessions.values()))
            assert driver._inbox is None
            # A POST of three messages on a second connection.
            post = socket.create_connection(("127.0.0.1", front.port))
            post.setblocking(False)
            body = b"4a\x1e4b\x1e4c"
            head = (
                f"POST /engine.io/?EIO=4&transport=polling&sid={driver.sid} HTTP/1.1\r\n"
                f"Host: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            await loop.sock_sendall(post, head.encode() + body)
            assert (await read_response(post)).endswith(b"\r\n\r\nok")
            # The handler is blocked: one task drains the inbox, in order.
            assert driver._inbox is not None and driver._inbox.busy
            release.set()
            await until(lambda: len(got) == 3)
            assert got == ["a", "b", "c"]
            await until(lambda: driver._inbox is not None and not driver._inbox.busy)
            post.close()
        finally:
            sock.close()
        # The parked GET's connection is gone: the session closes and is dropped.
        await until(lambda: not eio.sessions)
