"""Tests for the JSON seam (socketio_core.json_codec): the stdlib reference and orjson agree.

Every test that takes the ``codec`` fixture runs once per encoder; the stdlib is the
reference, so where a value is written, both must write the same text (floats: the same
number), and where it is refused, both must refuse it the same way.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from socketio_core import json_codec
from socketio_core.exceptions import DecodeError, LocalProtocolError, MissingDependency
from socketio_core.options import JsonModuleParser
from socketio_core.packet import Packet, PacketType, decode_text, encode_packet

CODECS = ["stdlib", "orjson"]


@pytest.fixture(params=CODECS)
def codec(request: pytest.FixtureRequest) -> Iterator[str]:
    """Switch the encoder for one test, then put back the one chosen at import."""
    if request.param == "orjson":
        pytest.importorskip("orjson")
    before = json_codec.name()
    json_codec.use(request.param)
    try:
        yield request.param
    finally:
        json_codec.use(before)


class Color(enum.IntEnum):
    RED = 1


class Label(str):
    pass


@dataclasses.dataclass
class Point:
    x: int


# (value, the text both encoders must write)
WRITTEN: list[tuple[Any, str]] = [
    (["echo", "x"], '["echo","x"]'),  # separators: none
    ({"a": [1, {"b": None}]}, '{"a":[1,{"b":null}]}'),
    (["é€😀", "\u2028"], '["é€😀","\u2028"]'),  # non-ASCII as is, as JSON.stringify
    ([2**53 + 1, -(2**63), 2**64 - 1], f"[{2**53 + 1},{-(2**63)},{2**64 - 1}]"),
    ([2**64, -(2**63) - 1, 10**30], f"[{2**64},{-(2**63) - 1},{10**30}]"),  # beyond 64 bits
    ({2: "a", False: "b", None: "c"}, '{"2":"a","false":"b","null":"c"}'),  # keys as the stdlib
    ((1, (2, 3)), "[1,[2,3]]"),  # tuples are arrays
    ([Color.RED, Label("x")], '[1,"x"]'),  # subclasses as the stdlib writes them
    ([True, False, None, "null"], '[true,false,null,"null"]'),
    ('a"b\\c\n', '"a\\"b\\\\c\\n"'),
    ([], "[]"),
    ({}, "{}"),
]


@pytest.mark.parametrize(("value", "text"), WRITTEN)
def test_written_like_the_stdlib(codec: str, value: Any, text: str) -> None:
    assert json_codec.dumps(value) == text
    assert json_codec.stdlib_dumps(value) == text


@pytest.mark.parametrize("value", [1e16, 1e-7, 0.1, -0.0, 1.5e300, 5e-324, 123456.789])
def test_floats_are_the_same_number(codec: str, value: float) -> None:
    # orjson writes 1e-7 where the stdlib writes 1e-07: the same number for every reader.
    text = json_codec.dumps([value])
    assert json.loads(text) == [value]
    assert json_codec.loads(text) == json_codec.loads(json_codec.stdlib_dumps([value]))


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ([float("nan")], ValueError),
        ({"a": [float("inf")]}, ValueError),
        ([-float("inf"), None], ValueError),
        ([b"bytes"], TypeError),
        ([datetime.datetime(2026, 1, 1)], TypeError),
        ([Point(1)], TypeError),
        ([{(1,): 2}], TypeError),
        ([object()], TypeError),
    ],
)
def test_refused_like_the_stdlib(codec: str, value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        json_codec.stdlib_dumps(value)
    with pytest.raises(error):
        json_codec.dumps(value)


def test_a_cycle_is_refused(codec: str) -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(RecursionError):
        json_codec.dumps(["x", cycle])


def test_lone_surrogates_cannot_travel(codec: str) -> None:
    with pytest.raises(LocalProtocolError, match="cannot be encoded"):
        encode_packet(Packet.event(["x", "\ud800"]))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('["a",1]', ["a", 1]),
        (' \n["a"] \t', ["a"]),  # whitespace around the document, as JSON.parse
        (str(2**70), 2**70),  # integers exact, however big
        ('{"a":1,"a":2}', {"a": 2}),  # the last duplicate wins, as JSON.parse
        ('"\\u00e9\\ud83d\\ude00"', "é😀"),
        ("1.5", 1.5),
    ],
)
def test_loads_reads_strict_json(text: str, value: Any) -> None:
    assert json_codec.loads(text) == value
    assert json_codec.stdlib_loads(text) == value


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", "[-Infinity]", "1e999", "[1,2", "[1] x"])
def test_loads_refuses_what_json_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        json_codec.loads(text)


# Literal packets, both directions, under both encoders.
PACKETS: list[tuple[Packet, str]] = [
    (Packet.event(["echo", "é", 2**60], id=7), '27["echo","é",1152921504606846976]'),
    (Packet.ack([None, {"k": [1.5]}], id=3, namespace="/chat"), '3/chat,3[null,{"k":[1.5]}]'),
    (Packet(PacketType.CONNECT, data={"sid": "abc"}), '0{"sid":"abc"}'),
    (Packet(PacketType.CONNECT_ERROR, data={"message": "no"}), '4{"message":"no"}'),
]


@pytest.mark.parametrize(("packet", "text"), PACKETS)
def test_packets_both_ways(codec: str, packet: Packet, text: str) -> None:
    assert encode_packet(packet) == (text, [])
    assert decode_text(text) == packet


def test_nan_in_a_packet_is_refused(codec: str) -> None:
    with pytest.raises(LocalProtocolError, match="cannot be encoded"):
        encode_packet(Packet.ack([float("nan")], id=1))
    with pytest.raises(DecodeError, match="invalid JSON"):
        decode_text("3[NaN]")


def test_the_json_module_option_is_still_honoured(codec: str) -> None:
    # python-socketio's ``json=``: the application's module makes each argument JSON-ready.
    class Module:
        @staticmethod
        def dumps(value: object, **_: object) -> str:
            return json.dumps(value, default=lambda o: o.isoformat())

        loads = staticmethod(json.loads)

    parser = JsonModuleParser(Module)
    packet = Packet.event(["at", datetime.date(2026, 12, 6), 0.5])
    assert parser.encode(packet) == ['2["at","2026-12-06",0.5]']


def test_use_names_and_refuses_unknown_codecs() -> None:
    before = json_codec.name()
    try:
        assert json_codec.use("stdlib") == "stdlib"
        assert json_codec.dumps is json_codec.stdlib_dumps
        with pytest.raises(ValueError, match="unknown JSON codec"):
            json_codec.use("simdjson")
        assert json_codec.name() == "stdlib"
    finally:
        json_codec.use(before)


def test_without_orjson_the_stdlib_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    before = json_codec.name()
    monkeypatch.setitem(sys.modules, "orjson", None)  # import orjson now raises ImportError
    try:
        with pytest.raises(MissingDependency, match=r"socketio-stack\[fast\]"):
            json_codec.use("orjson")
        assert json_codec.use(None) == "stdlib"
    finally:
        monkeypatch.delitem(sys.modules, "orjson")
        json_codec.use(before)


@pytest.mark.parametrize("choice", CODECS)
def test_the_environment_chooses_at_import(choice: str) -> None:
    if choice == "orjson":
        pytest.importorskip("orjson")
    env = {**os.environ, "SOCKETIO_CORE_JSON": choice}
    code = "from socketio_core import json_codec; print(json_codec.name())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == choice
