"""The chat demo's server: a Socket.IO chat on the standalone server, with its web page.

One port serves everything: the page (``/``, ``/static/...``), the official socket.io-client
browser build from npm (``/socket.io-client.js``, read from ``demo/node_modules``, which
``make setup`` installs with ``npm ci``) and Socket.IO itself (``/socket.io/``). With
:func:`admin_ui_files`, the official Socket.IO Admin UI too (``/admin/``, the built files of
the npm package ``@socket.io/admin-ui``, also in ``demo/node_modules``), speaking to the
server's ``instrument()`` on the ``/admin`` namespace.

Events
------
Client to server (each takes one dict and is acknowledged with a dict holding ``ok``; a
refused request is answered ``{"ok": False, "error": "..."}``):

``join`` ``{name, room}``
    Enter ``room`` (created on first use). The name given at a connection's first join is
    kept for that connection. Ack: ``{ok, name, room, members}``, ``members`` being
    ``[{sid, name}, ...]``. The room then gets a ``presence`` event.
``leave`` ``{room}``
    Leave ``room``. Ack: ``{ok, room}``; the room gets a ``presence`` event.
``room_message`` ``{id, room, text}``
    A message to the other members of a room you are in.
``direct_message`` ``{id, to, text}``
    A message to one user, by sid.
``broadcast`` ``{id, text}``
    A message to everyone connected but the sender: ``emit(..., skip_sid=sid)``, as in
    python-socketio's tutorial.
``image`` ``{id, room, name, type, data}``
    An image (``data`` is bytes: a binary attachment) to the other members of a room.

The four sending events are acknowledged at once with ``{ok, id, ts}``: the page's first
tick, "sent". The server then emits the message to its recipients *with an ack callback*;
each recipient's page acknowledges what it displayed, and once every recipient has answered
(or :data:`ACK_TIMEOUT` has passed) the sender gets ``delivered``: the second tick.

Server to client:

``message`` ``{id, kind, from, text, ts, room?}``
    ``kind`` is ``"room"``, ``"direct"`` or ``"broadcast"``; ``from`` is ``{sid, name}``.
    Acknowledge it to count as delivered.
``image`` ``{id, from, room, name, type, data, ts}``
    Acknowledge it as a message.
``delivered`` ``{id, count, total}``
    ``count`` of the ``total`` recipients acknowledged message ``id``.
``presence`` ``{room, action, user, members}``
    ``action`` is ``"joined"`` or ``"left"``; ``members`` is the room's online list.
``rooms`` ``{rooms: [{name, count}, ...]}``
    Every room and its head count: sent on connect and to everyone when it changes.

A connection's sender never gets its own message back: the page shows what it sent at once
and marks it with the ticks. State is kept in memory, in one process.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engineio_core.static import StaticFiles
from socketio_core.aio import AsyncServer
from socketio_core.aio.admin import admin_ui_static_files
from socketio_core.exceptions import AckTimeout, NotConnected

__all__ = [
    "ACK_TIMEOUT",
    "ADMIN_UI",
    "CLIENT_BUILD",
    "MAX_IMAGE_BYTES",
    "Chat",
    "admin_ui_files",
    "static_files",
]

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
#: The official browser build, installed by ``npm ci`` in ``demo/`` (never copied into the repo).
CLIENT_BUILD = HERE / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
#: The official Admin UI's built files (npm ``@socket.io/admin-ui``), served at ``/admin/``.
ADMIN_UI = HERE / "node_modules" / "@socket.io" / "admin-ui" / "ui" / "dist"

#: Seconds the server waits for the recipients' acks before reporting ``delivered``.
ACK_TIMEOUT = 5.0
MAX_NAME = 24
MAX_TEXT = 2000
#: The largest image the page may share (the Engine.IO limit, 1 MB, leaves room for it).
MAX_IMAGE_BYTES = 512 * 1024
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
ROOM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
MESSAGE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class Refused(Exception):
    """A request the chat refuses; its text goes back in the ack."""


def static_files() -> StaticFiles:
    """The page, its assets and the socket.io-client build, in python-engineio's format.

    Raises:
        FileNotFoundError: ``demo/node_modules`` is missing (run ``make setup``).
    """
    if not CLIENT_BUILD.is_file():
        raise FileNotFoundError(
            f"{CLIENT_BUILD} is missing: run `make setup` (or `npm ci` in demo/) first"
        )
    return {
        "/": str(STATIC / "index.html"),
        "/static": str(STATIC),
        "/socket.io-client.js": {
            "filename": str(CLIENT_BUILD),
            "content_type": "text/javascript",
        },
        "/socket.io.min.js.map": str(CLIENT_BUILD) + ".map",
    }


def admin_ui_files(url_path: str = "/admin") -> StaticFiles:
    """The Admin UI's files on ``url_path`` (add them to :func:`static_files`).

    Raises:
        FileNotFoundError: the npm package is missing (run ``make setup``).
    """
    return admin_ui_static_files(ADMIN_UI, url_path)


@dataclass
class Chat:
    """The chat: an :class:`AsyncServer` with the handlers above and who is where.

    Example::

        chat = Chat()
        async with chat.sio.listen("127.0.0.1", 8000, static_files=static_files()) as front:
            ...
    """

    sio: AsyncServer = field(default_factory=lambda: AsyncServer(max_http_buffer_size=1_000_000))
    #: sid -> name, for every connection that has joined a room.
    names: dict[str, str] = field(default_factory=dict)
    #: room -> sids of its members, in joining order.
    rooms: dict[str, list[str]] = field(default_factory=dict)
    #: every connected sid (the audience of ``broadcast``).
    connected: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        sio = self.sio
        sio.on("connect", self.on_connect)
        sio.on("disconnect", self.on_disconnect)
        sio.on("join", self.guarded(self.on_join))
        sio.on("leave", self.guarded(self.on_leave))
        sio.on("room_message", self.guarded(self.on_room_message))
        sio.on("direct_message", self.guarded(self.on_direct_message))
        sio.on("broadcast", self.guarded(self.on_broadcast))
        sio.on("image", self.guarded(self.on_image))

    # ------------------------------------------------------------------- lifecycle

    async def on_connect(self, sid: str, environ: dict[str, Any]) -> None:
        """A new connection: it gets the room list."""
        self.connected.add(sid)
        await self.sio.emit("rooms", self.room_list(), to=sid)

    async def on_disconnect(self, sid: str, reason: str) -> None:
        """A connection is gone: it leaves every room, and each room hears of it."""
        self.connected.discard(sid)
        for room in [room for room, members in self.rooms.items() if sid in members]:
            await self._leave(sid, room)
        self.names.pop(sid, None)
        await self.broadcast_room_list()

    # -------------------------------------------------------------------- requests

    @staticmethod
    def guarded(handler: Any) -> Any:
        """Wrap a request handler: a bad request is refused in its ack, never raised."""

        async def run(sid: str, data: Any = None) -> dict[str, Any]:
            if not isinstance(data, dict):
                return {"ok": False, "error": "expected an object"}
            try:
                result: dict[str, Any] = await handler(sid, data)
            except Refused as exc:
                return {"ok": False, "error": str(exc)}
            return {"ok": True, **result}

        run.__name__ = handler.__name__
        return run

    async def on_join(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """``join {name, room}``."""
        room = _room(data.get("room"))
        name = self.names.get(sid) or _text(data.get("name"), "name", MAX_NAME)
        self.names[sid] = name
        await self.sio.save_session(sid, {"name": name})
        members = self.rooms.setdefault(room, [])
        if sid not in members:
            members.append(sid)
            await self.sio.enter_room(sid, room)
            await self.sio.emit(
                "presence", self.presence(room, "joined", sid), to=room, skip_sid=sid
            )
            await self.broadcast_room_list()
        return {"name": name, "room": room, "members": self.members(room)}

    async def on_leave(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """``leave {room}``."""
        room = self._my_room(sid, data.get("room"))
        await self._leave(sid, room)
        await self.broadcast_room_list()
        return {"room": room}

    async def on_room_message(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """``room_message {id, room, text}``: to the room, the sender skipped."""
        room = self._my_room(sid, data.get("room"))
        message = self._message(sid, data, "room") | {"room": room}
        recipients = [member for member in self.rooms[room] if member != sid]
        self._deliver(sid, "message", message, recipients, to=room, skip_sid=sid)
        return {"id": message["id"], "ts": message["ts"]}

    async def on_direct_message(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """``direct_message {id, to, text}``: to one sid."""
        to = data.get("to")
        if not isinstance(to, str) or to not in self.names or to == sid:
            raise Refused("no such user")
        message = self._message(sid, data, "direct") | {"to": to}
        self._deliver(sid, "message", message, [to], to=to)
        return {"id": message["id"], "ts": message["ts"]}

    async def on_broadcast(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """``broadcast {id, text}``: to everyone but the sender (``skip_sid``)."""
        message = self._message(sid, data, "broadcast")
        recipients = [other for other in self.connected if other != sid]
        self._deliver(sid, "message", message, recipients, skip_sid=sid)
        return {"id": message["id"], "ts": message["ts"]}

    async def on_image(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """``image {id, room, name, type, data}``: bytes to the room, the sender skipped."""
        room = self._my_room(sid, data.get("room"))
        blob = data.get("data")
        if not isinstance(blob, bytes) or not blob:
            raise Refused("the image must be bytes")
        if len(blob) > MAX_IMAGE_BYTES:
            raise Refused(f"images are limited to {MAX_IMAGE_BYTES // 1024} KiB")
        if data.get("type") not in IMAGE_TYPES:
            raise Refused("only PNG, JPEG, GIF and WebP images")
        image = {
            "id": _message_id(data.get("id")),
            "from": self.user(sid),
            "room": room,
            "name": _text(data.get("name", "image"), "file name", 100),
            "type": data["type"],
            "data": blob,
            "ts": _now_ms(),
        }
        recipients = [member for member in self.rooms[room] if member != sid]
        self._deliver(sid, "image", image, recipients, to=room, skip_sid=sid)
        return {"id": image["id"], "ts": image["ts"]}

    # -------------------------------------------------------------------- helpers

    def user(self, sid: str) -> dict[str, str]:
        """``{sid, name}`` of a connection that has joined."""
        return {"sid": sid, "name": self.names[sid]}

    def members(self, room: str) -> list[dict[str, str]]:
        """The online list of a room."""
        return [self.user(sid) for sid in self.rooms.get(room, [])]

    def presence(self, room: str, action: str, sid: str) -> dict[str, Any]:
        """The ``presence`` event for ``sid`` joining or leaving ``room``."""
        return {
            "room": room,
            "action": action,
            "user": self.user(sid),
            "members": self.members(room),
        }

    def room_list(self) -> dict[str, Any]:
        """The ``rooms`` event."""
        return {
            "rooms": [
                {"name": room, "count": len(sids)} for room, sids in sorted(self.rooms.items())
            ]
        }

    async def broadcast_room_list(self) -> None:
        """Tell everyone the rooms and their head counts."""
        await self.sio.emit("rooms", self.room_list())

    def _my_room(self, sid: str, room: Any) -> str:
        name = _room(room)
        if sid not in self.rooms.get(name, []):
            raise Refused(f"you are not in #{name}")
        return name

    def _message(self, sid: str, data: dict[str, Any], kind: str) -> dict[str, Any]:
        if sid not in self.names:
            raise Refused("join a room first")
        return {
            "id": _message_id(data.get("id")),
            "kind": kind,
            "from": self.user(sid),
            "text": _text(data.get("text"), "message", MAX_TEXT),
            "ts": _now_ms(),
        }

    async def _leave(self, sid: str, room: str) -> None:
        members = self.rooms.get(room, [])
        if sid not in members:
            return
        members.remove(sid)
        if not members:
            del self.rooms[room]
        await self.sio.leave_room(sid, room)
        await self.sio.emit("presence", self.presence(room, "left", sid), to=room)

    def _deliver(
        self,
        sender: str,
        event: str,
        payload: dict[str, Any],
        recipients: Iterable[str],
        *,
        to: str | None = None,
        skip_sid: str | None = None,
    ) -> None:
        """Emit in the background (the sender's ack goes first), then report ``delivered``."""
        total = len(set(recipients))

        async def run() -> None:
            count = 0
            if total == 1 and to is not None and skip_sid is None and to in self.names:
                try:  # one recipient, by sid: ``call`` waits for its ack
                    await self.sio.call(event, payload, to=to, timeout=ACK_TIMEOUT)
                    count = 1
                except (AckTimeout, NotConnected):
                    count = 0
            elif total:
                # A broadcast with a callback: called once, with every ack by sid.
                acks: dict[str, Any] = {}

                def collect(error: Any, responses: dict[str, Any] | None = None) -> None:
                    acks.update(
                        error.responses if isinstance(error, AckTimeout) else responses or {}
                    )

                await self.sio.emit(
                    event,
                    payload,
                    to=to,
                    skip_sid=skip_sid,
                    callback=collect,
                    timeout=ACK_TIMEOUT,
                )
                count = len(acks)
            delivered = {"id": payload["id"], "count": count, "total": total}
            if sender in self.connected:
                await self.sio.emit("delivered", delivered, to=sender)

        self.sio.start_background_task(run)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _text(value: Any, what: str, limit: int) -> str:
    """A non-empty, stripped string of at most ``limit`` characters."""
    if not isinstance(value, str) or not value.strip():
        raise Refused(f"the {what} is empty")
    text = value.strip()
    if len(text) > limit:
        raise Refused(f"the {what} is longer than {limit} characters")
    return text


def _room(value: Any) -> str:
    """A room name: letters, digits, ``_`` and ``-``, up to 32 characters."""
    if not isinstance(value, str) or not ROOM_NAME.fullmatch(value.strip().lstrip("#")):
        raise Refused("room names are 1-32 letters, digits, '_' or '-'")
    return value.strip().lstrip("#")


def _message_id(value: Any) -> str:
    if not isinstance(value, str) or not MESSAGE_ID.fullmatch(value):
        raise Refused("a message needs an id")
    return str(value)
