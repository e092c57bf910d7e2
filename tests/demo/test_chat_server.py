"""The chat demo's server (demo/server.py) and bot (demo/bot.py), with real clients.

The server runs on 127.0.0.1:0 in the test's loop, with the page's static files. The people
are python-socketio ``AsyncClient``s over WebSocket (the reference client); the bot is
:class:`demo.bot.ChatBot` on our blocking ``Client``, whose blocking calls run in a worker
thread. Nothing sleeps: every wait is a queue read bounded by ``TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import socketio

from demo import server as chat_server
from demo.bot import HELP, ChatBot
from demo.server import CLIENT_BUILD, MAX_IMAGE_BYTES, Chat, static_files

TIMEOUT = 5.0
EVENTS = ("message", "image", "presence", "delivered", "rooms")


class Person:
    """A python-socketio client with a queue per server event."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = socketio.AsyncClient(reconnection=False)
        self.queues: dict[str, asyncio.Queue[Any]] = {e: asyncio.Queue() for e in EVENTS}
        #: Set to hold back the acks of message/image (a recipient that never answers).
        self.stall: asyncio.Event | None = None
        for event in EVENTS:
            self.client.on(event, self._handler(event))

    def _handler(self, event: str) -> Any:
        async def handle(data: Any) -> bool:
            self.queues[event].put_nowait(data)
            if self.stall is not None and event in ("message", "image"):
                await self.stall.wait()
            return True  # acked: "delivered"

        return handle

    @property
    def sid(self) -> str:
        """The sid in the default namespace."""
        sid = self.client.get_sid()
        assert sid is not None
        return str(sid)

    async def next(self, event: str) -> Any:
        """The next ``event`` the server sent."""
        return await asyncio.wait_for(self.queues[event].get(), TIMEOUT)

    def idle(self, event: str) -> bool:
        """Nothing of ``event`` has arrived (that was not read)."""
        return self.queues[event].empty()

    def drain(self, event: str) -> list[Any]:
        """Everything of ``event`` received so far."""
        items = []
        while not self.queues[event].empty():
            items.append(self.queues[event].get_nowait())
        return items

    async def call(self, event: str, data: Any) -> Any:
        """Emit with an ack and return it."""
        return await self.client.call(event, data, timeout=TIMEOUT)

    async def join(self, name: str, room: str = "lobby") -> dict[str, Any]:
        """Join a room, checking the ack."""
        reply = await self.call("join", {"name": name, "room": room})
        assert reply["ok"], reply
        return dict(reply)


class Room:
    """The running chat and a factory of connected :class:`Person` clients."""

    def __init__(self, chat: Chat, port: int) -> None:
        self.chat = chat
        self.url = f"http://127.0.0.1:{port}"
        self.people: list[Person] = []

    async def person(self, name: str | None = None, room: str = "lobby") -> Person:
        """Connect someone (and have them join ``room`` when ``name`` is given)."""
        person = Person(self.url)
        self.people.append(person)
        await person.client.connect(self.url, transports=["websocket"], wait_timeout=TIMEOUT)
        await person.next("rooms")  # sent on connect
        if name is not None:
            await person.join(name, room)
        return person


@pytest_asyncio.fixture
async def chat() -> AsyncIterator[Room]:
    """The chat server on 127.0.0.1:0, with its static files."""
    server = Chat()
    async with server.sio.listen("127.0.0.1", 0, static_files=static_files()) as front:
        room = Room(server, front.port)
        try:
            yield room
        finally:
            for person in room.people:
                if person.stall is not None:
                    person.stall.set()
                with contextlib.suppress(Exception):
                    await person.client.disconnect()


# --------------------------------------------------------------------- the page


@pytest.mark.asyncio
async def test_serves_page_client_and_assets(chat: Room) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(chat.url + "/") as page:
            assert page.status == 200
            assert page.content_type == "text/html"
            html = await page.text()
        assert '<script src="/socket.io-client.js"' in html
        assert 'id="messages"' in html
        async with http.get(chat.url + "/socket.io-client.js") as script:
            assert script.status == 200
            assert script.content_type == "text/javascript"
            assert await script.read() == CLIENT_BUILD.read_bytes()
        for asset, kind in (("/static/chat.js", "javascript"), ("/static/chat.css", "text/css")):
            async with http.get(chat.url + asset) as response:
                assert response.status == 200, asset
                assert kind in response.content_type
        async with http.get(chat.url + "/static/../server.py") as escape:
            assert escape.status == 404


def test_missing_client_build_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat_server, "CLIENT_BUILD", CLIENT_BUILD.with_name("nope.js"))
    with pytest.raises(FileNotFoundError, match="make setup"):
        chat_server.static_files()


# ------------------------------------------------------------------ join, leave


@pytest.mark.asyncio
async def test_join_presence_and_room_list(chat: Room) -> None:
    ada = await chat.person()
    reply = await ada.join("  Ada ", "#lobby")
    assert reply == {
        "ok": True,
        "name": "Ada",
        "room": "lobby",
        "members": [{"sid": ada.sid, "name": "Ada"}],
    }
    assert await ada.next("rooms") == {"rooms": [{"name": "lobby", "count": 1}]}

    bob = await chat.person("Bob")
    presence = await ada.next("presence")
    assert presence == {
        "room": "lobby",
        "action": "joined",
        "user": {"sid": bob.sid, "name": "Bob"},
        "members": [{"sid": ada.sid, "name": "Ada"}, {"sid": bob.sid, "name": "Bob"}],
    }
    assert await ada.next("rooms") == {"rooms": [{"name": "lobby", "count": 2}]}
    assert bob.idle("presence")  # the joiner learns the members from its ack

    # The first name sticks; joining again changes nothing.
    again = await bob.join("Robert", "lobby")
    assert again["name"] == "Bob"
    assert len(again["members"]) == 2


@pytest.mark.asyncio
async def test_leave_and_disconnect_tell_the_room(chat: Room) -> None:
    ada = await chat.person("Ada")
    bob = await chat.person("Bob")
    carl = await chat.person("Carl", "other")
    await bob.join("Bob", "other")
    ada.drain("presence")
    assert await bob.call("leave", {"room": "lobby"}) == {"ok": True, "room": "lobby"}
    left = await ada.next("presence")
    assert left["action"] == "left"
    assert left["user"]["name"] == "Bob"
    assert left["members"] == [{"sid": ada.sid, "name": "Ada"}]
    assert await bob.call("leave", {"room": "lobby"}) == {
        "ok": False,
        "error": "you are not in #lobby",
    }
    carl.drain("presence")
    carl.drain("rooms")
    await bob.client.disconnect()
    gone = await carl.next("presence")
    assert (gone["room"], gone["action"], gone["members"]) == (
        "other",
        "left",
        [{"sid": carl.sid, "name": "Carl"}],
    )
    assert ada.idle("presence")
    rooms = (await carl.next("rooms"))["rooms"]
    while rooms != [{"name": "lobby", "count": 1}, {"name": "other", "count": 1}]:
        rooms = (await carl.next("rooms"))["rooms"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("event", "data", "error"),
    [
        ("join", {"name": "Ada", "room": "no spaces"}, "room names are"),
        ("join", {"name": "   ", "room": "lobby"}, "the name is empty"),
        ("join", {"name": "x" * 25, "room": "lobby"}, "longer than 24"),
        ("join", "lobby", "expected an object"),
        ("room_message", {"id": "m1", "room": "lobby", "text": "hi"}, "you are not in #lobby"),
        ("broadcast", {"id": "m1", "text": "hi"}, "join a room first"),
        ("direct_message", {"id": "m1", "to": "nobody", "text": "hi"}, "no such user"),
    ],
)
async def test_bad_requests_are_refused_in_the_ack(
    chat: Room, event: str, data: Any, error: str
) -> None:
    person = await chat.person()
    reply = await person.call(event, data)
    assert reply["ok"] is False
    assert error in reply["error"]


# ------------------------------------------------------------------- messages


@pytest.mark.asyncio
async def test_room_message_reaches_the_room_only(chat: Room) -> None:
    ada = await chat.person("Ada")
    bob = await chat.person("Bob")
    outsider = await chat.person("Olga", "elsewhere")
    reply = await ada.call("room_message", {"id": "ada-1", "room": "lobby", "text": " hello "})
    assert reply["ok"] is True
    assert reply["id"] == "ada-1"
    message = await bob.next("message")
    assert message == {
        "id": "ada-1",
        "kind": "room",
        "from": {"sid": ada.sid, "name": "Ada"},
        "text": "hello",
        "ts": reply["ts"],
        "room": "lobby",
    }
    assert await ada.next("delivered") == {"id": "ada-1", "count": 1, "total": 1}
    # A later message to Olga proves the first one never went her way.
    await ada.join("Ada", "elsewhere")
    await ada.call("room_message", {"id": "ada-2", "room": "elsewhere", "text": "psst"})
    assert (await outsider.next("message"))["id"] == "ada-2"
    assert ada.idle("message")  # the sender is skipped (skip_sid)
    assert bob.idle("message")


@pytest.mark.asyncio
async def test_direct_message_by_sid(chat: Room) -> None:
    ada = await chat.person("Ada")
    bob = await chat.person("Bob")
    carl = await chat.person("Carl")
    await ada.call("direct_message", {"id": "d1", "to": bob.sid, "text": "just you"})
    message = await bob.next("message")
    assert (message["kind"], message["to"], message["text"]) == ("direct", bob.sid, "just you")
    assert await ada.next("delivered") == {"id": "d1", "count": 1, "total": 1}
    await ada.call("direct_message", {"id": "d2", "to": carl.sid, "text": "and you"})
    assert (await carl.next("message"))["id"] == "d2"
    assert bob.idle("message")
    refused = await ada.call("direct_message", {"id": "d3", "to": ada.sid, "text": "me"})
    assert refused == {"ok": False, "error": "no such user"}


@pytest.mark.asyncio
async def test_broadcast_skips_the_sender(chat: Room) -> None:
    ada = await chat.person("Ada")
    bob = await chat.person("Bob", "kitchen")
    lurker = await chat.person()  # connected, in no room: still "everyone"
    await ada.call("broadcast", {"id": "b1", "text": "hello all"})
    for other in (bob, lurker):
        message = await other.next("message")
        assert (message["kind"], message["text"]) == ("broadcast", "hello all")
    assert await ada.next("delivered") == {"id": "b1", "count": 2, "total": 2}
    assert ada.idle("message")


@pytest.mark.asyncio
async def test_delivered_counts_only_the_acks_that_came(
    chat: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat_server, "ACK_TIMEOUT", 0.3)
    ada = await chat.person("Ada")
    bob = await chat.person("Bob")
    slow = await chat.person("Slow")
    slow.stall = asyncio.Event()
    await ada.call("room_message", {"id": "r1", "room": "lobby", "text": "anyone?"})
    assert await ada.next("delivered") == {"id": "r1", "count": 1, "total": 2}
    await ada.call("direct_message", {"id": "r2", "to": slow.sid, "text": "you?"})
    assert await ada.next("delivered") == {"id": "r2", "count": 0, "total": 1}
    await bob.call("leave", {"room": "lobby"})
    await slow.call("leave", {"room": "lobby"})
    await ada.call("room_message", {"id": "r3", "room": "lobby", "text": "alone"})
    assert await ada.next("delivered") == {"id": "r3", "count": 0, "total": 0}


@pytest.mark.asyncio
async def test_image_arrives_intact(chat: Room) -> None:
    ada = await chat.person("Ada")
    bob = await chat.person("Bob")
    picture = bytes(range(256)) * 40  # every byte value, 10 KiB
    image = {"id": "i1", "room": "lobby", "name": "all.png", "type": "image/png", "data": picture}
    assert (await ada.call("image", image))["ok"] is True
    got = await bob.next("image")
    assert got["data"] == picture
    assert (got["name"], got["type"], got["room"], got["from"]["name"]) == (
        "all.png",
        "image/png",
        "lobby",
        "Ada",
    )
    assert await ada.next("delivered") == {"id": "i1", "count": 1, "total": 1}
    too_big = image | {"data": b"\x00" * (MAX_IMAGE_BYTES + 1)}
    assert "limited to 512 KiB" in (await ada.call("image", too_big))["error"]
    svg = image | {"type": "image/svg+xml"}
    assert "only PNG" in (await ada.call("image", svg))["error"]
    text = image | {"data": "not bytes"}
    assert (await ada.call("image", text))["error"] == "the image must be bytes"


# ------------------------------------------------------------------------ the bot


@pytest.mark.asyncio
async def test_bot_on_the_blocking_client(chat: Room) -> None:
    bot = ChatBot(chat.url)
    await asyncio.to_thread(bot.start)
    try:
        ada = await chat.person("Ada")
        welcome = await ada.next("message")
        assert (welcome["from"]["name"], welcome["text"]) == ("chatbot", f"Welcome, Ada! {HELP}")
        await ada.call("room_message", {"id": "a1", "room": "lobby", "text": "!who"})
        assert await ada.next("delivered") == {"id": "a1", "count": 1, "total": 1}
        assert (await ada.next("message"))["text"] == "In #lobby: chatbot, Ada."
        bot_sid = welcome["from"]["sid"]
        await ada.call("direct_message", {"id": "a2", "to": bot_sid, "text": "ping"})
        echo = await ada.next("message")
        assert (echo["kind"], echo["text"]) == ("direct", "You said: ping")
        image = {"id": "a3", "room": "lobby", "name": "x.png", "type": "image/png", "data": b"x"}
        await ada.call("image", image)
        assert (await ada.next("message"))["text"] == "Nice picture, Ada (1 bytes)."
    finally:
        await asyncio.to_thread(bot.stop)
