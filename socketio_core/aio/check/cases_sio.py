"""Socket.IO v5 cases: connect, events, acks, binary, disconnect, and robustness.

Each case cites the section of socket.io-protocol-v5.md (or engine.io-protocol-v4.md for the
Engine.IO half of the robustness group) it checks. A malformed packet must end the session:
the spec's decoder throws on it and the server closes the underlying Engine.IO connection, so
a server that keeps the session open (hangs it) fails.
"""

from __future__ import annotations

import json
import time
from typing import Any

from websocket.check import frame

from ...check import (
    EIO_SPEC,
    SIO_SPEC,
    CaseFailed,
    CaseLenient,
    CaseSkipped,
    decode_sio,
    find_event,
)
from ...packet import PacketType
from .session import Ctx, case, is_connect
from .transport import WsLink

__all__: list[str] = []

S = SIO_SPEC
ARGS: list[Any] = [1, "2", {"3": [True, None, 4.5]}]


def _connect_answer(messages: list[str | bytes], namespace: str) -> dict[str, Any]:
    packets = decode_sio(messages)
    if isinstance(packets, str):
        raise CaseFailed(packets)
    for p in packets:
        if p.namespace == namespace and p.type in (PacketType.CONNECT, PacketType.CONNECT_ERROR):
            if p.type is PacketType.CONNECT_ERROR:
                raise CaseFailed(f"CONNECT to {namespace} refused: {p.data!r}")
            if not isinstance(p.data, dict) or not isinstance(p.data.get("sid"), str):
                raise CaseFailed(f"CONNECT answer without a sid: {p.data!r}")
            return p.data
    raise CaseFailed(f"no CONNECT answer for {namespace}")


def _answered(namespace: str) -> Any:
    """Whether a CONNECT or CONNECT_ERROR for ``namespace`` is among the messages."""

    def done(messages: list[str | bytes]) -> bool:
        for m in messages:
            if not isinstance(m, str) or m[:1] not in ("0", "4"):
                continue
            if namespace == "/" and m[1:2] in ("", "{"):
                return True
            if namespace != "/" and m[1:].startswith(namespace + ","):
                return True
        return False

    return done


async def _ws_connect(ctx: Ctx, link: WsLink, namespace: str, auth: Any = None) -> dict[str, Any]:
    nsp = "" if namespace == "/" else f"{namespace},"
    link.send(f"40{nsp}{json.dumps(auth, separators=(',', ':')) if auth is not None else ''}")
    got = await ctx.ws_until(link, _answered(namespace))
    return _connect_answer(got, namespace)


# --------------------------------------------------------------------------- connect


@case(
    "connect.default",
    "CONNECT to / is answered with a sid",
    f"{S} Connection to a namespace",
    socketio=True,
)
async def connect_default(ctx: Ctx) -> None:
    link, _ = await ctx.open_websocket()
    await _ws_connect(ctx, link, "/")


@case(
    "connect.polling", "CONNECT to / over polling", f"{S} Connection to a namespace", socketio=True
)
async def connect_polling(ctx: Ctx) -> None:
    info = await ctx.open_polling()
    await ctx.post_ok(info.sid, ["0"])
    got = await ctx.poll_until(info.sid, lambda m: any(is_connect(x) for x in m))
    _connect_answer(got, "/")


@case(
    "connect.custom",
    "CONNECT to a custom namespace",
    f"{S} Connection to a namespace",
    socketio=True,
)
async def connect_custom(ctx: Ctx) -> None:
    link, _ = await ctx.open_websocket()
    await _ws_connect(ctx, link, ctx.contract.namespace)


@case(
    "connect.auth",
    "the CONNECT payload reaches the server (auth)",
    f"{S} Connection to a namespace",
    socketio=True,
)
async def connect_auth(ctx: Ctx) -> None:
    link, _ = await ctx.open_websocket()
    auth = {"token": "123", "n": [1, 2]}
    link.send("40" + json.dumps(auth))
    got = await ctx.ws_until(link, lambda m: _auth_event(ctx, m, "/") is not None)
    event = _auth_event(ctx, got, "/")
    if event != [ctx.contract.auth, auth]:
        raise CaseFailed(f"auth event {event!r}, expected {[ctx.contract.auth, auth]!r}")


@case(
    "connect.auth-custom",
    "auth payload on a custom namespace",
    f"{S} Connection to a namespace",
    socketio=True,
)
async def connect_auth_custom(ctx: Ctx) -> None:
    link, _ = await ctx.open_websocket()
    nsp = ctx.contract.namespace
    link.send(f'40{nsp},{{"token":"abc"}}')
    got = await ctx.ws_until(link, lambda m: _auth_event(ctx, m, nsp) is not None)
    event = _auth_event(ctx, got, nsp)
    if event != [ctx.contract.auth, {"token": "abc"}]:
        raise CaseFailed(f"auth event {event!r} on {nsp}")


def _auth_event(ctx: Ctx, messages: list[str | bytes], namespace: str) -> Any:
    packets = decode_sio(messages)
    if isinstance(packets, str):
        raise CaseFailed(packets)
    found = find_event(packets, ctx.contract.auth, namespace)
    return None if found is None else found.data


@case(
    "connect.refused",
    "CONNECT to an unknown namespace: CONNECT_ERROR",
    f"{S} Connection to a namespace",
    socketio=True,
)
async def connect_refused(ctx: Ctx) -> None:
    link, _ = await ctx.open_websocket()
    nsp = ctx.contract.refused
    link.send(f"40{nsp},")
    got = await ctx.ws_until(link, _answered(nsp))
    packets = decode_sio(got)
    if isinstance(packets, str):
        raise CaseFailed(packets)
    for p in packets:
        if p.namespace == nsp:
            if p.type is not PacketType.CONNECT_ERROR:
                raise CaseFailed(f"{nsp} was answered with {p.type.name}, expected CONNECT_ERROR")
            if not isinstance(p.data, dict) or not isinstance(p.data.get("message"), str):
                raise CaseFailed(f"CONNECT_ERROR payload without a message: {p.data!r}")
            return
    raise CaseFailed("no answer for the refused namespace")


@case(
    "connect.timeout",
    "no CONNECT: the server closes the session",
    f"{S} Connection to a namespace",
    socketio=True,
)
async def connect_timeout(ctx: Ctx) -> None:
    link, _ = await ctx.open_websocket()
    wait = ctx.contract.connect_timeout
    limit = (wait if wait is not None else ctx.contract.max_wait) + ctx.timeout
    if await link.wait_closed(limit):
        return
    if wait is None:
        raise CaseSkipped(f"still open after {limit:g} s; give --connect-timeout to check it")
    raise CaseFailed(f"the session is still open {limit:g} s without a CONNECT")


# ---------------------------------------------------------------------------- events


@case(
    "event.websocket",
    "an event is echoed (message -> message-back)",
    f"{S} Sending and receiving data",
    socketio=True,
)
async def event_websocket(ctx: Ctx) -> None:
    link, _ = await ctx.ready_websocket()
    ctx.ws_send(link, ctx.echo_request(*ARGS))
    await ctx.ws_until(link, lambda m: ctx.echoed(m, *ARGS))


@case(
    "event.polling",
    "an event is echoed over polling",
    f"{S} Sending and receiving data",
    socketio=True,
)
async def event_polling(ctx: Ctx) -> None:
    info, _ = await ctx.ready_polling()
    await ctx.post_ok(info.sid, ctx.echo_request(*ARGS))
    await ctx.poll_until(info.sid, lambda m: ctx.echoed(m, *ARGS))


@case(
    "event.order",
    "ten events are echoed in order",
    f"{S} Sending and receiving data",
    socketio=True,
)
async def event_order(ctx: Ctx) -> None:
    link, _ = await ctx.ready_websocket()
    for i in range(10):
        ctx.ws_send(link, ctx.echo_request(i))
    got = await ctx.ws_until(link, lambda m: ctx.echoed(m, 9))
    packets = decode_sio(got)
    assert not isinstance(packets, str)
    order = [p.data[1] for p in packets if p.data and p.data[0] == ctx.contract.echo_back]
    if order != list(range(10)):
        raise CaseFailed(f"echoes in the order {order}")


# ------------------------------------------------------------------------------ acks


@case(
    "ack.websocket",
    "an event with an ack id is acked with its arguments",
    f"{S} Acknowledgement",
    socketio=True,
)
async def ack_websocket(ctx: Ctx) -> None:
    link, _ = await ctx.ready_websocket()
    ctx.ws_send(link, ctx.echo_request(*ARGS, ack=7))
    await ctx.ws_until(link, lambda m: ctx.acked(m, 7, *ARGS))


@case("ack.polling", "an ack over polling", f"{S} Acknowledgement", socketio=True)
async def ack_polling(ctx: Ctx) -> None:
    info, _ = await ctx.ready_polling()
    await ctx.post_ok(info.sid, ctx.echo_request("x", ack=0))
    await ctx.poll_until(info.sid, lambda m: ctx.acked(m, 0, "x"))


@case(
    "ack.ids", "two acks, each with its own id and arguments", f"{S} Acknowledgement", socketio=True
)
async def ack_ids(ctx: Ctx) -> None:
    link, _ = await ctx.ready_websocket()
    ctx.ws_send(link, ctx.echo_request("first", ack=12))
    ctx.ws_send(link, ctx.echo_request("second", 2, ack=13))
    await ctx.ws_until(link, lambda m: ctx.acked(m, 12, "first") and ctx.acked(m, 13, "second", 2))


# ---------------------------------------------------------------------------- binary


@case(
    "binary.event",
    "a binary event with an attachment is echoed",
    f"{S} Sending and receiving data",
    socketio=True,
)
async def binary_event(ctx: Ctx) -> None:
    link, _ = await ctx.ready_websocket()
    data = [b"\x01\x02\x03", {"nested": b"\xff" * 10}]
    ctx.ws_send(link, ctx.echo_request(*data))
    await ctx.ws_until(link, lambda m: ctx.echoed(m, *data))


@case(
    "binary.ack", "a binary event acked with its attachments", f"{S} Acknowledgement", socketio=True
)
async def binary_ack(ctx: Ctx) -> None:
    link, _ = await ctx.ready_websocket()
    data = [b"\x00", "text", b"\x10\x20"]
    ctx.ws_send(link, ctx.echo_request(*data, ack=42))
    await ctx.ws_until(link, lambda m: ctx.acked(m, 42, *data))


@case(
    "binary.polling",
    "a binary event over polling (base64 attachments)",
    f"{S} Sending and receiving data",
    socketio=True,
)
async def binary_polling(ctx: Ctx) -> None:
    info, _ = await ctx.ready_polling()
    await ctx.post_ok(info.sid, ctx.echo_request(b"\xde\xad\xbe\xef"))
    await ctx.poll_until(info.sid, lambda m: ctx.echoed(m, b"\xde\xad\xbe\xef"))


# ------------------------------------------------------------------------ disconnect


@case(
    "disconnect.namespace",
    "DISCONNECT: the session closes, or a new CONNECT gets a new sid",
    f"{S} Disconnection from a namespace",
    socketio=True,
)
async def disconnect_namespace(ctx: Ctx) -> None:
    link, _ = await ctx.open_websocket()
    first = await _ws_connect(ctx, link, "/")
    link.send("41")
    link.send("40")
    # "The low-level connection MAY be kept alive if the client is connected to another
    # namespace": with none left, closing it is allowed too.
    try:
        got = await ctx.ws_until(link, _answered("/"))
    except CaseFailed:
        if link.closed is not None:
            return
        raise
    second = _connect_answer(got, "/")
    if first["sid"] == second["sid"]:
        raise CaseFailed("the second CONNECT got the same sid: the DISCONNECT was ignored")


@case(
    "disconnect.custom",
    "leaving a custom namespace keeps the main one",
    f"{S} Disconnection from a namespace",
    socketio=True,
)
async def disconnect_custom(ctx: Ctx) -> None:
    link, _ = await ctx.ready_websocket()
    await _ws_connect(ctx, link, ctx.contract.namespace)
    link.send(f"41{ctx.contract.namespace},")
    ctx.ws_send(link, ctx.echo_request("still here"))
    await ctx.ws_until(link, lambda m: ctx.echoed(m, "still here"))


# ------------------------------------------------------------------------ robustness


async def _must_close(ctx: Ctx, link: WsLink, what: str, *, required: bool) -> None:
    """The session must close; staying open and usable is non-strict unless ``required``."""
    if await link.wait_closed(ctx.timeout):
        return
    ctx.ws_send(link, ctx.echo_request("alive?"))
    try:
        await ctx.ws_until(link, lambda m: ctx.echoed(m, "alive?"))
    except CaseFailed:
        if link.closed is not None:
            return
        raise CaseFailed(f"{what}: the session hangs (neither closed nor answering)") from None
    if required:
        raise CaseFailed(f"{what}: the session is still open after {ctx.timeout:g} s")
    raise CaseLenient(f"{what}: ignored, the session stays open (Node closes it)")


@case(
    "robustness.eio-type",
    "Engine.IO: unknown packet type 'z' closes the session",
    f"{EIO_SPEC} Protocol",
)
async def robust_eio_type(ctx: Ctx) -> None:
    link, _ = await ctx.open_websocket()
    link.send("z")
    await _must_close(ctx, link, "after 'z'", required=False)


@case(
    "robustness.ws-frame",
    "WebSocket: a reserved opcode on the Engine.IO WebSocket closes it",
    "rfc6455 5.2",
)
async def robust_ws_frame(ctx: Ctx) -> None:
    # "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket
    # Connection_."
    link, _ = await ctx.open_websocket()
    link.send_raw(frame(3, b"4x"), b"<frame with reserved opcode 0x3> 4x")
    if not await link.wait_closed(ctx.timeout):
        raise CaseFailed(f"the WebSocket is still open {ctx.timeout:g} s after opcode 0x3")


@case(
    "robustness.eio-poll",
    "Engine.IO: a malformed POST closes the session",
    f"{EIO_SPEC} Packet encoding",
)
async def robust_eio_poll(ctx: Ctx) -> None:
    info = await ctx.open_polling()
    r = await ctx.post(info.sid, "z9\x1e")
    deadline = time.monotonic() + ctx.timeout
    while time.monotonic() < deadline:
        try:
            g = await ctx.get(info.sid, max(0.1, deadline - time.monotonic()))
        except CaseFailed:
            break  # parked: the session is open
        if g.status == 400 or g.body.startswith(b"1"):
            return
        if g.body.startswith(b"2"):
            await ctx.post(info.sid, "3")  # keep the heartbeat from closing it instead
    raise CaseLenient(f"POST 'z9' answered {r.status}; the session stays open (Node closes it)")


# Socket.IO texts (each goes in an Engine.IO message) and attachments; True where the spec
# says MUST close ("Sending and receiving data": the payload "MUST be a non-empty array").
ROBUST: list[tuple[str, str, list[str | bytes], bool]] = [
    ("sio-type", "unknown Socket.IO packet type 9", ["9"], False),
    ("sio-json", "invalid JSON", ['2["message",'], False),
    ("sio-payload", "an event whose payload is not an array", ['2{"not":"an array"}'], True),
    ("sio-name", "an event with an empty array", ["2[]"], True),
    ("sio-attachments", "a bad attachment count", ['5x-["message"]'], False),
    (
        "sio-text-in-binary",
        "text while an attachment is due",
        ['51-["message",{"_placeholder":true,"num":0}]', '2["message"]'],
        False,
    ),
    ("sio-stray-binary", "a binary message with no packet waiting", [b"\x01\x02"], False),
    (
        "sio-placeholder",
        "a placeholder out of range",
        ['51-["message",{"_placeholder":true,"num":5}]', b"\x01"],
        False,
    ),
]


def _robust(name: str, title: str, messages: list[str | bytes], required: bool) -> None:
    section = f"{S} Sending and receiving data" if required else f"{S} Packet encoding"

    @case(f"robustness.{name}", f"Socket.IO: {title} closes the session", section, socketio=True)
    async def run(ctx: Ctx) -> None:
        link, _ = await ctx.ready_websocket()
        ctx.ws_send(link, messages)
        await _must_close(ctx, link, title, required=required)


for _name, _title, _messages, _required in ROBUST:
    _robust(_name, _title, _messages, _required)


@case(
    "robustness.sio-first",
    "Socket.IO: an EVENT before any CONNECT closes the connection",
    f"{S} Connection to a namespace",
    socketio=True,
)
async def robust_first(ctx: Ctx) -> None:
    # "If the server does not receive a CONNECT packet first, then it MUST close the
    # connection immediately."
    link, _ = await ctx.open_websocket()
    ctx.ws_send(link, ctx.echo_request("too early"))
    if not await link.wait_closed(ctx.timeout):
        raise CaseFailed(f"the connection is still open {ctx.timeout:g} s after an early EVENT")
