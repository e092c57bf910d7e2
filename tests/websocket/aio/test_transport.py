"""websocket.aio.transport, and how Connection uses it: writes coalesced per loop iteration,
one shared read buffer, the hand-over from the handshake's stream to the protocol.

A recording transport (a real :class:`asyncio.Transport` subclass, no mocks) shows the calls
the connection makes; loopback tests show the same behaviour end to end.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from websocket.aio import Connection, ConnectionOptions, connect, serve
from websocket.aio.connection import FLUSH_AT
from websocket.aio.transport import READ_CHUNK, loop_shared, take_over_stream
from websocket.protocol import Protocol, Role, State

pytestmark = pytest.mark.asyncio

TIMEOUT = 5


class RecordingTransport(asyncio.Transport):
    """Records every write; ``written`` is set at each one. Reading is only flagged."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.written = asyncio.Event()
        self.protocol: asyncio.BaseProtocol | None = None
        self.closing = False
        self.aborted = False
        self.reading = True
        self.eof_written = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closing, "write after close"
        self.writes.append(bytes(data))
        self.written.set()

    def get_write_buffer_size(self) -> int:
        return 0

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self.protocol is not None
        return self.protocol

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self._lose()

    def abort(self) -> None:
        self.aborted = True
        self._lose()

    def _lose(self) -> None:
        """As a real transport: connection_lost() at the next iteration, once."""
        if not self.closing and self.protocol is not None:
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)
        self.closing = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof_written = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


def server_connection(transport: RecordingTransport, **kwargs: Any) -> Connection:
    now = asyncio.get_running_loop().time()
    protocol = Protocol(Role.SERVER, now=now, ping_interval=None)
    return Connection(protocol, None, transport, **kwargs)


def masked_text(payload: bytes) -> bytes:
    """A client text frame with an all-zero mask (the payload goes as it is)."""
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


async def test_writes_of_one_iteration_leave_in_one_transport_write() -> None:
    transport = RecordingTransport()
    conn = server_connection(transport)
    conn.start()
    assert transport.protocol is conn
    conn.write("a")
    conn.write(b"bc")
    conn.write("def")
    assert transport.writes == []  # corked until the next loop iteration
    assert conn.write_buffer_size == 3 + 4 + 5  # the corked bytes are counted
    await asyncio.wait_for(transport.written.wait(), TIMEOUT)
    assert transport.writes == [b"\x81\x01a" + b"\x82\x02bc" + b"\x81\x03def"]
    assert conn.write_buffer_size == 0
    await conn.abort()


async def test_many_connections_share_one_flush_per_iteration() -> None:
    transports = [RecordingTransport() for _ in range(3)]
    conns = [server_connection(t) for t in transports]
    for conn in conns:
        conn.start()
        conn.write("x")
        conn.write("y")
    await asyncio.wait_for(transports[-1].written.wait(), TIMEOUT)
    # One flush ran for every connection: each wrote once, and in the same iteration.
    assert [t.writes for t in transports] == [[b"\x81\x01x\x81\x01y"]] * 3
    for conn in conns:
        await conn.abort()


async def test_output_reaching_flush_at_is_written_at_once() -> None:
    transport = RecordingTransport()
    conn = server_connection(transport)
    conn.start()
    conn.write("a")
    big = bytes(FLUSH_AT)
    conn.write(big)
    # Synchronously: the corked output never holds more than FLUSH_AT bytes.
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"\x81\x01a\x82\x7f")
    assert transport.writes[0].endswith(big)
    assert conn.write_buffer_size == 0
    await conn.abort()


async def test_close_and_abort_hand_the_corked_output_over_first() -> None:
    transport = RecordingTransport()
    conn = server_connection(transport)
    conn.start()
    conn.write("last")
    await asyncio.wait_for(conn.abort(), TIMEOUT)
    assert transport.aborted
    assert transport.writes == [b"\x81\x04last"]  # send() / write() took it: it went

    transport = RecordingTransport()
    conn = server_connection(transport)
    conn.start()
    conn.write("bye")
    conn.data_received(masked_text(b"hi") + b"\x88\x82\0\0\0\0\x03\xe8")  # hi, close 1000
    # The server closes TCP once both close frames are exchanged: the message, then the
    # close frame, in one write before the close.
    assert transport.closing
    assert transport.writes == [b"\x81\x03bye\x88\x02\x03\xe8"]
    conn.connection_lost(None)
    assert conn.state is State.CLOSED and conn.close_code == 1000
    assert await conn.recv() == "hi"


async def test_reads_go_through_the_shared_buffer() -> None:
    transport = RecordingTransport()
    conn = server_connection(transport)
    other = server_connection(RecordingTransport())
    conn.start()
    buffer = conn.get_buffer(-1)
    assert buffer is other.get_buffer(-1) is loop_shared(asyncio.get_running_loop()).read_buffer
    assert len(buffer) == READ_CHUNK
    frame = masked_text(b"hello")
    buffer[: len(frame)] = frame
    conn.buffer_updated(len(frame))
    buffer[: len(frame)] = bytes(len(frame))  # the next read reuses it: nothing kept
    assert await asyncio.wait_for(conn.recv(), TIMEOUT) == "hello"
    await conn.abort()


async def test_read_pauses_at_max_queue_and_resumes_below() -> None:
    transport = RecordingTransport()
    conn = server_connection(transport, max_queue=2)
    conn.start()
    conn.data_received(masked_text(b"1") + masked_text(b"2"))
    assert not transport.reading
    assert await conn.recv() == "1"
    assert transport.reading
    await conn.abort()


async def test_take_over_stream_returns_what_the_reader_held() -> None:
    transport = RecordingTransport()
    protocol = asyncio.Protocol()
    reader = asyncio.StreamReader()
    reader.feed_data(b"frame bytes")
    assert take_over_stream(reader, transport, protocol) == (b"frame bytes", False)
    assert transport.protocol is protocol

    reader = asyncio.StreamReader()  # nothing buffered: nothing waits on it afterwards
    assert take_over_stream(reader, transport, protocol) == (b"", False)
    reader.feed_data(b"late")  # (the transport would not feed it any more)
    assert await reader.read(10) == b"late"

    reader = asyncio.StreamReader()
    reader.feed_data(b"last words")
    reader.feed_eof()  # the peer's end of stream came before the hand-over, after bytes
    assert take_over_stream(reader, transport, protocol) == (b"last words", True)

    reader = asyncio.StreamReader()
    reader.feed_eof()
    assert take_over_stream(reader, transport, protocol) == (b"", True)

    reader = asyncio.StreamReader()
    reader.set_exception(ConnectionResetError("reset"))
    assert take_over_stream(reader, transport, protocol) == (b"", True)


async def test_bytes_buffered_in_the_stream_are_processed_first() -> None:
    transport = RecordingTransport()
    reader = asyncio.StreamReader()
    reader.feed_data(masked_text(b"second"))
    now = asyncio.get_running_loop().time()
    conn = Connection(Protocol(Role.SERVER, now=now), reader, transport)
    conn.start(masked_text(b"first"))  # the handshake's trailing bytes come first
    assert transport.protocol is conn
    assert [await conn.recv(), await conn.recv()] == ["first", "second"]
    await conn.abort()


async def test_a_stream_at_eof_ends_the_connection_at_the_hand_over() -> None:
    now = asyncio.get_running_loop().time()
    for buffered in (masked_text(b"only"), b""):
        reader = asyncio.StreamReader()
        reader.feed_data(buffered)
        reader.feed_eof()
        transport = RecordingTransport()
        conn = Connection(Protocol(Role.SERVER, now=now), reader, transport)
        conn.start()
        assert transport.closing  # EOF before the hand-over: closed at once
        conn.connection_lost(None)
        await asyncio.wait_for(conn.wait_closed(), TIMEOUT)
        assert conn.close_code == 1006
        if buffered:
            assert await conn.recv() == "only"  # what came before the EOF is kept


async def test_a_transport_lost_before_the_hand_over_closes_the_connection() -> None:
    transport = RecordingTransport()
    transport.closing = True
    now = asyncio.get_running_loop().time()
    conn = Connection(Protocol(Role.SERVER, now=now), None, transport)
    conn.start()
    await asyncio.wait_for(conn.wait_closed(), TIMEOUT)
    assert conn.close_code == 1006


async def test_fan_out_burst_over_loopback_arrives_whole_and_in_order(kit: Any) -> None:
    """Ten writes per client in one iteration, to several clients: each gets all, in order."""
    conns: list[Connection] = []
    ready = asyncio.Event()

    async def handler(conn: Connection) -> None:
        conns.append(conn)
        if len(conns) == 3:
            ready.set()
        await conn.wait_closed()

    options = ConnectionOptions(ping_interval=None)
    async with serve(handler, "127.0.0.1", 0, compression=None, options=options) as server:
        clients = [await connect(kit.uri(server), compression=None) for _ in range(3)]
        await asyncio.wait_for(ready.wait(), TIMEOUT)
        for i in range(10):
            for conn in conns:
                conn.write(f"m{i}")
        for ws in clients:
            got = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in range(10)]
            assert got == [f"m{i}" for i in range(10)]
            await ws.close()


async def test_send_waits_while_the_transport_is_paused() -> None:
    transport = RecordingTransport()
    conn = server_connection(transport)
    conn.start()
    conn.pause_writing()
    sender = asyncio.ensure_future(conn.send("held"))
    done, _ = await asyncio.wait({sender}, timeout=0.05)
    assert not done  # waits for resume_writing()
    conn.resume_writing()
    await asyncio.wait_for(sender, TIMEOUT)
    assert transport.writes == [b"\x81\x04held"]
    await conn.abort()


async def test_loop_shared_is_per_loop() -> None:
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        assert loop_shared(first) is loop_shared(first)
        assert loop_shared(second) is not loop_shared(first)
        assert loop_shared(second).loop is second
    finally:
        first.close()
        second.close()


async def test_a_failing_flush_does_not_keep_the_others_output_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shared = loop_shared(asyncio.get_running_loop())
    done = asyncio.Event()

    def broken() -> None:
        raise OSError("broken transport")

    shared.add(broken)
    shared.add(done.set)
    await asyncio.wait_for(done.wait(), TIMEOUT)
    assert "flushing a connection's output failed" in caplog.text


async def test_socketpair_connection_round_trip() -> None:
    """The whole path on a real socket adopted by the loop, no handshake stream at all."""
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    try:
        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
        conn = Connection(Protocol(Role.SERVER, now=loop.time()), None, transport)
        conn.start()
        await loop.sock_sendall(theirs, masked_text(b"ping?"))
        assert await asyncio.wait_for(conn.recv(), TIMEOUT) == "ping?"
        conn.write("pong!")
        assert await asyncio.wait_for(loop.sock_recv(theirs, 100), TIMEOUT) == b"\x81\x05pong!"
        await conn.abort()
    finally:
        theirs.close()
