"""The Socket.IO v5 ``AsyncServer``: the application API (python-socketio's names).

Theory of operation
-------------------
The server sits on an :class:`engineio_core.aio.AsyncServer` and takes each Engine.IO message
synchronously (``message_hook``). Each Engine.IO connection has a sans-I/O core
(:class:`socketio_core.server_session.ServerSession`, every protocol rule) and its asyncio
driver (:mod:`socketio_core.aio.session_driver`); the :class:`~socketio_core.aio.dispatch.
Dispatcher` runs middlewares and handlers for the core's events. This module is the API around
them, and the owner of the client manager's lifecycle.

* **Acting at the call.** ``emit``, ``send``, ``enter_room``, ``leave_room``, ``close_room``
  and ``disconnect`` act when they are called and return an awaitable: ``await sio.emit(...)``
  in a coroutine, plain ``sio.emit(...)`` in a ``def`` handler; both send at once. Awaiting
  gives the end of the operation (a broker publish, a ``disconnect`` handler) and its error.
* **One broadcast value.** The keyword arguments of ``emit`` and the operator chain
  (``sio.to("a").except_("b").local``) both build one :class:`BroadcastTarget`, handed
  unchanged to the manager (and, by a pub/sub manager, to the other processes).
* **Encoded once.** A broadcast is turned into Engine.IO messages one time and the same
  messages go to every recipient.
* **Manager lifecycle.** :meth:`startup` starts the client manager and :meth:`shutdown` stops
  it; every front door calls them: :meth:`serve`, :meth:`listen`, and the ASGI lifespan of
  :class:`~socketio_core.aio.asgi.ASGIApp`. (Without any of them, the first connection starts
  the manager.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import ssl as ssl_module
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from engineio_core.aio import AsyncServer as EngineIOServer
from engineio_core.handshake import Sid
from engineio_core.packet import Packet as EIOPacket
from engineio_core.packet import PacketType as EIOPacketType

from ..args import as_args
from ..broadcast import BroadcastTarget, names
from ..exceptions import NotConnected
from ..packet import DEFAULT_NAMESPACE
from ..parsers import JsonParser, MsgpackParser, Parser
from ..recovery import RecoveryOptions
from ..signatures import event_decorator
from .dispatch import Dispatcher, SocketContext
from .eager import done
from .handlers import Handler, HandlerRegistry
from .manager import AsyncManager, SocketInfo
from .namespace import Namespace
from .operators import BroadcastOperator
from .routing import Router
from .session_driver import EngineIOSession

if TYPE_CHECKING:
    from ..admin import Mode, ServerListener
    from .admin import AdminInstrument

__all__ = ["AsyncServer", "Listening"]

logger = logging.getLogger(__name__)

Middleware = Callable[..., Any]
Rooms = str | Iterable[str] | None


class AsyncServer:
    """A Socket.IO v5 server.

    Args:
        client_manager: the manager of rooms and broadcasts (in memory by default; a Redis or
            RabbitMQ manager to join several processes).
        serializer: ``"default"`` (JSON), ``"msgpack"`` (the ``msgpack`` extra; wire
            compatible with socket.io-msgpack-parser) or a :class:`Parser`.
        async_handlers: handle each event in a task of its own (no order across events of a
            client); the default keeps a client's events in arrival order.
        always_connect: python-socketio's option: send CONNECT before the ``connect``
            handler runs (a refusal then arrives as DISCONNECT).
        namespaces: namespaces accepted besides those with handlers: a list, ``"*"`` for
            all, a compiled regex, or a callable ``(namespace) -> bool``.
        connect_timeout: seconds a client has to send its first CONNECT (45, as Node).
        max_attachments / max_attachment_bytes: limits of a binary packet's attachments.
        **engineio_options: passed to :class:`engineio_core.aio.AsyncServer` (``ping_interval``,
            ``cors_allowed_origins``, ``max_http_buffer_size``...).
    """

    def __init__(
        self,
        client_manager: AsyncManager | None = None,
        *,
        serializer: str | Parser = "default",
        async_handlers: bool = False,
        always_connect: bool = False,
        namespaces: Any = None,
        connect_timeout: float = 45.0,
        max_attachments: int = 10,
        max_attachment_bytes: int = 1_000_000,
        connection_state_recovery: bool | dict[str, Any] | RecoveryOptions | None = None,
        **engineio_options: Any,
    ) -> None:
        if serializer == "default":
            self.parser: Parser = JsonParser(
                max_attachments=max_attachments, max_attachment_bytes=max_attachment_bytes
            )
        elif serializer == "msgpack":
            self.parser = MsgpackParser()
        elif isinstance(serializer, str):
            raise ValueError(f"unknown serializer {serializer!r}")
        else:
            self.parser = serializer
        if connect_timeout <= 0:
            raise ValueError("connect_timeout must be > 0")
        self.eio = EngineIOServer(**engineio_options)
        self.manager = client_manager if client_manager is not None else AsyncManager()
        self.manager.attach(self)
        recovery = RecoveryOptions.from_option(connection_state_recovery)
        if recovery is not None:
            self.manager.enable_recovery(recovery, secrets.token_hex(4) + "-")
        self.registry = HandlerRegistry()
        self.accepted_namespaces = namespaces
        self.middlewares: list[tuple[str | None, Middleware]] = []
        self.packet_middlewares: list[tuple[str | None, Middleware]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._manager_running = False
        self._served = False  # startup() ran once: the lifecycle is owned by a front door
        self._manager_lock = asyncio.Lock()
        self.dispatcher = Dispatcher(
            self.parser,
            self.registry,
            self.manager,
            serves=self._serves,
            middlewares=self.middlewares,
            packet_middlewares=self.packet_middlewares,
            spawn=self._spawn,
            eio_session=self._eio_session,
            connect_timeout=connect_timeout,
            always_connect=always_connect,
            async_handlers=async_handlers,
            recovery=recovery,
        )
        self.router = Router(self.dispatcher, self.manager, self.parser, self._spawn)
        self.eio.message_hook = self.dispatcher.on_eio_message
        self.eio.on("connect", self._on_eio_connect)
        self.eio.on("disconnect", self.dispatcher.on_eio_disconnect)
        self.manager.forward_requests_of(self.eio)  # no sticky sessions: docs/scaling.md

    @property
    def async_handlers(self) -> bool:
        """Whether each event runs in a task of its own."""
        return self.dispatcher.async_handlers

    @async_handlers.setter
    def async_handlers(self, value: bool) -> None:
        self.dispatcher.async_handlers = value

    @property
    def always_connect(self) -> bool:
        """Whether CONNECT is sent before the ``connect`` handler runs."""
        return self.dispatcher.always_connect

    @always_connect.setter
    def always_connect(self, value: bool) -> None:
        self.dispatcher.always_connect = value

    @property
    def connect_timeout(self) -> float:
        """Seconds a client has to send its first CONNECT."""
        return self.dispatcher.connect_timeout

    @property
    def listener(self) -> ServerListener | None:
        """:meth:`instrument`'s observer; None (the default): the server does no admin work."""
        return self.dispatcher.listener

    @listener.setter
    def listener(self, value: ServerListener | None) -> None:
        self.dispatcher.listener = value
        for conn in list(self.dispatcher.connections.values()):
            conn.listener = value

    # --------------------------------------------------------------- registration

    def on(self, event: str, handler: Handler | None = None, namespace: str | None = None) -> Any:
        """Register an event handler; usable as a decorator.

        Example::

            @sio.on("chat message", namespace="/chat")
            async def chat(sid, data): ...

        ``event`` and ``namespace`` may be ``"*"`` (catch-all; see
        :mod:`socketio_core.aio.handlers` for the arguments then passed).

        Raises:
            TypeError: the handler cannot take the arguments it would be passed.
        """
        ns = namespace or DEFAULT_NAMESPACE

        def register(func: Handler) -> Handler:
            self.registry.on(event, func, ns)
            return func

        return register if handler is None else register(handler)

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Register a handler named after the function: ``@sio.event`` or
        ``@sio.event(namespace="/chat")``."""
        return event_decorator(self.on, args, kwargs)

    def register_namespace(self, namespace_handler: Namespace) -> None:
        """Register a class-based namespace.

        Raises:
            TypeError: not a :class:`Namespace`, or one of its handlers has a signature that
                cannot take the arguments it would be passed.
        """
        if not isinstance(namespace_handler, Namespace):
            raise TypeError("not a Namespace instance")
        namespace_handler.attach(self)
        self.registry.register_namespace(namespace_handler)

    def use(self, middleware: Middleware, namespace: str | None = None) -> Middleware:
        """Add a connection middleware, run in order before the ``connect`` handler.

        ``middleware(sid, environ, auth)`` (sync or async) refuses the connection by raising
        :exc:`~socketio_core.exceptions.ConnectionRefused`. ``namespace`` None: every one.
        """
        self.middlewares.append((namespace, middleware))
        return middleware

    def use_packet(self, middleware: Middleware, namespace: str | None = None) -> Middleware:
        """Add a per-packet middleware, run before each event handler.

        ``middleware(sid, event, args)`` (sync or async) drops the event by raising.
        """
        self.packet_middlewares.append((namespace, middleware))
        return middleware

    # -------------------------------------------------------------------- emitting

    def emit(
        self,
        event: str,
        data: Any = None,
        to: Rooms = None,
        room: Rooms = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
        *,
        timeout: float | None = None,
        except_rooms: Iterable[str] = (),
        volatile: bool = False,
        local: bool = False,
    ) -> asyncio.Future[None]:
        """Emit an event to one client, a room, several rooms, or everyone.

        The emit happens at the call: ``sio.emit(...)`` in a plain ``def`` handler sends, and
        ``await sio.emit(...)`` also waits for the end of the operation (a broker publish, a
        broadcast's acks) and raises its error.

        Args:
            event: the event name.
            data: one argument, a tuple of arguments, or None for none.
            to / room: a sid or room, or a list of them; None for every client.
            skip_sid: a sid (or list) left out, typically the sender.
            namespace: the namespace (``"/"``).
            callback: called with the client's ack arguments. For one client without a
                ``timeout``: ``callback(*args)``. With a ``timeout`` (and for broadcasts,
                which require one) it is error-first as in Node: ``callback(None, *args)``,
                or ``callback(AckTimeout)`` when the ack is late; a broadcast calls it once,
                ``callback(None, responses)`` with every recipient's ack, by sid.
            ignore_queue: accepted for python-socketio compatibility (same as ``local``).
            timeout: seconds to wait for the ack before the callback gets :exc:`AckTimeout`.
            except_rooms: rooms whose clients are left out.
            volatile: drop the event for clients that cannot take it right now.
            local: only clients of this process (with a pub/sub manager).

        Returns:
            An awaitable of the end of the operation (awaiting it is optional).

        Raises:
            ValueError: a broadcast with a callback but no timeout.
        """
        target = self._target(
            namespace,
            to if to is not None else room,
            skip_sid,
            except_rooms,
            volatile=volatile,
            local=local or ignore_queue,
        )
        return self.emit_to_target(target, event, data, callback=callback, timeout=timeout)

    def send(
        self,
        data: Any,
        to: Rooms = None,
        room: Rooms = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> asyncio.Future[None]:
        """Emit a ``message`` event (``socket.send`` in the JavaScript client); acts at the
        call, as :meth:`emit`."""
        return self.emit(
            "message",
            data,
            to=to,
            room=room,
            skip_sid=skip_sid,
            namespace=namespace,
            callback=callback,
            **kwargs,
        )

    def emit_to_target(
        self,
        target: BroadcastTarget,
        event: str,
        data: Any = None,
        *,
        callback: Callable[..., Any] | None = None,
        timeout: float | None = None,
    ) -> asyncio.Future[None]:
        """:meth:`emit` to the sockets of ``target`` (what the broadcast operators call)."""
        if self.dispatcher.listener is not None:  # admin hook
            self.dispatcher.listener.on_event_sent(target, event, as_args(data))
        return self.router.emit(target, event, data, callback, timeout)

    async def call(
        self,
        event: str,
        data: Any = None,
        to: Rooms = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float = 60.0,
        ignore_queue: bool = False,
        *,
        except_rooms: Iterable[str] = (),
        local: bool = False,
    ) -> Any:
        """Emit to one client and wait for its ack; returns the ack's argument(s).

        The value is :func:`~socketio_core.args.ack_value` of the ack's arguments:
        None for none, the value for one, a tuple for several. To a room (or everyone) it
        waits for every recipient's ack and returns a dict of such values by sid.

        Raises:
            AckTimeout: no ack within ``timeout`` (``responses`` holds a broadcast's partial
                results). Also a builtin :exc:`TimeoutError`.
            NotConnected: ``sid``, or a single ``to``, reaches no socket (of this process, or
                of the cluster with a pub/sub manager): nobody could answer; or the client
                disconnected before answering. A list of rooms, or the operators
                (``sio.to(room).call()``), return ``{}`` instead.
        """
        target = self._target(
            namespace,
            sid if sid is not None else to,
            None,
            except_rooms,
            local=local or ignore_queue,
        )
        one = sid if sid is not None else to if isinstance(to, str) else None
        return await self.router.call(
            target, event, data, timeout, must_exist=one, sid_only=sid is not None
        )

    async def call_target(
        self,
        target: BroadcastTarget,
        event: str,
        data: Any = None,
        timeout: float = 60.0,
        *,
        must_exist: str | None = None,
    ) -> Any:
        """:meth:`call` for the sockets of ``target`` (what the broadcast operators call).

        Args:
            must_exist: a sid (or room) that must have a member somewhere, else
                :exc:`NotConnected`.
        """
        return await self.router.call(target, event, data, timeout, must_exist)

    def to(self, room: Rooms) -> BroadcastOperator:
        """Node's broadcast operators: ``sio.to("a").to("b").except_("c").emit(...)``."""
        return BroadcastOperator(self).to(room)

    in_ = to

    def except_(self, room: Rooms) -> BroadcastOperator:
        """A broadcast to everyone except the clients in ``room``."""
        return BroadcastOperator(self).except_(room)

    def of(self, namespace: str) -> BroadcastOperator:
        """Operators for another namespace."""
        return BroadcastOperator(self, BroadcastTarget(namespace))

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Node's ``io.timeout(ms)``: ``await sio.timeout(5).call("ping")`` collects acks."""
        return BroadcastOperator(self).timeout(seconds)

    @property
    def volatile(self) -> BroadcastOperator:
        """Node's ``io.volatile``: drop the event for clients that cannot take it now."""
        return BroadcastOperator(self).volatile

    @property
    def local(self) -> BroadcastOperator:
        """Node's ``io.local``: only the clients of this process."""
        return BroadcastOperator(self).local

    def instrument(
        self,
        auth: Any = None,
        mode: Mode = "development",
        read_only: bool = False,
        server_id: str | None = None,
        namespace: str = "/admin",
        server_stats_interval: float = 2,
        **options: Any,
    ) -> AdminInstrument:
        """Serve the official Socket.IO Admin UI's protocol (python-socketio's signature).

        Args:
            auth: ``{"username": ..., "password": ...}`` (or a list of them; the password a
                bcrypt or scrypt hash, or a clear password hashed at once), a callable
                ``(auth) -> bool``, or ``False`` for none (logged as a WARNING).
            mode: ``"development"`` (sockets, rooms, events) or ``"production"`` (stats only).
            read_only: refuse the UI's actions.
            server_id: this server's name in the UI.
            namespace: the admin namespace.
            server_stats_interval: seconds between ``server_stats``.
            **options: further options of :class:`~socketio_core.aio.admin.AdminInstrument`
                (``max_queued``, ``max_sessions``, ``session_ttl``).

        Returns:
            The instrumentation (its ``shutdown()`` stops it).

        Raises:
            ValueError: ``auth`` missing or malformed, a bad ``mode``, or instrumented twice.
        """
        from .admin import AdminInstrument  # noqa: PLC0415 (only imported when used)

        return AdminInstrument(
            self,
            auth=auth,
            mode=mode,
            read_only=read_only,
            server_id=server_id,
            namespace=namespace,
            server_stats_interval=server_stats_interval,
            **options,
        )

    # ----------------------------------------------------------------------- rooms

    def enter_room(self, sid: str, room: str, namespace: str | None = None) -> asyncio.Future[None]:
        """Add a client to a room, at the call (awaiting is optional)."""
        return self.router.act(self.manager.enter_room(namespace or DEFAULT_NAMESPACE, sid, room))

    def leave_room(self, sid: str, room: str, namespace: str | None = None) -> asyncio.Future[None]:
        """Remove a client from a room, at the call (awaiting is optional)."""
        return self.router.act(self.manager.leave_room(namespace or DEFAULT_NAMESPACE, sid, room))

    def close_room(self, room: str, namespace: str | None = None) -> asyncio.Future[None]:
        """Remove every client from a room, at the call (awaiting is optional)."""
        return self.router.act(self.manager.close_room(namespace or DEFAULT_NAMESPACE, room))

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """The rooms a client is in (its own sid room included)."""
        return self.manager.rooms(namespace or DEFAULT_NAMESPACE, sid)

    async def fetch_sockets(
        self,
        to: Rooms = None,
        namespace: str | None = None,
        *,
        except_rooms: Iterable[str] = (),
        timeout: float = 5.0,
    ) -> list[SocketInfo]:
        """Describe the matching sockets: id, rooms, data, handshake."""
        target = self._target(namespace, to, None, except_rooms)
        return await self.manager.fetch_sockets(target, timeout=timeout)

    def socket_info(self, namespace: str, sid: str) -> SocketInfo:
        """What :meth:`fetch_sockets` reports for one local socket."""
        ctx = self._socket(sid, namespace)
        return SocketInfo(
            sid, namespace, tuple(self.manager.rooms(namespace, sid)), dict(ctx.data), ctx.handshake
        )

    def connected(self, sid: str, namespace: str | None = None) -> bool:
        """Whether ``sid`` is a socket of this process in ``namespace`` (accepted or not)."""
        return self.dispatcher.socket(sid, namespace or DEFAULT_NAMESPACE) is not None

    def local_sids(self, namespace: str | None = None) -> list[str]:
        """The sids of this process's sockets (of ``namespace``, or of every namespace),
        accepted or still running their ``connect`` handler."""
        sockets = self.dispatcher.sockets
        if namespace is None:
            return list(sockets)
        return [sid for sid, ctx in sockets.items() if ctx.namespace == namespace]

    @property
    def connection_count(self) -> int:
        """How many Engine.IO connections the server holds."""
        return len(self.dispatcher.connections)

    def eio_sid(self, sid: str, namespace: str | None = None) -> str:
        """The Engine.IO sid of the connection of socket ``sid``.

        Raises:
            NotConnected: no such socket on this process.
        """
        return self._socket(sid, namespace).conn.eio_sid

    def pending_acks(self, sid: str, namespace: str | None = None) -> int:
        """How many acks the server awaits from socket ``sid`` (0 when it is gone)."""
        ctx = self.dispatcher.socket(sid, namespace or DEFAULT_NAMESPACE)
        return 0 if ctx is None else ctx.conn.core.pending_acks(sid)

    # -------------------------------------------------------------------- sessions

    async def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """The user session of a client (a dict the application owns)."""
        return self._socket(sid, namespace).session

    async def save_session(
        self, sid: str, session: dict[str, Any], namespace: str | None = None
    ) -> None:
        """Replace the user session of a client."""
        self._socket(sid, namespace).session = session

    @contextlib.asynccontextmanager
    async def session(
        self, sid: str, namespace: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """``async with sio.session(sid) as session:`` edits and saves the session."""
        session = await self.get_session(sid, namespace)
        yield session
        await self.save_session(sid, session, namespace)

    def recovered(self, sid: str, namespace: str | None = None) -> bool:
        """Whether socket ``sid`` was recovered (connection state recovery): same sid, rooms,
        session and data as before its disconnection, and the packets it missed replayed."""
        return self._socket(sid, namespace).recovered

    def recovery_failure(self, sid: str, namespace: str | None = None) -> str | None:
        """Why socket ``sid`` was not recovered although its client asked (``unknown pid``,
        ``expired``, ``unknown offset``, ``invalid pid or offset``), or None."""
        return self._socket(sid, namespace).recovery_failure

    def get_environ(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """The WSGI-style environ of the client's handshake request."""
        return self._socket(sid, namespace).conn.environ

    def transport(self, sid: str, namespace: str | None = None) -> str:
        """``polling`` or ``websocket``."""
        return self.eio.transport(self._socket(sid, namespace).conn.eio_sid)

    def socket_data(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """Node's ``socket.data``: app data shared through ``fetch_sockets``."""
        return self._socket(sid, namespace).data

    # ------------------------------------------------------------------ lifecycle

    def disconnect(
        self,
        sid: str,
        namespace: str | None = None,
        ignore_queue: bool = False,
        *,
        close: bool = False,
    ) -> asyncio.Future[None]:
        """Disconnect a client from a namespace (``close``: end its whole connection).

        Acts at the call (the client gets DISCONNECT, the socket leaves its rooms); awaiting
        also waits for its ``disconnect`` handler. A sid of another process (with a pub/sub
        manager) is disconnected there.
        """
        ns = namespace or DEFAULT_NAMESPACE
        ctx = self.dispatcher.socket(sid, ns)
        if ctx is not None:
            handler = self.dispatcher.disconnect(ctx, close=close)
            return done() if handler is None else self._spawn(handler)
        if not ignore_queue and not self.manager.is_connected(ns, sid):
            target = BroadcastTarget(ns, (sid,))
            return self.router.act(self.manager.disconnect_sockets(target, close=close))
        return done()

    async def startup(self) -> None:
        """Start the client manager (a pub/sub listener); every front door calls it once it
        serves. Idempotent."""
        self._served = True
        async with self._manager_lock:
            if not self._manager_running:
                self._manager_running = True
                try:
                    await self.manager.start()
                except BaseException:  # failed or cancelled half-way: undo what started
                    self._manager_running = False
                    with contextlib.suppress(Exception):
                        await self.manager.stop()
                    raise

    async def shutdown(self) -> None:
        """Disconnect every client and stop the client manager (every front door calls it
        when it stops serving). Idempotent."""
        await self.eio.shutdown()
        async with self._manager_lock:
            if self._manager_running:
                self._manager_running = False
                await self.manager.stop()

    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        """Run ``target(*args, **kwargs)`` in a task the server keeps a reference to."""
        return self._spawn(target(*args, **kwargs))

    @staticmethod
    async def sleep(seconds: float = 0) -> None:
        """``asyncio.sleep``, for code written against python-socketio."""
        await asyncio.sleep(seconds)

    async def serve(
        self,
        host: str | None = "127.0.0.1",
        port: int = 5000,
        *,
        socketio_path: str = "socket.io",
        ssl: ssl_module.SSLContext | None = None,
        **kwargs: Any,
    ) -> None:
        """Run the standalone server (HTTP/1.1 and WebSocket) until cancelled."""
        async with self.listen(host, port, socketio_path=socketio_path, ssl=ssl, **kwargs) as front:
            await front.serve_forever()

    def listen(
        self,
        host: str | None = "127.0.0.1",
        port: int = 0,
        *,
        socketio_path: str = "socket.io",
        ssl: ssl_module.SSLContext | None = None,
        **kwargs: Any,
    ) -> Listening:
        """The standalone server as an async context manager (``async with ... as front``).

        Entering it (or awaiting it) calls :meth:`startup` first, so a pub/sub manager is
        subscribed before the first client arrives; leaving it closes the front door, then
        calls :meth:`shutdown`.
        """
        front = self.eio.listen(host, port, engineio_path=socketio_path, ssl=ssl, **kwargs)
        return Listening(front, self.startup, self.shutdown)

    # ------------------------------------------------------- the manager's host API

    @staticmethod
    def share(messages: Iterable[str | bytes]) -> list[EIOPacket]:
        """Wrap encoded messages in Engine.IO packets shared by every recipient of a
        broadcast, so that each is encoded once, down to the WebSocket frame bytes."""
        return [EIOPacket(EIOPacketType.MESSAGE, message) for message in messages]

    def deliver(
        self,
        namespace: str,
        sid: str,
        messages: Sequence[str | bytes | EIOPacket],
        volatile: bool = False,
    ) -> None:
        """Hand pre-encoded messages to one local socket (the manager's fan-out)."""
        ctx = self.dispatcher.sockets.get(sid)
        if ctx is not None and ctx.namespace == namespace:
            ctx.conn.deliver(sid, messages, volatile)

    async def collect_acks(
        self, target: BroadcastTarget, event: str, args: list[Any], timeout: float
    ) -> Any:
        """Emit with one ack id to the local sockets of ``target``; the responses by sid, or
        :exc:`AckTimeout` carrying the partial responses."""
        return await self.router.collect_acks(target, event, args, timeout)

    def emit_for_acks(
        self,
        namespace: str,
        sids: Iterable[str],
        event: str,
        args: list[Any],
        timeout: float | None,
        on_ack: Callable[[str, list[Any]], None],
    ) -> int:
        """Emit with acks to the local sockets among ``sids`` (for another process):
        ``on_ack(sid, args)`` for each ack; returns how many sockets were reached."""
        return self.router.emit_for_acks(namespace, sids, event, args, timeout, on_ack)

    # -------------------------------------------------------------------- helpers

    def _serves(self, namespace: str) -> bool:
        """Whether CONNECT to ``namespace`` is accepted (handlers, or ``namespaces``)."""
        registry = self.registry
        if namespace == "/" or registry.known(namespace):
            return True
        accepted = self.accepted_namespaces
        if accepted == "*" or "*" in registry.handlers or "*" in registry.namespaces:
            return True
        if isinstance(accepted, re.Pattern):
            return accepted.fullmatch(namespace) is not None
        if callable(accepted):
            return bool(accepted(namespace))
        return accepted is not None and namespace in accepted

    def _on_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        self.dispatcher.on_eio_connect(eio_sid, environ)
        if not self._served and not self._manager_lock.locked():
            # No front door said it serves (ASGI without lifespan): start on first use.
            self._spawn(self.startup())

    def _eio_session(self, eio_sid: str) -> EngineIOSession | None:
        return self.eio.sessions.get(Sid(eio_sid))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _target(
        self,
        namespace: str | None,
        to: Rooms,
        skip: str | Iterable[str] | None,
        except_rooms: Iterable[str] = (),
        *,
        volatile: bool = False,
        local: bool = False,
    ) -> BroadcastTarget:
        return BroadcastTarget(
            namespace or DEFAULT_NAMESPACE,
            None if to is None else names(to),
            names(except_rooms),
            names(skip),
            local=local,
            volatile=volatile,
        )

    def _socket(self, sid: str, namespace: str | None) -> SocketContext:
        ns = namespace or DEFAULT_NAMESPACE
        ctx = self.dispatcher.socket(sid, ns)
        if ctx is None:
            raise NotConnected(f"{sid} is not connected to {ns}")
        return ctx


class Listening:
    """``sio.listen()``: the Engine.IO standalone server, with the server's lifecycle around it.

    Entering (or awaiting) it runs ``startup`` then starts the front door; leaving it closes
    the front door, then runs ``shutdown``.
    """

    def __init__(
        self,
        front: Any,
        startup: Callable[[], Coroutine[Any, Any, None]],
        shutdown: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        self._front = front
        self._startup = startup
        self._shutdown = shutdown

    async def _start(self) -> Any:
        await self._startup()
        return await self._front.start()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._start().__await__()

    async def __aenter__(self) -> Any:
        return await self._start()

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self._front.close()
        finally:
            await self._shutdown()
