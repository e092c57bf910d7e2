"""Tests for engineio_core.aio.http_client against a tiny scripted asyncio HTTP server.

The server is not h11: it reads request heads by hand and writes literal responses, so the
client's framing is checked against bytes written independently of it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from engineio_core.aio.http_client import HTTPClient, Response
from engineio_core.exceptions import TransportError

Reply = Callable[[str, bytes, asyncio.StreamWriter], Awaitable[bool]]


class ScriptedServer:
    """Answers each request with ``reply(target, body, writer)``; False closes the connection."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.request_seen = asyncio.Event()
        self.connection_done = asyncio.Event()

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0, ssl=ssl_context)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, v in (line.split(":", 1) for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((method, target, headers, body))
                self.request_seen.set()
                if not await self.reply(target, body, writer):
                    return
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self.writers.discard(writer)
            self.connection_done.set()

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        await self.server.wait_closed()


def ok(body: bytes, *extra: str) -> bytes:
    head = "\r\n".join(["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *extra])
    return head.encode() + b"\r\n\r\n" + body


async def echo(target: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
    """Echo the target and the body; special targets change the framing."""
    if target == "/chunked":
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"
        )
    elif target == "/close":
        writer.write(ok(b"bye", "Connection: close"))
        return False
    elif target == "/drop-after":  # answers, then closes without saying so
        writer.write(ok(b"dropped"))
        await writer.drain()
        return False
    elif target == "/until-eof":  # no length: the body ends with the connection
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nall of it")
        return False
    elif target == "/big":
        writer.write(ok(b"x" * 2000))
    elif target == "/big-chunked":
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(5):
            writer.write(b"200\r\n" + b"y" * 512 + b"\r\n")
        writer.write(b"0\r\n\r\n")
    elif target == "/silent":
        await asyncio.Event().wait()
    elif target == "/garbage":
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        return False
    elif target == "/continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"after 100"))
    else:
        writer.write(ok(target.encode() + b"|" + body, "Content-Type: text/plain"))
    return True


@pytest_asyncio.fixture
async def server() -> AsyncIterator[tuple[ScriptedServer, HTTPClient]]:
    scripted = ScriptedServer(echo)
    port = await scripted.start()
    client = HTTPClient(f"http://127.0.0.1:{port}", timeout=2.0, max_response_size=1024)
    try:
        yield scripted, client
    finally:
        await client.aclose()
        await scripted.close()


@pytest.mark.asyncio
async def test_content_length_bodies_and_keep_alive_reuse(
    server: tuple[ScriptedServer, HTTPClient],
) -> None:
    scripted, client = server
    for i in range(3):
        response = await client.request("POST", f"/p{i}", [("X-Test", "1")], b"body")
        assert response == Response(
            200,
            (("content-length", str(len(f"/p{i}|body"))), ("content-type", "text/plain")),
            f"/p{i}|body".encode(),
        )
        assert response.header("Content-Type") == "text/plain"
        assert response.header("missing") is None
    assert scripted.connections == 1
    method, target, headers, body = scripted.requests[0]
    assert (method, target, body) == ("POST", "/p0", b"body")
    assert headers["host"] == client.host_header == f"127.0.0.1:{client.port}"
    assert headers["content-length"] == "4" and headers["x-test"] == "1"
    get = await client.request("GET", "/g")
    assert get.body == b"/g|"
    assert "content-length" not in scripted.requests[-1][2]


@pytest.mark.asyncio
async def test_concurrent_requests_use_two_connections_then_reuse_them(
    server: tuple[ScriptedServer, HTTPClient],
) -> None:
    scripted, client = server
    for _ in range(3):
        a, b = await asyncio.gather(client.request("GET", "/a"), client.request("GET", "/b"))
        assert (a.body, b.body) == (b"/a|", b"/b|")
    assert scripted.connections == 2


@pytest.mark.asyncio
async def test_chunked_response_and_informational_response(
    server: tuple[ScriptedServer, HTTPClient],
) -> None:
    _, client = server
    assert (await client.request("GET", "/chunked")).body == b"hello world"
    assert (await client.request("GET", "/continue")).body == b"after 100"


@pytest.mark.asyncio
async def test_connection_close_and_body_until_eof(
    server: tuple[ScriptedServer, HTTPClient],
) -> None:
    scripted, client = server
    assert (await client.request("GET", "/close")).body == b"bye"
    assert (await client.request("GET", "/until-eof")).body == b"all of it"
    assert (await client.request("GET", "/x")).body == b"/x|"
    assert scripted.connections == 3


@pytest.mark.asyncio
async def test_stale_idle_connection_is_retried_on_a_fresh_one(
    server: tuple[ScriptedServer, HTTPClient],
) -> None:
    scripted, client = server
    assert (await client.request("GET", "/drop-after")).body == b"dropped"
    # The server closed the connection the client keeps idle.
    await scripted.connection_done.wait()
    assert (await client.request("POST", "/again", body=b"1")).body == b"/again|1"
    assert scripted.connections == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("target", ["/big", "/big-chunked"])
async def test_oversized_body_is_refused(
    server: tuple[ScriptedServer, HTTPClient], target: str
) -> None:
    scripted, client = server
    with pytest.raises(TransportError, match="over 1024"):
        await client.request("GET", target)
    assert (await client.request("GET", "/ok")).body == b"/ok|"  # a fresh connection
    assert scripted.connections == 2


@pytest.mark.asyncio
async def test_timeout(server: tuple[ScriptedServer, HTTPClient]) -> None:
    _, client = server
    with pytest.raises(TransportError, match=r"no response within 0\.1") as info:
        await client.request("GET", "/silent", timeout=0.1)
    assert isinstance(info.value.__cause__, TimeoutError)


@pytest.mark.asyncio
async def test_malformed_response(server: tuple[ScriptedServer, HTTPClient]) -> None:
    _, client = server
    with pytest.raises(TransportError):
        await client.request("GET", "/garbage")


@pytest.mark.asyncio
async def test_cancelled_request_closes_its_connection(
    server: tuple[ScriptedServer, HTTPClient],
) -> None:
    scripted, client = server
    task = asyncio.create_task(client.request("GET", "/silent", timeout=None))
    await scripted.request_seen.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await client.request("GET", "/next")).body == b"/next|"
    assert scripted.connections == 2


@pytest.mark.asyncio
async def test_connection_refused_and_closed_client() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HTTPClient(f"http://127.0.0.1:{port}")
    with pytest.raises(TransportError) as info:
        await client.request("GET", "/")
    assert isinstance(info.value.__cause__, OSError)
    await client.aclose()
    with pytest.raises(TransportError, match="closed"):
        await client.request("GET", "/")


def test_bad_urls_and_host_header() -> None:
    with pytest.raises(ValueError):
        HTTPClient("ftp://127.0.0.1/")
    with pytest.raises(ValueError):
        HTTPClient("http:///path")
    assert HTTPClient("http://127.0.0.1/x").host_header == "127.0.0.1"
    assert HTTPClient("https://[::1]:8443").host_header == "[::1]:8443"
    assert HTTPClient("https://[::1]").port == 443


@pytest.fixture(scope="module")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl binary."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key)),
            *("-out", str(cert), "-days", "1", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@pytest.mark.asyncio
async def test_https_with_an_ssl_context(cert_files: tuple[Path, Path]) -> None:
    cert, key = cert_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    scripted = ScriptedServer(echo)
    port = await scripted.start(server_ctx)
    trusting = HTTPClient(
        f"https://127.0.0.1:{port}", ssl=ssl.create_default_context(cafile=str(cert))
    )
    default = HTTPClient(f"https://127.0.0.1:{port}")  # verifies, and fails: self-signed
    try:
        assert (await trusting.request("GET", "/tls")).body == b"/tls|"
        with pytest.raises(TransportError) as info:
            await default.request("GET", "/tls")
        assert isinstance(info.value.__cause__, ssl.SSLError)
    finally:
        await trusting.aclose()
        await default.aclose()
        await scripted.close()
