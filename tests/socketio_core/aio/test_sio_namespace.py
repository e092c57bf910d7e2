"""Tests for class-based namespaces (socketio_core.aio.namespace) and dynamic namespaces."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from socketio_core.aio import AsyncServer, Namespace

# ``serve`` (conftest.py): ``harness = await serve(sio)``; conftest cannot be imported.
Serve = Callable[[AsyncServer], Awaitable[Any]]


class Chat(Namespace):
    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self.events: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        await self.enter_room(sid, "lobby")
        await self.save_session(sid, {"name": (auth or {}).get("name", "anon")})
        self.events.put_nowait(("connect", sid, auth))

    async def on_say(self, sid: str, text: str) -> str:
        session = await self.get_session(sid)
        await self.emit("said", [session["name"], text], room="lobby", skip_sid=sid)
        return "sent"

    async def on_rename(self, sid: str, name: str) -> None:
        async with self.session(sid) as session:
            session["name"] = name

    async def on_part(self, sid: str) -> list[str]:
        await self.leave_room(sid, "lobby")
        return self.rooms(sid)

    async def on_shout(self, sid: str, text: str) -> None:
        await self.send(text.upper())

    async def on_close_lobby(self, sid: str) -> None:
        await self.close_room("lobby")

    async def on_ask(self, sid: str) -> Any:
        return await self.call("question", "?", to=sid, timeout=5)

    async def on_kick(self, sid: str) -> None:
        await self.disconnect(sid)

    def on_disconnect(self, sid: str) -> None:  # the one-argument form
        self.events.put_nowait(("disconnect", sid))

    not_a_handler = 1


def test_namespace_needs_a_server() -> None:
    with pytest.raises(RuntimeError):
        Chat("/chat").server  # noqa: B018
    ns = Chat("/chat")
    assert ns.handler_for("say") == ns.on_say
    assert ns.handler_for("missing") is None
    assert ns.handler_for("not_a_handler".removeprefix("on_")) is None


@pytest.mark.asyncio
async def test_class_based_namespace(serve: Serve) -> None:
    sio = AsyncServer()
    chat = Chat("/chat")
    sio.register_namespace(chat)
    h = await serve(sio)
    ann = await h.client()
    bob = await h.client()
    sa = await ann.connect("/chat", {"name": "ann"})
    sb = await bob.connect("/chat")
    assert await chat.events.get() == ("connect", sa, {"name": "ann"})
    assert await chat.events.get() == ("connect", sb, None)

    await ann.send('42/chat,1["say","hi"]')
    await ann.expect('43/chat,1["sent"]')
    await bob.expect('42/chat,["said",["ann","hi"]]')
    await bob.send('42/chat,["rename","bob"]')
    await bob.send('42/chat,2["say","yo"]')
    await bob.expect('43/chat,2["sent"]')
    await ann.expect('42/chat,["said",["bob","yo"]]')

    await ann.send('42/chat,["shout","hey"]')
    await ann.expect('42/chat,["message","HEY"]')
    await bob.expect('42/chat,["message","HEY"]')

    await ann.send('42/chat,3["part"]')
    await ann.expect(f'43/chat,3[["{sa}"]]')
    await bob.send('42/chat,["close_lobby"]')
    await bob.barrier()
    assert sio.rooms(sb, namespace="/chat") == [sb]

    await ann.send('42/chat,4["ask"]')
    message = await ann.recv()
    assert isinstance(message, str) and message.startswith("42/chat,")
    ack_id = message[len("42/chat,") :].split("[")[0]
    await ann.send(f'43/chat,{ack_id}["!"]')
    await ann.expect('43/chat,4["!"]')

    await ann.send('42/chat,["kick"]')
    await ann.expect("41/chat,")
    assert await chat.events.get() == ("disconnect", sa)
    # Unknown events of the namespace are ignored (no handler, no ACK).
    await bob.send('42/chat,5["unknown"]')
    await bob.barrier()


@pytest.mark.asyncio
async def test_catch_all_namespace_class(serve: Serve) -> None:
    sio = AsyncServer()
    seen: list[tuple[Any, ...]] = []

    class Every(Namespace):
        def on_connect(self, namespace: str, sid: str, environ: dict[str, Any]) -> None:
            seen.append(("connect", namespace, sid))

        def on_echo(self, namespace: str, sid: str, x: Any) -> list[Any]:
            return [namespace, x]

    sio.register_namespace(Every("*"))
    h = await serve(sio)
    client = await h.client()
    sid = await client.connect("/anything")
    assert seen == [("connect", "/anything", sid)]
    await client.send('42/anything,1["echo",5]')
    await client.expect('43/anything,1[["/anything",5]]')


@pytest.mark.parametrize(
    ("accepted", "ok", "refused"),
    [
        (re.compile(r"/room-\d+"), "/room-42", "/room-x"),
        (lambda namespace: namespace.endswith("-ok"), "/a-ok", "/a-no"),
        (["/listed"], "/listed", "/other"),
        ("*", "/whatever", None),
    ],
)
@pytest.mark.asyncio
async def test_dynamic_namespaces(
    serve: Serve, accepted: Any, ok: str, refused: str | None
) -> None:
    sio = AsyncServer(namespaces=accepted)
    h = await serve(sio)
    client = await h.client()
    sid = await client.connect(ok)
    assert sio.rooms(sid, namespace=ok) == [sid]
    await sio.emit("hi", namespace=ok)
    await client.expect(f'42{ok},["hi"]')
    if refused is not None:
        await client.send(f"40{refused},")
        await client.expect(f'44{refused},{{"message":"Invalid namespace"}}')
    # The main namespace is always served.
    await client.connect("/")


def test_method_signatures_are_checked_at_registration() -> None:
    """Class-based handlers are checked where function handlers are: when registered."""

    class TooFew(Namespace):
        def on_message(self) -> None:  # no sid
            pass

    class ConnectTooFew(Namespace):
        def on_connect(self, sid: str) -> None:  # no environ
            pass

    class Fine(Namespace):
        def on_connect(self, sid: str, environ: dict[str, Any]) -> None:
            pass

        def on_disconnect(self, sid: str) -> None:
            pass

        def on_anything(self, *args: Any) -> None:
            pass

    sio = AsyncServer()
    with pytest.raises(TypeError, match="'message' handler"):
        sio.register_namespace(TooFew("/a"))
    with pytest.raises(TypeError, match="'connect' handler"):
        sio.register_namespace(ConnectTooFew("/b"))
    sio.register_namespace(Fine("/c"))
    with pytest.raises(TypeError, match="at least 2"):  # a catch-all namespace passes one more
        sio.register_namespace(TooFew("*"))
