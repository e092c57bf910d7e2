"""The ``remote_sessions`` hook of the Engine.IO server (engineio_core/aio/server.py): sids
come from it, a polling request for a remote sid is forwarded, an unknown answer is a 400, a
WebSocket upgrade of a remote session goes to the hook's relay, and a new polling session is
held (its messages kept from the application) so that it can move whole."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from engineio_core.aio.server import AsyncServer, PreparedResponse
from engineio_core.aio.session import WebSocketTarget, WebSocketTransport
from engineio_core.request import HTTPRequest

pytestmark = pytest.mark.asyncio


class TwoNodes:
    """Sids ``here-N`` are ours, ``there-N`` another process's; forward answers canned."""

    def __init__(
        self,
        answer: PreparedResponse | None,
        relay: WebSocketTarget | None = None,
        upgrade_hold: float = 0.0,
    ) -> None:
        self.answer = answer
        self.relay = relay
        self.upgrade_hold = upgrade_hold
        self.count = 0
        self.forwarded: list[tuple[str, bytes | None]] = []
        self.websockets: list[str] = []
        self.aborted = 0

    def new_sid(self) -> str:
        self.count += 1
        return f"here-{self.count}"

    def is_remote(self, sid: str) -> bool:
        return sid.startswith("there-")

    def forward(
        self,
        request: HTTPRequest,
        body: bytes | None,
        respond: Callable[[PreparedResponse | None], None],
    ) -> Callable[[], None]:
        self.forwarded.append((request.query["sid"], body))
        respond(self.answer)

        def abort() -> None:
            self.aborted += 1

        return abort

    async def websocket(self, request: HTTPRequest, sid: str) -> WebSocketTarget | None:
        self.websockets.append(sid)
        return self.relay


class Relay:
    """A stand-in relay: records what the front door feeds it."""

    def attach_websocket(self, ws: WebSocketTransport) -> bool:
        return True

    def ws_message(self, data: str | bytes) -> None:
        pass

    def ws_closed(self) -> None:
        pass

    def handshake_failed(self) -> None:
        pass


class FakeWebSocket:
    def __init__(self) -> None:
        self.written: list[str | bytes] = []
        self.closed = False

    def write(self, message: str | bytes) -> None:
        self.written.append(message)

    def close(self) -> None:
        self.closed = True

    @property
    def backlog(self) -> int:
        return 0


async def call(eio: AsyncServer, method: str, query: str, body: bytes = b"") -> PreparedResponse:
    got: list[PreparedResponse] = []
    await eio.handle_http(HTTPRequest(method, "/engine.io/", query), body, got.append)
    return got[0]


async def test_sids_come_from_the_hook_and_remote_requests_are_forwarded() -> None:
    eio = AsyncServer()
    remote = TwoNodes(PreparedResponse(200, [("Content-Length", "2")], b"ok"))
    eio.remote_sessions = remote
    opened = await call(eio, "GET", "EIO=4&transport=polling")
    assert json.loads(opened.body[1:])["sid"] == "here-1"
    response = await call(eio, "POST", "EIO=4&transport=polling&sid=there-1", b"4x")
    assert (response.status, response.body) == (200, b"ok")
    assert remote.forwarded == [("there-1", b"4x")]
    # not remote and not here: the usual 400, nothing forwarded
    response = await call(eio, "GET", "EIO=4&transport=polling&sid=here-9")
    assert response.status == 400 and len(remote.forwarded) == 1


async def test_an_unknown_remote_sid_is_400() -> None:
    eio = AsyncServer()
    eio.remote_sessions = TwoNodes(None)
    response = await call(eio, "GET", "EIO=4&transport=polling&sid=there-2")
    assert response.status == 400
    assert json.loads(response.body) == {"code": 1, "message": "Session ID unknown"}


async def test_a_websocket_upgrade_of_a_remote_session_goes_to_the_relay() -> None:
    eio = AsyncServer()
    relay = Relay()
    remote = TwoNodes(None, relay)
    eio.remote_sessions = remote
    request = HTTPRequest("GET", "/engine.io/", "EIO=4&transport=websocket&sid=there-3")
    assert await eio.websocket_target(request) is relay
    assert remote.websockets == ["there-3"] and remote.forwarded == []
    # the owner does not know it: the usual 400
    remote.relay = None
    target = await eio.websocket_target(request)
    assert isinstance(target, PreparedResponse) and target.status == 400
    # not remote and not here: 400 without asking anyone
    local = HTTPRequest("GET", "/engine.io/", "EIO=4&transport=websocket&sid=here-7")
    target = await eio.websocket_target(local)
    assert isinstance(target, PreparedResponse) and target.status == 400
    assert remote.websockets == ["there-3", "there-3"]


async def test_a_held_session_delivers_when_the_hold_ends() -> None:
    eio = AsyncServer()
    eio.remote_sessions = TwoNodes(None, upgrade_hold=0.3)
    got: list[str | bytes] = []
    eio.on("message", lambda sid, data: got.append(data))
    opened = await call(eio, "GET", "EIO=4&transport=polling")
    sid = json.loads(opened.body[1:])["sid"]
    response = await call(eio, "POST", f"EIO=4&transport=polling&sid={sid}", b"4one\x1e4two")
    assert response.body == b"ok"
    driver = eio.sessions[sid]
    assert driver.held
    for _ in range(20):
        await asyncio.sleep(0)
    assert got == []  # held: nothing reached the application yet
    for _ in range(500):
        if got:
            break
        await asyncio.sleep(0.01)
    assert got == ["one", "two"] and not driver.held


async def test_a_held_session_upgraded_here_is_released_at_once() -> None:
    eio = AsyncServer()
    eio.remote_sessions = TwoNodes(None, upgrade_hold=30)
    got: list[str | bytes] = []
    eio.on("message", lambda sid, data: got.append(data))
    opened = await call(eio, "GET", "EIO=4&transport=polling")
    sid = json.loads(opened.body[1:])["sid"]
    await call(eio, "POST", f"EIO=4&transport=polling&sid={sid}", b"4one")
    target = await eio.websocket_target(
        HTTPRequest("GET", "/engine.io/", f"EIO=4&transport=websocket&sid={sid}")
    )
    ws = FakeWebSocket()
    assert not isinstance(target, PreparedResponse) and target.attach_websocket(ws)
    target.ws_message("2probe")
    target.ws_message("5")
    target.ws_message("4two")
    for _ in range(100):
        if len(got) == 2:
            break
        await asyncio.sleep(0)
    assert got == ["one", "two"] and ws.written == ["3probe"]


async def test_a_held_session_moves_out_with_what_it_held() -> None:
    """move_out: the session leaves the table, its held messages are returned, and the
    disconnect handler runs with reason "moved" (no message ever reached the application)."""
    eio = AsyncServer()
    eio.remote_sessions = TwoNodes(None, upgrade_hold=30)
    got: list[str | bytes] = []
    gone: list[object] = []
    eio.on("message", lambda sid, data: got.append(data))
    eio.on("disconnect", lambda sid, reason: gone.append(reason))
    opened = await call(eio, "GET", "EIO=4&transport=polling")
    sid = json.loads(opened.body[1:])["sid"]
    await call(eio, "POST", f"EIO=4&transport=polling&sid={sid}", b"4one")
    driver = eio.sessions[sid]
    ws = FakeWebSocket()
    assert driver.attach_websocket(ws, remote=True)
    driver.ws_message("2probe")
    driver.ws_message("5")
    assert driver.held  # upgraded on a relayed WebSocket: the relay decides
    assert driver.move_out() == ["one"]
    assert sid not in eio.sessions
    for _ in range(100):
        if gone:
            break
        await asyncio.sleep(0)
    assert gone == ["moved"] and got == []


async def test_an_adopted_session_opens_on_its_websocket_without_a_handshake() -> None:
    eio = AsyncServer()
    seen: list[tuple[str, str]] = []
    got: list[str | bytes] = []
    eio.on("connect", lambda sid, environ: seen.append((sid, environ["QUERY_STRING"])))
    eio.on("message", lambda sid, data: got.append(data))
    ws = FakeWebSocket()
    query = "EIO=4&transport=websocket&sid=there-5"
    driver = await eio.adopt("there-5", HTTPRequest("GET", "/engine.io/", query), ws, ["one"])
    assert driver is not None and eio.sessions["there-5"] is driver
    assert driver.transport == "websocket"
    assert ws.written == []  # no open packet: the client has it
    assert seen == [("there-5", query)]
    driver.ws_message("4two")
    for _ in range(100):
        if len(got) == 2:
            break
        await asyncio.sleep(0)
    assert got == ["one", "two"]
    await eio.send("there-5", "hi")
    assert ws.written == ["4hi"]
    # refused by the connect handler: nothing stays
    eio.on("connect", lambda sid, environ: False)
    refused = await eio.adopt("there-6", HTTPRequest("GET", "/engine.io/", query), ws, [])
    assert refused is None and "there-6" not in eio.sessions
