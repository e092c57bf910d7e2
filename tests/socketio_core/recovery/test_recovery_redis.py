"""Connection state recovery across a cluster: two server processes on one real
redis-server (``recovery_server.py``); the client drops from one and comes back through the
proxy to the other, and recovers: same sid, the 110 events missed, in order, once. Then back
to the first: recovered again. Waits: the control client's events and the client's handlers,
each bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from socketio_core.aio import AsyncClient

TIMEOUT = 15.0
ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("recovery_server.py")


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def server_process(url: str, channel: str) -> AsyncIterator[int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), url, channel, env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
        assert line, "the server process ended"
        yield int(json.loads(line)["port"])
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()


@pytest.mark.asyncio
async def test_a_client_recovers_on_another_server_process(
    recovery_redis: Any, cut_proxy: Any
) -> None:
    url = recovery_redis.url
    async with server_process(url, "rec") as port_a, server_process(url, "rec") as port_b:
        control = AsyncClient(reconnection=False)
        seen: asyncio.Queue[list[Any]] = asyncio.Queue()
        gone: asyncio.Queue[list[Any]] = asyncio.Queue()
        control.on("seen", seen.put_nowait)
        control.on("gone", gone.put_nowait)
        await control.connect(f"http://127.0.0.1:{port_a}", auth={"control": True})

        proxy = await cut_proxy(port_a)
        client = AsyncClient(
            reconnection_delay=0.05, reconnection_delay_max=0.1, randomization_factor=0
        )
        news: list[int] = []
        ends: list[int] = []
        client.on("news", news.append)
        client.on("end", lambda: ends.append(1))
        try:
            await client.connect(f"http://127.0.0.1:{proxy.port}", transports=["websocket"])
            sid = client.sid
            first = await asyncio.wait_for(seen.get(), TIMEOUT)
            assert first == [sid, False, None, port_a]
            for round_, (there, back) in enumerate([(port_a, port_b), (port_b, port_a)], 1):
                proxy.cut()
                assert (await asyncio.wait_for(gone.get(), TIMEOUT))[0] == sid
                news.clear()
                assert await control.call("blast", {"target": sid, "base": 1000 * round_})
                proxy.target = back
                proxy.resume()
                again = await asyncio.wait_for(seen.get(), TIMEOUT)
                assert again == [sid, True, None, back], (round_, there)
                await until(lambda: client.sid == sid and client.recovered, "recovered")
                await until(lambda: len(news) >= 110, "the missed events")
                await client.emit("barrier")
                await until(lambda n=round_: len(ends) == n, "the barrier")
                assert news == list(range(1000 * round_, 1000 * round_ + 110))
        finally:
            await client.disconnect()
            await control.disconnect()
