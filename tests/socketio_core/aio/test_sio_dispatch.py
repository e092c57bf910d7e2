"""Tests for the packet handling of the Socket.IO server (socketio_core.aio.dispatch).

CONNECT and its refusals, middlewares, the connect timeout, events and their acks, the three
disconnect reasons, handler crashes, and the per-client ordering of events, all over real
loopback WebSockets with literal packets.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from socketio_core.aio import AsyncServer
from socketio_core.exceptions import ConnectionRefused

# ``serve`` (conftest.py): ``harness = await serve(sio)``; conftest cannot be imported.
Serve = Callable[[AsyncServer], Awaitable[Any]]


# ------------------------------------------------------------------------- connect


@pytest.mark.asyncio
async def test_connect_handler_gets_sid_environ_auth(serve: Serve) -> None:
    sio = AsyncServer()
    seen: asyncio.Queue[tuple[str, dict[str, Any], Any]] = asyncio.Queue()

    @sio.on("connect")
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        seen.put_nowait((sid, environ, auth))

    h = await serve(sio)
    client = await h.client()
    sid = await client.connect(auth={"token": "t"})
    got_sid, environ, auth = await asyncio.wait_for(seen.get(), 5)
    assert got_sid == sid
    assert auth == {"token": "t"}
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["engineio.request"].query["transport"] == "websocket"
    assert sio.eio_sid(sid) == client.eio_sid
    # Without auth the handler gets None.
    await (await h.client()).connect()
    assert (await asyncio.wait_for(seen.get(), 5))[2] is None


@pytest.mark.asyncio
async def test_connect_handler_with_two_arguments(serve: Serve) -> None:
    sio = AsyncServer()
    seen: list[tuple[str, dict[str, Any]]] = []

    @sio.event
    def connect(sid: str, environ: dict[str, Any]) -> None:
        seen.append((sid, environ))

    h = await serve(sio)
    _, sid = await h.connected(auth={"ignored": True})
    assert [s for s, _ in seen] == [sid]


@pytest.mark.asyncio
async def test_connect_handler_signature_checked_at_registration() -> None:
    sio = AsyncServer()
    with pytest.raises(TypeError):
        sio.on("connect", lambda sid: None)
    with pytest.raises(TypeError):
        sio.on("disconnect", lambda: None)
    with pytest.raises(TypeError):
        sio.on("message", lambda: None)
    with pytest.raises(TypeError):
        sio.on("message", "not callable")  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_connect_refused_with_false(serve: Serve) -> None:
    sio = AsyncServer()
    sio.on("connect", lambda sid, environ: False)
    h = await serve(sio)
    client = await h.client()
    await client.send("40")
    await client.expect('44{"message":"Connection rejected by server"}')
    assert sio.local_sids() == []
    assert sio.manager.registry.namespaces() == []
    # The Engine.IO connection stays open for other attempts.
    await client.barrier()


@pytest.mark.asyncio
async def test_connect_refused_with_connection_refused(serve: Serve) -> None:
    sio = AsyncServer()

    @sio.on("connect", namespace="/admin")
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        raise ConnectionRefused("msg", {"d": 1})

    @sio.on("connect", namespace="/many")
    def connect_many(sid: str, environ: dict[str, Any]) -> None:
        raise ConnectionRefused("no", 1, 2)

    h = await serve(sio)
    client = await h.client()
    await client.send("40/many,")
    await client.expect('44/many,{"message":"no","data":[1,2]}')
    await client.send("40/admin,")
    await client.expect('44/admin,{"message":"msg","data":{"d":1}}')
    await client.send("40")  # the main namespace has no handler: accepted
    reply = await client.recv()
    assert isinstance(reply, str) and reply.startswith('40{"sid":')


@pytest.mark.asyncio
async def test_connect_refused_on_the_main_namespace(serve: Serve) -> None:
    sio = AsyncServer()

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        raise ConnectionRefused("msg", {"d": 1})

    h = await serve(sio)
    client = await h.client()
    await client.send("40")
    await client.expect('44{"message":"msg","data":{"d":1}}')
    assert sio.local_sids() == []


@pytest.mark.asyncio
async def test_connect_handler_crash_is_internal_server_error(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    sio = AsyncServer()

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    h = await serve(sio)
    client = await h.client()
    with caplog.at_level(logging.ERROR, logger="socketio_core.aio.dispatch"):
        await client.send("40")
        await client.expect('44{"message":"Internal server error"}')
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)
    assert sio.local_sids() == []


@pytest.mark.asyncio
async def test_connect_to_unknown_namespace(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    client = await h.client()
    await client.send("40/nope,")
    await client.expect('44/nope,{"message":"Invalid namespace"}')
    sid = await client.connect("/")
    assert sio.rooms(sid) == [sid]


@pytest.mark.asyncio
async def test_second_connect_to_a_namespace_is_ignored(serve: Serve) -> None:
    sio = AsyncServer()
    h = await serve(sio)
    client, sid = await h.connected()
    await client.send("40")
    await client.barrier()
    assert sio.local_sids() == [sid]


@pytest.mark.asyncio
async def test_always_connect_refusal_arrives_as_disconnect(serve: Serve) -> None:
    sio = AsyncServer(always_connect=True)
    release = asyncio.Event()

    @sio.on("connect")
    async def connect(sid: str, environ: dict[str, Any]) -> bool:
        await release.wait()
        return False

    h = await serve(sio)
    client = await h.client()
    await client.send("40")
    reply = await client.recv()  # CONNECT before the handler decides
    assert isinstance(reply, str) and reply.startswith('40{"sid":')
    release.set()
    await client.expect("41")
    await h.until(lambda: not sio.local_sids())


@pytest.mark.asyncio
async def test_connection_middlewares_run_in_order(serve: Serve) -> None:
    sio = AsyncServer()
    calls: list[tuple[str, str, Any]] = []

    async def first(sid: str, environ: dict[str, Any], auth: Any) -> None:
        calls.append(("first", sid, auth))

    def second(sid: str, environ: dict[str, Any], auth: Any) -> None:
        calls.append(("second", sid, auth))

    def admin_only(sid: str, environ: dict[str, Any], auth: Any) -> None:
        calls.append(("admin", sid, auth))
        if not auth or auth.get("role") != "admin":
            raise ConnectionRefused("admins only", {"need": "admin"})

    sio.use(first)
    sio.use(second)
    sio.use(admin_only, namespace="/admin")

    @sio.on("connect", namespace="/admin")
    def connect(sid: str, environ: dict[str, Any]) -> None:
        calls.append(("handler", sid, None))

    h = await serve(sio)
    client, sid = await h.connected(auth={"role": "user"})
    assert calls == [("first", sid, {"role": "user"}), ("second", sid, {"role": "user"})]
    calls.clear()
    await client.send('40/admin,{"role":"user"}')
    await client.expect('44/admin,{"message":"admins only","data":{"need":"admin"}}')
    assert [name for name, _, _ in calls] == ["first", "second", "admin"]
    calls.clear()
    admin_sid = await client.connect("/admin", {"role": "admin"})
    assert [name for name, _, _ in calls] == ["first", "second", "admin", "handler"]
    assert {s for _, s, _ in calls} == {admin_sid}


@pytest.mark.asyncio
async def test_packet_middleware_drops_events(serve: Serve) -> None:
    sio = AsyncServer()
    seen: list[Any] = []

    @sio.use_packet
    async def only_allowed(sid: str, event: str, args: list[Any]) -> None:
        if event == "forbidden":
            raise ValueError("nope")

    @sio.on("*")
    def any_event(event: str, sid: str, *args: Any) -> str:
        seen.append((event, args))
        return "ok"

    h = await serve(sio)
    client, _ = await h.connected()
    await client.send('421["forbidden",1]')
    await client.send('422["allowed",2]')
    await client.expect('432["ok"]')
    assert seen == [("allowed", (2,))]


@pytest.mark.asyncio
async def test_connect_timeout_drops_a_silent_client(serve: Serve) -> None:
    sio = AsyncServer(connect_timeout=0.2)
    h = await serve(sio)
    client = await h.client()
    assert list(sio.eio.sessions) == [client.eio_sid]
    await client.expect_closed()
    await h.until_empty()
    # A client that connects in time is kept past the timeout.
    good, sid = await h.connected()
    loop = asyncio.get_running_loop()
    opened = loop.time()
    await h.until(lambda: loop.time() > opened + 0.3, "the connect timeout to pass")
    await good.barrier()
    assert sio.connected(sid)


# -------------------------------------------------------------------------- events


@pytest.mark.asyncio
async def test_event_acks(serve: Serve) -> None:
    sio = AsyncServer()

    @sio.on("value")
    def value(sid: str, x: Any) -> Any:
        return x

    @sio.on("several")
    async def several(sid: str) -> tuple[int, str, None]:
        return (1, "two", None)

    @sio.on("nothing")
    def nothing(sid: str, *args: Any) -> None:
        return None

    @sio.on("binary")
    def binary(sid: str, data: bytes) -> bytes:
        return data[::-1]

    h = await serve(sio)
    client, _ = await h.connected()
    await client.send('420["value",{"a":[1,2]}]')
    await client.expect('430[{"a":[1,2]}]')
    await client.send('427["several"]')
    await client.expect('437[1,"two",null]')
    await client.send('42["nothing",1]')  # no ack id: no ACK
    await client.send('4212["nothing",1,2]')
    await client.expect("4312[]")
    await client.send('451-3["binary",{"_placeholder":true,"num":0}]')
    await client.send_binary(b"\x01\x02\x03")
    await client.expect('461-3[{"_placeholder":true,"num":0}]', b"\x03\x02\x01")
    # A numeric event name is allowed.
    await client.send("429[7]")
    await client.barrier()


@pytest.mark.asyncio
async def test_event_in_a_namespace(serve: Serve) -> None:
    sio = AsyncServer()
    sio.on("echo", lambda sid, x: x, namespace="/chat")
    h = await serve(sio)
    client = await h.client()
    await client.connect("/chat")
    await client.send('42/chat,5["echo","hi"]')
    await client.expect('43/chat,5["hi"]')
    # The same event in "/" (not joined) is dropped; the connection stays.
    await client.send('426["echo","lost"]')
    await client.barrier()


@pytest.mark.asyncio
async def test_handler_exception_is_logged_and_serving_goes_on(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    sio = AsyncServer()

    @sio.on("crash")
    async def crash(sid: str) -> None:
        raise RuntimeError("handler boom")

    sio.on("ok", lambda sid: "fine")
    h = await serve(sio)
    client, _ = await h.connected()
    with caplog.at_level(logging.ERROR):
        await client.send('421["crash"]')  # no ACK for a crashed handler
        await client.send('422["ok"]')
        await client.expect('432["fine"]')
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None and "handler boom" in str(errors[0].exc_info[1])
    assert "'crash'" in errors[0].getMessage()


@pytest.mark.asyncio
async def test_events_of_a_client_run_in_arrival_order(serve: Serve) -> None:
    sio = AsyncServer()
    order: list[str] = []
    slow_started = asyncio.Event()
    release = asyncio.Event()

    @sio.on("slow")
    async def slow(sid: str) -> None:
        slow_started.set()
        await release.wait()
        order.append("slow")

    @sio.on("fast")
    def fast(sid: str) -> None:
        order.append("fast")

    h = await serve(sio)
    client, _ = await h.connected()
    other, _ = await h.connected()
    await client.send('42["slow"]')
    await client.send('421["fast"]')
    await asyncio.wait_for(slow_started.wait(), 5)
    # Another client is not held up by the slow handler.
    await other.send('427["fast"]')
    await other.expect("437[]")
    assert order == ["fast"]
    release.set()
    await client.expect("431[]")
    assert order == ["fast", "slow", "fast"]


@pytest.mark.asyncio
async def test_async_handlers_run_concurrently(serve: Serve) -> None:
    sio = AsyncServer(async_handlers=True)
    release = asyncio.Event()

    @sio.on("slow")
    async def slow(sid: str) -> str:
        await release.wait()
        return "slow"

    @sio.on("fast")
    def fast(sid: str) -> str:
        release.set()
        return "fast"

    h = await serve(sio)
    client, _ = await h.connected()
    await client.send('421["slow"]')
    await client.send('422["fast"]')
    await client.expect('432["fast"]', '431["slow"]')


@pytest.mark.asyncio
async def test_handler_awaiting_an_ack_does_not_deadlock(serve: Serve) -> None:
    sio = AsyncServer()

    @sio.on("ask")
    async def ask(sid: str, question: str) -> Any:
        answer = await sio.call("question", question, to=sid, timeout=5)
        return ["client said", answer]

    h = await serve(sio)
    client, _ = await h.connected()
    await client.send('421["ask","why?"]')
    message = await client.recv()
    assert isinstance(message, str)
    # The server's ack id is its own counter; answer with whatever it chose.
    prefix, _, rest = message.partition("[")
    assert prefix.startswith("42") and rest == '"question","why?"]'
    ack_id = prefix[2:]
    await client.send(f'43{ack_id}["because"]')
    await client.expect('431[["client said","because"]]')


@pytest.mark.asyncio
async def test_emits_from_the_connect_handler_follow_connect(serve: Serve) -> None:
    sio = AsyncServer()

    @sio.on("connect")
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.enter_room(sid, "lobby")
        await sio.emit("welcome", sid, to=sid)
        await sio.emit("lobby", "news", room="lobby")
        await sio.emit("hello", {"to": "all"})

    h = await serve(sio)
    client = await h.client()
    await client.send("40")
    reply = await client.recv()
    assert isinstance(reply, str) and reply.startswith('40{"sid":')
    sid = reply[len('40{"sid":"') : -2]
    await client.expect(f'42["welcome","{sid}"]', '42["lobby","news"]', '42["hello",{"to":"all"}]')


# --------------------------------------------------------------------- disconnect


@pytest.mark.asyncio
async def test_disconnect_reasons(serve: Serve) -> None:
    sio = AsyncServer()
    reasons: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    @sio.on("disconnect")
    async def disconnect(sid: str, reason: str) -> None:
        reasons.put_nowait((sid, reason))

    h = await serve(sio)
    # The server disconnects the socket: the client gets "1" (DISCONNECT), nothing closes.
    client, sid = await h.connected()
    await sio.disconnect(sid)
    await client.expect("41")
    assert await asyncio.wait_for(reasons.get(), 5) == (sid, "server namespace disconnect")
    assert not sio.connected(sid)
    await client.barrier()
    # The client leaves the namespace.
    sid = await client.connect()
    await client.send("41")
    assert await asyncio.wait_for(reasons.get(), 5) == (sid, "client namespace disconnect")
    await client.barrier()
    # The transport goes away.
    sid = await client.connect()
    await client.aclose()
    assert await asyncio.wait_for(reasons.get(), 5) == (sid, "transport close")
    await h.until_empty()


@pytest.mark.asyncio
async def test_disconnect_handler_with_one_argument(serve: Serve) -> None:
    sio = AsyncServer()
    gone: asyncio.Queue[str] = asyncio.Queue()
    sio.on("disconnect", gone.put_nowait)
    h = await serve(sio)
    client, sid = await h.connected()
    await client.send("41")
    assert await asyncio.wait_for(gone.get(), 5) == sid


@pytest.mark.asyncio
async def test_disconnect_with_close_ends_the_connection(serve: Serve) -> None:
    sio = AsyncServer()
    reasons: list[str] = []
    sio.on("disconnect", lambda sid, reason: reasons.append(reason))
    h = await serve(sio)
    client, sid = await h.connected()
    await sio.disconnect(sid, close=True)
    await client.expect("41")
    await client.expect_closed()
    await h.until_empty()
    assert reasons == ["server namespace disconnect"]
    # Unknown sids are ignored.
    await sio.disconnect("nobody")


@pytest.mark.asyncio
async def test_disconnect_handler_crash_is_logged(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    sio = AsyncServer()

    @sio.on("disconnect")
    def disconnect(sid: str) -> None:
        raise RuntimeError("bye boom")

    h = await serve(sio)
    client, _ = await h.connected()
    with caplog.at_level(logging.ERROR):
        await client.aclose()
        await h.until_empty()
        await h.until(lambda: any(r.exc_info for r in caplog.records))
    assert "bye boom" in caplog.text


@pytest.mark.asyncio
async def test_disconnect_from_the_connect_handler_refuses(serve: Serve) -> None:
    sio = AsyncServer()
    gone: list[str] = []

    @sio.on("disconnect")
    def disconnect(sid: str) -> None:
        gone.append(sid)

    @sio.on("connect")
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.emit("never sent", to=sid)
        await sio.disconnect(sid)

    h = await serve(sio)
    client = await h.client()
    await client.send("40")
    # The client is answered (not left waiting for a CONNECT that never comes).
    await client.expect('44{"message":"Connection rejected by server"}')
    await h.until(lambda: not sio.local_sids())
    assert gone == []  # it never connected
    await client.barrier()


# ------------------------------------------------- events handled at once (no task)


class FakeSession:
    """An in-memory Engine.IO session: keeps what the server sends (as in
    benchmarks/socketio_layer.py); messages go in through the Engine.IO ``message_hook``."""

    writable = True
    transport = "websocket"

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.got = asyncio.Event()

    def send(self, data: Any) -> None:
        self.sent.append(data)
        self.got.set()

    def close(self) -> None:
        pass


async def open_fake(
    sio: AsyncServer, name: str = "e0"
) -> tuple[FakeSession, Callable[[str], None]]:
    """An Engine.IO session with its socket connected to "/"; returns it and its input."""
    fake = FakeSession()
    sio.eio.sessions[name] = fake  # type: ignore[assignment]
    sio.eio.handlers["connect"](name, {})
    hook = sio.eio.message_hook
    assert hook is not None
    hook(name, "0")
    while not fake.sent:
        fake.got.clear()
        await asyncio.wait_for(fake.got.wait(), 5)
    assert fake.sent[0].startswith('0{"sid":')
    fake.sent.clear()
    return fake, lambda text: hook(name, text)


@pytest.mark.asyncio
async def test_a_plain_handler_is_acked_before_the_message_call_returns() -> None:
    sio = AsyncServer()
    sio.on("sum", lambda sid, a, b: a + b)
    sio.on("none", lambda sid: None)
    fake, receive = await open_fake(sio)
    receive('21["sum",1,2]')
    assert fake.sent == ["31[3]"]  # no await in between: no task, no loop turn
    receive('22["none"]')
    receive('2["sum",1,2]')  # no ack id: nothing to send
    assert fake.sent == ["31[3]", "32[]"]


@pytest.mark.asyncio
async def test_order_holds_between_waiting_and_plain_handlers() -> None:
    sio = AsyncServer()
    release = asyncio.Event()

    @sio.on("slow")
    async def slow(sid: str) -> str:
        await release.wait()
        return "slow"

    sio.on("fast", lambda sid: "fast")
    fake, receive = await open_fake(sio)
    receive('21["slow"]')
    receive('22["fast"]')  # queued behind the waiting handler, not run at once
    assert fake.sent == []
    release.set()
    while len(fake.sent) < 2:
        fake.got.clear()
        await asyncio.wait_for(fake.got.wait(), 5)
    assert fake.sent == ['31["slow"]', '32["fast"]']
    receive('23["fast"]')  # idle again: at once
    assert fake.sent[-1] == '33["fast"]'


@pytest.mark.asyncio
async def test_plain_handlers_run_in_a_copy_of_the_context() -> None:
    sio = AsyncServer()
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen: list[str] = []

    def setter(sid: str) -> None:
        seen.append(var.get())
        var.set("set by a handler")

    sio.on("set", setter)
    fake, receive = await open_fake(sio)
    receive('21["set"]')
    receive('22["set"]')
    assert seen == ["unset", "unset"]  # as if each ran in a task of its own
    assert var.get() == "unset"
    assert fake.sent == ["31[]", "32[]"]


@pytest.mark.asyncio
async def test_a_plain_handler_returning_an_awaitable_is_awaited() -> None:
    sio = AsyncServer()

    async def later(value: int) -> int:
        await asyncio.sleep(0)
        return value * 2

    sio.on("double", lambda sid, value: later(value))
    fake, receive = await open_fake(sio)
    receive('21["double",21]')
    while not fake.sent:
        fake.got.clear()
        await asyncio.wait_for(fake.got.wait(), 5)
    assert fake.sent == ["31[42]"]


@pytest.mark.asyncio
async def test_a_plain_handler_crash_is_logged_and_not_acked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sio = AsyncServer()

    def boom(sid: str) -> None:
        raise RuntimeError("plain boom")

    sio.on("boom", boom)
    sio.on("ok", lambda sid: "ok")
    fake, receive = await open_fake(sio)
    with caplog.at_level(logging.ERROR):
        receive('21["boom"]')
    assert "plain boom" in caplog.text
    receive('22["ok"]')
    assert fake.sent == ['32["ok"]']


@pytest.mark.asyncio
async def test_packet_middlewares_still_see_every_event() -> None:
    sio = AsyncServer()
    seen: list[tuple[str, list[Any]]] = []

    async def middleware(sid: str, event: str, args: list[Any]) -> None:
        seen.append((event, args))

    sio.use_packet(middleware)
    sio.on("sum", lambda sid, a, b: a + b)
    fake, receive = await open_fake(sio)
    receive('21["sum",1,2]')
    while not fake.sent:
        fake.got.clear()
        await asyncio.wait_for(fake.got.wait(), 5)
    assert seen == [("sum", [1, 2])]
    assert fake.sent == ["31[3]"]


@pytest.mark.asyncio
async def test_a_result_json_cannot_carry_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    sio = AsyncServer()
    sio.on("bad", lambda sid: {"when": object()})
    sio.on("ok", lambda sid: "ok")
    fake, receive = await open_fake(sio)
    with caplog.at_level(logging.ERROR):
        receive('21["bad"]')  # logged, not raised into the Engine.IO layer
    assert "ack of 'bad' cannot be sent" in caplog.text
    receive('22["ok"]')
    assert fake.sent == ['32["ok"]']
