"""The forwarding codec (socketio_core/forwarding.py): literal bytes both ways, sid shapes,
and every rejection."""

from __future__ import annotations

import pytest

from socketio_core.forwarding import (
    ForwardCancel,
    ForwardRequest,
    ForwardResponse,
    Rejected,
    RelayMessage,
    decode,
    encode,
    make_sid,
    new_node_id,
    node_channel,
    sid_owner,
)

NODE = "0123456789abcdef"
OTHER = "fedcba9876543210"

CASES = [
    (
        ForwardRequest(
            NODE,
            7,
            "POST",
            "/socket.io/",
            "EIO=4&transport=polling&sid=x",
            (("content-type", "text/plain"),),
            ("127.0.0.1", 5000),
            "http",
            "",
            b"4hi\n\x1e4x",
        ),
        b'{"v":1,"from":"0123456789abcdef","rid":7,"kind":"request","method":"POST",'
        b'"path":"/socket.io/","query":"EIO=4&transport=polling&sid=x",'
        b'"headers":[["content-type","text/plain"]],"client":["127.0.0.1",5000],'
        b'"scheme":"http","root_path":"","too_large":false}\n4hi\n\x1e4x',
    ),
    (
        ForwardRequest(NODE, 1, "GET", "/p", "", (), None, "https", "/r", b"", True),
        b'{"v":1,"from":"0123456789abcdef","rid":1,"kind":"request","method":"GET",'
        b'"path":"/p","query":"","headers":[],"client":null,"scheme":"https",'
        b'"root_path":"/r","too_large":true}\n',
    ),
    (
        ForwardResponse(OTHER, 7, 200, (("Content-Length", "2"),), b"ok"),
        b'{"v":1,"from":"fedcba9876543210","rid":7,"kind":"response","status":200,'
        b'"headers":[["Content-Length","2"]]}\nok',
    ),
    (
        ForwardCancel(NODE, 9),
        b'{"v":1,"from":"0123456789abcdef","rid":9,"kind":"cancel"}\n',
    ),
    (
        RelayMessage(NODE, 3, "open", "0123456789abcdef.AAAAAAAAAAAAAAAAAAAA"),
        b'{"v":1,"from":"0123456789abcdef","rid":3,"kind":"ws","op":"open",'
        b'"sid":"0123456789abcdef.AAAAAAAAAAAAAAAAAAAA"}\n',
    ),
    (
        RelayMessage(OTHER, 3, "down", "", ("4h\u00e9", b"\x00\x01", "")),
        b'{"v":1,"from":"fedcba9876543210","rid":3,"kind":"ws","op":"down","sid":""}\n'
        b"s\x00\x00\x00\x044h\xc3\xa9b\x00\x00\x00\x02\x00\x01s\x00\x00\x00\x00",
    ),
]


@pytest.mark.parametrize(("message", "data"), CASES)
def test_codec_both_ways(message: object, data: bytes) -> None:
    assert encode(message) == data  # type: ignore[arg-type]
    assert decode(data) == message


RELAY = b'{"v":1,"kind":"ws","from":"0123456789abcdef","rid":1,'


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (RELAY + b'"op":"steal","sid":""}\n', "unknown op"),
        (RELAY + b'"op":"open","sid":"nope"}\n', "bad sid"),
        (RELAY + b'"op":"up","sid":"0123456789abcdef.AAAAAAAAAAAAAAAAAAAA"}\n', "bad sid"),
        (RELAY + b'"op":"up","sid":1}\n', "bad sid"),
        (RELAY + b'"op":"up","sid":""}\ns\x00\x00', "truncated message header"),
        (RELAY + b'"op":"up","sid":""}\ns\x00\x00\x00\x05abc', "truncated message"),
        (RELAY + b'"op":"up","sid":""}\ns\x00\x00\x00\x01\xff', "not UTF-8"),
        (RELAY + b'"op":"up","sid":""}\nx\x00\x00\x00\x00', "unknown message type"),
    ],
)
def test_bad_relay_messages_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    result = decode(data)
    assert isinstance(result, Rejected)
    assert reason in result.reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"x" * 201, "over the limit"),
        (b'{"v":1}', "no header line"),
        (b"{nope\n", "not JSON"),
        (b"[1]\n", "not an object"),
        (b'{"v":2,"kind":"cancel","from":"0123456789abcdef","rid":1}\n', "version"),
        (b'{"v":1,"kind":"steal","from":"0123456789abcdef","rid":1}\n', "unknown kind"),
        (b'{"v":1,"kind":"cancel","from":"0123456789abcdef"}\n', "fields"),
        (b'{"v":1,"kind":"cancel","from":"0123456789abcdef","rid":1,"x":0}\n', "fields"),
        (b'{"v":1,"kind":"cancel","from":"ZZ","rid":1}\n', "bad server id"),
        (b'{"v":1,"kind":"cancel","from":"0123456789abcdef","rid":-1}\n', "bad rid"),
        (b'{"v":1,"kind":"cancel","from":"0123456789abcdef","rid":true}\n', "bad rid"),
        (b'{"v":1,"kind":"cancel","from":"0123456789abcdef","rid":1}\nbody', "a body"),
        (
            b'{"v":1,"kind":"response","from":"0123456789abcdef","rid":1,"status":99,'
            b'"headers":[]}\n',
            "bad status",
        ),
        (
            b'{"v":1,"kind":"response","from":"0123456789abcdef","rid":1,"status":200,'
            b'"headers":[["a"]]}\n',
            "bad headers",
        ),
        (
            b'{"v":1,"kind":"request","from":"0123456789abcdef","rid":1,"method":1,"path":"",'
            b'"query":"","headers":[],"client":null,"scheme":"","root_path":"",'
            b'"too_large":false}\n',
            "not a string",
        ),
        (
            b'{"v":1,"kind":"request","from":"0123456789abcdef","rid":1,"method":"GET",'
            b'"path":"","query":"","headers":[],"client":["h","p"],"scheme":"",'
            b'"root_path":"","too_large":false}\n',
            "bad headers or client",
        ),
        (
            b'{"v":1,"kind":"request","from":"0123456789abcdef","rid":1,"method":"GET",'
            b'"path":"","query":"","headers":[],"client":null,"scheme":"",'
            b'"root_path":"","too_large":0}\n',
            "too_large",
        ),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    result = decode(data, max_size=200)
    assert isinstance(result, Rejected)
    assert reason in result.reason


def test_sids_name_their_owner() -> None:
    sid = make_sid(NODE, "A" * 20)
    assert sid == "0123456789abcdef.AAAAAAAAAAAAAAAAAAAA"
    assert sid_owner(sid) == NODE
    fresh = make_sid(NODE)
    assert sid_owner(fresh) == NODE and fresh != make_sid(NODE)
    node = new_node_id()
    assert sid_owner(make_sid(node)) == node
    assert node_channel("socketio", NODE) == "socketio#fwd#0123456789abcdef"


@pytest.mark.parametrize(
    "sid",
    [
        "",
        "AAAAAAAAAAAAAAAAAAAA",  # a plain Engine.IO sid: no owner
        "0123456789abcdef.AAAA",
        "0123456789ABCDEF.AAAAAAAAAAAAAAAAAAAA",
        "0123456789abcdef.AAAAAAAAAAAAAAAAAAA=",
        "0123456789abcdef.AAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_malformed_sids_have_no_owner(sid: str) -> None:
    assert sid_owner(sid) is None


def test_make_sid_checks_its_input() -> None:
    with pytest.raises(ValueError, match="node id"):
        make_sid("nothex")
    with pytest.raises(ValueError, match="token"):
        make_sid(NODE, "short")
