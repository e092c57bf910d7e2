"""python-socketio's pub/sub messages (socketio_core/pysocketio_wire.py).

python-socketio itself is the oracle: its ``AsyncPubSubManager`` (write-only, as a worker
runs it) publishes into a list here, and each message is decoded by our reader.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from socketio_core.aio.pysocketio_bridge import looks_like_pysocketio
from socketio_core.pubsub import Rejected
from socketio_core.pysocketio_wire import PySocketIOMessage, decode_pysocketio, reconstruct

pubsub = pytest.importorskip("socketio.async_pubsub_manager")


def published(calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> list[bytes]:
    """What python-socketio's write-only manager publishes for each call (``json.dumps``)."""
    out: list[bytes] = []

    class Capture(pubsub.AsyncPubSubManager):  # type: ignore[misc]
        async def _publish(self, data: Any) -> None:
            out.append(json.dumps(data).encode())

    async def run() -> None:
        mgr = Capture(write_only=True)
        for method, args, kwargs in calls:
            await getattr(mgr, method)(*args, **kwargs)

    asyncio.run(run())
    return out


def test_messages_of_python_socketio() -> None:
    data = published(
        [
            ("emit", ("ev", {"k": 1}), {"room": "a", "namespace": "/chat"}),
            ("emit", ("ev", (1, b"\x00\xff")), {"skip_sid": ["s1", "s2"]}),
            ("emit", ("ev", None), {}),
            ("enter_room", ("s1", "/", "r"), {}),
            ("leave_room", ("s1", "/", "r"), {}),
            ("close_room", ("r",), {"namespace": "/"}),
            ("can_disconnect", ("s1", "/"), {}),
        ]
    )
    assert all(looks_like_pysocketio(item) for item in data)
    assert [decode_pysocketio(item) for item in data] == [
        PySocketIOMessage("emit", "/chat", ("a",), (), "ev", ({"k": 1},)),
        PySocketIOMessage("emit", "/", None, ("s1", "s2"), "ev", (1, b"\x00\xff")),
        PySocketIOMessage("emit", "/", None, (), "ev", ()),
        PySocketIOMessage("enter_room", "/", ("s1",), room="r"),
        PySocketIOMessage("leave_room", "/", ("s1",), room="r"),
        PySocketIOMessage("close_room", "/", ("r",), room="r"),
        PySocketIOMessage("disconnect", "/", ("s1",)),
    ]


def test_callbacks_are_ignored() -> None:
    assert decode_pysocketio(b'{"method": "callback", "host_id": "h"}') is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty message"),
        (b"\x80\x04\x95pickle", "pickled python-socketio messages are refused"),
        (b"{oops", "cannot parse"),
        (b'["method"]', "not a JSON object"),
        (b'{"method": "exec"}', "unknown method"),
        (b'{"method": "emit", "namespace": "chat"}', "bad namespace"),
        (b'{"method": "emit", "event": 1, "data": []}', "bad emit"),
        (b'{"method": "emit", "event": "e", "room": 5, "data": []}', "bad emit"),
        (b'{"method": "emit", "event": "e", "data": {}}', "bad data"),
        (b'{"method": "emit", "event": "e", "data": [], "binary": true}', "bad binary data"),
        (b'{"method": "emit", "event": "e", "data": [[1], 5], "binary": true}', "bad binary data"),
        (
            b'{"method": "emit", "event": "e", "data": [[1], "!!"], "binary": true}',
            "bad attachments",
        ),
        (
            b'{"method": "emit", "event": "e", "data": [[{"_placeholder": true, "num": 3}]], '
            b'"binary": true}',
            "bad attachments",
        ),
        (b'{"method": "close_room", "room": 1}', "bad room"),
        (b'{"method": "disconnect", "sid": ""}', "bad sid"),
        (b'{"method": "enter_room", "sid": "s"}', "bad room"),
    ],
)
def test_rejects(data: bytes, reason: str) -> None:
    result = decode_pysocketio(data)
    assert isinstance(result, Rejected)
    assert reason in result.reason


def test_size_limit() -> None:
    data = published([("emit", ("ev", "x" * 100), {})])[0]
    result = decode_pysocketio(data, max_size=len(data) - 1)
    assert isinstance(result, Rejected)
    assert "exceeds" in result.reason
    assert not looks_like_pysocketio(b'{"v":1,"kind":"emit"}')


def test_reconstruct() -> None:
    body: Any = [{"_placeholder": True, "num": 0}, {"k": {"_placeholder": True, "num": 1}}]
    assert reconstruct(body, [b"a", b"b"]) == [b"a", {"k": b"b"}]
    with pytest.raises(ValueError, match="out of range"):
        reconstruct({"_placeholder": True, "num": 2}, [b"a"])
