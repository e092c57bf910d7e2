"""Conformance of the WebSocket server on the wire, after the Autobahn testsuite's categories.

Each case opens a raw TCP connection to an echo server on 127.0.0.1 (``echo_server`` and
``raw_ws`` in ``tests/conftest.py``), does the opening handshake from literal bytes with the key of
RFC 6455 section 1.3, writes exact frame bytes, and asserts the exact bytes that come back. Every
case that ends the connection also asserts that the server closes TCP (``read() == b""``).

Server frames are unmasked (section 5.1), so replies are byte literals. A close frame sent on a
failure carries the close code and a short human-readable reason; the cases assert the code
bytes exactly and that the reason is valid UTF-8 of at most 123 bytes.

Category numbers follow Autobahn's: 1 framing of data, 2 pings and pongs, 3 reserved bits,
4 opcodes, 5 fragmentation, 6 UTF-8, 7 closing, 9 limits, 12/13 permessage-deflate.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from websocket.aio import ConnectionOptions
from websocket.deflate import DeflateOptions

# Opcodes and RSV bits, spelled out for the tables below.
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
RSV1, RSV2, RSV3 = 0x40, 0x20, 0x10


def unmasked(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0) -> bytes:
    """The exact bytes of a server frame (minimal length, no mask)."""
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    if n < 126:
        return bytes([b0, n]) + payload
    if n < 65536:
        return bytes([b0, 126]) + struct.pack("!H", n) + payload
    return bytes([b0, 127]) + struct.pack("!Q", n) + payload


def close(code: int, reason: bytes = b"") -> bytes:
    """A close frame payload."""
    return struct.pack("!H", code) + reason


@pytest_asyncio.fixture
async def conn(echo_server: Any, raw_ws: Any) -> AsyncIterator[Any]:
    """A raw client, handshake done, on a fresh echo server without compression."""
    async with echo_server() as server:
        yield await raw_ws.open(server.port)


# ------------------------------------------------------------------ handshake


@pytest.mark.asyncio
async def test_handshake_response_is_exact(conn: Any) -> None:
    head = conn.response_head
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    lines = {line.split(b":", 1)[0].lower(): line for line in head.split(b"\r\n")[1:-2]}
    assert lines[b"upgrade"] == b"Upgrade: websocket"
    assert lines[b"connection"] == b"Connection: Upgrade"
    assert lines[b"sec-websocket-accept"] == b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert b"sec-websocket-extensions" not in lines  # compression off, none offered


# ------------------------------------------------------- 1: data frame echo


@pytest.mark.asyncio
@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
@pytest.mark.parametrize("length", [0, 125, 126, 65535, 65536])
async def test_echo_lengths(conn: Any, opcode: int, length: int) -> None:
    payload = (
        b"*" * length
        if opcode == TEXT
        else bytes(range(256)) * (length // 256) + bytes(range(length % 256))
    )
    conn.send_frame(opcode, payload)
    await conn.expect(unmasked(opcode, payload))
    # The connection is still usable afterwards.
    conn.send_frame(TEXT, b"after")
    await conn.expect(b"\x81\x05after")


@pytest.mark.asyncio
async def test_length_encodings_on_the_wire(conn: Any) -> None:
    # Section 5.2: 7-bit, 16-bit and 64-bit lengths, each in its minimal form.
    conn.send_frame(BINARY, b"\x00" * 125)
    assert (await conn.read_exactly(2)) == b"\x82\x7d"
    await conn.read_exactly(125)
    conn.send_frame(BINARY, b"\x00" * 126)
    assert (await conn.read_exactly(4)) == b"\x82\x7e\x00\x7e"
    await conn.read_exactly(126)
    conn.send_frame(BINARY, b"\x00" * 65536)
    assert (await conn.read_exactly(10)) == b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"
    await conn.read_exactly(65536)


@pytest.mark.asyncio
async def test_frames_split_across_reads_and_coalesced(conn: Any) -> None:
    frames = conn.frame(TEXT, b"one") + conn.frame(TEXT, b"two") + conn.frame(BINARY, b"3" * 300)
    # One byte at a time would be slow to await; send the stream in awkward pieces instead.
    for i in range(0, len(frames), 7):
        conn.send(frames[i : i + 7])
        await conn.writer.drain()
    await conn.expect(b"\x81\x03one\x81\x03two" + unmasked(BINARY, b"3" * 300))


# ------------------------------------------------------- 5: fragmentation


@pytest.mark.asyncio
async def test_fragmented_text_echo(conn: Any) -> None:
    conn.send_frame(TEXT, b"Hel", fin=False)
    conn.send_frame(CONT, b"lo, ", fin=False)
    conn.send_frame(CONT, b"", fin=False)
    conn.send_frame(CONT, b"world", fin=True)
    await conn.expect(b"\x81\x0cHello, world")


@pytest.mark.asyncio
async def test_fragmented_binary_echo(conn: Any) -> None:
    conn.send_frame(BINARY, b"\x00\x01", fin=False)
    conn.send_frame(CONT, b"\x02" * 200, fin=True)
    await conn.expect(unmasked(BINARY, b"\x00\x01" + b"\x02" * 200))


@pytest.mark.asyncio
async def test_fragments_of_empty_payloads(conn: Any) -> None:
    conn.send_frame(TEXT, b"", fin=False)
    conn.send_frame(CONT, b"", fin=False)
    conn.send_frame(CONT, b"", fin=True)
    await conn.expect(b"\x81\x00")


@pytest.mark.asyncio
async def test_ping_between_fragments_is_answered_first(conn: Any) -> None:
    # Section 5.4: "Control frames MAY be injected in the middle of a fragmented message."
    conn.send_frame(TEXT, b"frag1", fin=False)
    conn.send_frame(PING, b"ping payload")
    conn.send_frame(CONT, b"frag2", fin=False)
    conn.send_frame(PONG, b"unsolicited")
    conn.send_frame(CONT, b"frag3", fin=True)
    await conn.expect(b"\x8a\x0cping payload" + b"\x81\x0ffrag1frag2frag3")


@pytest.mark.asyncio
async def test_continuation_without_a_start_is_1002(conn: Any) -> None:
    conn.send_frame(CONT, b"orphan", fin=True)
    await conn.expect_close(1002)


@pytest.mark.asyncio
async def test_non_final_continuation_without_a_start_is_1002(conn: Any) -> None:
    conn.send_frame(CONT, b"orphan", fin=False)
    await conn.expect_close(1002)


@pytest.mark.asyncio
@pytest.mark.parametrize("opcode", [TEXT, BINARY])
async def test_data_frame_inside_a_fragmented_message_is_1002(conn: Any, opcode: int) -> None:
    conn.send_frame(TEXT, b"start", fin=False)
    conn.send_frame(opcode, b"intruder", fin=True)
    await conn.expect_close(1002)


@pytest.mark.asyncio
async def test_continuation_after_a_finished_message_is_1002(conn: Any) -> None:
    conn.send_frame(TEXT, b"a", fin=False)
    conn.send_frame(CONT, b"b", fin=True)
    await conn.expect(b"\x81\x02ab")
    conn.send_frame(CONT, b"c", fin=True)
    await conn.expect_close(1002)


# ------------------------------------------------------- 2: pings and pongs


@pytest.mark.asyncio
@pytest.mark.parametrize("payload", [b"", b"hello", b"\x00\xff" * 10, b"p" * 125])
async def test_ping_gets_pong_with_the_same_payload(conn: Any, payload: bytes) -> None:
    conn.send_frame(PING, payload)
    await conn.expect(unmasked(PONG, payload))


@pytest.mark.asyncio
async def test_unsolicited_pong_gets_nothing(conn: Any) -> None:
    conn.send_frame(PONG, b"unsolicited")
    conn.send_frame(PONG, b"")
    conn.send_frame(TEXT, b"next")
    # The first bytes back are the echo: nothing was sent for the pongs.
    await conn.expect(b"\x81\x04next")


@pytest.mark.asyncio
async def test_many_pings_all_answered_in_order(conn: Any) -> None:
    conn.send(b"".join(conn.frame(PING, b"%d" % i) for i in range(20)))
    await conn.expect(b"".join(unmasked(PONG, b"%d" % i) for i in range(20)))


@pytest.mark.asyncio
@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
async def test_control_frame_of_126_bytes_is_1002(conn: Any, opcode: int) -> None:
    # Section 5.5: "All control frames MUST have a payload length of 125 bytes or less".
    conn.send_frame(opcode, b"\x00" * 126)
    await conn.expect_close(1002)


@pytest.mark.asyncio
@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
async def test_fragmented_control_frame_is_1002(conn: Any, opcode: int) -> None:
    # Section 5.5: control frames "MUST NOT be fragmented".
    conn.send_frame(opcode, b"abc", fin=False)
    await conn.expect_close(1002)


# ------------------------------------------------------- 3: reserved bits


@pytest.mark.asyncio
@pytest.mark.parametrize("rsv", [RSV1, RSV2, RSV3, RSV1 | RSV2 | RSV3])
@pytest.mark.parametrize("opcode", [TEXT, BINARY, PING, CLOSE])
async def test_rsv_bits_without_an_extension_are_1002(conn: Any, rsv: int, opcode: int) -> None:
    payload = close(1000) if opcode == CLOSE else b"abc"
    conn.send_frame(opcode, payload, rsv=rsv)
    await conn.expect_close(1002)


@pytest.mark.asyncio
async def test_rsv_bit_after_a_valid_echo_is_1002(conn: Any) -> None:
    # Autobahn 3.2, in two writes: the echo of the valid frame comes first.
    conn.send_frame(TEXT, b"Hello")
    await conn.expect(b"\x81\x05Hello")
    conn.send_frame(TEXT, b"Hello", rsv=RSV2)
    await conn.expect_close(1002)


# ------------------------------------------------------- 4: opcodes


@pytest.mark.asyncio
@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
async def test_reserved_opcode_is_1002(conn: Any, opcode: int) -> None:
    conn.send_frame(opcode, b"reserved")
    await conn.expect_close(1002)


@pytest.mark.asyncio
@pytest.mark.parametrize("opcode", [3, 11])
async def test_reserved_opcode_inside_a_fragmented_message_is_1002(conn: Any, opcode: int) -> None:
    conn.send_frame(TEXT, b"start", fin=False)
    conn.send_frame(opcode, b"", fin=True)
    await conn.expect_close(1002)


# ------------------------------------------------------- masking and lengths


@pytest.mark.asyncio
@pytest.mark.parametrize("opcode", [TEXT, PING, CLOSE])
async def test_unmasked_client_frame_is_1002(conn: Any, opcode: int) -> None:
    # Section 5.1: "The server MUST close the connection upon receiving a frame that is not
    # masked."
    conn.send_frame(opcode, b"\x03\xe8" if opcode == CLOSE else b"plain", mask=None)
    await conn.expect_close(1002)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("length", "length_bytes"),
    [(0, 2), (5, 2), (125, 2), (0, 8), (125, 8), (126, 8), (65535, 8)],
)
async def test_non_minimal_length_is_1002(conn: Any, length: int, length_bytes: int) -> None:
    # Section 5.2: "the minimal number of bytes MUST be used to encode the length".
    # The header alone must do: the server fails before reading the payload (sending the
    # payload too could make the server's close reset the connection with data unread).
    conn.send_frame(BINARY, b"", length=length, length_bytes=length_bytes)
    await conn.expect_close(1002)


@pytest.mark.asyncio
async def test_64_bit_length_with_the_high_bit_set_is_1002(conn: Any) -> None:
    # Section 5.2: "the most significant bit MUST be 0".
    conn.send(b"\x82\xff" + struct.pack("!Q", 2**63 + 5) + b"\x00\x00\x00\x00")
    await conn.expect_close(1002)


# ------------------------------------------------------- 6: UTF-8


INVALID_UTF8 = [
    b"\xff",
    b"\xc0\xaf",  # overlong "/"
    b"\xed\xa0\x80",  # UTF-16 surrogate U+D800
    b"\xf4\x90\x80\x80",  # above U+10FFFF
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",  # Autobahn 6.3
    b"abc\xe2\x82",  # truncated at the end of the message
]


@pytest.mark.asyncio
@pytest.mark.parametrize("payload", INVALID_UTF8)
async def test_invalid_utf8_text_is_1007(conn: Any, payload: bytes) -> None:
    conn.send_frame(TEXT, payload)
    await conn.expect_close(1007)


@pytest.mark.asyncio
@pytest.mark.parametrize("payload", INVALID_UTF8)
async def test_invalid_utf8_in_a_fragmented_text_is_1007(conn: Any, payload: bytes) -> None:
    # One byte per fragment: the decoder sees the sequence only across frames.
    for i, byte in enumerate(payload):
        conn.send_frame(TEXT if i == 0 else CONT, bytes([byte]), fin=False)
    conn.send_frame(CONT, b"", fin=True)
    await conn.expect_close(1007)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "first",
    [
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80",  # Autobahn 6.4.1
        b"valid so far \xff",
        b"\xed\xa0\x80",  # a surrogate (CPython's decoder needs its third byte to tell)
    ],
)
async def test_invalid_utf8_fails_fast(conn: Any, first: bytes) -> None:
    # Section 8.1 / Autobahn 6.4: the invalid byte is reported at once, before the final
    # fragment is even sent.
    conn.send_frame(TEXT, first, fin=False)
    await conn.expect_close(1007)


@pytest.mark.asyncio
async def test_invalid_utf8_in_binary_is_fine(conn: Any) -> None:
    conn.send_frame(BINARY, b"\xff\xfe\xed\xa0\x80")
    await conn.expect(b"\x82\x05\xff\xfe\xed\xa0\x80")


CHAR4 = "\U0001d11e".encode()  # MUSICAL SYMBOL G CLEF: f0 9d 84 9e


@pytest.mark.asyncio
@pytest.mark.parametrize("split", [1, 2, 3])
async def test_utf8_split_across_two_fragments_at_every_byte(conn: Any, split: int) -> None:
    payload = b"k" + CHAR4 + b"!"
    cut = 1 + split
    conn.send_frame(TEXT, payload[:cut], fin=False)
    conn.send_frame(CONT, payload[cut:], fin=True)
    await conn.expect(unmasked(TEXT, payload))


@pytest.mark.asyncio
async def test_utf8_one_byte_per_fragment(conn: Any) -> None:
    payload = "κόσμε \U0001d11e €".encode()
    for i, byte in enumerate(payload):
        conn.send_frame(TEXT if i == 0 else CONT, bytes([byte]), fin=i == len(payload) - 1)
    await conn.expect(unmasked(TEXT, payload))


@pytest.mark.asyncio
async def test_valid_utf8_edge_code_points(conn: Any) -> None:
    payload = "\x00\x7f\x80\u07ff\u0800\ufffd\uffff\U00010000\U0010ffff".encode()
    conn.send_frame(TEXT, payload)
    await conn.expect(unmasked(TEXT, payload))


# ------------------------------------------------------- 7: closing


VALID_CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]


@pytest.mark.asyncio
@pytest.mark.parametrize("code", VALID_CLOSE_CODES)
async def test_close_with_a_valid_code_is_echoed(conn: Any, code: int) -> None:
    conn.send_frame(CLOSE, close(code))
    await conn.expect(b"\x88\x02" + struct.pack("!H", code))
    await conn.expect_eof()


@pytest.mark.asyncio
async def test_close_reason_is_echoed(conn: Any) -> None:
    reason = "bye ✓".encode()
    conn.send_frame(CLOSE, close(1000, reason))
    await conn.expect(unmasked(CLOSE, close(1000, reason)))
    await conn.expect_eof()


@pytest.mark.asyncio
async def test_close_reason_of_123_bytes_is_echoed(conn: Any) -> None:
    conn.send_frame(CLOSE, close(1000, b"r" * 123))
    await conn.expect(unmasked(CLOSE, close(1000, b"r" * 123)))
    await conn.expect_eof()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
)
async def test_close_with_an_invalid_code_is_1002(conn: Any, code: int) -> None:
    conn.send_frame(CLOSE, close(code))
    await conn.expect_close(1002)


@pytest.mark.asyncio
async def test_close_with_a_1_byte_payload_is_1002(conn: Any) -> None:
    conn.send_frame(CLOSE, b"\x03")
    await conn.expect_close(1002)


@pytest.mark.asyncio
async def test_close_reason_with_invalid_utf8_is_1007(conn: Any) -> None:
    conn.send_frame(CLOSE, close(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"))
    await conn.expect_close(1007)


@pytest.mark.asyncio
async def test_close_with_an_empty_payload_gets_an_empty_close(conn: Any) -> None:
    # Section 7.1.5: no status code; the server answers with an empty close too.
    conn.send_frame(CLOSE, b"")
    await conn.expect(b"\x88\x00")
    await conn.expect_eof()


@pytest.mark.asyncio
async def test_data_after_close_is_ignored(conn: Any) -> None:
    # Section 5.5.1: after a close frame the peer sends no more data; we ignore it if it does.
    conn.send(
        conn.frame(CLOSE, close(1000))
        + conn.frame(TEXT, b"ignored")
        + conn.frame(PING, b"ignored")
        + conn.frame(0x3, b"even a reserved opcode")
    )
    await conn.expect(b"\x88\x02\x03\xe8")
    await conn.expect_eof()


@pytest.mark.asyncio
async def test_close_in_the_middle_of_a_fragmented_message(conn: Any) -> None:
    conn.send_frame(TEXT, b"never finished", fin=False)
    conn.send_frame(CLOSE, close(1001))
    await conn.expect(b"\x88\x02\x03\xe9")
    await conn.expect_eof()


@pytest.mark.asyncio
async def test_pong_then_close_echo_keep_order(conn: Any) -> None:
    conn.send_frame(TEXT, b"1")
    await conn.expect(b"\x81\x011")
    conn.send(conn.frame(PING, b"p") + conn.frame(CLOSE, close(1000)))
    await conn.expect(b"\x8a\x01p" + b"\x88\x02\x03\xe8")
    await conn.expect_eof()


@pytest.mark.asyncio
async def test_half_closed_tcp_without_a_close_frame(conn: Any) -> None:
    # The client shuts down its write side without a close frame: the server closes too.
    conn.send_frame(TEXT, b"last")
    await conn.expect(b"\x81\x04last")
    conn.writer.write_eof()
    await conn.expect_eof()


# ------------------------------------------------------- 9: limits


@pytest.mark.asyncio
async def test_message_over_max_size_is_1009(echo_server: Any, raw_ws: Any) -> None:
    async with echo_server(options=ConnectionOptions(max_size=1000)) as server:
        client = await raw_ws.open(server.port)
        client.send_frame(BINARY, b"\x00" * 1000)
        await client.expect(unmasked(BINARY, b"\x00" * 1000))
        client.send_frame(BINARY, b"\x00" * 1001)
        await client.expect_close(1009)


@pytest.mark.asyncio
async def test_header_over_max_size_is_1009_before_the_payload(
    echo_server: Any, raw_ws: Any
) -> None:
    async with echo_server(options=ConnectionOptions(max_size=1000)) as server:
        client = await raw_ws.open(server.port)
        # Only the header: the server must not wait for the 70000 bytes it announces.
        client.send(client.frame(TEXT, b"", length=70000))
        await client.expect_close(1009)


@pytest.mark.asyncio
async def test_fragmented_message_over_max_size_is_1009(echo_server: Any, raw_ws: Any) -> None:
    async with echo_server(options=ConnectionOptions(max_size=1000)) as server:
        client = await raw_ws.open(server.port)
        client.send_frame(TEXT, b"a" * 600, fin=False)
        client.send_frame(CONT, b"a" * 400, fin=True)
        await client.expect(unmasked(TEXT, b"a" * 1000))
        client.send_frame(TEXT, b"a" * 600, fin=False)
        client.send_frame(CONT, b"a" * 401, fin=True)
        await client.expect_close(1009)


@pytest.mark.asyncio
async def test_too_many_fragments_is_1009(echo_server: Any, raw_ws: Any) -> None:
    async with echo_server(options=ConnectionOptions(max_fragments=4)) as server:
        client = await raw_ws.open(server.port)
        frames = [client.frame(TEXT, b"x", fin=False)]
        frames += [client.frame(CONT, b"x", fin=False) for _ in range(2)]
        client.send(b"".join(frames) + client.frame(CONT, b"x", fin=True))
        await client.expect(b"\x81\x04xxxx")
        # Five frames: one too many, reported on the fifth, which is not even final.
        client.send(b"".join(frames) + client.frame(CONT, b"x", fin=False) * 2)
        await client.expect_close(1009)


# ------------------------------------------------------- 12/13: permessage-deflate


def deflate(data: bytes) -> bytes:
    """Compress a whole message as RFC 7692 section 7.2.1 says: raw deflate, tail removed."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate(data: bytes) -> bytes:
    """Inflate one message from the server (no context takeover needed for one message)."""
    return zlib.decompressobj(-15).decompress(data + b"\x00\x00\xff\xff")


@pytest_asyncio.fixture
async def deflate_conn(echo_server: Any, raw_ws: Any) -> AsyncIterator[Any]:
    """A raw client that negotiated permessage-deflate with default parameters."""
    async with echo_server(compression=DeflateOptions()) as server:
        client = await raw_ws.open(server.port, extensions="permessage-deflate")
        lines = [line.lower() for line in client.response_head.split(b"\r\n")]
        answer = [line for line in lines if line.startswith(b"sec-websocket-extensions:")]
        assert answer, client.response_head
        assert answer[0].split(b":", 1)[1].strip().startswith(b"permessage-deflate")
        yield client


TEXT_64 = ("The quick brown fox jumps over the lazy dog. " * 3).encode()


@pytest.mark.asyncio
async def test_compressed_text_is_echoed_compressed(deflate_conn: Any) -> None:
    deflate_conn.send_frame(TEXT, deflate(TEXT_64), rsv=RSV1)
    b0, payload = await deflate_conn.read_frame()
    assert b0 == 0x80 | RSV1 | TEXT  # FIN, RSV1, text
    assert inflate(payload) == TEXT_64
    assert len(payload) < len(TEXT_64)


@pytest.mark.asyncio
async def test_compressed_messages_share_the_context(deflate_conn: Any) -> None:
    # Context takeover (the default): the second message refers back to the first.
    decompressor = zlib.decompressobj(-15)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    for _ in range(3):
        data = compressor.compress(TEXT_64) + compressor.flush(zlib.Z_SYNC_FLUSH)
        deflate_conn.send_frame(TEXT, data[:-4], rsv=RSV1)
        b0, payload = await deflate_conn.read_frame()
        assert b0 == 0xC1
        assert decompressor.decompress(payload + b"\x00\x00\xff\xff") == TEXT_64


@pytest.mark.asyncio
async def test_uncompressed_frame_on_a_deflate_connection(deflate_conn: Any) -> None:
    # RSV1 is per message: an uncompressed message is fine, and a short echo stays plain.
    deflate_conn.send_frame(TEXT, b"short")
    await deflate_conn.expect(b"\x81\x05short")


@pytest.mark.asyncio
async def test_fragmented_compressed_message(deflate_conn: Any) -> None:
    data = deflate(TEXT_64)
    deflate_conn.send_frame(TEXT, data[:5], fin=False, rsv=RSV1)
    deflate_conn.send_frame(CONT, data[5:20], fin=False)
    deflate_conn.send_frame(CONT, data[20:], fin=True)
    b0, payload = await deflate_conn.read_frame()
    assert b0 == 0xC1
    assert inflate(payload) == TEXT_64


@pytest.mark.asyncio
async def test_rsv1_on_a_continuation_frame_is_1002(deflate_conn: Any) -> None:
    # RFC 7692 section 6.1: RSV1 is set on the first frame of a message only.
    data = deflate(TEXT_64)
    deflate_conn.send_frame(TEXT, data[:10], fin=False, rsv=RSV1)
    deflate_conn.send_frame(CONT, data[10:], fin=True, rsv=RSV1)
    await deflate_conn.expect_close(1002)


@pytest.mark.asyncio
async def test_rsv1_on_a_control_frame_is_1002(deflate_conn: Any) -> None:
    deflate_conn.send_frame(PING, b"ping", rsv=RSV1)
    await deflate_conn.expect_close(1002)


@pytest.mark.asyncio
async def test_rsv2_with_deflate_is_still_1002(deflate_conn: Any) -> None:
    deflate_conn.send_frame(TEXT, deflate(TEXT_64), rsv=RSV1 | RSV2)
    await deflate_conn.expect_close(1002)


@pytest.mark.asyncio
async def test_corrupt_deflate_data_is_1002(deflate_conn: Any) -> None:
    # 0xff starts a block of the reserved type 11 (RFC 1951 section 3.2.3).
    deflate_conn.send_frame(TEXT, b"\xff\xff\xff\xff", rsv=RSV1)
    await deflate_conn.expect_close(1002)


@pytest.mark.asyncio
async def test_compressed_invalid_utf8_is_1007(deflate_conn: Any) -> None:
    deflate_conn.send_frame(TEXT, deflate(b"\xce\xba\xed\xa0\x80" * 10), rsv=RSV1)
    await deflate_conn.expect_close(1007)


@pytest.mark.asyncio
async def test_compressed_message_over_max_size_is_1009(echo_server: Any, raw_ws: Any) -> None:
    options = ConnectionOptions(max_size=1000)
    async with echo_server(compression=DeflateOptions(), options=options) as server:
        client = await raw_ws.open(server.port, extensions="permessage-deflate")
        client.send_frame(BINARY, deflate(b"\x00" * 1000), rsv=RSV1)
        b0, payload = await client.read_frame()
        assert (b0, inflate(payload)) == (0xC2, b"\x00" * 1000)
        # Tiny on the wire, one byte too many once inflated.
        client.send_frame(BINARY, deflate(b"\x00" * 1001), rsv=RSV1)
        await client.expect_close(1009)


@pytest.mark.asyncio
async def test_rsv1_without_negotiation_is_1002(echo_server: Any, raw_ws: Any) -> None:
    # The server supports deflate, but this client did not offer it.
    async with echo_server(compression=DeflateOptions()) as server:
        client = await raw_ws.open(server.port)
        assert b"sec-websocket-extensions" not in client.response_head.lower()
        client.send_frame(TEXT, deflate(TEXT_64), rsv=RSV1)
        await client.expect_close(1002)
