"""Tests for engineio_core.client_handshake: reading the open packet."""

from __future__ import annotations

import json

import pytest

from engineio_core.client_handshake import DEFAULT_MAX_PAYLOAD, OpenInfo, parse_open_packet
from engineio_core.exceptions import DecodeError
from engineio_core.handshake import SessionConfig, Sid, Transport, open_packet


def test_parses_the_spec_example() -> None:
    data = (
        '{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],'
        '"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
    )
    assert parse_open_packet(data) == OpenInfo(
        sid=Sid("lv_VI97HAXpY6yYWAAAC"),
        upgrades=("websocket",),
        ping_interval=25.0,
        ping_timeout=20.0,
        max_payload=1_000_000,
    )


def test_round_trips_our_server_open_packet() -> None:
    config = SessionConfig(ping_interval=0.3, ping_timeout=0.2, max_payload=1234)
    packet = open_packet(Sid("abc"), [Transport.WEBSOCKET], config)
    assert isinstance(packet.data, str)
    info = parse_open_packet(packet.data)
    assert (info.sid, info.upgrades, info.ping_interval, info.ping_timeout, info.max_payload) == (
        "abc",
        ("websocket",),
        0.3,
        0.2,
        1234,
    )


def test_max_payload_defaults_and_unknown_keys_are_ignored() -> None:
    data = '{"sid":"s","upgrades":[],"pingInterval":1,"pingTimeout":2,"extra":null}'
    info = parse_open_packet(data)
    assert info.max_payload == DEFAULT_MAX_PAYLOAD
    assert info.upgrades == ()


GOOD = {"sid": "s", "upgrades": ["websocket"], "pingInterval": 1, "pingTimeout": 1}


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[]",
        '"sid"',
        json.dumps({**GOOD, "sid": ""}),
        json.dumps({**GOOD, "sid": 5}),
        json.dumps({k: v for k, v in GOOD.items() if k != "sid"}),
        json.dumps({**GOOD, "upgrades": "websocket"}),
        json.dumps({**GOOD, "upgrades": [1]}),
        json.dumps({k: v for k, v in GOOD.items() if k != "pingInterval"}),
        json.dumps({**GOOD, "pingInterval": "25000"}),
        json.dumps({**GOOD, "pingInterval": True}),
        json.dumps({**GOOD, "pingTimeout": 0}),
        json.dumps({**GOOD, "pingTimeout": 1.5}),
        json.dumps({**GOOD, "maxPayload": -1}),
    ],
)
def test_rejects_malformed_open_packets(data: str) -> None:
    with pytest.raises(DecodeError):
        parse_open_packet(data)
