"""Shared pieces of the connection state recovery tests: a TCP proxy that cuts connections.

:class:`CutProxy` forwards 127.0.0.1 connections to the server; :meth:`CutProxy.cut` aborts
every connection at once (an RST on both sides, as a network failure) and refuses new ones
until :meth:`CutProxy.resume`, so that a client reconnects only when the test says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

TIMEOUT = 10.0


class CutProxy:
    """A loopback TCP proxy to ``port`` whose connections can be cut."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.down = False
        self.port = 0
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def cut(self) -> None:
        """Abort every connection and refuse new ones."""
        self.down = True
        for a, b in list(self._pairs):
            a.transport.abort()
            b.transport.abort()
        self._pairs.clear()

    def resume(self) -> None:
        """Accept connections again."""
        self.down = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        dst.transport.abort() if dst.transport.is_closing() else dst.close()


@pytest_asyncio.fixture
async def cut_proxy() -> AsyncIterator[Callable[[int], asyncio.Future[CutProxy]]]:
    """``proxy = await cut_proxy(server_port)``; closed at the end of the test."""
    proxies: list[CutProxy] = []

    async def make(port: int) -> CutProxy:
        proxy = CutProxy(port)
        await proxy.start()
        proxies.append(proxy)
        return proxy

    yield make  # type: ignore[misc]
    for proxy in proxies:
        await proxy.close()


sys.path.insert(0, str(Path(__file__).parents[1] / "brokers"))

from cluster_kit import RedisBroker  # noqa: E402


@pytest.fixture(scope="session")
def recovery_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisBroker]:
    """A private redis-server for the recovery cluster test (skipped when not installed)."""
    broker = RedisBroker(tmp_path_factory.mktemp("recovery-redis"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
