"""``python -m socketio_core bench URL``: a load generator for any Socket.IO v5 server.

Scenarios (the server keeps the bench contract of :mod:`socketio_core.bench`):

* ``echo``: C sessions, each a closed loop of ``42<id>["echo","<payload>"]`` answered by the
  ack ``43<id>["<payload>"]``; acks/s and p50/p99 round trip, over WebSocket or polling.
* ``fanout``: N sessions join the room; one more sends ``fanout(n)``; deliveries/s and the
  time from the trigger to the last delivery of the last receiver.
* ``connect``: sessions opened as fast as possible (bounded in flight): connects/s, p50/p99
  from the TCP open to the CONNECT answer.
* ``idle``: with ``--server-pid``, the server's VmRSS grown per open session.

To stay out of the way of the server under test, a session is an :class:`asyncio.Protocol`
that frames with :func:`websocket.frames.serialize_frame` (C-accelerated masking when built)
and matches acks by string prefix: no Engine.IO/Socket.IO object per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

from websocket.frames import OP_TEXT, Opcode, parse_frame, serialize_frame

from ..bench import BenchResult, cpu_seconds, rss_kb

__all__ = ["Bench", "WsSession"]

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class WsSession(asyncio.Protocol):
    """One Socket.IO session over a raw WebSocket (client side, main namespace)."""

    def __init__(self, host: str, path: str, on_text: Callable[[WsSession, str], None]) -> None:
        self.host = host
        self.path = path
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.open = False
        self.connected: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.closed = False
        self.started = 0.0
        # per-scenario state
        self.ack_id = 0
        self.expect = ""
        self.sent_at = 0.0
        self.next_tick = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports do not derive from asyncio's.
        self.transport = cast(asyncio.Transport, transport)
        self.started = time.perf_counter()
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        self.transport.write(
            f"GET {self.path}?EIO=4&transport=websocket HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def send(self, text: str) -> None:
        """Send one Engine.IO text packet."""
        if self.transport is None or self.closed:
            return
        header, payload = serialize_frame(OP_TEXT, text.encode(), mask_key=os.urandom(4))
        self.transport.write(header + payload)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self._fail(f"handshake refused: {bytes(buf[:40])!r}")
                return
            del buf[: end + 4]
            self.open = True
        pos = 0
        try:
            while parsed := parse_frame(buf, pos, max_size=1 << 24, mask_required=False):
                frame, pos = parsed
                if frame.opcode == OP_TEXT:
                    self._text(frame.payload.decode())
                elif frame.opcode == Opcode.CLOSE:
                    self.closed = True
        except Exception as exc:
            self._fail(f"bad frame: {exc}")
            return
        del buf[:pos]

    def _text(self, text: str) -> None:
        if text == "2":
            self.send("3")
        elif text.startswith("40"):
            if not self.connected.done():
                self.connected.set_result(time.perf_counter() - self.started)
        elif text.startswith("0"):
            self.send("40")
        elif text.startswith("44"):
            self._fail(f"CONNECT refused: {text[:60]}")
        else:
            self.on_text(self, text)

    def _fail(self, why: str) -> None:
        if not self.connected.done():
            self.connected.set_exception(ConnectionError(why))
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.connected.done():
            self.connected.set_exception(ConnectionError(f"connection lost: {exc}"))

    def close(self) -> None:
        """Drop the connection."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Bench:
    """Runs scenarios against one server.

    Args:
        url: the server's base URL (``http://host:port``).
        path: the Engine.IO path.
        server_pid: the server's pid, for its CPU use and memory (optional).
        progress: draw a progress bar on stderr.
        timeout: the bound of every set-up step, in seconds.
    """

    def __init__(
        self, url: str, *, path: str = "/socket.io/", server_pid: int | None = None,
        progress: bool = False, timeout: float = 20.0,
    ) -> None:  # fmt: skip
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.netloc = parts.netloc
        self.path = "/" + path.strip("/") + "/"
        self.server_pid = server_pid
        self.progress = progress
        self.timeout = timeout
        self.sessions: list[WsSession] = []

    # --------------------------------------------------------------- plumbing

    async def session(self, on_text: Callable[[WsSession, str], None]) -> WsSession:
        """Open one session and wait for its CONNECT answer."""
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(
            lambda: WsSession(self.netloc, self.path, on_text), self.host, self.port
        )
        self.sessions.append(proto)
        await asyncio.wait_for(asyncio.shield(proto.connected), self.timeout)
        return proto

    async def sessions_bounded(
        self, n: int, inflight: int, on_text: Callable[[WsSession, str], None]
    ) -> tuple[list[WsSession], list[float], int]:
        """Open ``n`` sessions, ``inflight`` at a time: the sessions, connect times, errors."""
        limit = asyncio.Semaphore(inflight)
        times: list[float] = []
        opened: list[WsSession] = []
        errors = 0

        async def one() -> None:
            nonlocal errors
            async with limit:
                try:
                    s = await self.session(on_text)
                except (OSError, ConnectionError, TimeoutError):
                    errors += 1
                    return
                times.append(await s.connected)
                opened.append(s)

        await asyncio.gather(*(one() for _ in range(n)))
        return opened, times, errors

    def close_all(self) -> None:
        """Drop every session."""
        for s in self.sessions:
            s.close()
        self.sessions.clear()

    def _server_cpu(self) -> float:
        if not self.server_pid:
            return 0.0
        try:
            return cpu_seconds(Path(f"/proc/{self.server_pid}/stat").read_text(), CLK_TCK)
        except OSError:
            return 0.0

    def _server_rss(self) -> int:
        if not self.server_pid:
            return 0
        try:
            return rss_kb(Path(f"/proc/{self.server_pid}/status").read_text())
        except OSError:
            return 0

    @staticmethod
    def _own_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    async def measure(self, result: BenchResult, seconds: float, count: Callable[[], int]) -> None:
        """Wait ``seconds`` (drawing the bar), then fill the window's counters and CPU use."""
        start, cpu0, own0, ops0 = time.perf_counter(), self._server_cpu(), self._own_cpu(), count()
        end = start + seconds
        while (now := time.perf_counter()) < end:
            await asyncio.sleep(min(0.25, end - now))
            if self.progress:
                done = (time.perf_counter() - start) / seconds
                bar = "#" * int(30 * min(done, 1.0))
                rate = (count() - ops0) / max(1e-9, time.perf_counter() - start)
                sys.stderr.write(
                    f"\r{result.scenario} {result.transport} n={result.n:<6} [{bar:<30}] "
                    f"{rate:>10,.0f} /s"
                )
                sys.stderr.flush()
        result.seconds = time.perf_counter() - start
        result.operations = count() - ops0
        if self.server_pid:
            result.server_cpu = 100 * (self._server_cpu() - cpu0) / result.seconds
        result.bench_cpu = 100 * (self._own_cpu() - own0) / result.seconds
        if self.progress:
            sys.stderr.write("\r" + " " * 90 + "\r")

    # -------------------------------------------------------------- scenarios

    async def echo_websocket(
        self, clients: int, *, warmup: float, duration: float, size: int
    ) -> BenchResult:
        """Echo with ack at ``clients`` sessions over WebSocket (a closed loop each)."""
        result = BenchResult("echo", "websocket", clients)
        acks = 0
        latencies: list[float] = []
        measuring = False
        pad = "x" * max(0, size - 12)

        def fire(s: WsSession) -> None:
            s.ack_id += 1
            payload = f"{id(s) % 100000:05d}{s.ack_id:07d}{pad}"
            s.expect = f'3{s.ack_id}["{payload}"]'
            s.sent_at = time.perf_counter()
            s.send(f'42{s.ack_id}["echo","{payload}"]')

        def on_text(s: WsSession, text: str) -> None:
            nonlocal acks
            if text[1:] == s.expect:
                acks += 1
                if measuring:
                    latencies.append(time.perf_counter() - s.sent_at)
                fire(s)
            elif text.startswith("43"):
                result.errors += 1
                fire(s)

        opened, _, errors = await self.sessions_bounded(clients, 100, on_text)
        result.errors += errors
        try:
            for s in opened:
                fire(s)
            await asyncio.sleep(warmup)
            measuring = True
            await self.measure(result, duration, lambda: acks)
            measuring = False
        finally:
            self.close_all()
        return result.finish(latencies)

    async def fanout(self, receivers: int, *, ticks: int, triggers: int) -> BenchResult:
        """Fan-out: ``triggers`` times ``fanout(ticks)`` to ``receivers`` sessions in a room."""
        result = BenchResult("fanout", "websocket", receivers)
        delivered = 0
        remaining = 0
        all_done: asyncio.Future[None] | None = None
        joined = 0
        spans: list[float] = []

        def on_text(s: WsSession, text: str) -> None:
            nonlocal delivered, remaining, joined
            if text.startswith('42["tick",'):
                i = int(text[10:-1])
                if i != s.next_tick:  # each trigger emits 0 .. ticks-1, in order
                    result.errors += 1
                s.next_tick = (i + 1) % ticks
                delivered += 1
                remaining -= 1
                if remaining == 0 and all_done is not None and not all_done.done():
                    all_done.set_result(None)
            elif text.startswith("431[true]"):
                joined += 1

        opened, _, errors = await self.sessions_bounded(receivers, 100, on_text)
        result.errors += errors
        trigger = await self.session(lambda s, t: None)
        try:
            for s in opened:
                s.send('421["join"]')
            deadline = time.perf_counter() + self.timeout
            while joined < len(opened) and time.perf_counter() < deadline:
                await asyncio.sleep(0.01)
            if joined < len(opened):
                result.errors += len(opened) - joined
                result.notes.append(f"only {joined} of {len(opened)} joined the room")
            loop = asyncio.get_running_loop()
            cpu0, own0 = self._server_cpu(), self._own_cpu()
            busy = 0.0
            for t in range(triggers):
                all_done = loop.create_future()
                remaining = joined * ticks
                start = time.perf_counter()
                trigger.send(f'42{t + 1}["fanout",{ticks}]')
                try:
                    await asyncio.wait_for(all_done, self.timeout)
                except TimeoutError:
                    result.errors += remaining
                    result.notes.append(f"trigger {t}: {remaining} deliveries missing")
                    break
                span = time.perf_counter() - start
                busy += span
                spans.append(span)
                if self.progress:
                    sys.stderr.write(f"\rfanout n={receivers} trigger {t + 1}/{triggers}")
            if self.progress:
                sys.stderr.write("\r" + " " * 60 + "\r")
            result.seconds = busy
            result.operations = delivered
            if self.server_pid and busy:
                result.server_cpu = 100 * (self._server_cpu() - cpu0) / busy
            if busy:
                result.bench_cpu = 100 * (self._own_cpu() - own0) / busy
        finally:
            self.close_all()
        result.notes.append(f"{ticks} ticks per trigger; latency = trigger to last delivery")
        return result.finish(spans)

    async def connect(self, sessions: int, *, inflight: int) -> BenchResult:
        """Open ``sessions`` sessions as fast as possible, ``inflight`` at a time."""
        result = BenchResult("connect", "websocket", sessions)
        cpu0, own0 = self._server_cpu(), self._own_cpu()
        start = time.perf_counter()
        try:
            _, times, errors = await self.sessions_bounded(sessions, inflight, lambda s, t: None)
            result.seconds = time.perf_counter() - start
            result.operations = len(times)
            result.errors = errors
            if self.server_pid:
                result.server_cpu = 100 * (self._server_cpu() - cpu0) / result.seconds
            result.bench_cpu = 100 * (self._own_cpu() - own0) / result.seconds
        finally:
            self.close_all()
        return result.finish(times)

    async def idle(self, sessions: int, *, inflight: int, settle: float) -> BenchResult:
        """The server's memory per idle session (needs ``server_pid``)."""
        result = BenchResult("idle", "websocket", sessions)
        if not self.server_pid:
            result.notes.append("give --server-pid to measure the server's memory")
            return result
        before = self._server_rss()
        try:
            opened, _, errors = await self.sessions_bounded(sessions, inflight, lambda s, t: None)
            result.errors = errors
            await asyncio.sleep(settle)
            after = self._server_rss()
            result.operations = len(opened)
            result.kb_per_connection = (after - before) / max(1, len(opened))
        finally:
            self.close_all()
        return result

    async def echo_polling(
        self, clients: int, *, warmup: float, duration: float, size: int
    ) -> BenchResult:
        """Echo with ack over HTTP long-polling: a parked GET and one POST at a time each."""
        result = BenchResult("echo", "polling", clients)
        counter = {"acks": 0}
        latencies: list[float] = []
        state = {"measuring": False, "stop": False}
        pad = "x" * max(0, size - 12)

        async def client(cid: int) -> None:
            poller = await _HttpConn.open(self.host, self.port, self.netloc)
            poster = await _HttpConn.open(self.host, self.port, self.netloc)
            try:
                base = f"{self.path}?EIO=4&transport=polling"
                status, body = await poller.request("GET", base)
                sid = body.split('"sid":"', 1)[1].split('"', 1)[0]
                query = f"{base}&sid={sid}"
                await poster.request("POST", query, b"40")
                seq = 0
                inbox = ""
                while not state["stop"]:
                    seq += 1
                    payload = f"{cid:05d}{seq:07d}{pad}"
                    expect = f'43{seq}["{payload}"]'
                    sent = time.perf_counter()
                    await poster.request("POST", query, f'42{seq}["echo","{payload}"]'.encode())
                    while expect not in inbox:
                        status, inbox = await poller.request("GET", query)
                        if status != 200:
                            raise ConnectionError(f"GET answered {status}")
                        if "\x1e2" in f"\x1e{inbox}":
                            await poster.request("POST", query, b"3")
                    inbox = ""
                    counter["acks"] += 1
                    if state["measuring"]:
                        latencies.append(time.perf_counter() - sent)
            finally:
                poller.close()
                poster.close()

        tasks = [asyncio.ensure_future(client(i)) for i in range(clients)]
        try:
            await asyncio.sleep(warmup)
            state["measuring"] = True
            await self.measure(result, duration, lambda: counter["acks"])
        finally:
            state["stop"] = True
            done, pending = await asyncio.wait(tasks, timeout=self.timeout)
            for t in pending:
                t.cancel()
            for t in done:
                if t.exception() is not None:
                    result.errors += 1
                    result.notes.append(f"client failed: {t.exception()!r}"[:120])
        return result.finish(latencies)


class _HttpConn:
    """A keep-alive HTTP/1.1 connection for the polling scenario (Content-Length or chunked)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int, netloc: str) -> _HttpConn:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, netloc)

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, str]:
        head = f"{method} {target} HTTP/1.1\r\nHost: {self.host}\r\n"
        if method == "POST":
            head += f"Content-Length: {len(body)}\r\nContent-Type: text/plain;charset=UTF-8\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
        if "content-length" in headers:
            data = await self.reader.readexactly(int(headers["content-length"]))
        else:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            data = b"".join(parts)
        return status, data.decode()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
