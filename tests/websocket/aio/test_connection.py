"""websocket.aio.connection: messages, closing, pings, timeouts and backpressure over loopback."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from websocket.aio import Connection, ConnectionOptions, connect, serve
from websocket.deflate import DeflateOptions
from websocket.exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    LocalProtocolError,
)
from websocket.frames import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, parse_close
from websocket.handshake import Accepted, ClientHandshake, Request, ServerHandshake

pytestmark = pytest.mark.asyncio

TIMEOUT = 5  # generous upper bound on anything that should happen "at once"


class Capture:
    """A handler that hands the server-side connection to the test and waits to be released."""

    def __init__(self) -> None:
        self.conn: asyncio.Future[Connection] = asyncio.get_running_loop().create_future()
        self.release = asyncio.Event()

    async def __call__(self, conn: Connection) -> None:
        self.conn.set_result(conn)
        await self.release.wait()

    async def get(self) -> Connection:
        return await asyncio.wait_for(asyncio.shield(self.conn), TIMEOUT)


# ---------------------------------------------------------------- messages


@pytest.mark.parametrize("compression", [True, False])
async def test_echo_text_binary_empty(kit: Any, compression: bool) -> None:
    comp = DeflateOptions() if compression else None
    async with (
        serve(kit.echo, "127.0.0.1", 0, compression=comp) as server,
        connect(kit.uri(server), compression=comp) as ws,
    ):
        for message in ["hello", b"\x00\xffbinary", "", b"", "é" * 5000, bytes(100_000)]:
            await ws.send(message)
            answer = await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert answer == message
            assert type(answer) is type(message)
        await ws.send(bytearray(b"ba"))
        assert await ws.recv() == b"ba"
        await ws.send(memoryview(b"mv"))
        assert await ws.recv() == b"mv"


@pytest.mark.parametrize("compression", [True, False])
async def test_fragmented_send_arrives_as_one_message(kit: Any, compression: bool) -> None:
    comp = DeflateOptions() if compression else None

    async def agen() -> AsyncIterator[bytes]:
        for part in (b"one,", b"two,", b"three"):
            await asyncio.sleep(0)
            yield part

    async with (
        serve(kit.echo, "127.0.0.1", 0, compression=comp) as server,
        connect(kit.uri(server), compression=comp) as ws,
    ):
        await ws.send(["a", "b", "c"])
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "abc"
        await ws.send(agen())
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == b"one,two,three"
        await ws.send(iter([b"single"]))
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == b"single"
        with pytest.raises(LocalProtocolError):
            await ws.send([])
        await ws.send("still usable")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "still usable"


async def test_fragmented_message_on_the_wire(kit: Any) -> None:
    """A raw peer sees TEXT(fin=0), CONT(fin=0), CONT(fin=1)."""

    async def handler(conn: Connection) -> None:
        await conn.send(["x", "y", "z"])
        await conn.recv()

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        peer = await kit.RawPeer.connect(server.port)
        try:
            frames = [await peer.read_frame() for _ in range(3)]
            assert [(f.opcode, f.fin, f.payload) for f in frames] == [
                (OP_TEXT, False, b"x"),
                (0, False, b"y"),
                (0, True, b"z"),
            ]
        finally:
            peer.close()


async def test_plain_send_not_interleaved_with_fragments(kit: Any) -> None:
    received: list[str | bytes] = []
    done = asyncio.Event()

    async def collect(conn: Connection) -> None:
        for _ in range(2):
            received.append(await conn.recv())
        done.set()

    gate = asyncio.Event()

    async def slow_fragments() -> AsyncIterator[str]:
        yield "frag-1 "
        await gate.wait()
        yield "frag-2"

    async with serve(collect, "127.0.0.1", 0) as server, connect(kit.uri(server)) as ws:
        fragmented = asyncio.create_task(ws.send(slow_fragments()))
        for _ in range(10):  # let the fragmented send put its first frame out
            await asyncio.sleep(0)
        plain = asyncio.create_task(ws.send("plain"))
        for _ in range(10):
            await asyncio.sleep(0)
        assert not plain.done(), "the plain message must wait for the fragmented one"
        gate.set()
        await asyncio.wait_for(asyncio.gather(fragmented, plain), TIMEOUT)
        await asyncio.wait_for(done.wait(), TIMEOUT)
    assert received == ["frag-1 frag-2", "plain"]


async def test_fragment_source_failing_half_way_closes_with_1011(kit: Any) -> None:
    class Boom(Exception):
        pass

    async def broken() -> AsyncIterator[bytes]:
        yield b"first"
        yield b"second"
        raise Boom

    capture = Capture()
    async with serve(capture, "127.0.0.1", 0) as server, connect(kit.uri(server)) as ws:
        server_conn = await capture.get()
        with pytest.raises(Boom):
            await ws.send(broken())
        with pytest.raises(ConnectionClosedError) as info:
            await asyncio.wait_for(server_conn.recv(), TIMEOUT)
        assert info.value.code == 1011
        await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
        assert ws.close_code == 1011
        capture.release.set()


async def test_concurrent_recv_each_get_a_message(kit: Any) -> None:
    async with serve(kit.echo, "127.0.0.1", 0) as server, connect(kit.uri(server)) as ws:
        first = asyncio.create_task(ws.recv())
        second = asyncio.create_task(ws.recv())
        for _ in range(5):
            await asyncio.sleep(0)
        await ws.send("a")
        await ws.send("b")
        got = await asyncio.wait_for(asyncio.gather(first, second), TIMEOUT)
        assert sorted(got) == ["a", "b"]  # type: ignore[type-var]


async def test_cancelled_recv_loses_nothing(kit: Any) -> None:
    async with serve(kit.echo, "127.0.0.1", 0) as server, connect(kit.uri(server)) as ws:
        waiting = asyncio.create_task(ws.recv())
        other = asyncio.create_task(ws.recv())
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await ws.send("kept")
        assert await asyncio.wait_for(other, TIMEOUT) == "kept"


# ------------------------------------------------------------------ closing


async def test_async_for_ends_cleanly_on_1000(kit: Any) -> None:
    async def three_then_close(conn: Connection) -> None:
        for i in range(3):
            await conn.send(f"m{i}")

    async with (
        serve(three_then_close, "127.0.0.1", 0) as server,
        connect(kit.uri(server)) as ws,
    ):
        got = [m async for m in ws]
        assert got == ["m0", "m1", "m2"]
        assert ws.close_code == 1000


async def test_async_for_raises_on_abnormal_close(kit: Any) -> None:
    async def abort(conn: Connection) -> None:
        await conn.send("before")
        await conn.abort()

    async with serve(abort, "127.0.0.1", 0) as server, connect(kit.uri(server)) as ws:
        got = []
        with pytest.raises(ConnectionClosedError) as info:
            async for message in ws:
                got.append(message)
        assert got == ["before"]
        assert info.value.code == 1006
        assert ws.close_code == 1006
        assert ws.close_reason == ""


async def test_client_closes(kit: Any) -> None:
    capture = Capture()
    async with serve(capture, "127.0.0.1", 0) as server:
        ws = await connect(kit.uri(server))
        server_conn = await capture.get()
        assert ws.close_code is None
        await asyncio.wait_for(ws.close(1000, "bye"), TIMEOUT)
        assert (ws.close_code, ws.close_reason) == (1000, "bye")
        await asyncio.wait_for(server_conn.wait_closed(), TIMEOUT)
        assert (server_conn.close_code, server_conn.close_reason) == (1000, "bye")
        assert server_conn.transport.is_closing()
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()
        with pytest.raises(ConnectionClosedOK):
            await server_conn.recv()
        with pytest.raises(ConnectionClosedOK):
            await ws.send("late")
        # Idempotent, and concurrent calls all return.
        await asyncio.wait_for(asyncio.gather(ws.close(), ws.close(4000)), TIMEOUT)
        assert ws.close_code == 1000
        capture.release.set()


async def test_server_closes(kit: Any) -> None:
    capture = Capture()
    async with serve(capture, "127.0.0.1", 0) as server, connect(kit.uri(server)) as ws:
        server_conn = await capture.get()
        closing = asyncio.create_task(server_conn.close(1001, "going"))
        with pytest.raises(ConnectionClosedOK) as info:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert (info.value.code, info.value.reason) == (1001, "going")
        await asyncio.wait_for(closing, TIMEOUT)
        await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
        assert (ws.close_code, ws.close_reason) == (1001, "going")
        assert (server_conn.close_code, server_conn.close_reason) == (1001, "going")
        await server_conn.close()  # idempotent
        capture.release.set()


async def test_server_closes_with_error_code(kit: Any) -> None:
    async def close_4000(conn: Connection) -> None:
        await conn.close(4000, "app error")

    async with serve(close_4000, "127.0.0.1", 0) as server, connect(kit.uri(server)) as ws:
        with pytest.raises(ConnectionClosedError) as info:
            async for _ in ws:
                pass
        assert (info.value.code, info.value.reason) == (4000, "app error")


async def test_handler_exception_closes_1011_and_logs(
    kit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def crash(conn: Connection) -> None:
        await conn.recv()
        raise ValueError("handler bug")

    caplog.set_level(logging.ERROR, logger="websocket")
    async with serve(crash, "127.0.0.1", 0) as server, connect(kit.uri(server)) as ws:
        await ws.send("go")
        with pytest.raises(ConnectionClosedError) as info:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert info.value.code == 1011
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors, "the handler crash must be logged at ERROR"
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], ValueError)
    assert "handler bug" in caplog.text


async def test_invalid_close_code_refused(kit: Any) -> None:
    async with serve(kit.echo, "127.0.0.1", 0) as server, connect(kit.uri(server)) as ws:
        with pytest.raises(LocalProtocolError):
            await ws.close(1006)
        with pytest.raises(LocalProtocolError):
            await ws.close(1000, "x" * 124)
        await ws.send("still open")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "still open"


# ---------------------------------------------------------------- ping/pong


async def test_ping_returns_rtt(kit: Any) -> None:
    async with serve(kit.echo, "127.0.0.1", 0) as server, connect(kit.uri(server)) as ws:
        waiter = await ws.ping()
        rtt = await asyncio.wait_for(waiter, TIMEOUT)
        assert isinstance(rtt, float)
        assert 0 <= rtt < TIMEOUT
        first = await ws.ping("a")
        second = await ws.ping(b"b")
        with pytest.raises(LocalProtocolError):
            await ws.ping(b"b")
        rtts = await asyncio.wait_for(asyncio.gather(first, second), TIMEOUT)
        assert all(r >= 0 for r in rtts)
        await ws.pong(b"unsolicited")  # ignored by the peer
        await ws.send("after pong")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "after pong"


async def test_ping_pending_at_close_fails(kit: Any) -> None:
    capture = Capture()
    async with serve(capture, "127.0.0.1", 0) as server:
        peer = await kit.RawPeer.connect(server.port)
        server_conn = await capture.get()
        waiter = await server_conn.ping(b"never answered")
        peer.close()
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(waiter, TIMEOUT)
        assert info.value.code == 1006
        with pytest.raises(ConnectionClosedError):
            await server_conn.ping()
        capture.release.set()


async def test_keepalive_fails_silent_peer_with_1011(kit: Any) -> None:
    capture = Capture()
    options = ConnectionOptions(ping_interval=0.05, ping_timeout=0.05, close_timeout=0.5)
    async with serve(capture, "127.0.0.1", 0, options=options) as server:
        peer = await kit.RawPeer.connect(server.port)
        try:
            server_conn = await capture.get()
            start = time.monotonic()
            frames = await asyncio.wait_for(peer.read_eof(), TIMEOUT)
            await asyncio.wait_for(server_conn.wait_closed(), TIMEOUT)
            elapsed = time.monotonic() - start
            assert frames[0].opcode == OP_PING
            assert frames[-1].opcode == OP_CLOSE
            assert parse_close(frames[-1].payload)[0] == 1011
            assert server_conn.close_code == 1011
            assert elapsed < 1.0
            with pytest.raises(ConnectionClosedError):
                await server_conn.recv()
        finally:
            peer.close()
            capture.release.set()


async def test_keepalive_keeps_answering_peer_open(kit: Any) -> None:
    capture = Capture()
    options = ConnectionOptions(ping_interval=0.02, ping_timeout=0.05)
    async with serve(capture, "127.0.0.1", 0, options=options) as server:
        peer = await kit.RawPeer.connect(server.port)
        try:
            server_conn = await capture.get()
            for _ in range(10):  # 10 intervals: 4 times ping_timeout
                frame = await asyncio.wait_for(peer.read_frame(), TIMEOUT)
                assert frame is not None
                assert frame.opcode == OP_PING
                peer.send_frame(OP_PONG, frame.payload)
            assert server_conn.close_code is None
            assert server_conn.state.name == "OPEN"
        finally:
            peer.close()
            capture.release.set()


async def test_client_keepalive_against_our_server(kit: Any) -> None:
    """The client's keepalive pings are answered by our server; the connection stays open."""
    options = ConnectionOptions(ping_interval=0.02, ping_timeout=0.05)
    async with (
        serve(kit.echo, "127.0.0.1", 0) as server,
        connect(kit.uri(server), options=options) as ws,
    ):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.wait_closed(), 0.3)
        assert ws.protocol._ping_counter >= 3
        assert ws.state.name == "OPEN"
        await ws.send("alive")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "alive"


# ------------------------------------------------------------ close timeout


async def test_close_timeout_when_peer_never_answers_close(kit: Any) -> None:
    closed_after: list[float] = []

    async def close_now(conn: Connection) -> None:
        start = time.monotonic()
        await conn.close(1000, "bye")
        closed_after.append(time.monotonic() - start)
        assert conn.close_code == 1006  # no close frame came back

    options = ConnectionOptions(close_timeout=0.1)
    async with serve(close_now, "127.0.0.1", 0, options=options) as server:
        peer = await kit.RawPeer.connect(server.port)
        try:
            frames = await asyncio.wait_for(peer.read_eof(), TIMEOUT)
            assert [f.opcode for f in frames] == [OP_CLOSE]
            assert parse_close(frames[0].payload) == (1000, "bye")
        finally:
            peer.close()
    assert len(closed_after) == 1
    assert 0.09 <= closed_after[0] < 1.0


async def test_client_close_timeout_against_silent_server() -> None:
    """A server that completes the handshake, then never answers the close frame."""
    seen: list[bytes] = []

    finished = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            handshake = ServerHandshake(deflate=None)
            for _ in range(100):
                event = handshake.next_event()
                if event is not None:
                    break
                handshake.receive_data(await reader.read(65536))
            assert isinstance(event, Request)
            handshake.accept(event)
            writer.write(handshake.data_to_send())
            for _ in range(100):
                data = await reader.read(65536)
                if not data:
                    break
                seen.append(data)
        finally:
            writer.close()
            finished.set()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        ws = await connect(
            f"ws://127.0.0.1:{port}/",
            compression=None,
            options=ConnectionOptions(close_timeout=0.1),
        )
        start = time.monotonic()
        await asyncio.wait_for(ws.close(), TIMEOUT)
        assert 0.09 <= time.monotonic() - start < 1.0
        assert ws.close_code == 1006
        with pytest.raises(ConnectionClosedError):
            await ws.recv()
        await asyncio.wait_for(finished.wait(), TIMEOUT)
    assert seen  # the masked close frame reached the server


# ------------------------------------------------------------- backpressure


async def _raw_peer_small_buffer(kit: Any, port: int) -> Any:
    """A raw peer whose receive buffer is small, so that the kernel buffers little."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    handshake = ClientHandshake(host=f"127.0.0.1:{port}", deflate=None)
    writer.write(handshake.data_to_send())
    for _ in range(100):
        event = handshake.next_event()
        if event is not None:
            break
        handshake.receive_data(await reader.read(65536))
    assert isinstance(event, Accepted)
    peer = kit.RawPeer(reader, writer)
    peer.buf += handshake.trailing_data
    return peer


async def test_write_backpressure(kit: Any) -> None:
    count = 160  # 10 MiB: more than the kernel buffers on loopback
    size = 65536
    progress: list[int] = []
    max_buffered = 0
    finished = asyncio.Event()

    async def flood(conn: Connection) -> None:
        nonlocal max_buffered
        for i in range(count):
            await conn.send(i.to_bytes(4, "big") + bytes(size - 4))
            progress.append(i)
            max_buffered = max(max_buffered, conn.transport.get_write_buffer_size())
        finished.set()
        await conn.recv()

    options = ConnectionOptions(ping_interval=None)
    async with serve(flood, "127.0.0.1", 0, compression=None, options=options) as server:
        peer = await _raw_peer_small_buffer(kit, server.port)
        try:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(finished.wait(), 0.3)
            assert len(progress) < count, "send() should block on a peer that does not read"
            blocked_at = len(progress)
            # drain() keeps the transport buffer near its high-water mark (64 KiB).
            assert max_buffered <= 4 * size
            for i in range(count):
                frame = await asyncio.wait_for(peer.read_frame(), TIMEOUT)
                assert frame is not None
                assert frame.opcode == OP_BINARY
                assert int.from_bytes(frame.payload[:4], "big") == i
            await asyncio.wait_for(finished.wait(), TIMEOUT)
            assert len(progress) == count > blocked_at
        finally:
            peer.close()


async def test_close_to_a_peer_that_stopped_reading_is_bounded(kit: Any) -> None:
    """With the write buffer full, close() gives up after close_timeout instead of hanging."""
    capture = Capture()
    options = ConnectionOptions(ping_interval=None, close_timeout=0.1)
    async with serve(capture, "127.0.0.1", 0, compression=None, options=options) as server:
        peer = await _raw_peer_small_buffer(kit, server.port)
        try:
            server_conn = await capture.get()
            for _ in range(200):
                try:
                    await asyncio.wait_for(server_conn.send(bytes(65536)), 0.1)
                except TimeoutError:
                    break
            else:
                pytest.fail("send never blocked")
            start = time.monotonic()
            await asyncio.wait_for(server_conn.close(), TIMEOUT)
            assert time.monotonic() - start < 1.0
            assert server_conn.close_code == 1006
        finally:
            peer.close()
            capture.release.set()


async def test_read_backpressure(kit: Any) -> None:
    max_queue = 4
    count = 1000
    size = 16384
    gate = asyncio.Event()
    received: list[int] = []
    all_received = asyncio.Event()
    queue_lengths: list[int] = []
    server_conn: asyncio.Future[Connection] = asyncio.get_running_loop().create_future()

    async def slow_reader(conn: Connection) -> None:
        server_conn.set_result(conn)
        await gate.wait()
        for _ in range(count):
            queue_lengths.append(len(conn._messages))
            message = await conn.recv()
            assert isinstance(message, bytes)
            received.append(int.from_bytes(message[:4], "big"))
        all_received.set()

    options = ConnectionOptions(max_queue=max_queue, ping_interval=None)
    async with (
        serve(slow_reader, "127.0.0.1", 0, compression=None, options=options) as server,
        connect(kit.uri(server), compression=None) as ws,
    ):

        async def send_all() -> None:
            for i in range(count):
                await ws.send(i.to_bytes(4, "big") + bytes(size - 4))

        sender = asyncio.create_task(send_all())
        conn = await asyncio.wait_for(server_conn, TIMEOUT)
        done, _ = await asyncio.wait({sender}, timeout=0.5)
        assert not done, "the sender should be held back by TCP flow control"
        # Reading is paused, with a bounded number of messages queued: max_queue, plus what
        # was parsed from the last read (64 KiB at most: 4 such messages).
        assert not conn.transport.is_reading()
        bound = max_queue + 65536 // size
        assert max_queue <= len(conn._messages) <= bound
        assert ws.transport.get_write_buffer_size() > 0
        gate.set()
        await asyncio.wait_for(sender, TIMEOUT)
        await asyncio.wait_for(all_received.wait(), TIMEOUT)
        assert received == list(range(count))
        assert max(queue_lengths) <= bound


async def test_close_while_reading_is_paused(kit: Any) -> None:
    """A handler that never reads can still close: the paused reader is woken."""
    capture = Capture()
    options = ConnectionOptions(max_queue=1, ping_interval=None, close_timeout=0.2)
    async with (
        serve(capture, "127.0.0.1", 0, options=options) as server,
        connect(kit.uri(server)) as ws,
    ):
        conn = await capture.get()
        for i in range(3):
            await ws.send(f"m{i}")
        await kit.until(lambda: not conn.transport.is_reading())
        await asyncio.wait_for(conn.close(1000), TIMEOUT)
        assert conn.close_code == 1000
        # The messages read before the close are still there.
        assert await conn.recv() == "m0"
        capture.release.set()


async def test_abort_while_reading_is_paused(kit: Any) -> None:
    capture = Capture()
    options = ConnectionOptions(max_queue=1, ping_interval=None)
    async with (
        serve(capture, "127.0.0.1", 0, options=options) as server,
        connect(kit.uri(server)) as ws,
    ):
        conn = await capture.get()
        for i in range(3):
            await ws.send(f"m{i}")
        await kit.until(lambda: not conn.transport.is_reading())
        await asyncio.wait_for(conn.abort(), TIMEOUT)
        assert conn.close_code == 1006
        with pytest.raises(ConnectionClosedError):
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        capture.release.set()


async def test_connection_attributes(kit: Any) -> None:
    capture = Capture()
    async with (
        serve(capture, "127.0.0.1", 0) as server,
        connect(kit.uri(server) + "path?q=1") as ws,
    ):
        conn = await capture.get()
        assert conn.path == "/path?q=1"
        assert ws.path == "/path?q=1"
        assert conn.remote_address == ws.local_address
        assert ws.remote_address[1] == server.port
        assert ("upgrade", "websocket") in conn.request_headers
        assert any(name.lower() == "sec-websocket-accept" for name, _ in ws.response_headers)
        capture.release.set()
