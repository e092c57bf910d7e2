"""The Socket.IO server's handlers side: middlewares and handlers run for the core's events.

Theory of operation
-------------------
Every protocol rule (CONNECT first and its deadline, which namespaces are served, ack ids and
their deadlines, holding emits until the CONNECT reply) is in the sans-I/O core,
:mod:`socketio_core.server_session`, one per Engine.IO connection, driven by a
:class:`~socketio_core.aio.session_driver.ServerSessionDriver`. :class:`Dispatcher` keeps the
table of drivers and of sockets, and turns each core event into application work:

* :class:`ConnectRequested`: the socket is registered (rooms, session) and the connection
  middlewares and ``connect`` handler run; the dispatcher then accepts or refuses it;
* :class:`EventReceived`: packet middlewares and the handler run; its return value is the ack;
* :class:`SocketDisconnected`: the socket is forgotten and its ``disconnect`` handler runs;
* :class:`AckReceived` / :class:`AckFailed`: settled at once (:mod:`~socketio_core.aio.acks`),
  never queued, so a handler that awaits a client's ack cannot deadlock its own queue;
* :class:`CloseConnection`: the Engine.IO connection is closed.

Connection work runs in the connection's ordered inbox, so a client's CONNECT, events and
disconnect reach the application in arrival order (with ``async_handlers``, each event runs
in a task of its own instead). One shortcut keeps that order: an event for a connection whose
inbox is idle, with no packet middleware, has its handler called at once (in a copy of the
context); a plain function's result is acked there, with no task and no coroutine, and only a
coroutine goes to the inbox. The dispatcher is given narrow pieces, not the server: the
parser, the handler registry, the room membership, the middleware lists and a ``spawn``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import time
import types
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from engineio_core.handshake import new_sid

from ..args import as_args
from ..exceptions import ConnectionRefused, NotConnected, SocketIOError
from ..packet import Packet
from ..parsers import Parser
from ..recovery import RECOVERABLE_REASONS, RecoveryOptions, Refused, Restored, SessionRecord
from ..server_events import (
    SERVER_NAMESPACE_DISCONNECT,
    AckFailed,
    AckReceived,
    CloseConnection,
    ConnectRequested,
    EventReceived,
    ServerEvent,
    SocketDisconnected,
)
from ..server_session import AckIds, ServerSession
from .acks import AckCollector, AckWaiter, settle
from .handlers import HandlerRegistry
from .session_driver import EngineIOSession, ServerSessionDriver

if TYPE_CHECKING:
    from ..admin import ServerListener

__all__ = ["Dispatcher", "Membership", "SocketContext"]

logger = logging.getLogger(__name__)

_COROUTINE = inspect.CO_COROUTINE
#: What handlers usually return, never awaitable (``inspect.isawaitable`` is an ABC check).
_PLAIN = frozenset({type(None), str, int, float, bool, list, dict, tuple, bytes})

Middleware = Callable[..., Any]
Middlewares = list[tuple[str | None, Middleware]]


class Membership(Protocol):
    """Where sockets are registered for rooms (the client manager)."""

    def connect(self, namespace: str, sid: str) -> None:
        """A socket of this process connected."""

    def disconnect(self, namespace: str, sid: str) -> None:
        """A socket of this process disconnected."""

    def rooms(self, namespace: str, sid: str) -> list[str]:
        """The rooms of a local socket."""

    def rejoin(self, namespace: str, sid: str, rooms: Sequence[str]) -> None:
        """Put a recovered local socket back in its rooms."""

    def recovery_head(self) -> int:
        """The recovery log's position of the next packet."""

    async def persist_session(self, session: SessionRecord) -> None:
        """Keep a socket that left abnormally for the recovery window."""

    async def restore_session(self, namespace: str, pid: Any, offset: Any) -> Restored | Refused:
        """Take back a session and the messages it missed."""


class SocketContext:
    """What the application keeps of one socket: its connection, session, data and auth."""

    __slots__ = (
        "accepted",
        "alias",
        "auth",
        "conn",
        "connected_at",
        "data",
        "namespace",
        "pid",
        "recovered",
        "recovery_failure",
        "session",
        "sid",
        "since",
    )

    def __init__(self, sid: str, namespace: str, conn: ServerSessionDriver, auth: Any) -> None:
        self.sid = sid
        self.namespace = namespace
        self.conn = conn
        self.auth = auth
        self.session: dict[str, Any] = {}
        self.data: dict[str, Any] = {}
        self.connected_at = time.time()
        self.accepted = False  # the application accepted it and has not seen it leave
        # Connection state recovery (None / False while it is off).
        self.pid: str | None = None
        self.since = 0
        self.recovered = False
        self.recovery_failure: str | None = None  # why a recovery attempt failed
        self.alias: str | None = None  # the core's first sid of a recovered socket

    @property
    def handshake(self) -> dict[str, Any]:
        """Node's ``socket.handshake``: headers, time, address, query, auth."""
        environ = self.conn.environ
        request = environ.get("engineio.request")
        headers = dict(request.headers) if request is not None else {}
        return {
            "headers": headers,
            "time": time.strftime("%a %b %d %Y %H:%M:%S", time.gmtime(self.connected_at)),
            "address": environ.get("REMOTE_ADDR", ""),
            "xdomain": "origin" in headers,
            "secure": environ.get("wsgi.url_scheme") in ("https", "wss"),
            "issued": int(self.connected_at * 1000),
            "url": environ.get("PATH_INFO", "")
            + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else ""),
            "query": dict(request.query) if request is not None else {},
            "auth": self.auth if isinstance(self.auth, dict) else {},
        }


class Dispatcher:
    """Runs the application for the events of every connection; see the module docstring.

    Args:
        parser: the packet parser.
        registry: the handlers.
        membership: the room registry of the client manager.
        serves: whether a namespace is served.
        middlewares / packet_middlewares: the server's lists (shared, not copied).
        spawn: starts a task the server keeps a reference to.
        eio_session: the Engine.IO session of an Engine.IO sid.
    """

    def __init__(
        self,
        parser: Parser,
        registry: HandlerRegistry,
        membership: Membership,
        *,
        serves: Callable[[str], bool],
        middlewares: Middlewares,
        packet_middlewares: Middlewares,
        spawn: Callable[[Coroutine[Any, Any, Any]], Any],
        eio_session: Callable[[str], EngineIOSession | None],
        connect_timeout: float = 45.0,
        always_connect: bool = False,
        async_handlers: bool = False,
        recovery: RecoveryOptions | None = None,
    ) -> None:
        self.parser = parser
        self.registry = registry
        self.membership = membership
        self.serves = serves
        self.middlewares = middlewares
        self.packet_middlewares = packet_middlewares
        self.spawn = spawn
        self.eio_session = eio_session
        self.connect_timeout = connect_timeout
        self.always_connect = always_connect
        self.async_handlers = async_handlers
        self.ack_ids = AckIds()
        #: ``instrument()``'s observer (set through ``AsyncServer.listener``); None: no work.
        self.listener: ServerListener | None = None
        self.connections: dict[str, ServerSessionDriver] = {}
        self.sockets: dict[str, SocketContext] = {}
        self.recovery = recovery
        self.aliases: dict[str, str] = {}  # first sid -> recovered sid (see _recover)

    # ------------------------------------------------------------ Engine.IO events

    def on_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        """A new Engine.IO connection: its core and driver."""
        loop = asyncio.get_running_loop()
        core = ServerSession(
            self.parser,
            now=loop.time(),
            new_sid=new_sid,
            accepts=self.serves,
            connect_timeout=self.connect_timeout,
            ack_ids=self.ack_ids,
        )
        conn = ServerSessionDriver(
            eio_sid, self.eio_session(eio_sid), environ, core, self._on_events, self.listener
        )
        self.connections[eio_sid] = conn
        if self.listener is not None:  # admin hook
            self.listener.on_eio_connect(eio_sid)

    def on_eio_message(self, eio_sid: str, data: str | bytes) -> None:
        """An Engine.IO message (taken synchronously, as it is received)."""
        conn = self.connections.get(eio_sid)
        if conn is not None:
            conn.receive(data)

    async def on_eio_disconnect(self, eio_sid: str, reason: object) -> None:
        """The Engine.IO connection is gone: every socket of it leaves."""
        conn = self.connections.pop(eio_sid, None)
        if self.listener is not None:  # admin hook
            self.listener.on_eio_disconnect(eio_sid, str(reason))
        if conn is not None:
            conn.connection_closed(str(reason))

    # --------------------------------------------------------------- core events

    def _on_events(self, conn: ServerSessionDriver, events: Sequence[ServerEvent]) -> None:
        for event in events:
            if type(event) is EventReceived:
                if self.async_handlers:
                    self.spawn(self._event(conn, event))
                elif self.packet_middlewares or not conn.idle:
                    conn.inbox.push(functools.partial(self._event, conn, event))
                else:
                    self._event_now(conn, event)
            elif type(event) is AckReceived:
                settle(event.token, event.sid, event.args, None)
            elif type(event) is AckFailed:
                settle(event.token, event.sid, None, event.error)
            elif type(event) is ConnectRequested:
                conn.inbox.push(functools.partial(self._connect, conn, event))
            elif type(event) is SocketDisconnected:
                conn.inbox.push(functools.partial(self._gone, event))
            elif type(event) is CloseConnection:
                logger.debug("x %s: closing (%s)", conn.eio_sid, event.reason)
                conn.close()

    async def _connect(self, conn: ServerSessionDriver, request: ConnectRequested) -> None:
        if self.recovery is not None:
            ctx = await self._recover(conn, request)
            if ctx is None:
                return
            sid, namespace = ctx.sid, ctx.namespace
        else:
            sid, namespace = request.sid, request.namespace
            ctx = SocketContext(sid, namespace, conn, request.auth)
            self.sockets[sid] = ctx
            self.membership.connect(namespace, sid)
        hello = None if ctx.pid is None else {"pid": ctx.pid}
        if self.always_connect:
            self._accept(conn, ctx, hello)
        refusal: ConnectionRefused | None = None
        environ = conn.environ
        if self.recovery is not None:
            environ = dict(environ)
            environ["socketio.recovered"] = ctx.recovered
            environ["socketio.recovery_failure"] = ctx.recovery_failure
        skip = ctx.recovered and self.recovery is not None and self.recovery.skip_middlewares
        try:
            for scope, middleware in () if skip else self.middlewares:
                if scope is None or scope == namespace:
                    await _maybe_await(middleware(sid, environ, request.auth))
            handler, args = self.registry.resolve(
                "connect", namespace, (sid, environ, request.auth)
            )
            if handler is not None and await _maybe_await(handler(*args)) is False:
                refusal = ConnectionRefused()
        except ConnectionRefused as exc:
            refusal = exc
        except Exception:
            logger.error("! connect handler failed for %s", sid, exc_info=True)
            refusal = ConnectionRefused("Internal server error")
        if self.sockets.get(sid) is not ctx:
            return  # the application disconnected it meanwhile (the core refused it then)
        if refusal is None:
            if not ctx.accepted:
                self._accept(conn, ctx, hello)
            if ctx.accepted:
                logger.info("= %s connected to %s as %s", conn.eio_sid, namespace, sid)
            return  # not accepted: the client left; its SocketDisconnected is queued
        logger.info("! %s refused on %s: %s", conn.eio_sid, namespace, refusal)
        self._forget(ctx, SERVER_NAMESPACE_DISCONNECT)
        conn.refuse(sid, refusal.error_args)

    def _accept(
        self, conn: ServerSessionDriver, ctx: SocketContext, hello: dict[str, Any] | None = None
    ) -> None:
        """Accept a CONNECTING socket (its CONNECT reply, with ``hello``, goes out now)."""
        ctx.accepted = conn.accept(ctx.sid, hello)
        if ctx.accepted and self.listener is not None:  # admin hook
            self.listener.on_connect(ctx.namespace, ctx.sid, conn.eio_sid)

    async def _recover(
        self, conn: ServerSessionDriver, request: ConnectRequested
    ) -> SocketContext | None:
        """The socket of a CONNECT, recovered when it carries a valid pid and offset.

        A recovered socket takes its old sid (the core's socket is renamed), pid, rooms,
        session and data, and the messages it missed are held in the core, in order, ahead of
        anything sent to it from now on (they go right after the CONNECT reply).
        """
        sid, namespace, auth = request.sid, request.namespace, request.auth
        failure: str | None = None
        result: Restored | Refused | None = None
        if isinstance(auth, dict) and "pid" in auth:
            result = await self.membership.restore_session(
                namespace, auth.get("pid"), auth.get("offset")
            )
        if isinstance(result, Restored):
            old = result.session
            if old.sid in self.sockets:
                failure = "sid in use"
            else:
                try:
                    conn.core.rename(sid, old.sid)
                except NotConnected:  # the client left meanwhile: keep the session
                    await self.membership.persist_session(old)
                    return None
                self.aliases[sid] = old.sid
                ctx = SocketContext(old.sid, namespace, conn, auth)
                ctx.alias = sid
                ctx.pid, ctx.since, ctx.recovered = old.pid, old.since, True
                ctx.session = old.state.get("session", {})
                ctx.data = old.state.get("data", {})
                for messages in result.missed:
                    conn.deliver(old.sid, messages)
                self.sockets[old.sid] = ctx
                self.membership.connect(namespace, old.sid)
                self.membership.rejoin(namespace, old.sid, old.rooms)
                logger.info(
                    "= %s recovered %s (%d missed)", conn.eio_sid, old.sid, len(result.missed)
                )
                return ctx
        elif isinstance(result, Refused):
            failure = result.reason
        ctx = SocketContext(sid, namespace, conn, auth)
        ctx.pid, ctx.since, ctx.recovery_failure = (
            new_sid(),
            self.membership.recovery_head(),
            failure,
        )
        if failure is not None:
            logger.info("! %s: no recovery (%s)", conn.eio_sid, failure)
        self.sockets[sid] = ctx
        self.membership.connect(namespace, sid)
        return ctx

    def _event_now(self, conn: ServerSessionDriver, event: EventReceived) -> None:
        """An event for a connection with nothing queued and no packet middleware: the
        handler is called at once, in a copy of the context as a task would run it. A plain
        function's return value is acked here, with no task and no coroutine; a coroutine
        (an ``async def`` handler) is awaited in the inbox, first and alone there, so the
        per-client order holds (and on Python 3.11 it runs in a task of its own, see
        :mod:`engineio_core.aio.inbox`)."""
        ctx = self._target(event)
        if ctx is None:
            return
        handler, call_args = self._resolve(ctx, event)
        if handler is None:
            return
        try:
            if type(handler) is types.FunctionType and handler.__code__.co_flags & _COROUTINE:
                result = handler(*call_args)  # a coroutine: nothing runs until it is awaited
            else:
                result = contextvars.copy_context().run(handler, *call_args)
        except Exception:
            logger.error("! handler for %r failed (sid %s)", event.event, ctx.sid, exc_info=True)
            return
        kind = type(result)
        if kind is types.CoroutineType or (kind not in _PLAIN and inspect.isawaitable(result)):
            conn.inbox.push(functools.partial(self._finish, conn, ctx, event, result))
        else:
            self._ack(conn, ctx, event, result)

    async def _event(self, conn: ServerSessionDriver, event: EventReceived) -> None:
        """An event queued behind the connection's other work, or with packet middlewares."""
        ctx = self._target(event)
        if ctx is None:
            return
        sid, name, args, namespace = ctx.sid, event.event, event.args, event.namespace
        try:
            for scope, middleware in self.packet_middlewares:
                if scope is None or scope == namespace:
                    await _maybe_await(middleware(sid, name, args))
        except Exception as exc:
            logger.info("! %s: event %r dropped by a middleware: %s", sid, name, exc)
            return
        handler, call_args = self._resolve(ctx, event)
        if handler is None:
            return
        try:
            result = handler(*call_args)
        except Exception:
            logger.error("! handler for %r failed (sid %s)", name, sid, exc_info=True)
            return
        await self._finish(conn, ctx, event, result)

    def _target(self, event: EventReceived) -> SocketContext | None:
        """The accepted socket an event is for, or None (the event is dropped)."""
        sid = event.sid
        if self.aliases:
            sid = self.aliases.get(sid, sid)
        ctx = self.sockets.get(sid)
        if ctx is None or not ctx.accepted:
            logger.debug("< %s: event for a socket not connected dropped", sid)
            return None
        return ctx

    def _resolve(
        self, ctx: SocketContext, event: EventReceived
    ) -> tuple[Callable[..., Any] | None, tuple[Any, ...]]:
        """The handler of an event that passed the middlewares, and its arguments."""
        name, args, namespace = event.event, event.args, event.namespace
        if self.listener is not None:  # admin hook
            self.listener.on_event_received(namespace, ctx.sid, name, args)
        handler, call_args = self.registry.resolve(name, namespace, (ctx.sid, *args))
        if handler is None:
            logger.debug("< %s: no handler for %r", ctx.sid, name)
        return handler, call_args

    async def _finish(
        self, conn: ServerSessionDriver, ctx: SocketContext, event: EventReceived, result: Any
    ) -> None:
        """Await what a handler returned (if it is awaitable), then ack it if asked to."""
        if type(result) is types.CoroutineType or inspect.isawaitable(result):
            try:
                result = await result
            except Exception:
                logger.error(
                    "! handler for %r failed (sid %s)", event.event, ctx.sid, exc_info=True
                )
                return
        self._ack(conn, ctx, event, result)

    def _ack(
        self, conn: ServerSessionDriver, ctx: SocketContext, event: EventReceived, result: Any
    ) -> None:
        """Acknowledge an event with its handler's result, if asked to and still connected."""
        if event.id is not None and self.sockets.get(ctx.sid) is ctx:
            try:
                conn.ack(ctx.sid, event.id, as_args(result))
            except SocketIOError:  # a result JSON cannot carry: the handler's bug, logged
                logger.error(
                    "! ack of %r cannot be sent (sid %s)", event.event, ctx.sid, exc_info=True
                )

    async def _gone(self, event: SocketDisconnected) -> None:
        ctx = self.sockets.get(event.sid)
        if ctx is None:
            return
        if (
            self.recovery is not None
            and ctx.accepted
            and ctx.pid is not None
            and event.reason in RECOVERABLE_REASONS
        ):
            rooms = tuple(self.membership.rooms(ctx.namespace, ctx.sid))
            self._forget(ctx, event.reason)
            state = {"session": ctx.session, "data": ctx.data}
            record = SessionRecord(ctx.sid, ctx.pid, ctx.namespace, rooms, state, ctx.since)
            await self.membership.persist_session(record)
        else:
            self._forget(ctx, event.reason)
        if ctx.accepted:
            await self._run_disconnect_handler(ctx, event.reason)
        logger.info("x %s left %s: %s", ctx.sid, ctx.namespace, event.reason)

    async def _run_disconnect_handler(self, ctx: SocketContext, reason: str) -> None:
        handler, args = self.registry.resolve("disconnect", ctx.namespace, (ctx.sid, reason))
        if handler is not None:
            try:
                await _maybe_await(handler(*args))
            except Exception:
                logger.error("! disconnect handler failed for %s", ctx.sid, exc_info=True)

    def _forget(self, ctx: SocketContext, reason: str) -> None:
        if self.sockets.get(ctx.sid) is ctx:
            del self.sockets[ctx.sid]
            self.membership.disconnect(ctx.namespace, ctx.sid)
            if ctx.alias is not None:
                self.aliases.pop(ctx.alias, None)
            if ctx.accepted and self.listener is not None:  # admin hook
                self.listener.on_disconnect(ctx.namespace, ctx.sid, reason)

    # ------------------------------------------------------------------ the API side

    def socket(self, sid: str, namespace: str) -> SocketContext | None:
        """The socket ``sid`` of ``namespace`` on this process, or None."""
        ctx = self.sockets.get(sid)
        return ctx if ctx is not None and ctx.namespace == namespace else None

    def emit(
        self,
        ctx: SocketContext,
        event: str,
        args: list[Any],
        waiter: AckWaiter | None = None,
        timeout: float | None = None,
    ) -> None:
        """Emit to one socket; ``waiter`` gets the ack (or its failure)."""
        try:
            ctx.conn.emit(ctx.sid, [event, *args], waiter, timeout)
        except NotConnected as exc:  # the core already dropped it (its client left)
            if waiter is not None:
                settle(waiter, ctx.sid, None, exc)

    def disconnect(
        self, ctx: SocketContext, *, close: bool = False
    ) -> Coroutine[Any, Any, None] | None:
        """Disconnect a socket from the server side, now: DISCONNECT (or a refusal while its
        ``connect`` handler runs), out of its rooms, pending acks failed.

        Returns:
            The ``disconnect`` handler's run (for the caller to start), or None when the
            socket was not connected or has no such handler.
        """
        if self.sockets.get(ctx.sid) is not ctx:
            return None
        self._forget(ctx, SERVER_NAMESPACE_DISCONNECT)
        connected = ctx.conn.disconnect(ctx.sid)
        if close:
            ctx.conn.close()
        logger.info("x %s left %s: %s", ctx.sid, ctx.namespace, SERVER_NAMESPACE_DISCONNECT)
        if not (ctx.accepted and connected):
            return None
        return self._run_disconnect_handler(ctx, SERVER_NAMESPACE_DISCONNECT)

    def begin_acks(
        self,
        namespace: str,
        sids: Sequence[str],
        event: str,
        args: list[Any],
        timeout: float | None,
        *,
        volatile: bool = False,
        on_ack: Callable[[str, list[Any]], None] | None = None,
    ) -> AckCollector:
        """Emit once (one ack id) to the local sockets among ``sids``; the collector's
        ``done`` resolves when each acked or failed (timed out, or left)."""
        local = [self.sockets[s] for s in sids if s in self.sockets]
        collector = AckCollector([ctx.sid for ctx in local], on_ack)
        if not local:
            return collector
        ack_id = self.ack_ids.allocate(namespace)
        messages = self.parser.encode(Packet.event([event, *args], namespace=namespace, id=ack_id))
        for ctx in local:
            try:
                ctx.conn.expect_ack(ctx.sid, ack_id, AckWaiter(collector=collector), timeout)
            except SocketIOError as exc:  # gone meanwhile, or the id wrapped onto a pending one
                logger.debug("x %s: %s", ctx.sid, exc)
                collector.fail(ctx.sid)
                continue
            ctx.conn.deliver(ctx.sid, messages, volatile)
        return collector


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value
