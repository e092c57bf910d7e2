"""Tests for websocket.protocol: the sans-I/O connection state machine (RFC 6455 sections 5-8).

No event loop and no sleeping: time is the ``now`` passed in, and client masks come from an
injected ``mask_source``. Inputs and expected outputs are byte literals where that reads well;
flows run a client and a server wired together in memory (:class:`Pair`, after h11's
``ConnectionPair``). wsproto serves as an independent oracle for a few exchanges.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import events as wsevents
from wsproto.connection import Connection as WsprotoConnection
from wsproto.connection import ConnectionType

from websocket import frames as frames_module
from websocket.events import CloseReceived, Event, Message, Ping, Pong
from websocket.exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidUTF8,
    LocalProtocolError,
    PayloadTooBig,
    RemoteProtocolError,
    TooManyFragments,
)
from websocket.frames import PreparedMessage
from websocket.protocol import (
    _TRANSITIONS,
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_MAX_FRAGMENTS,
    DEFAULT_MAX_SIZE,
    DEFAULT_PING_INTERVAL,
    DEFAULT_PING_TIMEOUT,
    MessageCompressor,
    Protocol,
    Role,
    State,
)

# --------------------------------------------------------------------------------- helpers

#: The masking key of the RFC 6455 section 5.7 examples.
MASK = b"\x37\xfa\x21\x3d"
ZERO_MASK = b"\x00\x00\x00\x00"

# First header byte: FIN bit | opcode.
TEXT, BINARY, CONT = 0x01, 0x02, 0x00
FIN_TEXT, FIN_BINARY, FIN_CONT = 0x81, 0x82, 0x80
CLOSE, PING, PONG = 0x88, 0x89, 0x8A

#: RFC 6455 section 5.7: a single-frame masked text message "Hello", from a client.
RFC_MASKED_HELLO = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"
#: RFC 6455 section 5.7: a single-frame unmasked text message "Hello", from a server.
RFC_UNMASKED_HELLO = b"\x81\x05\x48\x65\x6c\x6c\x6f"


class Masks:
    """A deterministic mask source that records how it is called."""

    def __init__(self, key: bytes = MASK) -> None:
        self.key = key
        self.calls: list[int] = []

    def __call__(self, n: int) -> bytes:
        self.calls.append(n)
        return self.key


def xor(data: bytes, key: bytes) -> bytes:
    """Mask or unmask byte by byte: an implementation independent of frames.apply_mask."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def frame(b0: int, payload: bytes = b"", *, mask: bytes | None = None) -> bytes:
    """Build one frame by hand (minimal length encoding), masked when ``mask`` is given."""
    n = len(payload)
    mbit = 0x80 if mask is not None else 0
    if n < 126:
        head = bytes((b0, mbit | n))
    elif n < 65536:
        head = bytes((b0, mbit | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, mbit | 127)) + n.to_bytes(8, "big")
    return head + payload if mask is None else head + mask + xor(payload, mask)


def cf(b0: int, payload: bytes = b"", mask: bytes = MASK) -> bytes:
    """A client-to-server (masked) frame."""
    return frame(b0, payload, mask=mask)


def sf(b0: int, payload: bytes = b"") -> bytes:
    """A server-to-client (unmasked) frame."""
    return frame(b0, payload)


def make(role: Role, **kwargs: Any) -> Protocol:
    """A connection without keepalive and with the RFC mask unless the test says otherwise."""
    kwargs.setdefault("ping_interval", None)
    kwargs.setdefault("mask_source", Masks())
    now = kwargs.pop("now", 0.0)
    return Protocol(role, now=now, **kwargs)


def server(**kwargs: Any) -> Protocol:
    return make(Role.SERVER, **kwargs)


def client(**kwargs: Any) -> Protocol:
    return make(Role.CLIENT, **kwargs)


def state_of(conn: Protocol) -> State:
    """The state, read through a call so that mypy does not keep an earlier narrowing."""
    return conn.state


def sent(conn: Protocol) -> bytes:
    """Everything the connection has queued for the wire, joined."""
    return b"".join(conn.data_to_send())


def feed(conn: Protocol, data: bytes, now: float = 0.0) -> list[Event]:
    """Feed bytes and take the events, as a driver does; then apply a failure held back
    behind those messages (the application has had them: see test_strict_order_*)."""
    conn.receive_data(data, now)
    events = conn.events_received()
    conn.fail_pending(now)
    return events


def decode_close(data: bytes) -> tuple[int, str]:
    """Parse ``data`` as exactly one close frame (masked or not) and return (code, reason)."""
    assert data[0] == 0x88, data
    n = data[1] & 0x7F
    assert n < 126
    if data[1] & 0x80:
        key, payload = data[2:6], data[6:]
        payload = xor(payload, key)
    else:
        payload = data[2:]
    assert len(payload) == n, "more than one frame was sent"
    if not payload:
        return 1005, ""
    return int.from_bytes(payload[:2], "big"), payload[2:].decode()


def assert_failed(conn: Protocol, code: int) -> bytes:
    """Check the connection was failed with ``code`` and return the one close frame it sent."""
    assert conn.failure is not None
    assert conn.failure.close_code == code
    assert conn.state is State.CLOSING
    assert conn.close_transport
    assert conn.close_sent is not None
    assert conn.close_sent[0] == code
    data = sent(conn)
    assert decode_close(data) == conn.close_sent
    assert conn.close_code == code
    exc = conn.close_exc()
    assert isinstance(exc, ConnectionClosedError)
    assert exc.code == code
    return data


class Pair:
    """A client and a server connected in memory (after h11's ConnectionPair)."""

    def __init__(self, **kwargs: Any) -> None:
        self.now = 0.0
        self.client = client(**kwargs)
        self.server = server(**kwargs)

    def c2s(self) -> list[Event]:
        """Deliver what the client queued; return the server's events."""
        return feed(self.server, sent(self.client), self.now)

    def s2c(self) -> list[Event]:
        """Deliver what the server queued; return the client's events."""
        return feed(self.client, sent(self.server), self.now)

    def exchange(self) -> tuple[list[Event], list[Event]]:
        """Shuttle bytes both ways until both are quiet; return (client events, server events)."""
        client_events: list[Event] = []
        server_events: list[Event] = []
        for _ in range(10):
            to_server, to_client = sent(self.client), sent(self.server)
            if not to_server and not to_client:
                break
            self.server.receive_data(to_server, self.now)
            self.client.receive_data(to_client, self.now)
            server_events += self.server.events_received()
            client_events += self.client.events_received()
        return client_events, server_events


# ----------------------------------------------------------------------- construction


def test_defaults() -> None:
    conn = Protocol(Role.SERVER, now=0.0)
    assert conn.state is State.OPEN
    assert conn.max_size == DEFAULT_MAX_SIZE == 2**20
    assert conn.max_buffered == conn.max_size
    assert conn.max_fragments == DEFAULT_MAX_FRAGMENTS
    assert conn.close_timeout == DEFAULT_CLOSE_TIMEOUT
    assert conn.ping_interval == DEFAULT_PING_INTERVAL
    assert conn.ping_timeout == DEFAULT_PING_TIMEOUT
    assert conn.next_deadline() == DEFAULT_PING_INTERVAL
    assert conn.close_sent is None and conn.close_rcvd is None and conn.failure is None
    assert not conn.close_transport
    assert conn.events_received() == []
    assert conn.data_to_send() == []


def test_default_mask_source_is_random() -> None:
    conn = Protocol(Role.CLIENT, now=0.0, ping_interval=None)
    conn.send_message(b"x" * 8)
    conn.send_message(b"x" * 8)
    data = sent(conn)
    first, second = data[:14], data[14:]
    assert first[:2] == second[:2] == b"\x82\x88"  # masked, 8 bytes
    # A fresh random key per frame: the two keys are equal with probability 2**-32.
    assert first[2:6] != second[2:6]
    assert xor(first[6:], first[2:6]) == xor(second[6:], second[2:6]) == b"x" * 8


def test_transition_table() -> None:
    assert _TRANSITIONS[State.OPEN] == {State.CLOSING, State.CLOSED}
    assert _TRANSITIONS[State.CLOSING] == {State.CLOSED}
    assert _TRANSITIONS[State.CLOSED] == frozenset()
    conn = server()
    with pytest.raises(LocalProtocolError, match="cannot go from OPEN to OPEN"):
        conn._set_state(State.OPEN)
    conn.receive_eof()
    with pytest.raises(LocalProtocolError, match="cannot go from CLOSED to CLOSING"):
        conn._set_state(State.CLOSING)


def test_fake_compressor_satisfies_protocol() -> None:
    compressor: MessageCompressor = ReversingCompressor()
    assert compressor.decode(b"ab", fin=True, max_size=2) == b"ba"


# ------------------------------------------------------------------- messages (receive)


def test_rfc_masked_hello_to_server() -> None:
    conn = server()
    assert feed(conn, RFC_MASKED_HELLO) == [Message("Hello")]
    assert sent(conn) == b""


def test_rfc_unmasked_hello_to_client() -> None:
    conn = client()
    assert feed(conn, RFC_UNMASKED_HELLO) == [Message("Hello")]


def test_rfc_fragmented_unmasked_text_to_client() -> None:
    # RFC 6455 section 5.7: "Hel" then "lo".
    conn = client()
    assert feed(conn, b"\x01\x03\x48\x65\x6c") == []
    assert feed(conn, b"\x80\x02\x6c\x6f") == [Message("Hello")]


def test_rfc_256_byte_and_64k_binary_to_client() -> None:
    conn = client()
    payload = bytes(range(256))
    assert feed(conn, b"\x82\x7e\x01\x00" + payload) == [Message(payload)]
    big = b"\xab" * 65536
    assert feed(conn, b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00" + big) == [Message(big)]


def test_binary_message_to_server() -> None:
    conn = server()
    assert feed(conn, cf(FIN_BINARY, b"\x00\xff\x10")) == [Message(b"\x00\xff\x10")]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x81\x80" + MASK, Message("")),
        (b"\x82\x80" + MASK, Message(b"")),
        (b"\x01\x80" + MASK + b"\x80\x80" + MASK, Message("")),
        (b"\x02\x80" + MASK + b"\x00\x80" + MASK + b"\x80\x80" + MASK, Message(b"")),
    ],
    ids=["text", "binary", "fragmented-text", "fragmented-binary"],
)
def test_empty_messages(data: bytes, expected: Message) -> None:
    assert feed(server(), data) == [expected]


def test_fragmented_binary_with_empty_fragments() -> None:
    data = cf(BINARY, b"ab") + cf(CONT) + cf(CONT, b"c") + cf(FIN_CONT)
    assert feed(server(), data) == [Message(b"abc")]


def test_pings_between_fragments_are_answered_and_message_assembled() -> None:
    conn = client()
    data = (
        sf(TEXT, b"Hel") + sf(PING, b"one") + sf(CONT, b"l") + sf(PING, b"two") + sf(FIN_CONT, b"o")
    )
    assert feed(conn, data) == [Ping(b"one"), Ping(b"two"), Message("Hello")]
    assert sent(conn) == cf(PONG, b"one") + cf(PONG, b"two")


def test_pong_between_fragments() -> None:
    conn = server()
    data = cf(BINARY, b"a") + cf(PONG, b"p") + cf(FIN_CONT, b"b")
    assert feed(conn, data) == [Pong(b"p"), Message(b"ab")]
    assert sent(conn) == b""


def test_several_messages_in_one_chunk() -> None:
    data = cf(FIN_TEXT, b"one") + cf(FIN_BINARY, b"two") + cf(FIN_TEXT, b"three")
    assert feed(server(), data) == [Message("one"), Message(b"two"), Message("three")]


def test_partial_frame_is_buffered() -> None:
    conn = server()
    assert feed(conn, RFC_MASKED_HELLO[:1]) == []
    assert feed(conn, RFC_MASKED_HELLO[1:7]) == []
    assert feed(conn, RFC_MASKED_HELLO[7:] + RFC_MASKED_HELLO[:3]) == [Message("Hello")]
    assert feed(conn, RFC_MASKED_HELLO[3:]) == [Message("Hello")]


def test_continuation_without_start_fails_1002() -> None:
    conn = server()
    assert feed(conn, cf(FIN_CONT, b"x")) == []
    data = assert_failed(conn, 1002)
    assert data == b"\x88\x32\x03\xeacontinuation frame without a message to continue"


def test_continuation_after_finished_message_fails_1002() -> None:
    conn = client()
    assert feed(conn, sf(FIN_TEXT, b"a") + sf(FIN_CONT, b"b")) == [Message("a")]
    assert_failed(conn, 1002)


@pytest.mark.parametrize("b0", [TEXT, FIN_TEXT, BINARY, FIN_BINARY])
def test_data_frame_inside_fragmented_message_fails_1002(b0: int) -> None:
    conn = server()
    assert feed(conn, cf(TEXT, b"a") + cf(b0, b"b")) == []
    data = assert_failed(conn, 1002)
    assert data == b"\x88\x28\x03\xeadata frame inside a fragmented message"


# ---------------------------------------------------------------------- messages (send)


def test_client_send_matches_rfc_example() -> None:
    masks = Masks()
    conn = client(mask_source=masks)
    conn.send_message("Hello")
    assert sent(conn) == RFC_MASKED_HELLO
    assert masks.calls == [4]


def test_server_send_matches_rfc_example() -> None:
    conn = server()
    conn.send_message("Hello")
    assert sent(conn) == RFC_UNMASKED_HELLO


def test_send_returns_header_and_payload_chunks() -> None:
    conn = server()
    conn.send_message(b"\x00\xff")
    conn.send_message(b"")
    assert conn.data_to_send() == [b"\x82\x02", b"\x00\xff", b"\x82\x00"]
    assert conn.data_to_send() == []


def test_send_binary_accepts_bytearray_and_memoryview() -> None:
    conn = server()
    conn.send_message(bytearray(b"ab"))  # type: ignore[arg-type]
    conn.send_message(memoryview(b"cd"))  # type: ignore[arg-type]
    assert sent(conn) == b"\x82\x02ab\x82\x02cd"


def test_send_256_bytes_uses_16_bit_length() -> None:
    conn = server()
    conn.send_message(bytes(256))
    assert sent(conn) == b"\x82\x7e\x01\x00" + bytes(256)


def test_server_send_fragments() -> None:
    conn = server()
    conn.send_fragment("Hel", fin=False)
    conn.send_fragment("lo", fin=True)
    assert sent(conn) == b"\x01\x03Hel\x80\x02lo"
    conn.send_fragment(b"\x01", fin=False)
    conn.send_fragment(b"", fin=False)
    conn.send_fragment(b"\x02", fin=True)
    assert sent(conn) == b"\x02\x01\x01\x00\x00\x80\x01\x02"


def test_client_send_fragments_masks_each_frame() -> None:
    masks = Masks(ZERO_MASK)
    conn = client(mask_source=masks)
    conn.send_fragment("Hel", fin=False)
    conn.send_fragment("lo", fin=True)
    assert sent(conn) == b"\x01\x83\x00\x00\x00\x00Hel\x80\x82\x00\x00\x00\x00lo"
    assert masks.calls == [4, 4]


def test_single_fragment_with_fin_is_a_whole_message() -> None:
    conn = server()
    conn.send_fragment("x", fin=True)
    conn.send_message("y")  # allowed: the fragmented message is finished
    assert sent(conn) == b"\x81\x01x\x81\x01y"


def test_control_frames_between_sent_fragments() -> None:
    conn = server()
    conn.send_fragment(b"a", fin=False)
    conn.send_ping(b"p")
    conn.send_pong(b"q")
    conn.send_fragment(b"b", fin=True)
    assert sent(conn) == b"\x02\x01a\x89\x01p\x8a\x01q\x80\x01b"


@pytest.mark.parametrize(("first", "second"), [("text", b"bytes"), (b"bytes", "text")])
def test_send_fragment_type_mixing_raises(first: str | bytes, second: str | bytes) -> None:
    conn = server()
    conn.send_fragment(first, fin=False)
    sent(conn)
    with pytest.raises(LocalProtocolError, match="all be str or bytes"):
        conn.send_fragment(second, fin=True)
    assert sent(conn) == b""
    # The message can still be finished with the right type.
    conn.send_fragment(first, fin=True)
    assert sent(conn)[0] == FIN_CONT


def test_send_message_during_fragmented_message_raises() -> None:
    conn = server()
    conn.send_fragment("a", fin=False)
    with pytest.raises(LocalProtocolError, match="fragmented message is being sent"):
        conn.send_message("b")
    assert sent(conn) == b"\x01\x01a"


def test_pair_messages_both_ways() -> None:
    pair = Pair()
    pair.client.send_message("héllo")
    pair.client.send_message(b"\x00" * 70000)
    pair.client.send_fragment("frag", fin=False)
    pair.client.send_fragment("ment", fin=True)
    assert pair.c2s() == [Message("héllo"), Message(b"\x00" * 70000), Message("fragment")]
    pair.server.send_message("réponse")
    pair.server.send_fragment(b"a", fin=False)
    pair.server.send_fragment(b"b", fin=True)
    assert pair.s2c() == [Message("réponse"), Message(b"ab")]


# ------------------------------------------------------------------------ ping and pong


def test_ping_to_server_gets_pong_with_same_payload() -> None:
    conn = server()
    # RFC 6455 section 5.7: a masked ping "Hello".
    assert feed(conn, b"\x89\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58") == [Ping(b"Hello")]
    assert sent(conn) == b"\x8a\x05Hello"


def test_ping_to_client_gets_masked_pong() -> None:
    conn = client()
    assert feed(conn, b"\x89\x05Hello") == [Ping(b"Hello")]
    # RFC 6455 section 5.7: the masked pong "Hello".
    assert sent(conn) == b"\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"


def test_empty_and_max_size_ping() -> None:
    conn = server()
    assert feed(conn, cf(PING) + cf(PING, b"x" * 125)) == [Ping(b""), Ping(b"x" * 125)]
    assert sent(conn) == b"\x8a\x00" + b"\x8a\x7d" + b"x" * 125


def test_unsolicited_pong_is_reported_and_not_answered() -> None:
    conn = server()
    assert feed(conn, cf(PONG, b"heartbeat")) == [Pong(b"heartbeat")]
    assert conn.data_to_send() == []


def test_send_ping_and_pong() -> None:
    conn = server()
    conn.send_ping(b"abc")
    conn.send_ping()
    conn.send_pong(b"def")
    conn.send_pong()
    assert sent(conn) == b"\x89\x03abc\x89\x00\x8a\x03def\x8a\x00"


@pytest.mark.parametrize("method", ["send_ping", "send_pong"])
def test_control_payload_over_125_bytes_raises(method: str) -> None:
    conn = server()
    getattr(conn, method)(b"x" * 125)
    sent(conn)
    with pytest.raises(LocalProtocolError, match="125 bytes"):
        getattr(conn, method)(b"x" * 126)
    assert sent(conn) == b""


def test_pair_ping_pong() -> None:
    pair = Pair()
    pair.client.send_ping(b"are you there")
    assert pair.c2s() == [Ping(b"are you there")]
    assert pair.s2c() == [Pong(b"are you there")]
    pair.server.send_pong(b"unsolicited")
    assert pair.s2c() == [Pong(b"unsolicited")]
    assert sent(pair.client) == b""


# ---------------------------------------------------------------------------- keepalive


def keepalive_client(**kwargs: Any) -> Protocol:
    kwargs.setdefault("ping_interval", 20.0)
    kwargs.setdefault("ping_timeout", 10.0)
    kwargs.setdefault("mask_source", Masks(ZERO_MASK))
    return make(Role.CLIENT, **kwargs)


def test_keepalive_first_deadline_counts_from_now() -> None:
    assert keepalive_client(now=100.0).next_deadline() == 120.0


def test_keepalive_ping_on_timer() -> None:
    conn = keepalive_client()
    conn.on_timer(19.9)
    assert sent(conn) == b""
    conn.on_timer(20.0)
    assert sent(conn) == b"\x89\x8b\x00\x00\x00\x00keepalive 1"
    # Next: the pong deadline (20 + 10) comes before the next ping (20 + 20).
    assert conn.next_deadline() == 30.0


def test_keepalive_pong_clears_deadline() -> None:
    conn = keepalive_client()
    conn.on_timer(20.0)
    sent(conn)
    assert feed(conn, b"\x8a\x0bkeepalive 1", 25.0) == [Pong(b"keepalive 1")]
    assert conn.next_deadline() == 40.0
    conn.on_timer(30.0)  # the old pong deadline: nothing happens
    assert conn.failure is None
    assert sent(conn) == b""
    conn.on_timer(40.0)
    assert sent(conn) == b"\x89\x8b\x00\x00\x00\x00keepalive 2"
    assert conn.next_deadline() == 50.0


def test_keepalive_other_pong_does_not_clear_deadline() -> None:
    conn = keepalive_client()
    conn.on_timer(20.0)
    sent(conn)
    assert feed(conn, b"\x8a\x0bkeepalive 0", 21.0) == [Pong(b"keepalive 0")]
    assert feed(conn, b"\x8a\x00", 22.0) == [Pong(b"")]
    assert conn.next_deadline() == 30.0


def test_keepalive_timeout_fails_1011() -> None:
    conn = keepalive_client()
    conn.on_timer(20.0)
    sent(conn)
    conn.on_timer(29.9)
    assert conn.failure is None
    conn.on_timer(30.0)
    data = assert_failed(conn, 1011)
    assert data == b"\x88\x98\x00\x00\x00\x00\x03\xf3keepalive ping timeout"
    assert conn.close_reason == "keepalive ping timeout"
    assert isinstance(conn.failure, RemoteProtocolError)
    # Now CLOSING: only the close timeout is left.
    assert conn.next_deadline() == 30.0 + DEFAULT_CLOSE_TIMEOUT


def test_keepalive_timeout_longer_than_interval_still_fires() -> None:
    # A ping timeout longer than the ping interval must not be pushed back by later pings.
    conn = keepalive_client(ping_interval=5.0, ping_timeout=12.0)
    now = 0.0
    pings = 0
    while conn.failure is None and now < 100.0:
        deadline = conn.next_deadline()
        assert deadline is not None and deadline > now
        now = deadline
        conn.on_timer(now)
        data = sent(conn)
        if data.startswith(b"\x89"):
            pings += 1
    assert now == 17.0  # the first ping at 5.0, never answered
    assert pings == 1  # no second keepalive ping while one is outstanding
    assert conn.failure is not None
    assert conn.failure.close_code == 1011
    assert conn.close_sent == (1011, "keepalive ping timeout")
    assert conn.close_transport


def test_keepalive_after_pong_with_long_timeout() -> None:
    conn = keepalive_client(ping_interval=5.0, ping_timeout=12.0)
    conn.on_timer(5.0)
    assert sent(conn).endswith(b"keepalive 1")
    feed(conn, b"\x8a\x0bkeepalive 1", 6.0)
    assert conn.next_deadline() == 10.0
    conn.on_timer(10.0)
    assert sent(conn).endswith(b"keepalive 2")
    assert conn.next_deadline() == 15.0


def test_keepalive_disabled() -> None:
    conn = keepalive_client(ping_interval=None)
    assert conn.next_deadline() is None
    conn.on_timer(1e9)
    assert sent(conn) == b""
    assert conn.failure is None


def test_keepalive_without_timeout() -> None:
    conn = keepalive_client(ping_timeout=None)
    conn.on_timer(20.0)
    assert sent(conn).endswith(b"keepalive 1")
    assert conn.next_deadline() == 40.0
    conn.on_timer(40.0)
    assert sent(conn).endswith(b"keepalive 2")
    assert conn.failure is None


def test_keepalive_pair() -> None:
    pair = Pair(ping_interval=20.0, ping_timeout=10.0)
    pair.now = 20.0
    pair.client.on_timer(pair.now)
    pair.server.on_timer(pair.now)
    client_events, server_events = pair.exchange()
    assert server_events == client_events == [Ping(b"keepalive 1"), Pong(b"keepalive 1")]
    # Both got their pong: nothing fails at the pong deadline.
    assert pair.client.next_deadline() == pair.server.next_deadline() == 40.0


def test_no_keepalive_while_closing() -> None:
    conn = keepalive_client()
    conn.send_close(5.0)
    sent(conn)
    assert conn.next_deadline() == 5.0 + DEFAULT_CLOSE_TIMEOUT
    conn.on_timer(14.9)
    conn.on_timer(20.0)  # keepalive time, but CLOSING: only the close timeout applies
    assert sent(conn) == b""
    assert conn.close_transport  # the close timeout (15.0) has passed


# ------------------------------------------------------------------------ closing handshake


def test_server_initiated_close_handshake() -> None:
    pair = Pair(close_timeout=5.0)
    pair.now = 1.0
    pair.server.send_close(pair.now, 1000, "bye")
    assert pair.server.state is State.CLOSING
    assert pair.server.next_deadline() == 6.0
    server_bytes = sent(pair.server)
    assert server_bytes == b"\x88\x05\x03\xe8bye"

    pair.now = 2.0
    assert feed(pair.client, server_bytes, pair.now) == [CloseReceived(1000, "bye")]
    assert pair.client.state is State.CLOSING
    assert pair.client.close_rcvd == (1000, "bye")
    assert pair.client.close_sent == (1000, "bye")
    assert not pair.client.close_transport  # the client waits for the server to close TCP
    assert pair.client.next_deadline() == 7.0
    client_bytes = sent(pair.client)
    assert client_bytes == b"\x88\x85" + MASK + xor(b"\x03\xe8bye", MASK)

    assert feed(pair.server, client_bytes, pair.now) == [CloseReceived(1000, "bye")]
    assert pair.server.close_transport  # both close frames exchanged: the server closes TCP
    assert sent(pair.server) == b""

    pair.client.on_timer(6.9)
    assert not pair.client.close_transport
    pair.client.on_timer(7.0)
    assert pair.client.close_transport
    assert pair.client.next_deadline() is None

    for conn in (pair.client, pair.server):
        conn.receive_eof()
        assert conn.state is State.CLOSED
        assert (conn.close_code, conn.close_reason) == (1000, "bye")
        exc = conn.close_exc()
        assert isinstance(exc, ConnectionClosedOK)
        assert (exc.code, exc.reason) == (1000, "bye")
        assert conn.next_deadline() is None


def test_client_initiated_close_handshake() -> None:
    pair = Pair()
    pair.client.send_close(0.0, 1001, "going away")
    assert pair.client.state is State.CLOSING
    assert pair.c2s() == [CloseReceived(1001, "going away")]
    # The server echoes and closes the TCP connection right away.
    assert pair.server.close_transport
    assert pair.server.state is State.CLOSING
    server_bytes = sent(pair.server)
    assert server_bytes == b"\x88\x0c\x03\xe9going away"
    assert feed(pair.client, server_bytes) == [CloseReceived(1001, "going away")]
    assert not pair.client.close_transport
    pair.client.receive_eof()  # the server closed TCP
    assert state_of(pair.client) is State.CLOSED
    assert isinstance(pair.client.close_exc(), ConnectionClosedOK)
    assert pair.client.close_exc().code == 1001


def test_simultaneous_close() -> None:
    pair = Pair(close_timeout=4.0)
    pair.client.send_close(0.0, 1000, "client")
    pair.server.send_close(0.0, 1001, "server")
    pair.now = 1.0
    client_events, server_events = pair.exchange()
    assert client_events == [CloseReceived(1001, "server")]
    assert server_events == [CloseReceived(1000, "client")]
    # Neither answers the other's close frame: each has already sent one.
    assert sent(pair.client) == sent(pair.server) == b""
    assert pair.server.close_transport
    assert not pair.client.close_transport
    assert pair.client.next_deadline() == 5.0  # waiting for the TCP close from now on
    for conn, code in ((pair.client, 1001), (pair.server, 1000)):
        exc = conn.close_exc()
        assert isinstance(exc, ConnectionClosedOK)
        assert exc.code == code


def test_client_close_timeout_waiting_for_close_frame() -> None:
    conn = client(close_timeout=3.0)
    conn.send_close(10.0)
    assert sent(conn) == b"\x88\x82" + MASK + xor(b"\x03\xe8", MASK)
    assert conn.next_deadline() == 13.0
    conn.on_timer(12.0)
    assert not conn.close_transport
    conn.on_timer(13.0)
    assert conn.close_transport
    assert conn.next_deadline() is None
    conn.on_timer(20.0)  # nothing left to do
    assert sent(conn) == b""


def test_server_close_timeout_when_client_never_answers() -> None:
    conn = server(close_timeout=2.0)
    conn.send_close(0.0, 1001)
    assert sent(conn) == b"\x88\x02\x03\xe9"
    conn.on_timer(1.0)
    assert not conn.close_transport
    conn.on_timer(2.5)
    assert conn.close_transport
    conn.receive_eof()
    assert conn.state is State.CLOSED
    exc = conn.close_exc()
    assert isinstance(exc, ConnectionClosedError)
    assert exc.code == 1006


def test_close_with_empty_payload() -> None:
    conn = server()
    assert feed(conn, b"\x88\x80" + MASK) == [CloseReceived(1005, "")]
    assert sent(conn) == b"\x88\x00"  # an empty echo
    assert conn.close_code == 1005
    assert conn.close_reason == ""
    assert conn.close_transport
    exc = conn.close_exc()
    assert isinstance(exc, ConnectionClosedOK)
    assert exc.code == 1005


def test_send_close_1005_sends_empty_payload() -> None:
    pair = Pair()
    pair.client.send_close(0.0, 1005)
    assert pair.client.close_sent == (1005, "")
    assert pair.client.data_to_send() == [b"\x88\x80" + MASK]
    assert feed(pair.server, b"\x88\x80" + MASK) == [CloseReceived(1005, "")]
    assert feed(pair.client, sent(pair.server)) == [CloseReceived(1005, "")]
    assert isinstance(pair.client.close_exc(), ConnectionClosedOK)
    assert isinstance(pair.server.close_exc(), ConnectionClosedOK)


def test_empty_close_answer_to_1000_is_ok() -> None:
    conn = client()
    conn.send_close(0.0, 1000)
    assert feed(conn, b"\x88\x00") == [CloseReceived(1005, "")]
    assert isinstance(conn.close_exc(), ConnectionClosedOK)


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
)
def test_valid_close_codes_are_echoed(code: int) -> None:
    conn = server()
    payload = code.to_bytes(2, "big") + b"why"
    assert feed(conn, cf(CLOSE, payload)) == [CloseReceived(code, "why")]
    assert sent(conn) == b"\x88\x05" + payload
    exc = conn.close_exc()
    assert exc.code == code
    assert isinstance(exc, ConnectionClosedOK if code in (1000, 1001) else ConnectionClosedError)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535])
def test_invalid_close_codes_fail_1002(code: int) -> None:
    conn = server()
    assert feed(conn, cf(CLOSE, code.to_bytes(2, "big"))) == []
    data = assert_failed(conn, 1002)
    reason = f"invalid close code {code}".encode()
    assert data == bytes((0x88, 2 + len(reason))) + b"\x03\xea" + reason
    assert conn.close_rcvd is None


def test_close_reason_invalid_utf8_fails_1007() -> None:
    conn = client(mask_source=Masks(ZERO_MASK))
    assert feed(conn, sf(CLOSE, b"\x03\xe8\xff\xfe")) == []
    data = assert_failed(conn, 1007)
    assert data == b"\x88\xa1\x00\x00\x00\x00\x03\xefclose reason is not valid UTF-8"


def test_close_with_one_byte_payload_fails_1002() -> None:
    conn = server()
    assert feed(conn, cf(CLOSE, b"\x03")) == []
    data = assert_failed(conn, 1002)
    assert data == b"\x88\x23\x03\xeaclose frame with a 1-byte payload"


def test_close_reason_utf8_is_decoded() -> None:
    conn = server()
    assert feed(conn, cf(CLOSE, b"\x03\xe8caf\xc3\xa9")) == [CloseReceived(1000, "café")]


def test_data_after_close_frame_is_ignored() -> None:
    conn = server()
    data = cf(CLOSE, b"\x03\xe8") + cf(FIN_TEXT, b"late") + cf(PING, b"p") + b"\xff\xff"
    assert feed(conn, data) == [CloseReceived(1000, "")]
    assert sent(conn) == b"\x88\x02\x03\xe8"  # no pong, no failure
    assert feed(conn, cf(FIN_TEXT, b"later")) == []
    assert sent(conn) == b""
    assert conn.failure is None
    assert conn._buf == b""


def test_close_frame_drops_unfinished_message() -> None:
    conn = client()
    assert feed(conn, sf(TEXT, b"partial") + sf(CLOSE, b"\x03\xe8")) == [CloseReceived(1000, "")]
    assert conn._rx.opcode is None
    assert conn._rx.text_parts == []


def test_messages_still_received_after_sending_close() -> None:
    conn = server()
    conn.send_close(0.0)
    sent(conn)
    data = cf(FIN_TEXT, b"in flight") + cf(PING, b"p") + cf(CLOSE, b"\x03\xe8")
    assert feed(conn, data) == [Message("in flight"), Ping(b"p"), CloseReceived(1000, "")]
    assert sent(conn) == b""  # no pong once the close frame is sent (section 5.5.1)
    assert conn.close_transport


def test_sending_after_close_sent_raises() -> None:
    conn = server()
    conn.send_close(0.0)
    with pytest.raises(ConnectionClosedError) as info:
        conn.send_message("x")
    assert info.value.code == 1006  # no close frame received yet
    with pytest.raises(ConnectionClosed):
        conn.send_fragment(b"x", fin=True)
    with pytest.raises(ConnectionClosed):
        conn.send_ping()
    with pytest.raises(ConnectionClosed):
        conn.send_pong()
    with pytest.raises(LocalProtocolError, match="already started"):
        conn.send_close(0.0)
    assert sent(conn) == b"\x88\x02\x03\xe8"


def test_sending_after_close_handshake_raises_ok() -> None:
    conn = server()
    feed(conn, cf(CLOSE, b"\x03\xe8done"))
    calls: list[Callable[[], None]] = [
        lambda: conn.send_message("x"),
        lambda: conn.send_fragment("x", fin=False),
        lambda: conn.send_ping(b""),
        lambda: conn.send_pong(b""),
    ]
    for call in calls:
        with pytest.raises(ConnectionClosedOK) as info:
            call()
        assert (info.value.code, info.value.reason) == (1000, "done")
    with pytest.raises(LocalProtocolError):
        conn.send_close(0.0)


def test_sending_after_eof_raises() -> None:
    conn = client()
    conn.receive_eof()
    with pytest.raises(ConnectionClosedError) as info:
        conn.send_message(b"x")
    assert info.value.code == 1006
    with pytest.raises(ConnectionClosedError):
        conn.send_ping()
    with pytest.raises(LocalProtocolError, match="already started"):
        conn.send_close(0.0)


def test_sending_after_failure_raises_error_with_failure_code() -> None:
    conn = server()
    feed(conn, b"\x83\x80" + MASK)  # reserved opcode
    with pytest.raises(ConnectionClosedError) as info:
        conn.send_message("x")
    assert info.value.code == 1002
    assert info.value.reason == "reserved opcode 0x3"


@pytest.mark.parametrize(
    ("code", "reason"), [(1004, ""), (1006, ""), (999, ""), (1015, ""), (1000, "x" * 124)]
)
def test_send_close_invalid_arguments_raise(code: int, reason: str) -> None:
    conn = server()
    with pytest.raises(LocalProtocolError):
        conn.send_close(0.0, code, reason)
    assert conn.state is State.OPEN
    assert conn.close_sent is None
    assert sent(conn) == b""


def test_send_close_max_reason() -> None:
    conn = server()
    conn.send_close(0.0, 4000, "r" * 123)
    assert sent(conn) == b"\x88\x7d\x0f\xa0" + b"r" * 123


def test_send_close_during_fragmented_send() -> None:
    conn = server()
    conn.send_fragment("a", fin=False)
    conn.send_close(0.0)
    assert sent(conn) == b"\x01\x01a\x88\x02\x03\xe8"
    with pytest.raises(ConnectionClosed):
        conn.send_fragment("b", fin=True)


def test_receive_eof_without_close_is_1006() -> None:
    conn = server()
    feed(conn, cf(TEXT, b"unfinished") + cf(FIN_TEXT, b"half")[:3])
    conn.receive_eof()
    assert conn.state is State.CLOSED
    assert conn.close_transport
    assert (conn.close_code, conn.close_reason) == (1006, "")
    exc = conn.close_exc()
    assert isinstance(exc, ConnectionClosedError)
    assert (exc.code, exc.reason) == (1006, "")
    assert conn.next_deadline() is None
    assert conn.failure is None
    assert conn.events_received() == []
    assert sent(conn) == b""  # no close frame on a dead transport
    conn.receive_eof()  # idempotent
    assert conn.state is State.CLOSED
    assert feed(conn, RFC_MASKED_HELLO) == []  # nothing counts after EOF
    conn.on_timer(1e9)
    assert sent(conn) == b""


def test_receive_eof_after_close_sent_only() -> None:
    conn = client()
    conn.send_close(0.0, 1000)
    conn.receive_eof()
    assert conn.close_code == 1006
    assert isinstance(conn.close_exc(), ConnectionClosedError)


def test_close_exc_while_open() -> None:
    exc = server().close_exc()
    assert isinstance(exc, ConnectionClosedError)
    assert exc.code == 1006


@pytest.mark.parametrize(
    ("ours", "theirs", "ok"),
    [
        (1000, b"\x03\xe8", True),
        (1000, b"\x03\xe9", True),
        (1001, b"", True),
        (1005, b"", True),
        (1000, b"\x03\xea", False),
        (1002, b"\x03\xe8", False),
        (4000, b"\x0f\xa0", False),
    ],
)
def test_close_exc_ok_or_error(ours: int, theirs: bytes, ok: bool) -> None:
    conn = client()
    conn.send_close(0.0, ours)
    feed(conn, sf(CLOSE, theirs))
    exc = conn.close_exc()
    assert isinstance(exc, ConnectionClosedOK if ok else ConnectionClosedError)
    assert exc.code == (int.from_bytes(theirs, "big") if theirs else 1005)


def test_failure_after_close_sent_reports_the_failure() -> None:
    conn = server()
    conn.send_close(0.0, 1000, "bye")
    assert sent(conn) == b"\x88\x05\x03\xe8bye"
    feed(conn, cf(0x03))  # reserved opcode while waiting for the echo
    assert conn.failure is not None
    assert conn.close_transport
    assert sent(conn) == b""  # a close frame was already sent: no second one
    assert conn.close_sent == (1000, "bye")
    assert conn.close_code == 1002
    assert conn.close_reason == "reserved opcode 0x3"
    exc = conn.close_exc()
    assert isinstance(exc, ConnectionClosedError)
    assert exc.code == 1002


# --------------------------------------------------------------------- framing violations


@pytest.mark.parametrize(("b0", "bits"), [(0xC1, "0b100"), (0xA1, "0b010"), (0x91, "0b001")])
def test_reserved_bits_without_extension_fail_1002(b0: int, bits: str) -> None:
    conn = server()
    assert feed(conn, cf(b0, b"x")) == []
    data = assert_failed(conn, 1002)
    assert data == b"\x88\x19\x03\xeareserved bits " + bits.encode() + b" set"


@pytest.mark.parametrize("b0", [0xC1, 0xA2, 0x91, 0x40])
def test_reserved_bits_to_client_fail_1002(b0: int) -> None:
    conn = client()
    assert feed(conn, sf(b0, b"x")) == []
    assert_failed(conn, 1002)


@pytest.mark.parametrize("b0", [0xA1, 0x91, 0xE1])
def test_rsv2_rsv3_fail_even_with_compressor(b0: int) -> None:
    conn = server(compressor=ReversingCompressor())
    feed(conn, cf(b0, b"x"))
    assert_failed(conn, 1002)


@pytest.mark.parametrize("b0", [0xC9, 0xCA, 0xC8])
def test_rsv1_on_control_frame_fails_even_with_compressor(b0: int) -> None:
    conn = server(compressor=ReversingCompressor())
    feed(conn, cf(b0, b""))
    data = assert_failed(conn, 1002)
    assert data == b"\x88\x20\x03\xeaRSV bit set on a control frame"


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes_fail_1002(opcode: int) -> None:
    conn = server()
    assert feed(conn, cf(0x80 | opcode, b"x")) == []
    data = assert_failed(conn, 1002)
    reason = f"reserved opcode {opcode:#x}".encode()
    assert data == bytes((0x88, 2 + len(reason))) + b"\x03\xea" + reason


def test_unmasked_client_frame_fails_1002() -> None:
    conn = server()
    assert feed(conn, RFC_UNMASKED_HELLO) == []
    data = assert_failed(conn, 1002)
    assert data == b"\x88\x20\x03\xeaunmasked frame from the client"


def test_masked_server_frame_fails_1002() -> None:
    conn = client(mask_source=Masks(ZERO_MASK))
    assert feed(conn, RFC_MASKED_HELLO) == []
    data = assert_failed(conn, 1002)
    assert data == b"\x88\x9e\x00\x00\x00\x00\x03\xeamasked frame from the server"


@pytest.mark.parametrize("b0", [0x08, 0x09, 0x0A])
def test_fragmented_control_frames_fail_1002(b0: int) -> None:
    conn = server()
    feed(conn, cf(b0, b"x"))
    assert_failed(conn, 1002)


@pytest.mark.parametrize("b0", [CLOSE, PING, PONG])
def test_oversized_control_frames_fail_1002(b0: int) -> None:
    conn = server()
    # Only the header: the violation is detected before the payload arrives.
    feed(conn, bytes((b0, 0xFE, 0x00, 0x7E)))
    data = assert_failed(conn, 1002)
    assert data == b"\x88\x24\x03\xeacontrol frame payload of 126 bytes"


def test_non_minimal_length_fails_1002() -> None:
    conn = client()
    feed(conn, b"\x82\x7e\x00\x05hello")
    assert_failed(conn, 1002)


def test_control_frame_inside_message_failure_drops_message() -> None:
    conn = server()
    feed(conn, cf(TEXT, b"abc") + cf(0x09, b"bad"))
    assert_failed(conn, 1002)
    assert conn._rx.opcode is None
    assert conn._rx.text_parts == []


# ------------------------------------------------------------------------------ UTF-8


@pytest.mark.parametrize(
    "payload",
    [b"\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"ok\xc3"],
    ids=["ff", "bad-continuation", "overlong", "surrogate", "over-max", "truncated"],
)
def test_invalid_utf8_text_fails_1007(payload: bytes) -> None:
    conn = server()
    assert feed(conn, cf(FIN_TEXT, payload)) == []
    data = assert_failed(conn, 1007)
    assert data == b"\x88\x21\x03\xeftext message is not valid UTF-8"


def test_invalid_utf8_in_binary_is_fine() -> None:
    assert feed(server(), cf(FIN_BINARY, b"\xff\xfe")) == [Message(b"\xff\xfe")]


def test_two_byte_char_split_across_fragments() -> None:
    conn = server()
    assert feed(conn, cf(TEXT, b"caf\xc3")) == []
    assert conn.failure is None
    assert feed(conn, cf(FIN_CONT, b"\xa9")) == [Message("café")]


def test_four_byte_char_split_over_four_fragments() -> None:
    data = b"\xf0\x9f\x98\x80"  # U+1F600
    frames = cf(TEXT, data[:1]) + cf(CONT, data[1:2]) + cf(CONT, data[2:3])
    frames += cf(FIN_CONT, data[3:])
    assert feed(server(), frames) == [Message("\U0001f600")]


def test_invalid_utf8_in_first_fragment_fails_fast() -> None:
    conn = server()
    # A non-final first fragment: the final one has not arrived yet.
    assert feed(conn, cf(TEXT, b"abc\xff")) == []
    assert_failed(conn, 1007)
    assert feed(conn, cf(FIN_CONT, b"def")) == []
    assert sent(conn) == b""


def test_code_point_over_max_fails_fast() -> None:
    # Autobahn 6.4.1-style: 0xF4 0x90 starts a code point above U+10FFFF, fail at once.
    conn = server()
    feed(conn, cf(TEXT, b"\xce\xba") + cf(CONT, b"\xf4\x90"))
    assert_failed(conn, 1007)


def test_surrogate_split_across_fragments_fails() -> None:
    # CPython's incremental decoder waits for the third byte of 0xED 0xA0 (a surrogate) before
    # failing; the connection fails on the second byte already, before the final fragment.
    conn = server()
    feed(conn, cf(TEXT, b"\xed\xa0"))
    assert_failed(conn, 1007)


def test_surrogate_prefix_fails_on_its_second_byte_across_fragments() -> None:
    conn = server()
    feed(conn, cf(TEXT, b"ok\xed"))
    assert conn.failure is None  # ED alone may start U+D000..U+D7FF
    feed(conn, cf(CONT, b"\xa0"))
    assert_failed(conn, 1007)


def test_valid_ed_sequence_split_across_fragments_is_accepted() -> None:
    conn = server()
    assert feed(conn, cf(TEXT, b"\xed") + cf(CONT, b"\x9f") + cf(FIN_CONT, b"\xbf")) == [
        Message("\ud7ff")
    ]


def test_invalid_utf8_in_middle_fragment_fails() -> None:
    conn = server()
    feed(conn, cf(TEXT, b"a") + cf(CONT, b"\x80"))
    assert_failed(conn, 1007)


def test_text_truncated_at_final_fragment_fails_1007() -> None:
    conn = server()
    feed(conn, cf(TEXT, b"caf") + cf(FIN_CONT, b"\xc3"))
    assert_failed(conn, 1007)


def test_exceptions_carry_close_codes() -> None:
    assert InvalidUTF8("x").close_code == 1007
    assert PayloadTooBig("x").close_code == 1009
    assert TooManyFragments("x").close_code == 1009
    assert RemoteProtocolError("x").close_code == 1002


# ------------------------------------------------------------------------------ limits


def test_message_at_max_size_is_accepted() -> None:
    conn = server(max_size=10)
    assert feed(conn, cf(FIN_BINARY, b"x" * 10)) == [Message(b"x" * 10)]
    assert feed(conn, cf(BINARY, b"x" * 5) + cf(FIN_CONT, b"y" * 5)) == [
        Message(b"x" * 5 + b"y" * 5)
    ]


def test_single_frame_too_big_fails_on_header() -> None:
    conn = server(max_size=10)
    # Only the 2-byte header of an 11-byte binary frame: no mask, no payload yet.
    assert feed(conn, b"\x82\x8b") == []
    data = assert_failed(conn, 1009)
    reason = b"frame payload of 11 bytes exceeds the limit of 10"
    assert data == bytes((0x88, 2 + len(reason))) + b"\x03\xf1" + reason
    assert isinstance(conn.failure, PayloadTooBig)


def test_huge_64_bit_length_fails_without_allocating() -> None:
    conn = client(max_size=2**20)
    feed(conn, b"\x82\x7f" + (2**62).to_bytes(8, "big"))
    assert_failed(conn, 1009)
    assert conn._buf == b""


def test_fragmented_message_over_max_size_fails_1009() -> None:
    conn = server(max_size=10, max_buffered=100)
    assert feed(conn, cf(BINARY, b"a" * 4) + cf(CONT, b"b" * 4)) == []
    assert conn.failure is None
    assert feed(conn, cf(FIN_CONT, b"c" * 4)) == []
    data = assert_failed(conn, 1009)
    # Caught on the third frame's header: only 2 of the 10 bytes were left for it.
    assert data.endswith(b"\x03\xf1frame payload of 4 bytes exceeds the limit of 2")
    assert isinstance(conn.failure, PayloadTooBig)


def test_max_fragments_exactly_is_accepted() -> None:
    conn = server(max_fragments=3)
    data = cf(TEXT, b"a") + cf(CONT, b"b") + cf(FIN_CONT, b"c")
    assert feed(conn, data) == [Message("abc")]
    # The count restarts with each message.
    assert feed(conn, data) == [Message("abc")]


def test_max_fragments_exceeded_fails_1009() -> None:
    conn = server(max_fragments=3)
    data = cf(TEXT, b"a") + cf(CONT, b"b") + cf(CONT, b"c")
    assert feed(conn, data) == []
    assert conn.failure is None
    assert feed(conn, cf(CONT, b"d")) == []  # the 4th frame, not even the final one
    data = assert_failed(conn, 1009)
    assert data == b"\x88\x1f\x03\xf1message in more than 3 frames"
    assert isinstance(conn.failure, TooManyFragments)


def test_max_buffered_exceeded_fails_1009() -> None:
    conn = server(max_size=100, max_buffered=5)
    assert conn.max_buffered == 5
    assert feed(conn, cf(BINARY, b"abc")) == []
    assert feed(conn, cf(CONT, b"def")) == []
    data = assert_failed(conn, 1009)
    assert data.endswith(b"unfinished message over 5 buffered bytes")


def test_max_buffered_does_not_limit_single_frames() -> None:
    conn = server(max_size=100, max_buffered=5)
    assert feed(conn, cf(FIN_BINARY, b"x" * 50)) == [Message(b"x" * 50)]


def test_flood_of_tiny_fragments_stops_at_max_fragments() -> None:
    conn = server(max_fragments=1000)
    fragment = cf(CONT, b"a")
    flood = cf(TEXT, b"a") + fragment * 99_998 + cf(FIN_CONT, b"a")
    assert len(flood) == 100_000 * 7
    assert feed(conn, flood) == []
    data = assert_failed(conn, 1009)
    assert data == b"\x88\x22\x03\xf1message in more than 1000 frames"
    assert conn._rx.opcode is None  # the unfinished message was dropped
    assert conn._buf == b""  # the rest of the flood was discarded, not buffered
    # Anything after the failure is ignored, even a valid message.
    assert feed(conn, fragment * 1000 + RFC_MASKED_HELLO) == []
    assert conn._buf == b""
    assert sent(conn) == b""


def test_flood_fed_frame_by_frame_fails_at_the_limit() -> None:
    conn = server(max_fragments=1000)
    fragment = cf(CONT, b"a")
    assert feed(conn, cf(TEXT, b"a")) == []
    for _ in range(999):
        conn.receive_data(fragment, 0.0)
    assert conn.failure is None
    conn.receive_data(fragment, 0.0)  # frame 1001
    assert_failed(conn, 1009)
    for _ in range(100):
        conn.receive_data(fragment, 0.0)
    assert conn._buf == b""
    assert sent(conn) == b""


# ---------------------------------------------------------------------- after a failure


def test_after_failure_input_is_ignored_and_close_sent_once() -> None:
    conn = server()
    feed(conn, cf(FIN_TEXT, b"before") + cf(0x87) + cf(FIN_TEXT, b"after same chunk"))
    # Events before the bad frame are delivered; the rest of the chunk is dropped.
    assert conn.events_received() == []
    data = sent(conn)
    assert data == b"\x88\x15\x03\xeareserved opcode 0x7"
    for junk in (cf(FIN_TEXT, b"after"), cf(PING, b"p"), cf(CLOSE, b"\x03\xe8"), b"\xff" * 20):
        assert feed(conn, junk) == []
    conn.on_timer(1.0)
    assert sent(conn) == b""
    assert conn.close_rcvd is None
    assert conn.close_code == 1002
    conn.on_timer(DEFAULT_CLOSE_TIMEOUT + 1.0)
    conn.receive_eof()
    assert conn.state is State.CLOSED
    assert conn.close_code == 1002
    assert isinstance(conn.close_exc(), ConnectionClosedError)


def test_events_before_failure_are_kept() -> None:
    conn = server()
    assert feed(conn, cf(FIN_TEXT, b"good") + cf(PING, b"p") + cf(0x83)) == [
        Message("good"),
        Ping(b"p"),
    ]
    assert sent(conn) == b"\x8a\x01p" + b"\x88\x15\x03\xeareserved opcode 0x3"


def test_client_failure_close_frame_is_masked() -> None:
    conn = client()  # the RFC mask
    feed(conn, sf(0x83))
    data = assert_failed(conn, 1002)
    assert data == b"\x88\x95" + MASK + xor(b"\x03\xeareserved opcode 0x3", MASK)


def test_long_failure_reason_is_truncated_to_fit_a_control_frame() -> None:
    conn = server()
    conn._fail(RemoteProtocolError("é" * 200), 0.0)
    data = sent(conn)
    assert data[:4] == b"\x88\x7c\x03\xea"  # 2 + 122 bytes: no half character
    assert data[4:].decode() == "é" * 61
    assert conn.close_reason == "é" * 61


# ------------------------------------------------------------------------ compression


class ReversingCompressor:
    """A MessageCompressor whose "compression" reverses each fragment: reversible, visible."""

    def __init__(self, threshold: int = 0) -> None:
        self.threshold = threshold
        self.encoded: list[tuple[bytes, bool]] = []
        self.decoded: list[tuple[bytes, bool, int]] = []

    def should_compress(self, size: int) -> bool:
        return size >= self.threshold

    def encode(self, data: bytes, *, fin: bool) -> bytes:
        self.encoded.append((data, fin))
        return data[::-1]

    def decode(self, data: bytes, *, fin: bool, max_size: int) -> bytes:
        self.decoded.append((data, fin, max_size))
        if len(data) > max_size:
            raise PayloadTooBig(f"decompressed over {max_size} bytes")
        return data[::-1]


def test_compressed_send_sets_rsv1() -> None:
    compressor = ReversingCompressor(threshold=3)
    conn = server(compressor=compressor)
    conn.send_message("Hello")
    conn.send_message(b"ab")  # under the threshold: sent as is
    assert sent(conn) == b"\xc1\x05olleH\x82\x02ab"
    assert compressor.encoded == [(b"Hello", True)]


def test_compressed_fragments_rsv1_on_first_frame_only() -> None:
    compressor = ReversingCompressor(threshold=10**9)  # fragments ignore the threshold
    conn = server(compressor=compressor)
    conn.send_fragment("Hel", fin=False)
    conn.send_fragment("lo", fin=False)
    conn.send_fragment("!", fin=True)
    assert sent(conn) == b"\x41\x03leH\x00\x02ol\x80\x01!"
    assert compressor.encoded == [(b"Hel", False), (b"lo", False), (b"!", True)]


def test_receive_compressed_single_frame() -> None:
    compressor = ReversingCompressor()
    conn = server(compressor=compressor, max_size=100)
    assert feed(conn, cf(0xC1, b"olleH")) == [Message("Hello")]
    assert compressor.decoded == [(b"olleH", True, 100)]


def test_receive_compressed_binary_single_frame() -> None:
    conn = client(compressor=ReversingCompressor())
    assert feed(conn, sf(0xC2, b"\x01\x02")) == [Message(b"\x02\x01")]


def test_receive_compressed_fragments_decode_with_fin_and_remaining_size() -> None:
    compressor = ReversingCompressor()
    conn = server(compressor=compressor, max_size=100)
    data = cf(0x41, b"leH") + cf(PING, b"p") + cf(CONT, b"ol") + cf(FIN_CONT, b"!")
    assert feed(conn, data) == [Ping(b"p"), Message("Hello!")]
    assert compressor.decoded == [(b"leH", False, 100), (b"ol", False, 97), (b"!", True, 95)]


def test_uncompressed_message_with_compressor_is_not_decoded() -> None:
    compressor = ReversingCompressor()
    conn = server(compressor=compressor)
    assert feed(conn, cf(FIN_TEXT, b"plain") + cf(TEXT, b"a") + cf(FIN_CONT, b"b")) == [
        Message("plain"),
        Message("ab"),
    ]
    assert compressor.decoded == []


def test_rsv1_on_continuation_fails_1002() -> None:
    conn = server(compressor=ReversingCompressor())
    feed(conn, cf(0x41, b"a") + cf(0xC0, b"b"))
    data = assert_failed(conn, 1002)
    assert data == b"\x88\x22\x03\xeaRSV1 set on a continuation frame"


def test_decompressed_too_big_fails_1009() -> None:
    conn = server(compressor=ReversingCompressor(), max_size=4, max_buffered=100)
    feed(conn, cf(0x41, b"abc") + cf(FIN_CONT, b"de"))
    data = assert_failed(conn, 1009)
    assert data.endswith(b"decompressed over 1 bytes")


class RejectingCompressor(ReversingCompressor):
    """A compressor whose inflater finds the data corrupt, as zlib would."""

    def decode(self, data: bytes, *, fin: bool, max_size: int) -> bytes:
        raise RemoteProtocolError("invalid compressed data")


def test_corrupt_compressed_data_fails_1002() -> None:
    conn = client(compressor=RejectingCompressor(), mask_source=Masks(ZERO_MASK))
    assert feed(conn, sf(0xC2, b"junk") + sf(FIN_TEXT, b"never")) == []
    data = assert_failed(conn, 1002)
    assert data == b"\x88\x99\x00\x00\x00\x00\x03\xeainvalid compressed data"


def test_compressed_invalid_utf8_fails_fast() -> None:
    conn = server(compressor=ReversingCompressor())
    feed(conn, cf(0x41, b"\xff"))
    assert_failed(conn, 1007)


def test_compressed_pair_round_trip() -> None:
    pair = Pair(compressor=ReversingCompressor(threshold=4))
    pair.client.send_message("compress me")
    pair.client.send_message("no")
    pair.client.send_fragment(b"frag", fin=False)
    pair.client.send_fragment(b"ment", fin=True)
    assert pair.c2s() == [Message("compress me"), Message("no"), Message(b"fragment")]
    pair.server.send_message(b"\x00\x01\x02\x03\x04")
    assert pair.s2c() == [Message(b"\x00\x01\x02\x03\x04")]


# ------------------------------------------------------------------------ split feeding


STREAM = (
    RFC_MASKED_HELLO
    + cf(TEXT, b"caf\xc3")
    + cf(PING, b"ping")
    + cf(FIN_CONT, b"\xa9")
    + cf(FIN_BINARY, bytes(300))
    + cf(PONG, b"")
    + cf(FIN_TEXT, b"")
    + cf(CLOSE, b"\x03\xe8bye")
)
STREAM_EVENTS = [
    Message("Hello"),
    Ping(b"ping"),
    Message("café"),
    Message(bytes(300)),
    Pong(b""),
    Message(""),
    CloseReceived(1000, "bye"),
]


def test_stream_in_one_chunk() -> None:
    conn = server()
    assert feed(conn, STREAM) == STREAM_EVENTS
    assert sent(conn) == b"\x8a\x04ping\x88\x05\x03\xe8bye"


def test_byte_at_a_time_gives_the_same_events() -> None:
    conn = server()
    events: list[Event] = []
    for i in range(len(STREAM)):
        events += feed(conn, STREAM[i : i + 1])
    assert events == STREAM_EVENTS
    assert sent(conn) == b"\x8a\x04ping\x88\x05\x03\xe8bye"


def test_byte_at_a_time_failure_is_detected_at_the_same_frame() -> None:
    stream = cf(FIN_TEXT, b"ok") + cf(FIN_TEXT, b"\xc3(") + cf(FIN_TEXT, b"never")
    whole = server()
    whole_events = feed(whole, stream)
    split = server()
    split_events: list[Event] = []
    for i in range(len(stream)):
        split_events += feed(split, stream[i : i + 1])
    assert whole_events == split_events == [Message("ok")]
    assert sent(whole) == sent(split) == b"\x88\x21\x03\xeftext message is not valid UTF-8"


@st.composite
def frame_stream(draw: st.DrawFn) -> tuple[bytes, list[Event], bytes]:
    """Client frames with random masks, the events they give, and the pongs they cause."""
    data = b""
    events: list[Event] = []
    pongs = b""
    for _ in range(draw(st.integers(0, 6))):
        mask = draw(st.binary(min_size=4, max_size=4))
        kind = draw(st.sampled_from(["text", "binary", "ping", "pong", "fragmented"]))
        if kind == "text":
            text = draw(st.text(max_size=30))
            data += cf(FIN_TEXT, text.encode(), mask)
            events.append(Message(text))
        elif kind == "binary":
            payload = draw(st.binary(max_size=300))
            data += cf(FIN_BINARY, payload, mask)
            events.append(Message(payload))
        elif kind in ("ping", "pong"):
            payload = draw(st.binary(max_size=125))
            data += cf(PING if kind == "ping" else PONG, payload, mask)
            events.append(Ping(payload) if kind == "ping" else Pong(payload))
            if kind == "ping":
                pongs += sf(PONG, payload)
        else:
            text = draw(st.text(min_size=0, max_size=20))
            encoded = text.encode()
            cuts = sorted(draw(st.lists(st.integers(0, len(encoded)), max_size=4)))
            bounds = [0, *cuts, len(encoded)]
            pieces = [encoded[a:b] for a, b in itertools.pairwise(bounds)]
            for i, piece in enumerate(pieces):
                b0 = (TEXT if i == 0 else CONT) | (0x80 if i == len(pieces) - 1 else 0)
                data += cf(b0, piece, mask)
                if i < len(pieces) - 1 and draw(st.booleans()):
                    data += cf(PING, b"mid", mask)
                    events.append(Ping(b"mid"))
                    pongs += sf(PONG, b"mid")
            events.append(Message(text))
    if draw(st.booleans()):
        data += cf(CLOSE, b"\x03\xe8", ZERO_MASK) + draw(st.binary(max_size=10))
        events.append(CloseReceived(1000, ""))
        pongs += b"\x88\x02\x03\xe8"
    return data, events, pongs


@settings(max_examples=200, deadline=None)
@given(stream=frame_stream(), data=st.data())
def test_random_split_points_give_the_same_events(
    stream: tuple[bytes, list[Event], bytes], data: st.DataObject
) -> None:
    wire, expected_events, expected_out = stream
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=12)))
    bounds = [0, *cuts, len(wire)]
    conn = server()
    events: list[Event] = []
    for a, b in itertools.pairwise(bounds):
        events += feed(conn, wire[a:b])
    assert events == expected_events
    assert sent(conn) == expected_out
    assert conn.failure is None


# ----------------------------------------------------------------------- wsproto oracle


def test_wsproto_client_to_our_server() -> None:
    ws = WsprotoConnection(ConnectionType.CLIENT)
    wire = ws.send(wsevents.TextMessage("héllo"))
    wire += ws.send(wsevents.BytesMessage(b"\x00\x01" * 100))
    wire += ws.send(wsevents.TextMessage("frag", message_finished=False))
    wire += ws.send(wsevents.Ping(b"mid"))
    wire += ws.send(wsevents.TextMessage("ment", message_finished=True))
    wire += ws.send(wsevents.CloseConnection(1001, "done"))
    conn = server()
    assert feed(conn, wire) == [
        Message("héllo"),
        Message(b"\x00\x01" * 100),
        Ping(b"mid"),
        Message("fragment"),
        CloseReceived(1001, "done"),
    ]
    ws.receive_data(sent(conn))
    answers = list(ws.events())
    assert answers == [wsevents.Pong(b"mid"), wsevents.CloseConnection(1001, "done")]


def test_our_client_to_wsproto_server() -> None:
    ws = WsprotoConnection(ConnectionType.SERVER)
    conn = client()
    conn.send_message("Hello")
    conn.send_message(b"\xff" * 70000)
    conn.send_fragment("a", fin=False)
    conn.send_ping(b"p")
    conn.send_fragment("b", fin=True)
    conn.send_close(0.0, 1000, "bye")
    ws.receive_data(sent(conn))
    got = list(ws.events())
    assert got[0] == wsevents.TextMessage("Hello")
    assert isinstance(got[1], wsevents.BytesMessage) and got[1].message_finished
    assert got[1].data == b"\xff" * 70000
    assert got[2:] == [
        wsevents.TextMessage("a", frame_finished=True, message_finished=False),
        wsevents.Ping(b"p"),
        wsevents.TextMessage("b", frame_finished=True, message_finished=True),
        wsevents.CloseConnection(1000, "bye"),
    ]


# ----------------------------------------------------------------------------- logging


def test_debug_logging(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="websocket.protocol")
    conn = server(close_timeout=1.0)
    assert conn.debug
    conn.send_message("x")
    feed(conn, RFC_MASKED_HELLO)
    conn.send_close(0.0)
    conn.on_timer(1.0)
    conn.receive_eof()
    messages = [record.getMessage() for record in caplog.records]
    assert "> frame opcode=1 fin=True rsv1=False len=1" in messages
    assert "< frame opcode=1 fin=True rsv1=False len=5" in messages
    assert "x close timeout: closing the TCP connection" in messages
    assert "= connection closed: 1006 " in messages
    assert all("Hello" not in m for m in messages)  # no payloads in logs


def test_failure_is_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="websocket.protocol")
    conn = server()
    assert not conn.debug
    feed(conn, cf(0x83))
    [record] = caplog.records
    assert record.levelno == logging.INFO
    assert record.getMessage() == "! failing WebSocket connection (1002): reserved opcode 0x3"


def test_prepared_message_shares_one_frame_between_server_connections() -> None:
    prepared = PreparedMessage("Hello")
    first, second = server(), server()
    first.send_message(prepared)
    second.send_message(prepared)
    out_first, out_second = first.data_to_send(), second.data_to_send()
    assert out_first == [b"\x81\x05Hello"]
    assert out_first[0] is out_second[0]  # the very same bytes object


def test_prepared_binary_message_frame() -> None:
    conn = server()
    conn.send_message(PreparedMessage(b"\x00" * 126))
    assert sent(conn) == b"\x82\x7e\x00\x7e" + b"\x00" * 126


def test_prepared_message_is_compressed_per_connection_when_negotiated() -> None:
    compressor = ReversingCompressor(threshold=3)
    conn = server(compressor=compressor)
    conn.send_message(PreparedMessage("Hello"))
    conn.send_message(PreparedMessage("ab"))  # under the threshold: the shared frame
    assert sent(conn) == b"\xc1\x05olleH\x81\x02ab"


def test_prepared_message_from_a_client_is_masked() -> None:
    conn = client()
    conn.send_message(PreparedMessage("Hello"))
    assert sent(conn) == b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"


def test_prepared_message_after_close_raises() -> None:
    conn = server()
    conn.send_close(0.0)
    with pytest.raises(ConnectionClosed):
        conn.send_message(PreparedMessage("late"))


# ------------------------------------------------------------- receive fast path vs reference

#: Byte streams that cross every branch of Protocol._simple_frames and its fall-backs.
FAST_PATH_CASES = {
    "binary 0, 125, 126, 1000 and text": cf(0x82)
    + cf(0x82, b"a" * 125)
    + cf(0x82, b"b" * 126)
    + cf(0x82, bytes(range(256)) * 4)
    + cf(0x81, "héllo €".encode()),
    "ping between messages": cf(0x82, b"x") + cf(0x89, b"p") + cf(0x81, b"y"),
    "fragmented message then a whole one": cf(0x01, b"ab") + cf(0x80, b"cd") + cf(0x82, b"z"),
    "invalid UTF-8 after a message": cf(0x82, b"ok") + cf(0x81, b"\xff\xfe"),
    "non-minimal 16-bit length": cf(0x82, b"ok") + b"\x82\xfe\x00\x05" + MASK + b"hello",
    "unmasked frame to a server": cf(0x82, b"ok") + sf(0x82, b"no"),
    "RSV1 without an extension": cf(0x82, b"ok") + cf(0xC2, b"no"),
    "64-bit length": cf(0x82, b"c" * 70000),
    "close": cf(0x82, b"ok") + cf(0x88, b"\x03\xe8bye") + cf(0x82, b"after"),
}


def _outcome(conn: Protocol, chunks: list[bytes]) -> tuple[Any, ...]:
    events: list[Event] = []
    for chunk in chunks:
        conn.receive_data(chunk, 0.0)
        events += conn.events_received()
    return (
        events,
        b"".join(conn.data_to_send()),
        conn.failure_pending,
        repr(conn.failure),
        conn.close_code,
        state_of(conn),
    )


@pytest.mark.parametrize("c_path", [True, False], ids=["seam as built", "pure Python"])
@pytest.mark.parametrize("name", list(FAST_PATH_CASES))
def test_receive_fast_path_matches_the_reference_path(
    name: str, c_path: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path (debug off) gives the same events, output and failure as the frame-by-frame
    path (debug on, parse_frame + _handle_frame), whole and split at every 7th byte, with the C
    speedup (when built) and with the pure-Python reference."""
    if not c_path:
        monkeypatch.setattr(frames_module, "_c_simple_frames", None)
        monkeypatch.setattr(frames_module, "_c_unmask_at", None)
    wire = FAST_PATH_CASES[name]
    splits = [[wire]] + [[wire[:i], wire[i:]] for i in range(1, len(wire), 7)]
    for chunks in splits:
        fast, reference = server(), server()
        fast.debug, reference.debug = False, True
        assert _outcome(fast, chunks) == _outcome(reference, chunks), (name, len(chunks[0]))
