"""Tests for the application API of the Socket.IO server (socketio_core.aio.server).

Emitting (to a sid, a room, several rooms, everyone, with ``skip_sid`` and ``except_rooms``),
``send``, ``call`` and emit callbacks with their timeouts, rooms, sessions, volatile emits, and
the lifecycle helpers, over real loopback WebSockets with literal packets.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import h11
import pytest

from socketio_core.aio import AsyncServer
from socketio_core.exceptions import AckTimeout, NotConnected
from socketio_core.parsers import JsonParser

# ``serve`` (conftest.py): ``harness = await serve(sio)``; conftest cannot be imported.
Serve = Callable[[AsyncServer], Awaitable[Any]]

EVENT_WITH_ID = re.compile(r"42(\d+)(\[.*)", re.DOTALL)


async def server_event(client: Any) -> tuple[int, str]:
    """Read an EVENT that asks for an ack: ``(ack id, JSON payload)``."""
    message = await client.recv()
    match = EVENT_WITH_ID.fullmatch(message)
    assert match is not None, message
    return int(match[1]), match[2]


# --------------------------------------------------------------------------- emit


@pytest.mark.asyncio
async def test_emit_targets(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    (a, sa), (b, sb), (c, sc) = [await h.connected() for _ in range(3)]
    await sio.enter_room(sa, "red")
    await sio.enter_room(sb, "red")
    await sio.enter_room(sb, "blue")
    await sio.enter_room(sc, "blue")

    await sio.emit("e1", 1, to=sa)
    await sio.emit("e2", 2, room="red")
    await sio.emit("e3", 3, to=["red", "blue"])
    await sio.emit("e4", 4, to="blue", skip_sid=sb)
    await sio.emit("e5", 5, except_rooms=["red"])
    await sio.emit("e6", 6, skip_sid=[sa, sc])
    await sio.emit("e7", None)
    await sio.emit("e8", ("x", None, [1]), to=[sa, sc])
    await sio.emit("e9", {"b": b"\x00\xff"}, to=sc)
    await sio.send("text", to=sb)
    await sio.emit("end")

    await a.expect('42["e1",1]', '42["e2",2]', '42["e3",3]', '42["e7"]')
    await a.expect('42["e8","x",null,[1]]', '42["end"]')
    await b.expect('42["e2",2]', '42["e3",3]', '42["e6",6]', '42["e7"]')
    await b.expect('42["message","text"]', '42["end"]')
    await c.expect('42["e3",3]', '42["e4",4]', '42["e5",5]', '42["e7"]')
    await c.expect('42["e8","x",null,[1]]')
    await c.expect('451-["e9",{"b":{"_placeholder":true,"num":0}}]', b"\x00\xff", '42["end"]')


@pytest.mark.asyncio
async def test_emit_in_a_namespace(serve: Serve) -> None:
    sio = AsyncServer(namespaces=["/chat"])
    h = await serve(sio)
    client = await h.client()
    sid_main = await client.connect()
    sid_chat = await client.connect("/chat")
    assert sid_main != sid_chat
    await sio.emit("hi", 1, namespace="/chat")
    await sio.emit("hi", 2, to=sid_chat)  # a /chat sid is not in "/": nothing
    await sio.emit("hi", 3, to=sid_chat, namespace="/chat")
    await client.expect('42/chat,["hi",1]', '42/chat,["hi",3]')
    assert sio.rooms(sid_chat, namespace="/chat") == [sid_chat]
    assert sio.rooms(sid_chat) == []


@pytest.mark.asyncio
async def test_emit_to_nobody_is_fine(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    bystander, _ = await h.connected()
    await sio.emit("nobody", 1, to="no-such-room")
    await sio.emit("nobody", 1, namespace="/none")
    await sio.emit("nobody", 1, skip_sid=sio.local_sids())
    # The bystander got none of them: the next thing it reads is the barrier's answer.
    await bystander.barrier()


@pytest.mark.asyncio
async def test_the_api_acts_at_the_call_from_a_plain_def_handler(serve: Serve) -> None:
    """``emit``, ``send``, the room helpers and ``disconnect`` act without ``await``."""
    sio = AsyncServer()
    h = await serve(sio)

    @sio.on("go")
    def go(sid: str) -> str:  # a plain def: it cannot await
        sio.enter_room(sid, "r")
        sio.emit("pong", 1, to="r")
        sio.send("hi", to=sid)
        sio.leave_room(sid, "r")
        sio.emit("after leaving", to="r")  # nobody is in "r" any more
        return "ok"

    @sio.on("bye")
    def bye(sid: str) -> None:
        sio.disconnect(sid)

    client, sid = await h.connected()
    await client.send('421["go"]')
    await client.expect('42["pong",1]', '42["message","hi"]', '431["ok"]')
    assert sio.rooms(sid) == [sid]
    # The awaited form works the same and gives the end of the operation.
    await sio.enter_room(sid, "s")
    await sio.emit("awaited", to="s")
    await client.expect('42["awaited"]')
    await sio.close_room("s")
    assert sio.rooms(sid) == [sid]
    await client.send('42["bye"]')
    await client.expect("41")
    await h.until(lambda: not sio.connected(sid), "the socket to be gone")


@pytest.mark.asyncio
async def test_call_to_a_sid_not_connected_raises(serve: Serve) -> None:
    """``call(to=<sid not connected>)`` raises instead of returning ``{}``."""
    sio = AsyncServer()
    h = await serve(sio)
    await h.connected()
    with pytest.raises(NotConnected):
        await sio.call("x", to="not-a-sid", timeout=1)
    with pytest.raises(NotConnected):
        await sio.call("x", sid="not-a-sid", timeout=1)
    # The broadcast form (operators) still collects from nobody.
    assert await sio.to("empty-room").timeout(1).call("x") == {}


# -------------------------------------------------------------------- call and acks


@pytest.mark.asyncio
async def test_call_returns_the_ack(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    client, sid = await h.connected()
    results = []
    for reply, expected in [
        ('["one"]', "one"),
        ("[1,2]", (1, 2)),
        ("[]", None),
        ('[{"k":[true]}]', {"k": [True]}),
    ]:
        task = asyncio.create_task(sio.call("ask", {"q": 1}, to=sid, timeout=5))
        ack_id, payload = await server_event(client)
        assert payload == '["ask",{"q":1}]'
        await client.send(f"43{ack_id}{reply}")
        results.append(await task == expected)
    assert all(results)
    # By sid= as well, and a binary ack.
    task = asyncio.create_task(sio.call("bin", sid=sid, timeout=5))
    ack_id, _ = await server_event(client)
    await client.send(f'461-{ack_id}[{{"_placeholder":true,"num":0}}]')
    await client.send_binary(b"\x01")
    assert await task == b"\x01"
    assert sio.pending_acks(sid) == 0


@pytest.mark.asyncio
async def test_call_timeout(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    client, sid = await h.connected()
    with pytest.raises(AckTimeout):
        await sio.call("ignored", to=sid, timeout=0.05)
    ack_id, _ = await server_event(client)
    # Nothing is left waiting for an ack that will never be used.
    assert sio.pending_acks(sid) == 0
    # A late ack is ignored.
    await client.send(f"43{ack_id}[1]")
    await client.barrier()


@pytest.mark.asyncio
async def test_call_to_a_client_that_leaves(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    client, sid = await h.connected()
    task = asyncio.create_task(sio.call("ask", to=sid, timeout=5))
    await server_event(client)
    await client.aclose()
    with pytest.raises(NotConnected):
        await task
    await h.until_empty()
    with pytest.raises(NotConnected):
        await sio.call("ask", sid=sid, timeout=5)


@pytest.mark.asyncio
async def test_emit_with_callback(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    client, sid = await h.connected()
    got: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    # Plain: callback(*args).
    await sio.emit("plain", 1, to=sid, callback=lambda *args: got.put_nowait(args))
    ack_id, payload = await server_event(client)
    assert payload == '["plain",1]'
    await client.send(f'43{ack_id}["a",2]')
    assert await asyncio.wait_for(got.get(), 5) == ("a", 2)

    # An async callback works too.
    async def async_callback(*args: Any) -> None:
        got.put_nowait(("async", *args))

    await sio.emit("plain", to=sid, callback=async_callback)
    ack_id, _ = await server_event(client)
    await client.send(f"43{ack_id}[]")
    assert await asyncio.wait_for(got.get(), 5) == ("async",)

    # With a timeout: error-first.
    await sio.emit("first", to=sid, callback=lambda *args: got.put_nowait(args), timeout=5)
    ack_id, _ = await server_event(client)
    await client.send(f"43{ack_id}[3]")
    assert await asyncio.wait_for(got.get(), 5) == (None, 3)
    assert sio.pending_acks(sid) == 0

    # The timeout passes: callback(AckTimeout), and nothing is left pending.
    await sio.emit("late", to=sid, callback=lambda *args: got.put_nowait(args), timeout=0.05)
    ack_id, _ = await server_event(client)
    (error,) = await asyncio.wait_for(got.get(), 5)
    assert isinstance(error, AckTimeout)
    assert sio.pending_acks(sid) == 0
    await client.send(f"43{ack_id}[4]")  # too late: ignored
    await client.barrier()
    assert got.empty()


@pytest.mark.asyncio
async def test_emit_callback_dropped_when_the_client_leaves(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    client, sid = await h.connected()
    calls: list[Any] = []
    await sio.emit("x", to=sid, callback=lambda *a: calls.append(a))
    await server_event(client)
    assert sio.pending_acks(sid) == 1
    await client.aclose()
    await h.until_empty()
    assert sio.pending_acks(sid) == 0
    assert calls == []


@pytest.mark.asyncio
async def test_crashing_ack_callback_is_logged(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    client, sid = await h.connected()

    def callback(*args: Any) -> None:
        raise RuntimeError("callback boom")

    await sio.emit("x", to=sid, callback=callback)
    ack_id, _ = await server_event(client)
    await client.send(f"43{ack_id}[]")
    await client.barrier()
    assert "callback boom" in caplog.text


@pytest.mark.asyncio
async def test_broadcast_with_callback_needs_a_timeout(serve: Serve) -> None:
    sio = AsyncServer()
    await serve(sio)
    with pytest.raises(ValueError, match="timeout"):
        await sio.emit("x", callback=lambda *a: None)


@pytest.mark.asyncio
async def test_unexpected_acks_are_ignored(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    client, _ = await h.connected()
    await client.send("4399[]")
    await client.send("43/other,1[]")
    await client.barrier()


# -------------------------------------------------------------------------- rooms


@pytest.mark.asyncio
async def test_rooms_api(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    (a, sa), (b, sb) = [await h.connected() for _ in range(2)]
    await sio.enter_room(sa, "r1")
    await sio.enter_room(sa, "r2")
    await sio.enter_room(sb, "r1")
    await sio.enter_room("ghost", "r1")  # unknown sids are ignored
    assert sio.rooms(sa) == [sa, "r1", "r2"]
    assert sio.manager.registry.members("/", "r1") == [sa, sb]
    await sio.leave_room(sa, "r2")
    assert sio.rooms(sa) == [sa, "r1"]
    await sio.close_room("r1")
    assert sio.rooms(sa) == [sa]
    assert sio.rooms(sb) == [sb]
    await sio.emit("r1", to="r1")
    await sio.emit("end")
    await a.expect('42["end"]')
    await b.expect('42["end"]')


# ----------------------------------------------------------------------- sessions


@pytest.mark.asyncio
async def test_sessions(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)

    @sio.on("connect")
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.save_session(sid, {"user": "ann"})

    @sio.on("whoami")
    async def whoami(sid: str) -> Any:
        async with sio.session(sid) as session:
            session["calls"] = session.get("calls", 0) + 1
        return await sio.get_session(sid)

    client, sid = await h.connected()
    await client.send('421["whoami"]')
    await client.expect('431[{"user":"ann","calls":1}]')
    await client.send('422["whoami"]')
    await client.expect('432[{"user":"ann","calls":2}]')
    # Sessions are per namespace socket.
    with pytest.raises(NotConnected):
        await sio.get_session(sid, namespace="/other")
    with pytest.raises(NotConnected):
        await sio.save_session("nobody", {})
    assert sio.socket_data(sid) == {}
    assert sio.get_environ(sid)["REMOTE_ADDR"] == "127.0.0.1"
    assert sio.transport(sid) == "websocket"


# ----------------------------------------------------------------------- volatile


class Polling:
    """A minimal Engine.IO polling client on one keep-alive HTTP/1.1 connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sid = ""

    async def __aenter__(self) -> Polling:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.conn = h11.Connection(h11.CLIENT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.writer.transport.abort()

    async def request(self, method: str, body: bytes = b"") -> str:
        target = "/socket.io/?EIO=4&transport=polling" + (f"&sid={self.sid}" if self.sid else "")
        headers = [("Host", "127.0.0.1"), ("Content-Length", str(len(body)))]
        if method == "POST":
            headers.append(("Content-Type", "text/plain;charset=UTF-8"))
        self.writer.write(
            self.conn.send(h11.Request(method=method, target=target, headers=headers))
        )
        self.writer.write(self.conn.send(h11.Data(data=body)) if body else b"")
        self.writer.write(self.conn.send(h11.EndOfMessage()))
        chunks = []
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await asyncio.wait_for(self.reader.read(65536), 5))
                continue
            if isinstance(event, h11.Response):
                assert event.status_code == 200, event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
        self.conn.start_next_cycle()
        return b"".join(chunks).decode()


@pytest.mark.asyncio
async def test_volatile_emit_dropped_when_not_writable(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    async with Polling(h.port) as poll:
        opening = await poll.request("GET")
        assert opening.startswith('0{"sid":"')
        poll.sid = opening[len('0{"sid":"') :].split('"')[0]
        assert await poll.request("POST", b"40") == "ok"
        await h.until(lambda: sio.local_sids() != [])
        # No GET is waiting: the polling transport cannot take a packet now.
        driver = sio.eio.sessions[poll.sid]
        assert not driver.writable
        await sio.emit("dropped", volatile=True)
        await sio.to("/").emit("kept")  # not volatile: queued
        await sio.of("/").volatile.emit("dropped too")
        await sio.emit("kept", 2)
        payload = await poll.request("GET")
        (sid,) = sio.local_sids()
        assert payload.split("\x1e") == [f'40{{"sid":"{sid}"}}', '42["kept",2]']
    # A writable WebSocket client gets volatile events.
    client, _ = await h.connected()
    await sio.emit("volatile", volatile=True)
    await client.expect('42["volatile"]')


# ---------------------------------------------------------------------- lifecycle


@pytest.mark.asyncio
async def test_serializer_options() -> None:
    with pytest.raises(ValueError, match="serializer"):
        AsyncServer(serializer="yaml")
    parser = JsonParser(max_attachments=2)
    assert AsyncServer(serializer=parser).parser is parser
    assert AsyncServer(max_attachments=3).parser.decoder().max_attachments == 3  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_register_namespace_needs_a_namespace() -> None:
    sio = AsyncServer()
    with pytest.raises(TypeError):
        sio.register_namespace(object())  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_event_decorator_forms(serve: Serve) -> None:
    sio = AsyncServer()

    @sio.event
    def ping(sid: str) -> str:
        return "pong"

    @sio.event(namespace="/chat")
    def chat(sid: str, text: str) -> str:
        return text.upper()

    h = await serve(sio)
    client, _ = await h.connected()
    await client.connect("/chat")
    await client.send('421["ping"]')
    await client.expect('431["pong"]')
    await client.send('42/chat,2["chat","hey"]')
    await client.expect('43/chat,2["HEY"]')


@pytest.mark.asyncio
async def test_shutdown_disconnects_everyone(serve: Serve) -> None:
    sio = AsyncServer()
    reasons: list[str] = []
    sio.on("disconnect", lambda sid, reason: reasons.append(reason))
    h = await serve(sio)
    clients = [await h.connected() for _ in range(3)]
    await sio.shutdown()
    for client, _ in clients:
        await client.expect_closed()
    await h.until_empty()
    await h.until(lambda: len(reasons) == 3)
    assert set(reasons) == {"server disconnect"}
    await sio.sleep(0)
