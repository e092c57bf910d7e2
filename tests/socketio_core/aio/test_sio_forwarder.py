"""RequestForwarder (socketio_core/aio/forwarder.py) between two Engine.IO servers, over an
in-memory broker: forwarded POST and parked GET, unknown and malformed sids, the pending
limit, the timeout, a client that goes away, bad broker messages."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from engineio_core.aio.server import AsyncServer, PreparedResponse
from engineio_core.request import HTTPRequest
from socketio_core.aio.forwarder import RequestForwarder
from socketio_core.exceptions import BrokerError
from socketio_core.forwarding import make_sid

pytestmark = pytest.mark.asyncio

A, B, GONE = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"


class MemoryBroker:
    """Channels of asyncio queues; ``publish`` answers the subscriber count, like Redis."""

    def __init__(self) -> None:
        self.channels: dict[str, asyncio.Queue[bytes]] = {}
        self.published: list[tuple[str, bytes]] = []
        self.deaf: set[str] = set()  # channels whose subscriber reads nothing

    def link(self) -> MemoryLink:
        return MemoryLink(self)


class MemoryLink:
    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker
        self.closed = False

    async def publish(self, channel: str, data: bytes) -> int | None:
        self.broker.published.append((channel, data))
        if channel in self.broker.deaf:
            return 1
        queue = self.broker.channels.get(channel)
        if queue is None:
            return 0
        queue.put_nowait(data)
        return 1

    async def subscribe(self, channel: str) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.broker.channels[channel] = queue

        async def messages() -> AsyncIterator[bytes]:
            while True:
                yield await queue.get()

        return messages()

    async def close(self) -> None:
        self.closed = True


class Node:
    def __init__(self, broker: MemoryBroker, uid: str, **options: Any) -> None:
        self.eio = AsyncServer(ping_interval=25, ping_timeout=20)
        self.fwd = RequestForwarder(broker.link(), "ch", uid, **options)
        self.fwd.bind(self.eio)
        self.eio.remote_sessions = self.fwd
        self.messages: list[Any] = []
        self.eio.on("message", lambda sid, data: self.messages.append(data))

    async def request(
        self, method: str, query: str, body: bytes | None = b""
    ) -> tuple[asyncio.Future[PreparedResponse], Any]:
        future: asyncio.Future[PreparedResponse] = asyncio.get_running_loop().create_future()
        request = HTTPRequest(method, "/engine.io/", query, (("host", "x"),))
        abort = await self.eio.handle_http(request, body, future.set_result)
        return future, abort


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker()


@contextlib.asynccontextmanager
async def two_nodes(
    broker: MemoryBroker,
    a_options: dict[str, Any] | None = None,
    b_options: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[Node, Node]]:
    """Server ``A`` and server ``B``, forwarding started, stopped at the end."""
    a, b = Node(broker, A, **(a_options or {})), Node(broker, B, **(b_options or {}))
    await a.fwd.start()
    await b.fwd.start()
    try:
        yield a, b
    finally:
        await a.fwd.stop()
        await b.fwd.stop()


async def open_session(node: Node) -> str:
    future, _ = await node.request("GET", "EIO=4&transport=polling")
    response = future.result()
    assert response.status == 200
    sid: str = json.loads(response.body[1:])["sid"]
    return sid


async def test_post_and_parked_get_are_served_by_the_owner(broker: MemoryBroker) -> None:
    async with two_nodes(broker) as (a, b):
        sid = await open_session(a)
        assert sid.startswith(A + ".")
        assert b.fwd.is_remote(sid) and not a.fwd.is_remote(sid)
        posted, _ = await b.request("POST", f"EIO=4&transport=polling&sid={sid}", b"4hello")
        response = await asyncio.wait_for(posted, 5)
        assert (response.status, response.body) == (200, b"ok")
        while not a.messages:  # the owner's ordered message handler runs in a task
            await asyncio.sleep(0)
        assert a.messages == ["hello"]
        parked, abort = await b.request("GET", f"EIO=4&transport=polling&sid={sid}")
        assert abort is not None and not parked.done()
        await a.eio.send(sid, "world")
        response = await asyncio.wait_for(parked, 5)
        assert (response.status, response.body) == (200, b"4world")
        assert b.fwd.stats.answered == 2 and a.fwd.stats.served == 2


async def test_a_client_that_goes_away_aborts_the_parked_get_on_the_owner(
    broker: MemoryBroker,
) -> None:
    a, b = Node(broker, A), Node(broker, B)
    await a.fwd.start()
    await b.fwd.start()
    closed = asyncio.Event()
    a.eio.on("disconnect", lambda sid, reason: closed.set())
    try:
        sid = await open_session(a)
        parked, abort = await b.request("GET", f"EIO=4&transport=polling&sid={sid}")
        while sid not in [s for s in a.eio.sessions] or not a.fwd.stats.served:
            await asyncio.sleep(0)
        abort()  # the front door saw the client's connection close
        await asyncio.wait_for(closed.wait(), 5)  # "an aborted GET closes the session"
        assert sid not in a.eio.sessions
        assert not parked.done()
    finally:
        await a.fwd.stop()
        await b.fwd.stop()


async def test_unknown_sids_cost_one_publish_at_most(broker: MemoryBroker) -> None:
    async with two_nodes(broker) as (_live_owner, b):
        # malformed: answered at once, nothing published
        future, _ = await b.request("GET", "EIO=4&transport=polling&sid=nonsense")
        assert future.result().status == 400
        assert broker.published == []
        # a dead owner: one publish, nobody listens, 400
        dead = make_sid(GONE)
        future, _ = await b.request("GET", f"EIO=4&transport=polling&sid={dead}")
        response = await asyncio.wait_for(future, 5)
        assert response.status == 400
        assert json.loads(response.body) == {"code": 1, "message": "Session ID unknown"}
        assert len(broker.published) == 1 and b.fwd.stats.unknown == 1
        # a live owner without that session: its own 400, forwarded back
        future, _ = await b.request("POST", f"EIO=4&transport=polling&sid={make_sid(A)}", b"4x")
        response = await asyncio.wait_for(future, 5)
        assert response.status == 400
        assert len(broker.published) == 3  # the request and its answer
        # our own sid shape, unknown here: no round trip
        future, _ = await b.request("GET", f"EIO=4&transport=polling&sid={make_sid(B)}")
        assert future.result().status == 400 and len(broker.published) == 3


async def test_pending_limit_and_timeout(broker: MemoryBroker) -> None:
    b = Node(broker, B, max_pending=1)
    b.fwd.timeout = 0.05  # bind() set a ping interval plus a ping timeout
    broker.deaf.add("ch#fwd#" + A)  # the owner gets the request and never answers
    await b.fwd.start()
    try:
        query = f"EIO=4&transport=polling&sid={make_sid(A)}"
        first, _ = await b.request("GET", query)
        second, _ = await b.request("GET", query)
        assert second.result().status == 503 and b.fwd.stats.busy == 1
        response = await asyncio.wait_for(first, 5)
        assert response.status == 400 and b.fwd.stats.timeouts == 1
        while not any(b'"cancel"' in data for _, data in broker.published):
            await asyncio.sleep(0)  # the owner is told to forget the request
    finally:
        await b.fwd.stop()


async def test_a_request_over_the_message_limit_is_not_sent(broker: MemoryBroker) -> None:
    b = Node(broker, B, max_message_size=1000)
    await b.fwd.start()
    try:
        query = f"EIO=4&transport=polling&sid={make_sid(A)}"
        future, _ = await b.request("POST", query, b"4" + b"x" * 1000)
        assert (await asyncio.wait_for(future, 5)).status == 400
        assert broker.published == []
    finally:
        await b.fwd.stop()


async def test_a_response_over_the_message_limit_becomes_a_500(broker: MemoryBroker) -> None:
    async with two_nodes(broker, {"max_message_size": 2000}) as (a, b):
        sid = await open_session(a)
        await a.eio.send(sid, "x" * 3000)
        future, _ = await b.request("GET", f"EIO=4&transport=polling&sid={sid}")
        assert (await asyncio.wait_for(future, 5)).status == 500


async def test_bad_broker_messages_are_dropped_and_counted(broker: MemoryBroker) -> None:
    a = Node(broker, A)
    await a.fwd.start()
    try:
        await a.fwd.receive(b"junk")
        await a.fwd.receive(b'{"v":1,"kind":"cancel","from":"bbbbbbbbbbbbbbbb","rid":5}\n')
        await a.fwd.receive(
            b'{"v":1,"kind":"response","from":"bbbbbbbbbbbbbbbb","rid":5,"status":200,'
            b'"headers":[]}\n'
        )
        assert a.fwd.stats.rejected == 1
    finally:
        await a.fwd.stop()


async def test_start_failure_is_a_broker_error() -> None:
    class Down(MemoryLink):
        async def subscribe(self, channel: str) -> AsyncIterator[bytes]:
            raise OSError("refused")

    fwd = RequestForwarder(Down(MemoryBroker()), "ch", A)
    with pytest.raises(BrokerError, match="refused"):
        await fwd.start()
    with pytest.raises(ValueError, match="max_pending"):
        RequestForwarder(MemoryLink(MemoryBroker()), "ch", A, max_pending=0)


# ---------------------------------------------------------------- relayed WebSockets


class FakeWebSocket:
    """The front door's accepted WebSocket: records what is written to the client."""

    def __init__(self) -> None:
        self.written: list[str | bytes] = []
        self.closed = asyncio.Event()
        self.unread = 0

    def write(self, message: str | bytes) -> None:
        self.written.append(message)

    def close(self) -> None:
        self.closed.set()

    @property
    def backlog(self) -> int:
        return self.unread


async def until(predicate: Any, what: str) -> None:
    """Spin the loop until ``predicate()`` holds (bounded: 5 s)."""
    try:
        async with asyncio.timeout(5):
            while not predicate():
                await asyncio.sleep(0.001)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def land_websocket(node: Node, sid: str) -> tuple[Any, FakeWebSocket]:
    """A WebSocket upgrade for ``sid`` lands on ``node`` and is accepted."""
    query = f"EIO=4&transport=websocket&sid={sid}"
    target = await node.eio.websocket_target(HTTPRequest("GET", "/engine.io/", query))
    assert not isinstance(target, PreparedResponse), target
    ws = FakeWebSocket()
    assert target.attach_websocket(ws)
    return target, ws


async def relayed_upgrade(a: Node, b: Node) -> tuple[str, Any, FakeWebSocket]:
    """A session of ``a`` whose WebSocket lands on ``b`` and upgrades there (probe, 5)."""
    sid = await open_session(a)
    target, ws = await land_websocket(b, sid)
    target.ws_message("2probe")
    target.ws_message("5")
    await until(lambda: a.eio.sessions[sid].transport == "websocket", "upgraded")
    return sid, target, ws


async def test_an_upgrade_landing_elsewhere_moves_the_held_session_there(
    broker: MemoryBroker,
) -> None:
    """Node's cluster-engine "takeOver": the session's messages were held on the owner, so
    after the client's 5 the session opens on the WebSocket's process, with what the owner
    held delivered first and what the client sent right after its 5 next: nothing lost,
    nothing twice, and the owner forgets the session."""
    async with two_nodes(broker, {"upgrade_hold": 30}) as (a, b):
        gone_on_a: list[object] = []
        a.eio.on("disconnect", lambda sid, reason: gone_on_a.append(reason))
        sid = await open_session(a)
        posted, _ = await a.request("POST", f"EIO=4&transport=polling&sid={sid}", b"4held")
        assert posted.result().body == b"ok"
        target, ws = await land_websocket(b, sid)
        target.ws_message("2probe")
        await until(lambda: ws.written == ["3probe"], "the probe answered by the owner")
        target.ws_message("5")
        target.ws_message("4after")  # before the owner's answer: kept, then delivered
        await until(lambda: sid in b.eio.sessions and len(b.messages) == 2, "moved in")
        assert b.messages == ["held", "after"] and a.messages == []
        assert sid not in a.eio.sessions and gone_on_a == ["moved"]
        assert a.fwd.relays.stats.moved_out == 1 and b.fwd.relays.stats.moved_in == 1
        target.ws_message("4local")
        await until(lambda: len(b.messages) == 3, "a local message")
        await b.eio.send(sid, "to the client")
        assert ws.written[-1] == "4to the client"
        published = len(broker.published)
        target.ws_message("4no broker")
        await until(lambda: len(b.messages) == 4, "another local message")
        assert len(broker.published) == published  # the session is local now
        assert not a.fwd.relays.owner_ends and not b.fwd.relays.landing_ends


async def test_an_upgrade_landing_elsewhere_is_relayed_when_the_session_stays(
    broker: MemoryBroker,
) -> None:
    """Once the application has seen the session (no hold), it stays with its owner: the
    WebSocket is relayed both ways for the session's life, in order, and each side's close
    reaches the other."""
    async with two_nodes(broker, {"upgrade_hold": 0}) as (a, b):
        gone_on_a: list[object] = []
        a.eio.on("disconnect", lambda sid, reason: gone_on_a.append(reason))
        sid = await open_session(a)
        parked, _ = await a.request("GET", f"EIO=4&transport=polling&sid={sid}")
        target, ws = await land_websocket(b, sid)
        target.ws_message("2probe")
        await until(lambda: ws.written == ["3probe"], "the probe")
        # the owner answers the parked GET with a noop (spec "Upgrade")
        assert (await asyncio.wait_for(parked, 5)).body == b"6"
        target.ws_message("5")
        for n in range(20):
            target.ws_message(f"4m{n}")
        await until(lambda: len(a.messages) == 20, "relayed up")
        assert a.messages == [f"m{n}" for n in range(20)]
        assert b.messages == [] and sid not in b.eio.sessions
        for n in range(20):
            await a.eio.send(sid, f"d{n}")
        await until(lambda: len(ws.written) == 21, "relayed down")
        assert ws.written[1:] == [f"4d{n}" for n in range(20)]
        assert a.eio.sessions[sid].transport == "websocket"
        target.ws_closed()  # the client's WebSocket closed on b
        await until(lambda: bool(gone_on_a), "the session closed on its owner")
        assert gone_on_a == ["transport close"]
        await until(lambda: not a.fwd.relays.owner_ends, "the owner's relay end dropped")
        assert not b.fwd.relays.landing_ends


async def test_the_owner_closing_a_relayed_session_closes_the_websocket(
    broker: MemoryBroker,
) -> None:
    async with two_nodes(broker, {"upgrade_hold": 0}) as (a, b):
        sid, target, ws = await relayed_upgrade(a, b)
        await a.eio.disconnect(sid)
        await asyncio.wait_for(ws.closed.wait(), 5)
        assert ws.written[-1] == "1"  # the close packet went first
        target.ws_closed()  # the front door reports the end
        assert not b.fwd.relays.landing_ends


async def test_a_websocket_for_an_unknown_or_orphaned_sid_is_400(broker: MemoryBroker) -> None:
    async with two_nodes(broker) as (_live_owner, b):
        for sid in (make_sid(A), make_sid(GONE)):  # unknown to a live owner; owner gone
            query = f"EIO=4&transport=websocket&sid={sid}"
            target = await b.eio.websocket_target(HTTPRequest("GET", "/engine.io/", query))
            assert isinstance(target, PreparedResponse) and target.status == 400
        assert b.fwd.relays.stats.refused == 2 and not b.fwd.relays.landing_ends


async def test_a_relay_whose_owner_dies_closes_its_websocket(broker: MemoryBroker) -> None:
    """The owner goes away mid-session: the landing process's next publish reaches nobody
    and it closes the client's WebSocket (the client reconnects)."""
    async with two_nodes(broker, {"upgrade_hold": 0}) as (a, b):
        _sid, target, ws = await relayed_upgrade(a, b)
        del broker.channels["ch#fwd#" + A]  # the owner's process is gone
        target.ws_message("4anyone?")
        await asyncio.wait_for(ws.closed.wait(), 5)
        assert not b.fwd.relays.landing_ends


async def test_a_relay_over_its_buffer_closes(broker: MemoryBroker) -> None:
    """The client's WebSocket on the landing process does not read: past the Engine.IO
    send-buffer limit the relayed WebSocket closes, and the owner's session with it."""
    async with two_nodes(broker, {"upgrade_hold": 0}) as (a, b):
        gone_on_a: list[object] = []
        a.eio.on("disconnect", lambda sid, reason: gone_on_a.append(reason))
        sid, target, ws = await relayed_upgrade(a, b)
        ws.unread = b.fwd.relays.max_buffer + 1
        await a.eio.send(sid, "one more")
        await asyncio.wait_for(ws.closed.wait(), 5)
        target.ws_closed()
        await until(lambda: bool(gone_on_a), "the owner's session closed")


async def test_a_relayed_message_over_the_broker_limit_ends_the_relay(
    broker: MemoryBroker,
) -> None:
    """A client message too large for one broker message is not sent (the owner would drop
    it unread, silently): the WebSocket closes instead, like a 1009."""
    async with two_nodes(broker, {"upgrade_hold": 0}, {"max_message_size": 4096}) as (a, b):
        _sid, target, ws = await relayed_upgrade(a, b)
        target.ws_message("4" + "x" * 5000)
        await asyncio.wait_for(ws.closed.wait(), 5)
        assert not b.fwd.relays.landing_ends


async def test_upgrades_waiting_for_a_deaf_owner_are_bounded(broker: MemoryBroker) -> None:
    """An owner that never answers: one upgrade waits (up to open_timeout), the next one past
    max_pending is answered 400 at once, with no publish."""
    b = Node(broker, B, max_pending=1)
    broker.deaf.add("ch#fwd#" + A)
    await b.fwd.start()
    try:
        query = f"EIO=4&transport=websocket&sid={make_sid(A)}"
        request = HTTPRequest("GET", "/engine.io/", query)
        first = asyncio.ensure_future(b.eio.websocket_target(request))
        await until(lambda: len(broker.published) == 1, "the first open published")
        second = await b.eio.websocket_target(request)
        assert isinstance(second, PreparedResponse) and second.status == 400
        assert len(broker.published) == 1 and b.fwd.relays.stats.refused == 1
        first.cancel()  # the client went away: nothing stays
        with contextlib.suppress(asyncio.CancelledError):
            await first
        assert not b.fwd.relays.landing_ends
    finally:
        await b.fwd.stop()


async def test_a_relay_that_hears_nothing_from_its_owner_closes(broker: MemoryBroker) -> None:
    """The owner's messages (its pings among them) stop arriving without the owner being
    gone for the broker: after a ping interval plus a ping timeout of silence (here shortened)
    the landing process closes the WebSocket."""
    async with two_nodes(broker, {"upgrade_hold": 0}) as (a, b):
        b.fwd.relays.idle_timeout = 0.2
        sid = await open_session(a)
        target, ws = await land_websocket(b, sid)
        target.ws_message("2probe")
        await until(lambda: ws.written == ["3probe"], "the probe")
        assert not ws.closed.is_set()
        broker.deaf.add("ch#fwd#" + B)  # from now on nothing reaches b
        await asyncio.wait_for(ws.closed.wait(), 5)
        assert not b.fwd.relays.landing_ends
