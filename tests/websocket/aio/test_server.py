"""websocket.aio.server: the handshake, HTTP answers, limits, TLS, IPv6 and shutdown."""

from __future__ import annotations

import asyncio
import http.client
import logging
import ssl
import time
from typing import Any

import pytest

from websocket.aio import Connection, ConnectionOptions, Server, connect, serve
from websocket.deflate import DeflateOptions
from websocket.exceptions import ConnectionClosedOK, InvalidStatus
from websocket.handshake import Request, Response

pytestmark = pytest.mark.asyncio

TIMEOUT = 5


async def raw_http(port: int, request: bytes, host: str = "127.0.0.1") -> bytes:
    """Send ``request`` on a fresh TCP connection and read the answer until EOF."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        return await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        writer.close()


# ------------------------------------------------------- process_request


async def test_process_request_answers_plain_http(kit: Any) -> None:
    def health(request: Request) -> Response | None:
        if request.path == "/health":
            return Response(200, (("Content-Type", "text/plain"),), b"OK\n")
        return None

    async with serve(kit.echo, "127.0.0.1", 0, process_request=health) as server:
        answer = await raw_http(server.port, b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        assert lines[0] == b"HTTP/1.1 200 OK"
        assert b"content-length: 3" in [line.lower() for line in lines]
        assert body == b"OK\n"

        # The stdlib client agrees (an oracle for the HTTP framing).
        def stdlib_get() -> tuple[int, str | None, bytes]:
            client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
            try:
                client.request("GET", "/health")
                response = client.getresponse()
                return response.status, response.getheader("Content-Type"), response.read()
            finally:
                client.close()

        assert await asyncio.to_thread(stdlib_get) == (200, "text/plain", b"OK\n")

        # Returning None proceeds to the upgrade.
        async with connect(kit.uri(server) + "chat") as ws:
            await ws.send("through")
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "through"


async def test_async_process_request_and_invalid_status_details(kit: Any) -> None:
    seen: list[str] = []

    async def deny(request: Request) -> Response | None:
        seen.append(request.target)
        await asyncio.sleep(0)
        return Response(404, (("X-Reason", "no such room"),), b"not here")

    async with serve(kit.echo, "127.0.0.1", 0, process_request=deny) as server:
        with pytest.raises(InvalidStatus) as info:
            await connect(kit.uri(server) + "room?id=3")
    assert seen == ["/room?id=3"]
    assert info.value.status == 404
    assert ("x-reason", "no such room") in info.value.headers
    assert info.value.body == b"not here"


async def test_process_request_crash_answers_500(
    kit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(request: Request) -> Response | None:
        raise RuntimeError("hook bug")

    caplog.set_level(logging.ERROR, logger="websocket")
    async with serve(kit.echo, "127.0.0.1", 0, process_request=crash) as server:
        with pytest.raises(InvalidStatus) as info:
            await asyncio.wait_for(connect(kit.uri(server)), TIMEOUT)
        assert info.value.status == 500
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], RuntimeError)


async def test_plain_http_without_hook_is_refused(kit: Any) -> None:
    async with serve(kit.echo, "127.0.0.1", 0) as server:
        answer = await raw_http(server.port, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")


# ------------------------------------------------------------ negotiation


async def test_check_origin(kit: Any) -> None:
    origins: list[str | None] = []

    def only_example(origin: str | None) -> bool:
        origins.append(origin)
        return origin == "https://example.com"

    async with serve(kit.echo, "127.0.0.1", 0, check_origin=only_example) as server:
        with pytest.raises(InvalidStatus) as info:
            await connect(kit.uri(server), origin="https://evil.example")
        assert info.value.status == 403
        with pytest.raises(InvalidStatus) as info:
            await connect(kit.uri(server))
        assert info.value.status == 403
        async with connect(kit.uri(server), origin="https://example.com") as ws:
            await ws.send("ok")
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "ok"
    assert origins == ["https://evil.example", None, "https://example.com"]


async def test_subprotocol_negotiation(kit: Any) -> None:
    chosen: list[str | None] = []

    async def report(conn: Connection) -> None:
        chosen.append(conn.subprotocol)
        await conn.send(str(conn.subprotocol))

    async with serve(report, "127.0.0.1", 0, subprotocols=["chat.v2", "chat.v1"]) as server:
        async with connect(kit.uri(server), subprotocols=["chat.v1", "chat.v2"]) as ws:
            assert ws.subprotocol == "chat.v2"  # the server's preference wins
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "chat.v2"
        async with connect(kit.uri(server), subprotocols=["chat.v1"]) as ws:
            assert ws.subprotocol == "chat.v1"
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        async with connect(kit.uri(server), subprotocols=["other"]) as ws:
            assert ws.subprotocol is None
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "None"
        async with connect(kit.uri(server)) as ws:
            assert ws.subprotocol is None
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert chosen == ["chat.v2", "chat.v1", None, None]


def _extensions(headers: tuple[tuple[str, str], ...]) -> list[str]:
    return [value for name, value in headers if name.lower() == "sec-websocket-extensions"]


@pytest.mark.parametrize(
    ("server_on", "client_on"), [(True, True), (True, False), (False, True), (False, False)]
)
async def test_compression_negotiation(kit: Any, server_on: bool, client_on: bool) -> None:
    server_conns: list[Connection] = []

    async def record(conn: Connection) -> None:
        server_conns.append(conn)
        await kit.echo(conn)

    server_comp = DeflateOptions() if server_on else None
    client_comp = DeflateOptions() if client_on else None
    async with (
        serve(record, "127.0.0.1", 0, compression=server_comp) as server,
        connect(kit.uri(server), compression=client_comp) as ws,
    ):
        text = "compressible " * 1000
        await ws.send(text)
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == text
        negotiated = _extensions(ws.response_headers)
        if server_on and client_on:
            assert len(negotiated) == 1
            assert negotiated[0].startswith("permessage-deflate")
            assert ws.protocol.compressor is not None
            assert server_conns[0].protocol.compressor is not None
        else:
            assert negotiated == []
            assert ws.protocol.compressor is None
            assert server_conns[0].protocol.compressor is None
        assert bool(_extensions(server_conns[0].request_headers)) == client_on


# ----------------------------------------------------------------- limits


async def test_handshake_timeout_closes_half_request(kit: Any) -> None:
    async with serve(kit.echo, "127.0.0.1", 0, handshake_timeout=0.1) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(b"GET / HTTP/1.1\r\nHost: local")
            start = time.monotonic()
            data = await asyncio.wait_for(reader.read(), TIMEOUT)
            elapsed = time.monotonic() - start
        finally:
            writer.close()
    assert data == b""
    assert 0.05 <= elapsed < 1.0


async def test_max_header_count_gives_431(kit: Any) -> None:
    async with serve(kit.echo, "127.0.0.1", 0, max_header_count=10) as server:
        extra = [(f"X-Extra-{i}", "v") for i in range(20)]
        with pytest.raises(InvalidStatus) as info:
            await connect(kit.uri(server), extra_headers=extra)
        assert info.value.status == 431
        # Under the limit is fine.
        async with connect(kit.uri(server), extra_headers=extra[:2]) as ws:
            await ws.send("fine")
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "fine"


async def test_max_header_bytes_gives_431(kit: Any) -> None:
    async with serve(kit.echo, "127.0.0.1", 0, max_header_bytes=1024) as server:
        with pytest.raises(InvalidStatus) as info:
            await connect(kit.uri(server), extra_headers=[("X-Big", "a" * 2000)])
        assert info.value.status == 431


async def test_extra_headers_reach_the_server(kit: Any) -> None:
    got: list[str | None] = []

    def look(request: Request) -> None:
        got.append(request.header("x-token"))

    async with (
        serve(kit.echo, "127.0.0.1", 0, process_request=look) as server,
        connect(kit.uri(server), extra_headers=[("X-Token", "abc")]),
    ):
        pass
    assert got == ["abc"]


# ------------------------------------------------------------- lifecycle


async def test_server_close_sends_1001(kit: Any) -> None:
    capture: asyncio.Queue[Connection] = asyncio.Queue()

    async def hold(conn: Connection) -> None:
        await capture.put(conn)
        async for _ in conn:
            pass

    server = await serve(hold, "127.0.0.1", 0)
    uri = kit.uri(server)
    clients = [await connect(uri) for _ in range(3)]
    for _ in clients:
        await asyncio.wait_for(capture.get(), TIMEOUT)
    assert len(server.connections) == 3
    server.close()
    await asyncio.wait_for(server.wait_closed(), TIMEOUT)
    assert server.connections == set()
    for ws in clients:
        with pytest.raises(ConnectionClosedOK) as info:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert info.value.code == 1001
        await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
        assert ws.close_code == 1001
    # The listener is gone too.
    with pytest.raises(OSError):
        await connect(uri)


async def test_server_attributes_and_serve_forever(kit: Any) -> None:
    server = serve(kit.echo, "127.0.0.1", 0)
    assert server.sockets == ()
    assert await server is server
    try:
        assert server.port > 0
        assert server.sockets[0].getsockname()[:2] == ("127.0.0.1", server.port)
        forever = asyncio.create_task(server.serve_forever())
        async with connect(kit.uri(server)) as ws:
            await ws.send("x")
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "x"
        forever.cancel()
        with pytest.raises(asyncio.CancelledError):
            await forever
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), TIMEOUT)


async def test_handler_return_closes_with_1000(kit: Any) -> None:
    async def greet(conn: Connection) -> None:
        await conn.send("hi")

    async with serve(greet, "127.0.0.1", 0) as server, connect(kit.uri(server)) as ws:
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "hi"
        with pytest.raises(ConnectionClosedOK):
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert ws.close_code == 1000


async def test_options_reach_server_connections(kit: Any) -> None:
    options = ConnectionOptions(max_size=1000)

    async with (
        serve(kit.echo, "127.0.0.1", 0, options=options) as server,
        connect(kit.uri(server)) as ws,
    ):
        await ws.send("x" * 1000)
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "x" * 1000
        await ws.send("x" * 1001)
        with pytest.raises(Exception) as info:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert getattr(info.value, "code", None) == 1009


# --------------------------------------------------------------- IPv6, TLS


async def test_ipv6_loopback(kit: Any) -> None:
    if not kit.has_ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) on this machine")
    async with serve(kit.echo, "::1", 0) as server:
        uri = kit.uri(server, host="::1")
        assert uri.startswith("ws://[::1]:")
        async with connect(uri) as ws:
            assert ws.remote_address[0] == "::1"
            await ws.send("over v6")
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "over v6"


async def test_wss(kit: Any, tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = tls_contexts
    server_conns: list[Connection] = []

    async def record(conn: Connection) -> None:
        server_conns.append(conn)
        await kit.echo(conn)

    async with serve(record, "127.0.0.1", 0, ssl=server_ctx) as server:
        for host in ("localhost", "127.0.0.1"):
            uri = f"wss://{host}:{server.port}/secure"
            async with connect(uri, ssl=client_ctx) as ws:
                assert ws.transport.get_extra_info("ssl_object") is not None
                await ws.send("secret")
                assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "secret"
                await ws.send(bytes(200_000))
                assert await asyncio.wait_for(ws.recv(), TIMEOUT) == bytes(200_000)
            assert ws.close_code == 1000
        assert [c.path for c in server_conns] == ["/secure", "/secure"]
        # A client that does not trust the certificate fails the TLS handshake.
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.wait_for(
                connect(f"wss://localhost:{server.port}/", ssl=ssl.create_default_context()),
                TIMEOUT,
            )


async def test_wss_server_close(
    kit: Any, tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server_ctx, client_ctx = tls_contexts
    server: Server = await serve(kit.echo, "127.0.0.1", 0, ssl=server_ctx)
    ws = await connect(f"wss://localhost:{server.port}/", ssl=client_ctx)
    await ws.send("x")
    assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "x"
    server.close()
    await asyncio.wait_for(server.wait_closed(), TIMEOUT)
    await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
    assert ws.close_code == 1001
