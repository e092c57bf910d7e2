"""The ``remote_sessions`` hook of the Engine.IO server (engineio_core/aio/server.py): sids
come from it, a polling request for a remote sid is forwarded, an unknown answer is a 400, and
a WebSocket upgrade of a remote session is refused."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from engineio_core.aio.server import AsyncServer, PreparedResponse
from engineio_core.request import HTTPRequest

pytestmark = pytest.mark.asyncio


class TwoNodes:
    """Sids ``here-N`` are ours, ``there-N`` another process's; forward answers canned."""

    def __init__(self, answer: PreparedResponse | None) -> None:
        self.answer = answer
        self.count = 0
        self.forwarded: list[tuple[str, bytes | None]] = []
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


async def test_a_websocket_upgrade_of_a_remote_session_is_refused() -> None:
    eio = AsyncServer()
    remote = TwoNodes(None)
    eio.remote_sessions = remote
    target = await eio.websocket_target(
        HTTPRequest("GET", "/engine.io/", "EIO=4&transport=websocket&sid=there-3")
    )
    assert isinstance(target, PreparedResponse) and target.status == 400
    assert remote.forwarded == []
