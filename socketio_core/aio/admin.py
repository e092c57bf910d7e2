"""``AsyncServer.instrument()``: the official Socket.IO Admin UI on an asyncio server.

Theory of operation
-------------------
:class:`AdminInstrument` is the server's :class:`~socketio_core.admin.ServerListener` and the
rooms' :class:`~socketio_core.rooms.RoomObserver`. The server calls it synchronously from the
network path; it only counts (``server_stats``'s aggregated events) and, in development mode,
queues the per-socket events of the UI (shapes in :mod:`socketio_core.admin`). One task per
burst drains the queue with ordinary :meth:`AsyncServer.emit` calls on the admin namespace,
so that with a Redis or RabbitMQ manager every UI of the cluster gets every server's events,
as Node's ``instrument()`` does through its adapter. ``all_sockets`` uses the manager's
``fetch_sockets`` (cluster-wide); the UI's actions use the manager's ``sockets_join``,
``sockets_leave`` and ``disconnect_sockets`` (cluster-wide too).

Rules this file keeps
---------------------
* Not instrumented, the server does no admin work: its hooks test ``listener is None``.
* Without an admin UI connected to this process (and no cluster manager that could carry
  events to one elsewhere), per-socket events are not even queued.
* The queue is bounded (``max_queued``); what does not fit is dropped and counted.
* Credentials are checked off the event loop (scrypt and bcrypt are CPU-bound), two at a time.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Protocol

from engineio_core.aio import AsyncServer as EngineIOServer
from engineio_core.packet import Packet as EIOPacket

from ..admin import (
    AdminSessions,
    Credentials,
    EventBuffer,
    Mode,
    ServerListener,
    iso_time,
    serialize_socket,
)
from ..admin import features as admin_features
from ..admin import server_stats as stats_payload
from ..exceptions import ConnectionRefused, NotConnected
from .manager import AsyncManager, SocketInfo

__all__ = ["AdminHost", "AdminInstrument", "admin_ui_static_files"]

logger = logging.getLogger(__name__)

HOSTNAME = socket.gethostname()


class AdminHost(Protocol):
    """What the instrumentation uses of the server (:class:`~socketio_core.aio.AsyncServer`)."""

    listener: ServerListener | None
    manager: AsyncManager
    eio: EngineIOServer

    def on(
        self, event: str, handler: Callable[..., Any] | None = None, namespace: str | None = None
    ) -> Any:
        """Register a handler."""

    def emit(
        self, event: str, data: Any = None, *, to: Any = None, namespace: str | None = None
    ) -> Awaitable[None]:
        """Emit an event."""

    def of(self, namespace: str) -> Any:
        """The broadcast operators of a namespace."""

    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        """Run a coroutine function in a task."""

    async def fetch_sockets(self, *, namespace: str | None = None) -> list[SocketInfo]:
        """The sockets of a namespace (the cluster's, with a pub/sub manager)."""

    def socket_info(self, namespace: str, sid: str) -> SocketInfo:
        """One local socket, as :meth:`fetch_sockets` describes it."""

    def socket_data(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """A local socket's ``data``."""

    def transport(self, sid: str, namespace: str | None = None) -> str:
        """A local socket's transport."""


class AdminInstrument:
    """The Admin UI side of a server (python-socketio's ``InstrumentedAsyncServer``).

    Args:
        server: the server to watch.
        auth: ``{"username": ..., "password": ...}`` (or a list of them; the password a
            bcrypt or scrypt hash, or a clear password hashed at once), a callable
            ``(auth) -> bool`` (sync or async) given the client's ``auth``, or ``False`` for
            no authentication (logged as a WARNING).
        mode: ``"development"`` (every socket, room and event) or ``"production"`` (only
            ``server_stats``).
        read_only: refuse the UI's actions (join, leave, disconnect, emit).
        server_id: this server's name in the UI (hostname and pid by default).
        namespace: the admin namespace.
        server_stats_interval: seconds between ``server_stats``.
        max_queued: per-socket events waiting to be sent to the UI; more are dropped.
        max_sessions / session_ttl: session ids kept for logged-in UIs, and for how long.

    Raises:
        ValueError: ``auth`` missing or malformed, or a bad ``mode``.
        MissingDependency: a bcrypt hash without the ``admin`` extra.
    """

    def __init__(
        self,
        server: AdminHost,
        *,
        auth: Any = None,
        mode: Mode = "development",
        read_only: bool = False,
        server_id: str | None = None,
        namespace: str = "/admin",
        server_stats_interval: float = 2,
        max_queued: int = 10_000,
        max_sessions: int = 1000,
        session_ttl: float = 24 * 3600.0,
    ) -> None:
        if mode not in ("development", "production"):
            raise ValueError(f"mode must be 'development' or 'production', not {mode!r}")
        if server.listener is not None:
            raise ValueError("this server is already instrumented")
        self.server = server
        self.namespace = namespace
        self.mode = mode
        self.read_only = read_only
        self.development = mode == "development"
        self.interval = server_stats_interval
        self.max_queued = max_queued
        self.credentials: Credentials | None = None
        self.auth_callable: Callable[[Any], Any] | None = None
        if auth is None:
            raise ValueError("auth must be given, or explicitly False (no authentication)")
        if auth is False:
            logger.warning(
                "! Admin UI on %s WITHOUT AUTHENTICATION: anyone reaching this server can "
                "see every socket and act on them",
                namespace,
            )
        elif callable(auth):
            self.auth_callable = auth
        else:
            self.credentials = Credentials(auth)
        uid = getattr(server.manager, "uid", None)
        self.server_id = server_id or (
            f"{HOSTNAME}#{os.getpid()}" + (f"#{str(uid)[:8]}" if uid else "")
        )
        self.sessions = AdminSessions(max_sessions=max_sessions, ttl=session_ttl)
        self.buffer = EventBuffer()
        # Per-message counters, folded into ``buffer`` by each server_stats (no clock read
        # per message; the UI groups its charts by 10 s anyway).
        self._packets_in = self._bytes_in = self._packets_out = self._bytes_out = 0
        self.dropped = 0
        self._queue: list[tuple[str, tuple[Any, ...]]] = []
        self._flush_task: asyncio.Task[None] | None = None
        self._closed = False
        self._admins = 0  # admin sockets connected to this process
        self._polling: dict[str, str] = {}  # sid -> namespace, while on polling
        self._verifying = asyncio.Semaphore(2)
        self._started = time.monotonic()
        self._stats_task: asyncio.Task[None] | None = None
        self._register_handlers()
        server.listener = self
        if self.development:
            server.manager.registry.observer = self

    # --------------------------------------------------------------- admin namespace

    def _register_handlers(self) -> None:
        on = self.server.on
        on("connect", self._admin_connect, namespace=self.namespace)
        on("disconnect", self._admin_disconnect, namespace=self.namespace)
        if not self.read_only:
            on("join", self._join, namespace=self.namespace)
            on("leave", self._leave, namespace=self.namespace)
            on("_disconnect", self._disconnect, namespace=self.namespace)
            on("emit", self._emit, namespace=self.namespace)

    async def _admin_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        new_session = await self._authenticate(auth)
        if new_session is False:
            logger.info("! admin UI login refused for %s", sid)
            raise ConnectionRefused("invalid credentials")
        self._admins += 1
        if isinstance(new_session, str):
            await self.server.emit("session", new_session, to=sid, namespace=self.namespace)
        features = admin_features(read_only=self.read_only, mode=self.mode)
        await self.server.emit(
            "config", {"supportedFeatures": features}, to=sid, namespace=self.namespace
        )
        if self.development:
            self.server.start_background_task(self._send_all_sockets, sid)

    async def _admin_disconnect(self, sid: str, reason: str) -> None:
        self._admins = max(0, self._admins - 1)

    async def _authenticate(self, auth: Any) -> bool | str:
        """False: refused; True: accepted; a str: accepted with this new session id."""
        if self.auth_callable is not None:
            result = self.auth_callable(auth)
            if inspect.isawaitable(result):
                result = await result
            return bool(result)
        if self.credentials is None:
            return True
        if (
            isinstance(auth, Mapping)
            and "sessionId" in auth
            and self.sessions.valid(auth["sessionId"], time.time())
        ):
            return True
        async with self._verifying:
            good = await asyncio.to_thread(self.credentials.verify, auth)
        if not good:
            return False
        session_id = secrets.token_hex(16)
        self.sessions.add(session_id, time.time())
        return session_id

    async def _send_all_sockets(self, sid: str) -> None:
        found: list[dict[str, Any]] = []
        namespaces = {"/", self.namespace, *self.server.manager.registry.namespaces()}
        for namespace in sorted(namespaces):
            for info in await self.server.fetch_sockets(namespace=namespace):
                found.append(
                    self._serialize(info.id, info.namespace, info.rooms, info.data, info.handshake)
                )
        await self.server.emit("all_sockets", found, to=sid, namespace=self.namespace)

    def _serialize(
        self,
        sid: str,
        namespace: str,
        rooms: Collection[str],
        data: Mapping[str, Any],
        handshake: Mapping[str, Any],
    ) -> dict[str, Any]:
        transport = None
        if self.server.manager.is_connected(namespace, sid):
            try:
                transport = self.server.transport(sid, namespace)
            except (NotConnected, KeyError):
                transport = None
        return serialize_socket(sid, namespace, rooms, data, handshake, transport=transport)

    # ----------------------------------------------------------------- UI actions
    # Arguments as the UI sends them (``SocketRooms.vue``, ``Sockets.vue``...): anything else
    # is dropped with one DEBUG line, never an error.

    def _operator(self, action: str, sid: str, namespace: Any, where: Any) -> Any:
        if not isinstance(namespace, str) or not (where is None or isinstance(where, str)):
            logger.debug("< admin %s: %s with bad arguments dropped", sid, action)
            return None
        logger.info("= admin %s: %s on %s in %s", sid, action, where or "everyone", namespace)
        operator = self.server.of(namespace)
        return operator.to(where) if where else operator

    async def _join(
        self, sid: str, namespace: Any = None, room: Any = None, where: Any = None, *_: Any
    ) -> None:
        operator = self._operator(f"join {room!r}", sid, namespace, where)
        if operator is not None and isinstance(room, str):
            await operator.sockets_join(room)

    async def _leave(
        self, sid: str, namespace: Any = None, room: Any = None, where: Any = None, *_: Any
    ) -> None:
        operator = self._operator(f"leave {room!r}", sid, namespace, where)
        if operator is not None and isinstance(room, str):
            await operator.sockets_leave(room)

    async def _disconnect(
        self, sid: str, namespace: Any = None, close: Any = False, where: Any = None, *_: Any
    ) -> None:
        operator = self._operator("disconnect", sid, namespace, where)
        if operator is not None:
            await operator.disconnect_sockets(close=close is True)

    async def _emit(
        self, sid: str, namespace: Any = None, where: Any = None, event: Any = None, *args: Any
    ) -> None:
        operator = self._operator(f"emit {event!r}", sid, namespace, where)
        if operator is not None and isinstance(event, str):
            await operator.emit(event, tuple(args))

    # ----------------------------------------------------------- server listener

    def on_eio_connect(self, eio_sid: str) -> None:
        """Count a raw connection (and start the stats task on the first one)."""
        self.buffer.push("rawConnection", time.time())
        if self._stats_task is None and not self._closed:
            self._start_stats()

    def on_eio_disconnect(self, eio_sid: str, reason: str) -> None:
        """Count a raw disconnection, by reason."""
        self.buffer.push("rawDisconnection", time.time(), sub_type=reason)

    def on_packet_in(self, data: str | bytes) -> None:
        """Count a message in."""
        self._packets_in += 1
        self._bytes_in += len(data)

    def on_packets_out(self, messages: Collection[Any]) -> None:
        """Count messages out (shared packets carry their data)."""
        size = 0
        for message in messages:  # str/bytes, or an Engine.IO packet shared by a broadcast
            size += len(message.data if message.__class__ is EIOPacket else message)
        self._packets_out += len(messages)
        self._bytes_out += size

    def _fold_counters(self, now: float) -> None:
        counts = {
            "packetsIn": self._packets_in,
            "bytesIn": self._bytes_in,
            "packetsOut": self._packets_out,
            "bytesOut": self._bytes_out,
        }
        self._packets_in = self._bytes_in = self._packets_out = self._bytes_out = 0
        for kind, count in counts.items():
            if count:
                self.buffer.push(kind, now, count)

    def on_connect(self, namespace: str, sid: str, eio_sid: str) -> None:
        """A socket connected: tag it for ``fetch_sockets``, tell the UI (development)."""
        if not self.development:
            return
        try:
            transport = self.server.transport(sid, namespace)
            data = self.server.socket_data(sid, namespace)
            info = self.server.socket_info(namespace, sid)
        except (NotConnected, KeyError):
            return
        data["_admin"] = {"clientId": eio_sid, "transport": transport}
        if transport == "polling":
            self._polling[sid] = namespace
        if self._watched():
            socket_dict = serialize_socket(
                sid, namespace, info.rooms, data, info.handshake, transport=transport
            )
            self._push("socket_connected", socket_dict, iso_time(time.time()))

    def on_disconnect(self, namespace: str, sid: str, reason: str) -> None:
        """A socket left (development: tell the UI)."""
        self._polling.pop(sid, None)
        if self.development and self._watched():
            self._push("socket_disconnected", namespace, sid, reason, iso_time(time.time()))

    def on_event_received(self, namespace: str, sid: str, event: str, args: list[Any]) -> None:
        """An event arrived (development: tell the UI; the admin namespace's are not shown)."""
        if self.development and namespace != self.namespace and self._watched():
            self._push("event_received", namespace, sid, [event, *args], iso_time(time.time()))

    def on_event_sent(self, target: Any, event: str, args: list[Any]) -> None:
        """An event was emitted: one ``event_sent`` per local recipient (development)."""
        if not self.development or target.namespace == self.namespace or not self._watched():
            return
        stamp = iso_time(time.time())
        payload = [event, *args]
        for sid in self.server.manager.select(target):
            self._push("event_sent", target.namespace, sid, payload, stamp)

    def on_join(self, namespace: str, sid: str, room: str) -> None:
        """Room observer: ``room_joined``."""
        if self._watched():
            self._push("room_joined", namespace, room, sid, iso_time(time.time()))

    def on_leave(self, namespace: str, sid: str, room: str) -> None:
        """Room observer: ``room_left``."""
        if self._watched():
            self._push("room_left", namespace, room, sid, iso_time(time.time()))

    # ------------------------------------------------------------------ delivery

    def _watched(self) -> bool:
        """Whether a UI may be listening: one is connected here, or the cluster may carry
        the event to one connected elsewhere."""
        return self._admins > 0 or self.server.manager.cluster

    def _push(self, event: str, *args: Any) -> None:
        if self._closed:
            return
        if len(self._queue) >= self.max_queued:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                logger.info("! admin UI queue full: %d events dropped", self.dropped)
            return
        self._queue.append((event, args))
        if self._flush_task is None:
            self._flush_task = self.server.start_background_task(self._flush)

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                for event, args in batch:
                    await self.server.emit(event, args, namespace=self.namespace)
        finally:
            self._flush_task = None

    # --------------------------------------------------------------------- stats

    def _start_stats(self) -> None:
        self._stats_task = self.server.start_background_task(self._stats_loop)

    async def _stats_loop(self) -> None:
        # Started by the first Engine.IO connection, and waiting one interval first (as
        # python-socketio): the client manager, which may be starting, is up by then.
        while True:
            await asyncio.sleep(self.interval)
            await self.send_stats()

    async def send_stats(self) -> None:
        """Emit ``server_stats`` now (the stats task does every ``server_stats_interval``);
        in development mode, also ``socket_updated`` for sockets that left polling."""
        self._fold_counters(time.time())
        sessions = self.server.eio.sessions
        polling = sum(1 for driver in list(sessions.values()) if driver.transport == "polling")
        registry = self.server.manager.registry
        counts = {name: len(registry.sockets(name)) for name in registry.namespaces()}
        for name in ("/", self.namespace):
            counts.setdefault(name, 0)
        payload = stats_payload(
            server_id=self.server_id,
            hostname=HOSTNAME,
            pid=os.getpid(),
            uptime=time.monotonic() - self._started,
            clients_count=len(sessions),
            polling_clients_count=polling,
            aggregated_events=self.buffer.drain(),
            namespaces=dict(sorted(counts.items())),
        )
        await self.server.emit("server_stats", payload, namespace=self.namespace)
        for sid, namespace in list(self._polling.items()):
            self._check_upgrade(sid, namespace)

    def _check_upgrade(self, sid: str, namespace: str) -> None:
        try:
            transport = self.server.transport(sid, namespace)
        except (NotConnected, KeyError):
            self._polling.pop(sid, None)
            return
        if transport == "polling":
            return
        del self._polling[sid]
        self.server.socket_data(sid, namespace).get("_admin", {})["transport"] = transport
        if self._watched():
            self._push("socket_updated", {"id": sid, "nsp": namespace, "transport": transport})

    async def shutdown(self) -> None:
        """Stop: no more stats or events (what is being sent is finished, within 5 s).

        Call it before the server stops (with a pub/sub manager, before the manager closes
        its broker connections, which a late emit would open again).
        """
        self._closed = True
        self._queue.clear()
        task, self._stats_task = self._stats_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        flush = self._flush_task
        if flush is not None:
            try:
                await asyncio.wait_for(asyncio.shield(flush), 5.0)
            except TimeoutError:
                flush.cancel()
                await asyncio.gather(flush, return_exceptions=True)


def admin_ui_static_files(
    ui_dir: str | os.PathLike[str], url_path: str = "/admin"
) -> dict[str, Any]:
    """``static_files`` rules serving the UI's built files (``@socket.io/admin-ui/ui/dist``
    of the npm package) on ``url_path`` of the standalone server or the ASGI app.

    Raises:
        FileNotFoundError: ``ui_dir`` has no ``index.html`` (the npm package is missing).
    """
    folder = os.fspath(ui_dir)
    if not os.path.isfile(os.path.join(folder, "index.html")):
        raise FileNotFoundError(
            f"{folder}/index.html not found: install the npm package @socket.io/admin-ui"
        )
    # Only the URL with the trailing slash: the page's relative links (js/..., css/...)
    # resolve under it. ``static_files`` tries an exact key before a prefix, so no
    # ``/admin`` key: it would shadow the folder for ``/admin/js/...``.
    return {url_path.rstrip("/") + "/": folder + "/"}
