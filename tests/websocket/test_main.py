"""The command line, ``python -m websocket serve|connect``, run as real subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator

import pytest

from websocket.__main__ import _options, build_parser, main
from websocket.aio import Connection, connect, serve
from websocket.exceptions import ConnectionClosedError

TIMEOUT = 10  # a subprocess has to start Python and import the package first
BANNER = re.compile(rb"echo server listening on ws://127\.0\.0\.1:(\d+)/")


@contextlib.asynccontextmanager
async def cli(*args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run ``python -m websocket ARGS``; always reap it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "websocket",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def banner_port(proc: asyncio.subprocess.Process) -> int:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
    match = BANNER.search(line)
    assert match, f"unexpected banner {line!r}"
    return int(match.group(1))


async def read_line(proc: asyncio.subprocess.Process) -> bytes:
    assert proc.stdout is not None
    return (await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)).rstrip(b"\n")


@pytest.mark.asyncio
async def test_serve_echoes_and_reports_its_port() -> None:
    async with cli("serve", "--host", "127.0.0.1", "--port", "0") as proc:
        port = await banner_port(proc)
        assert port > 0
        async with connect(f"ws://127.0.0.1:{port}/") as ws:
            assert any(n.lower() == "sec-websocket-extensions" for n, _ in ws.response_headers)
            await ws.send("text")
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "text"
            await ws.send(b"\x00\x01binary")
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == b"\x00\x01binary"
        assert ws.close_code == 1000
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 0


@pytest.mark.asyncio
async def test_serve_flags_reach_the_connection() -> None:
    args = ("serve", "--port", "0", "--max-size", "1000", "--no-compression", "--max-queue", "2")
    async with cli(*args) as proc:
        port = await banner_port(proc)
        async with connect(f"ws://127.0.0.1:{port}/") as ws:
            # --no-compression: no extension negotiated.
            assert not any(n.lower() == "sec-websocket-extensions" for n, _ in ws.response_headers)
            await ws.send("x" * 1000)
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "x" * 1000
            await ws.send("x" * 1001)
            with pytest.raises(ConnectionClosedError) as info:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert info.value.code == 1009


@pytest.mark.asyncio
async def test_connect_prints_echoes() -> None:
    async def echo(conn: Connection) -> None:
        async for message in conn:
            await conn.send(message)
            if message == "bin":
                await conn.send(b"\x01\x02")

    async with serve(echo, "127.0.0.1", 0) as server:
        uri = f"ws://127.0.0.1:{server.port}/"
        async with cli("connect", uri) as proc:
            assert proc.stdin is not None
            assert (await read_line(proc)).startswith(b"connected to " + uri.encode())
            proc.stdin.write(b"hello\n")
            await proc.stdin.drain()
            assert await read_line(proc) == b"< hello"
            proc.stdin.write("héllo wörld\n".encode())
            await proc.stdin.drain()
            assert await read_line(proc) == "< héllo wörld".encode()
            proc.stdin.write(b"bin\n")
            await proc.stdin.drain()
            assert await read_line(proc) == b"< bin"
            assert await read_line(proc) == b"< <binary b'\\x01\\x02'>"
            proc.stdin.close()  # Ctrl-D
            assert await read_line(proc) == b"closed: 1000 "
            assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 0


@pytest.mark.asyncio
async def test_connect_exits_when_the_server_closes() -> None:
    async def one_then_close(conn: Connection) -> None:
        await conn.send("bye")
        await conn.close(1001, "restarting")

    async with serve(one_then_close, "127.0.0.1", 0) as server:
        uri = f"ws://127.0.0.1:{server.port}/"
        async with cli("connect", uri) as proc:
            assert (await read_line(proc)).startswith(b"connected to")
            assert await read_line(proc) == b"< bye"
            # No line typed: the client still notices the close and exits.
            assert await read_line(proc) == b"closed: 1001 restarting"
            assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 0


@pytest.mark.asyncio
async def test_connect_refused_exits_1() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with cli("connect", f"ws://127.0.0.1:{port}/") as proc:
        assert proc.stderr is not None
        assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 1
        assert (await proc.stderr.read()).startswith(b"error: ")


def test_parser_and_options() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--port",
            "0",
            "--max-size",
            "123",
            "--max-fragments",
            "7",
            "--max-buffered",
            "99",
            "--max-queue",
            "3",
            "--close-timeout",
            "1.5",
            "--ping-interval",
            "0",
            "--ping-timeout",
            "4",
            "--handshake-timeout",
            "2",
            "--max-header-count",
            "5",
            "--max-header-bytes",
            "600",
        ]
    )
    assert (args.port, args.handshake_timeout) == (0, 2.0)
    assert (args.max_header_count, args.max_header_bytes) == (5, 600)
    options = _options(args)
    assert options.max_size == 123
    assert options.max_fragments == 7
    assert options.max_buffered == 99
    assert options.max_queue == 3
    assert options.close_timeout == 1.5
    assert options.ping_interval is None  # 0 disables the keepalive
    assert options.ping_timeout == 4.0
    defaults = _options(build_parser().parse_args(["connect", "ws://127.0.0.1/"]))
    assert (defaults.max_size, defaults.ping_interval) == (2**20, 20.0)


def test_bad_uri_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["connect", "http://127.0.0.1/"]) == 1
    assert capsys.readouterr().err.startswith("error: ")


def test_missing_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err
