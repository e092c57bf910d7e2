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
in a task of its own instead). The dispatcher is given narrow pieces, not the server: the
parser, the handler registry, the room membership, the middleware lists and a ``spawn``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from engineio_core.handshake import new_sid

from ..args import as_args
from ..exceptions import ConnectionRefused, NotConnected, SocketIOError
from ..packet import Packet
from ..parsers import Parser
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

Middleware = Callable[..., Any]
Middlewares = list[tuple[str | None, Middleware]]


class Membership(Protocol):
    """Where sockets are registered for rooms (the client manager)."""

    def connect(self, namespace: str, sid: str) -> None:
        """A socket of this process connected."""

    def disconnect(self, namespace: str, sid: str) -> None:
        """A socket of this process disconnected."""


class SocketContext:
    """What the application keeps of one socket: its connection, session, data and auth."""

    __slots__ = ("accepted", "auth", "conn", "connected_at", "data", "namespace", "session", "sid")

    def __init__(self, sid: str, namespace: str, conn: ServerSessionDriver, auth: Any) -> None:
        self.sid = sid
        self.namespace = namespace
        self.conn = conn
        self.auth = auth
        self.session: dict[str, Any] = {}
        self.data: dict[str, Any] = {}
        self.connected_at = time.time()
        self.accepted = False  # the application accepted it and has not seen it leave

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
                else:
                    conn.inbox.push(functools.partial(self._event, conn, event))
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
        sid, namespace = request.sid, request.namespace
        ctx = SocketContext(sid, namespace, conn, request.auth)
        self.sockets[sid] = ctx
        self.membership.connect(namespace, sid)
        if self.always_connect:
            self._accept(conn, ctx)
        refusal: ConnectionRefused | None = None
        try:
            for scope, middleware in self.middlewares:
                if scope is None or scope == namespace:
                    await _maybe_await(middleware(sid, conn.environ, request.auth))
            handler, args = self.registry.resolve(
                "connect", namespace, (sid, conn.environ, request.auth)
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
                self._accept(conn, ctx)
            if ctx.accepted:
                logger.info("= %s connected to %s as %s", conn.eio_sid, namespace, sid)
            return  # not accepted: the client left; its SocketDisconnected is queued
        logger.info("! %s refused on %s: %s", conn.eio_sid, namespace, refusal)
        self._forget(ctx, SERVER_NAMESPACE_DISCONNECT)
        conn.refuse(sid, refusal.error_args)

    def _accept(self, conn: ServerSessionDriver, ctx: SocketContext) -> None:
        """Accept a CONNECTING socket (its CONNECT reply goes out now)."""
        ctx.accepted = conn.accept(ctx.sid)
        if ctx.accepted and self.listener is not None:  # admin hook
            self.listener.on_connect(ctx.namespace, ctx.sid, conn.eio_sid)

    async def _event(self, conn: ServerSessionDriver, event: EventReceived) -> None:
        sid = event.sid
        ctx = self.sockets.get(sid)
        if ctx is None or not ctx.accepted:
            logger.debug("< %s: event for a socket not connected dropped", sid)
            return
        name, args, namespace = event.event, event.args, event.namespace
        try:
            for scope, middleware in self.packet_middlewares:
                if scope is None or scope == namespace:
                    await _maybe_await(middleware(sid, name, args))
        except Exception as exc:
            logger.info("! %s: event %r dropped by a middleware: %s", sid, name, exc)
            return
        if self.listener is not None:  # admin hook
            self.listener.on_event_received(namespace, sid, name, args)
        handler, call_args = self.registry.resolve(name, namespace, (sid, *args))
        if handler is None:
            logger.debug("< %s: no handler for %r", sid, name)
            return
        try:
            result = handler(*call_args)
            if inspect.isawaitable(result):
                result = await result
        except Exception:
            logger.error("! handler for %r failed (sid %s)", name, sid, exc_info=True)
            return
        if event.id is not None and self.sockets.get(sid) is ctx:
            conn.ack(sid, event.id, as_args(result))

    async def _gone(self, event: SocketDisconnected) -> None:
        ctx = self.sockets.get(event.sid)
        if ctx is None:
            return
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
