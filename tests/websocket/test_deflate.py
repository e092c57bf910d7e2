"""Tests for websocket.deflate: permessage-deflate codec and negotiation (RFC 7692)."""

from __future__ import annotations

import tracemalloc
import zlib

import pytest
from websockets.extensions.permessage_deflate import PerMessageDeflate as TheirDeflate
from websockets.frames import Frame, Opcode

from websocket.deflate import (
    DeflateOptions,
    PerMessageDeflate,
    client_accept,
    client_offer,
    server_negotiate,
)
from websocket.exceptions import (
    LocalProtocolError,
    NegotiationError,
    PayloadTooBig,
    RemoteProtocolError,
)
from websocket.protocol import MessageCompressor

MAX = 2**20


def pair(**params: object) -> tuple[PerMessageDeflate, PerMessageDeflate]:
    """A client and a server instance agreeing on ``params``."""
    client = PerMessageDeflate(is_server=False, **params)  # type: ignore[arg-type]
    server = PerMessageDeflate(is_server=True, **params)  # type: ignore[arg-type]
    return client, server


# ---------------------------------------------------------------------- options


@pytest.mark.parametrize(
    "kwargs",
    [
        {"server_max_window_bits": 8},  # zlib cannot compress with an 8-bit window
        {"client_max_window_bits": 8},
        {"server_max_window_bits": 16},
        {"client_max_window_bits": 7},
        {"compress_level": 10},
        {"compress_level": -2},
        {"min_size": -1},
    ],
)
def test_options_validated(kwargs: dict[str, int]) -> None:
    with pytest.raises(LocalProtocolError):
        DeflateOptions(**kwargs)  # type: ignore[arg-type]


def test_options_defaults() -> None:
    options = DeflateOptions()
    assert options.min_size == 32
    assert options.compress_level == 6
    assert options.server_max_window_bits is None
    assert options.client_max_window_bits is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"is_server": True, "server_max_window_bits": 8},  # local window of 8 bits
        {"is_server": False, "client_max_window_bits": 8},
        {"is_server": False, "server_max_window_bits": 16},
        {"is_server": True, "client_max_window_bits": 7},
    ],
)
def test_instance_validated(kwargs: dict[str, int]) -> None:
    with pytest.raises(LocalProtocolError):
        PerMessageDeflate(**kwargs)  # type: ignore[arg-type]


def test_instance_satisfies_protocol_and_roles() -> None:
    compressor: MessageCompressor = PerMessageDeflate(is_server=False)
    assert compressor.should_compress(32)
    assert not compressor.should_compress(31)
    server = PerMessageDeflate(
        is_server=True, server_no_context_takeover=True, client_max_window_bits=10
    )
    assert server.local_no_context_takeover and not server.remote_no_context_takeover
    assert (server.local_max_window_bits, server.remote_max_window_bits) == (15, 10)
    client = PerMessageDeflate(
        is_server=False, server_no_context_takeover=True, client_max_window_bits=10
    )
    assert client.remote_no_context_takeover and not client.local_no_context_takeover
    assert (client.local_max_window_bits, client.remote_max_window_bits) == (10, 15)
    assert "is_server=False" in repr(client)


# ------------------------------------------------------------- literal bytes

# RFC 7692 section 7.2.3: (fragments sent, compressed payloads), each message on a fresh pair.
RFC_EXAMPLES = [
    # 7.2.3.1: "Hello" in one frame, and in two fragments.
    ([b"Hello"], [b"\xf2\x48\xcd\xc9\xc9\x07\x00"]),
    ([b"Hel", b"lo"], [b"\xf2\x48\xcd\x01\x00\x00\x00\xff\xff", b"\xca\xc9\x07\x00"]),
    # 7.2.3.6: an empty message is a single 0x00.
    ([b""], [b"\x00"]),
]


@pytest.mark.parametrize(("fragments", "wire"), RFC_EXAMPLES)
def test_literal_bytes_both_ways(fragments: list[bytes], wire: list[bytes]) -> None:
    client, server = pair()
    last = len(fragments) - 1
    assert [client.encode(f, fin=i == last) for i, f in enumerate(fragments)] == wire
    assert [server.decode(w, fin=i == last, max_size=MAX) for i, w in enumerate(wire)] == fragments


def test_literal_context_takeover() -> None:
    # RFC 7692 section 7.2.3.2: the second "Hello" refers back to the first.
    client, server = pair()
    assert client.encode(b"Hello", fin=True) == b"\xf2\x48\xcd\xc9\xc9\x07\x00"
    assert client.encode(b"Hello", fin=True) == b"\xf2\x00\x11\x00\x00"
    assert server.decode(b"\xf2\x48\xcd\xc9\xc9\x07\x00", fin=True, max_size=MAX) == b"Hello"
    assert server.decode(b"\xf2\x00\x11\x00\x00", fin=True, max_size=MAX) == b"Hello"


@pytest.mark.parametrize(
    "wire",
    [
        # 7.2.3.3: a stored (uncompressed) block.
        b"\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00",
        # 7.2.3.4: a block with BFINAL set.
        b"\xf3\x48\xcd\xc9\xc9\x07\x00\x00",
        # 7.2.3.5: two deflate blocks in one message.
        b"\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00",
    ],
)
def test_literal_decode_only(wire: bytes) -> None:
    _, server = pair()
    assert server.decode(wire, fin=True, max_size=MAX) == b"Hello"
    # The stream goes on after each of them (BFINAL starts a new stream).
    assert server.decode(b"\xf2\x48\xcd\xc9\xc9\x07\x00", fin=True, max_size=MAX) == b"Hello"


def test_compress_level_zero_is_stored_block() -> None:
    client = PerMessageDeflate(is_server=False, compress_level=0)
    assert client.encode(b"Hello", fin=True) == b"\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00"


# ------------------------------------------------------------ context takeover


def test_context_takeover_improves_ratio_both_directions() -> None:
    message = bytes(range(256)) * 4  # 1 KiB that compresses poorly on its own
    client, server = pair()
    for sender, receiver in ((client, server), (server, client)):
        first = sender.encode(message, fin=True)
        second = sender.encode(message, fin=True)
        assert len(second) < len(first) // 10
        assert receiver.decode(first, fin=True, max_size=MAX) == message
        assert receiver.decode(second, fin=True, max_size=MAX) == message


@pytest.mark.parametrize("side", ["server", "client"])
def test_no_context_takeover_resets(side: str) -> None:
    message = bytes(range(256)) * 4
    client, server = pair(**{f"{side}_no_context_takeover": True})
    sender, receiver = (server, client) if side == "server" else (client, server)
    first = sender.encode(message, fin=True)
    assert sender.encode(message, fin=True) == first
    assert receiver.decode(first, fin=True, max_size=MAX) == message
    assert receiver.decode(first, fin=True, max_size=MAX) == message
    # The other direction still takes context over.
    back = receiver.encode(message, fin=True)
    assert len(receiver.encode(message, fin=True)) < len(back)


def test_fragmented_roundtrip() -> None:
    client, server = pair()
    parts = [b"a" * 100, b"", b"b" * 100, b"c" * 50]
    wire = [client.encode(p, fin=i == 3) for i, p in enumerate(parts)]
    assert all(w.endswith(b"\x00\x00\xff\xff") for w in wire[:-1])
    assert not wire[-1].endswith(b"\x00\x00\xff\xff")
    out = [server.decode(w, fin=i == 3, max_size=MAX) for i, w in enumerate(wire)]
    assert b"".join(out) == b"".join(parts)


def test_eight_bit_remote_window_is_inflated_with_nine() -> None:
    # A zlib peer told to use 8 bits really uses 9: distances up to 512 must inflate.
    encoder = zlib.compressobj(9, zlib.DEFLATED, -9)
    message = bytes(range(256)) * 2 + b"x" + bytes(range(256)) * 2
    wire = (encoder.compress(message) + encoder.flush(zlib.Z_SYNC_FLUSH))[:-4]
    server = PerMessageDeflate(is_server=True, client_max_window_bits=8)
    assert server.decode(wire, fin=True, max_size=MAX) == message


# ------------------------------------------------------------------ bad input


def test_max_size() -> None:
    client, server = pair()
    wire = client.encode(b"x" * 1000, fin=True)
    with pytest.raises(PayloadTooBig) as excinfo:
        server.decode(wire, fin=True, max_size=999)
    assert excinfo.value.close_code == 1009
    client, server = pair()
    wire = client.encode(b"x" * 1000, fin=True)
    assert server.decode(wire, fin=True, max_size=1000) == b"x" * 1000
    # A negative budget (message already over) is refused, not unbounded.
    client, server = pair()
    with pytest.raises(PayloadTooBig):
        server.decode(client.encode(b"x", fin=True), fin=True, max_size=-1)


def test_deflate_bomb_is_bounded() -> None:
    inflated = 50 * 2**20
    encoder = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(2**20)
    bomb = b"".join(encoder.compress(chunk) for _ in range(inflated // len(chunk)))
    bomb += encoder.flush(zlib.Z_SYNC_FLUSH)
    assert len(bomb) < 64 * 1024  # "a few KB" of compressed zeros
    _, server = pair()
    max_size = 2**20
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooBig):
            server.decode(bomb[:-4], fin=True, max_size=max_size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * max_size < inflated


@pytest.mark.parametrize(
    "wire",
    [
        b"\xff\xff\xff\xff",  # reserved block type
        b"\x00\x05\x00\x00\x00Hello",  # stored block with a bad NLEN
    ],
)
def test_corrupt_data(wire: bytes) -> None:
    _, server = pair()
    with pytest.raises(RemoteProtocolError) as excinfo:
        server.decode(wire, fin=True, max_size=MAX)
    assert excinfo.value.close_code == 1002


def test_data_after_final_block() -> None:
    final_block = b"\xf3\x48\xcd\xc9\xc9\x07\x00"  # "Hello" with BFINAL set
    for fin in (True, False):
        _, server = pair()
        with pytest.raises(RemoteProtocolError):
            server.decode(final_block + b"\x05", fin=fin, max_size=MAX)
    for padding in (b"", b"\x00"):
        _, server = pair()
        assert server.decode(final_block + padding, fin=False, max_size=MAX) == b"Hello"
        assert server.decode(b"", fin=True, max_size=MAX) == b""
        # A new deflate stream follows.
        assert server.decode(b"\xf2\x48\xcd\xc9\xc9\x07\x00", fin=True, max_size=MAX) == b"Hello"


# ------------------------------------------------------------------ interop

INTEROP_PARAMS = [
    {},
    {"server_no_context_takeover": True},
    {"client_no_context_takeover": True},
    {"server_no_context_takeover": True, "client_no_context_takeover": True},
    {"server_max_window_bits": 10, "client_max_window_bits": 12},
]


def theirs(is_server: bool, params: dict[str, object]) -> TheirDeflate:
    """websockets' instance for the same agreement."""
    local, remote = ("server", "client") if is_server else ("client", "server")
    return TheirDeflate(
        remote_no_context_takeover=bool(params.get(f"{remote}_no_context_takeover", False)),
        local_no_context_takeover=bool(params.get(f"{local}_no_context_takeover", False)),
        remote_max_window_bits=int(params.get(f"{remote}_max_window_bits", 15)),  # type: ignore[call-overload]
        local_max_window_bits=int(params.get(f"{local}_max_window_bits", 15)),  # type: ignore[call-overload]
    )


MESSAGES = [b"Hello, world! " * 20, b"Hello, world! " * 20, bytes(range(256)) * 8, b"x"]


@pytest.mark.parametrize("params", INTEROP_PARAMS)
@pytest.mark.parametrize("we_are_server", [True, False])
def test_interop_with_websockets(params: dict[str, object], we_are_server: bool) -> None:
    ours = PerMessageDeflate(is_server=we_are_server, **params)  # type: ignore[arg-type]
    peer = theirs(not we_are_server, params)
    for message in MESSAGES:
        # Ours to theirs, in one frame.
        frame = Frame(Opcode.BINARY, ours.encode(message, fin=True), rsv1=True)
        assert peer.decode(frame, max_size=MAX).data == message
        # Theirs to ours, in one frame.
        wire = peer.encode(Frame(Opcode.BINARY, message)).data
        assert ours.decode(bytes(wire), fin=True, max_size=MAX) == message
    # Fragmented messages, both ways.
    half = len(MESSAGES[2]) // 2
    first = Frame(Opcode.BINARY, ours.encode(MESSAGES[2][:half], fin=False), fin=False, rsv1=True)
    last = Frame(Opcode.CONT, ours.encode(MESSAGES[2][half:], fin=True))
    out = bytes(peer.decode(first, max_size=MAX).data) + bytes(peer.decode(last, max_size=MAX).data)
    assert out == MESSAGES[2]
    wire1 = peer.encode(Frame(Opcode.BINARY, MESSAGES[2][:half], fin=False)).data
    wire2 = peer.encode(Frame(Opcode.CONT, MESSAGES[2][half:])).data
    out = ours.decode(bytes(wire1), fin=False, max_size=MAX)
    out += ours.decode(bytes(wire2), fin=True, max_size=MAX)
    assert out == MESSAGES[2]


# ---------------------------------------------------------------- negotiation


@pytest.mark.parametrize(
    ("options", "offer"),
    [
        (DeflateOptions(), "permessage-deflate; client_max_window_bits"),
        (
            DeflateOptions(client_max_window_bits=10, server_max_window_bits=12),
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10",
        ),
        (
            DeflateOptions(server_no_context_takeover=True, client_no_context_takeover=True),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "client_max_window_bits",
        ),
    ],
)
def test_client_offer(options: DeflateOptions, offer: str) -> None:
    assert client_offer(options) == offer


def settings(pmd: PerMessageDeflate) -> tuple[bool, bool, int, int]:
    return (
        pmd.server_no_context_takeover,
        pmd.client_no_context_takeover,
        pmd.server_max_window_bits,
        pmd.client_max_window_bits,
    )


@pytest.mark.parametrize(
    ("options", "answer", "expected"),
    [
        (DeflateOptions(), ["permessage-deflate"], (False, False, 15, 15)),
        (
            DeflateOptions(),
            ["permessage-deflate; client_max_window_bits=10; server_max_window_bits=8"],
            (False, False, 8, 10),
        ),
        (
            DeflateOptions(),
            ["permessage-deflate; server_no_context_takeover; client_no_context_takeover"],
            (True, True, 15, 15),
        ),
        (
            DeflateOptions(client_no_context_takeover=True),
            ["permessage-deflate"],
            (False, True, 15, 15),
        ),
        (
            DeflateOptions(server_no_context_takeover=True, server_max_window_bits=12),
            ["permessage-deflate; server_no_context_takeover; server_max_window_bits=11"],
            (True, False, 11, 15),
        ),
        (DeflateOptions(client_max_window_bits=10), ["permessage-deflate"], (False, False, 15, 10)),
        (
            DeflateOptions(client_max_window_bits=10),
            ["permessage-deflate; client_max_window_bits=9"],
            (False, False, 15, 9),
        ),
    ],
)
def test_client_accept(
    options: DeflateOptions, answer: list[str], expected: tuple[bool, bool, int, int]
) -> None:
    pmd = client_accept(answer, options)
    assert pmd is not None and not pmd.is_server
    assert settings(pmd) == expected


def test_client_accept_no_extension() -> None:
    assert client_accept([], DeflateOptions()) is None


@pytest.mark.parametrize(
    ("options", "answer"),
    [
        (DeflateOptions(), "x-webkit-deflate-frame"),
        (DeflateOptions(), "permessage-deflate, x-other"),
        (DeflateOptions(), "permessage-deflate, permessage-deflate"),
        (DeflateOptions(), "permessage-deflate; foo"),
        (DeflateOptions(), "permessage-deflate; server_no_context_takeover=1"),
        (
            DeflateOptions(),
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        ),
        (DeflateOptions(), "permessage-deflate; client_max_window_bits"),  # offers only
        (DeflateOptions(), "permessage-deflate; client_max_window_bits=16"),
        (DeflateOptions(), "permessage-deflate; client_max_window_bits=010"),
        (DeflateOptions(), "permessage-deflate; client_max_window_bits=8"),  # zlib cannot
        (DeflateOptions(), "permessage-deflate; server_max_window_bits"),
        (
            DeflateOptions(client_max_window_bits=10),
            "permessage-deflate; client_max_window_bits=11",
        ),
        (DeflateOptions(server_max_window_bits=10), "permessage-deflate"),
        (
            DeflateOptions(server_max_window_bits=10),
            "permessage-deflate; server_max_window_bits=11",
        ),
        (DeflateOptions(server_no_context_takeover=True), "permessage-deflate"),
        (DeflateOptions(), "permessage-deflate;"),
    ],
)
def test_client_accept_refuses(options: DeflateOptions, answer: str) -> None:
    with pytest.raises(NegotiationError) as excinfo:
        client_accept([answer], options)
    assert excinfo.value.status == 400


@pytest.mark.parametrize(
    ("options", "offers", "answer", "expected"),
    [
        (DeflateOptions(), ["permessage-deflate"], "permessage-deflate", (False, False, 15, 15)),
        (
            DeflateOptions(),
            ["permessage-deflate; client_max_window_bits"],
            "permessage-deflate",
            (False, False, 15, 15),
        ),
        (
            DeflateOptions(client_max_window_bits=10),
            ["permessage-deflate; client_max_window_bits"],
            "permessage-deflate; client_max_window_bits=10",
            (False, False, 15, 10),
        ),
        (
            DeflateOptions(client_max_window_bits=12),
            ["permessage-deflate; client_max_window_bits=10"],
            "permessage-deflate; client_max_window_bits=10",
            (False, False, 15, 10),
        ),
        (
            DeflateOptions(),
            ["permessage-deflate; client_max_window_bits=8"],
            "permessage-deflate; client_max_window_bits=8",
            (False, False, 15, 8),
        ),
        (
            DeflateOptions(),
            ['permessage-deflate; server_max_window_bits="15"; server_no_context_takeover'],
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=15",
            (True, False, 15, 15),
        ),
        (
            DeflateOptions(server_max_window_bits=10, client_no_context_takeover=True),
            ["permessage-deflate; server_max_window_bits=12"],
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=10",
            (False, True, 10, 15),
        ),
        (
            DeflateOptions(server_max_window_bits=10),
            ["permessage-deflate"],
            "permessage-deflate; server_max_window_bits=10",
            (False, False, 10, 15),
        ),
        (
            DeflateOptions(server_no_context_takeover=True),
            ["permessage-deflate; client_no_context_takeover"],
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            (True, True, 15, 15),
        ),
        # Offers are walked in order: unknown extensions are ignored, offers with
        # unknown/duplicate/invalid parameters or that we cannot honour are declined.
        (
            DeflateOptions(),
            [
                "x-webkit-deflate-frame, permessage-deflate; foo",
                "permessage-deflate; server_max_window_bits=8",
                "permessage-deflate; client_max_window_bits=9; client_max_window_bits=9",
                "permessage-deflate; server_max_window_bits=9",
                "permessage-deflate",
            ],
            "permessage-deflate; server_max_window_bits=9",
            (False, False, 9, 15),
        ),
        (
            DeflateOptions(client_max_window_bits=10),
            ["permessage-deflate", "permessage-deflate; client_max_window_bits=11"],
            "permessage-deflate; client_max_window_bits=10",
            (False, False, 15, 10),
        ),
    ],
)
def test_server_negotiate(
    options: DeflateOptions,
    offers: list[str],
    answer: str,
    expected: tuple[bool, bool, int, int],
) -> None:
    result = server_negotiate(offers, options)
    assert result is not None
    header, pmd = result
    assert header == answer
    assert pmd.is_server
    assert settings(pmd) == expected
    # What the server answers, the client accepts with the same settings.
    if not any("=8" in offer for offer in offers):
        client = client_accept([header], DeflateOptions())
        assert client is not None
        assert settings(client) == expected


@pytest.mark.parametrize(
    ("options", "offers"),
    [
        (DeflateOptions(), []),
        (DeflateOptions(), ["x-webkit-deflate-frame"]),
        (DeflateOptions(), ["permessage-deflate; server_max_window_bits=8"]),
        (DeflateOptions(), ["permessage-deflate; client_max_window_bits=x"]),
        (DeflateOptions(), ["permessage-deflate; server_max_window_bits"]),
        (DeflateOptions(client_max_window_bits=10), ["permessage-deflate"]),
    ],
)
def test_server_negotiate_declines(options: DeflateOptions, offers: list[str]) -> None:
    assert server_negotiate(offers, options) is None


def test_server_negotiate_malformed_header() -> None:
    with pytest.raises(NegotiationError):
        server_negotiate(["permessage-deflate; ;"], DeflateOptions())


@pytest.mark.parametrize("options", [DeflateOptions(), DeflateOptions(client_max_window_bits=11)])
def test_offer_then_answer_roundtrip(options: DeflateOptions) -> None:
    result = server_negotiate([client_offer(options)], DeflateOptions())
    assert result is not None
    header, server = result
    client = client_accept([header], options)
    assert client is not None
    wire = client.encode(b"ping " * 20, fin=True)
    assert server.decode(wire, fin=True, max_size=MAX) == b"ping " * 20
