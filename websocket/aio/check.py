"""The driver of ``python -m websocket check``: runs :mod:`websocket.check_cases` over TCP.

Each case gets its own connection: a handshake (permessage-deflate offered only to the
deflate cases), the case's steps written one after the other with a short wait for the
server between them, then a normal close, and a read until the server closes TCP or the
timeout passes. The transcript goes to the case's judge (:mod:`websocket.check`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import ssl as ssl_module
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from ..check import Case, Observed, Result, Verdict, frame, parse_server_frames
from ..check_cases import CASES

__all__ = ["run_case", "run_check"]

logger = logging.getLogger(__name__)

DEFLATE_OFFER = "permessage-deflate; client_no_context_takeover; client_max_window_bits"


def _target(url: str) -> tuple[str, int, str, str, bool]:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"expected a ws:// or wss:// URL, got {url!r}")
    secure = parts.scheme == "wss"
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if secure else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return host, port, parts.netloc, path, secure


async def _read_head(reader: asyncio.StreamReader, timeout: float) -> tuple[int, str, bytes]:
    """Read the handshake answer: its status, its extensions header, and the bytes after it."""
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            return 0, "", b""
        try:
            chunk = await asyncio.wait_for(reader.read(65536), left)
        except (TimeoutError, OSError):
            return 0, "", b""
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return 0, "", b""
    extensions = ""
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "sec-websocket-extensions":
            extensions = value.strip()
    return status, extensions, rest


async def run_case(url: str, case: Case, *, timeout: float = 3.0, quiet: float = 0.3) -> Result:
    """Run one case against the echo server at ``url``.

    Args:
        url: the ``ws://`` or ``wss://`` URL.
        case: the case.
        timeout: how long to wait for the server to close at the end (and for the handshake).
        quiet: how long to wait for the server between two steps.

    Returns:
        The result, with the bytes exchanged.
    """
    host, port, netloc, path, secure = _target(url)
    obs = Observed()
    context = ssl_module.create_default_context() if secure else None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context), timeout
        )
    except (TimeoutError, OSError) as exc:
        return Result(case.id, case.title, case.section, Verdict.FAIL, f"cannot connect: {exc}")
    key = base64.b64encode(os.urandom(16)).decode()
    if case.request is not None:
        request = case.request.format(key=key, host=netloc, path=path)
    else:
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            + (f"Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n" if case.deflate else "")
            + "\r\n"
        )
    buf = bytearray()
    received = bytearray()
    try:
        writer.write(request.encode("latin-1"))
        obs.status, obs.extensions, rest = await _read_head(reader, timeout)
        if case.request is not None or obs.status != 101:
            if case.request is None:
                return Result(
                    case.id,
                    case.title,
                    case.section,
                    Verdict.FAIL,
                    f"handshake answered {obs.status or 'nothing'}",
                )
            verdict, reason = case.judge(obs)
            return Result(
                case.id, case.title, case.section, verdict, reason, request.encode("latin-1"), rest
            )
        if case.deflate and "permessage-deflate" not in obs.extensions:
            return Result(
                case.id,
                case.title,
                case.section,
                Verdict.SKIPPED,
                "permessage-deflate not negotiated",
            )
        buf += rest
        received += rest
        steps = list(case.steps)
        if case.close:
            steps.append(frame(8, b"\x03\xe8"))
        for i, data in enumerate(steps):
            with contextlib.suppress(OSError):
                writer.write(data)
            obs.sent.append(data)
            last = i == len(steps) - 1
            wait = timeout if last else quiet
            deadline = time.monotonic() + wait
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    if last:
                        obs.timed_out = True
                    break
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), left)
                except TimeoutError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    obs.eof_step = i
                    break
                buf += chunk
                received += chunk
                obs.frames += parse_server_frames(buf, i)
            if obs.eof_step is not None:
                break
        obs.frames += parse_server_frames(buf, len(steps) - 1)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    obs.received = bytes(received)
    verdict, reason = case.judge(obs)
    return Result(
        case.id, case.title, case.section, verdict, reason, b"".join(obs.sent), obs.received
    )


async def run_check(
    url: str,
    *,
    only: Sequence[str] = (),
    timeout: float = 3.0,
    quiet: float = 0.3,
    concurrency: int = 8,
) -> list[Result]:
    """Run every case (or the groups in ``only``) against the echo server at ``url``.

    Args:
        url: the ``ws://`` or ``wss://`` URL of an echo server.
        only: group names to run (all when empty).
        timeout: the per-case closing timeout, in seconds.
        quiet: the wait between two steps, in seconds.
        concurrency: cases run at the same time.

    Returns:
        The results, in case order.
    """
    cases = [c for c in CASES if not only or c.group in only]
    limit = asyncio.Semaphore(concurrency)

    async def one(case: Case) -> Result:
        async with limit:
            return await run_case(url, case, timeout=timeout, quiet=quiet)

    return list(await asyncio.gather(*(one(c) for c in cases)))
