"""Tests for engineio_core.handshake: request checks, sids, options, the open packet."""

from __future__ import annotations

import json
import re
import secrets

import pytest

from engineio_core.exceptions import (
    BadHandshakeMethod,
    UnknownTransport,
    UnsupportedProtocolVersion,
)
from engineio_core.handshake import (
    SID_BYTES,
    RequestInfo,
    SessionConfig,
    Sid,
    Transport,
    check_request,
    new_sid,
    open_packet,
)
from engineio_core.packet import PacketType, encode_packet


def test_sid_is_120_random_bits_url_safe() -> None:
    assert SID_BYTES * 8 >= 120
    assert new_sid(lambda n: bytes(range(n))) == "AAECAwQFBgcICQoLDA0O"
    assert new_sid(lambda n: b"\xff" * n) == "____________________"
    sids = {new_sid() for _ in range(100)}
    assert len(sids) == 100
    for sid in sids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{20}", sid)


def test_sid_source_must_return_the_right_length() -> None:
    with pytest.raises(ValueError, match="instead of 15"):
        new_sid(lambda n: secrets.token_bytes(n - 1))


def test_open_packet_has_exactly_the_spec_keys_in_ms() -> None:
    config = SessionConfig(ping_interval=25, ping_timeout=20, max_payload=1_000_000)
    packet = open_packet(Sid("lv_VI97HAXpY6yYWAAAC"), [Transport.WEBSOCKET], config)
    assert packet.type is PacketType.OPEN
    # The spec's example, compactly encoded.
    assert encode_packet(packet) == (
        '0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],'
        '"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
    )
    assert isinstance(packet.data, str)
    fractional = open_packet(Sid("s"), [], SessionConfig(ping_interval=0.3, ping_timeout=0.2))
    assert isinstance(fractional.data, str)
    assert json.loads(fractional.data)["pingInterval"] == 300
    assert json.loads(fractional.data)["pingTimeout"] == 200


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ping_interval": 0},
        {"ping_timeout": -1},
        {"upgrade_timeout": 0},
        {"close_timeout": 0},
        {"max_payload": 0},
    ],
)
def test_config_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        SessionConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "query", "expected"),
    [
        ("GET", {"EIO": "4", "transport": "polling"}, RequestInfo(Transport.POLLING, None)),
        ("get", {"EIO": "4", "transport": "websocket"}, RequestInfo(Transport.WEBSOCKET, None)),
        (
            "POST",
            {"EIO": "4", "transport": "polling", "sid": "abc"},
            RequestInfo(Transport.POLLING, Sid("abc")),
        ),
        (
            "GET",
            {"EIO": "4", "transport": "websocket", "sid": "abc"},
            RequestInfo(Transport.WEBSOCKET, Sid("abc")),
        ),
    ],
)
def test_check_request_accepts(method: str, query: dict[str, str], expected: RequestInfo) -> None:
    assert check_request(method, query) == expected


@pytest.mark.parametrize(
    ("method", "query", "error", "code"),
    [
        ("GET", {"transport": "polling"}, UnsupportedProtocolVersion, 5),
        ("GET", {"EIO": "3", "transport": "polling"}, UnsupportedProtocolVersion, 5),
        ("GET", {"EIO": "4"}, UnknownTransport, 0),
        ("GET", {"EIO": "4", "transport": "flashsocket"}, UnknownTransport, 0),
        ("POST", {"EIO": "4", "transport": "polling"}, BadHandshakeMethod, 2),
        ("PUT", {"EIO": "4", "transport": "polling", "sid": ""}, BadHandshakeMethod, 2),
    ],
)
def test_check_request_rejects(
    method: str, query: dict[str, str], error: type[Exception], code: int
) -> None:
    with pytest.raises(error) as info:
        check_request(method, query)
    assert getattr(info.value, "code", None) == code
    assert getattr(info.value, "status", None) == 400


def test_check_request_honours_offered_transports() -> None:
    query = {"EIO": "4", "transport": "websocket"}
    with pytest.raises(UnknownTransport):
        check_request("GET", query, transports=[Transport.POLLING])
