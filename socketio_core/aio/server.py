"""The Socket.IO v5 ``AsyncServer``: the application API (python-socketio's names).

Theory of operation
-------------------
The server sits on an :class:`engineio_core.aio.AsyncServer` and takes each Engine.IO message
synchronously (``message_hook``): it feeds the client's packet decoder at once, resolves
acknowledgements at once, and queues everything else (CONNECT, events, the final disconnect)
on the client's ordered queue (:mod:`socketio_core.aio.state`). Packet handling lives in
:mod:`socketio_core.aio.dispatch`; this module is the API around it.

Broadcasts are encoded once: :meth:`AsyncServer.emit` turns the packet into Engine.IO
messages one time and hands the same messages to every recipient through the manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import ssl as ssl_module
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

from engineio_core.aio import AsyncServer as EngineIOServer
from engineio_core.exceptions import SessionClosed
from engineio_core.packet import Packet as EIOPacket
from engineio_core.packet import PacketType as EIOPacketType

from ..exceptions import AckTimeout, NotConnected
from ..packet import DEFAULT_NAMESPACE, Packet, PacketType
from ..packet import Namespace as NamespaceName
from ..parsers import JsonParser, MsgpackParser, Parser
from .dispatch import Dispatcher
from .front import Listening, as_args
from .handlers import Handler, HandlerRegistry
from .manager import AsyncManager, BroadcastTarget, SocketInfo
from .namespace import Namespace
from .operators import BroadcastOperator
from .state import AckWaiter, Socket

if TYPE_CHECKING:
    from ..admin import ServerListener
    from .admin import AdminInstrument

__all__ = ["AsyncServer"]

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
        self.eio = EngineIOServer(**engineio_options)
        self.manager = client_manager if client_manager is not None else AsyncManager()
        self.manager.attach(self)
        self.registry = HandlerRegistry()
        self.async_handlers = async_handlers
        self.always_connect = always_connect
        self.accepted_namespaces = namespaces
        self.connect_timeout = connect_timeout
        self.middlewares: list[tuple[str | None, Middleware]] = []
        self.packet_middlewares: list[tuple[str | None, Middleware]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._manager_started = False
        self.listener: ServerListener | None = None  # instrument()'s; None: no admin work
        self.dispatcher = Dispatcher(self)
        self.eio.message_hook = self.dispatcher.on_eio_message
        self.eio.on("connect", self.dispatcher.on_eio_connect)
        self.eio.on("disconnect", self.dispatcher.on_eio_disconnect)

    # --------------------------------------------------------------- registration

    def on(self, event: str, handler: Handler | None = None, namespace: str | None = None) -> Any:
        """Register an event handler; usable as a decorator.

        Example::

            @sio.on("chat message", namespace="/chat")
            async def chat(sid, data): ...

        ``event`` and ``namespace`` may be ``"*"`` (catch-all; see
        :mod:`socketio_core.aio.handlers` for the arguments then passed).
        """
        ns = namespace or DEFAULT_NAMESPACE

        def register(func: Handler) -> Handler:
            self.registry.on(event, func, ns)
            return func

        return register if handler is None else register(handler)

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Register a handler named after the function: ``@sio.event`` or
        ``@sio.event(namespace="/chat")``."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__, args[0])

        def register(func: Handler) -> Handler:
            return self.on(func.__name__, func, *args, **kwargs)  # type: ignore[no-any-return]

        return register

    def register_namespace(self, namespace_handler: Namespace) -> None:
        """Register a class-based namespace."""
        if not isinstance(namespace_handler, Namespace):
            raise TypeError("not a Namespace instance")
        namespace_handler.attach(self)
        self.registry.register_namespace(namespace_handler)

    def use(self, middleware: Middleware, namespace: str | None = None) -> Middleware:
        """Add a connection middleware, run in order before the ``connect`` handler:
        ``middleware(sid, environ, auth)`` (sync or async) refuses the connection by raising
        :exc:`~socketio_core.exceptions.ConnectionRefused`. ``namespace`` None: every one."""
        self.middlewares.append((namespace, middleware))
        return middleware

    def use_packet(self, middleware: Middleware, namespace: str | None = None) -> Middleware:
        """Add a per-packet middleware, run before each event handler: ``middleware(sid,
        event, args)`` (sync or async) drops the event by raising."""
        self.packet_middlewares.append((namespace, middleware))
        return middleware

    # -------------------------------------------------------------------- emitting

    async def emit(
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
    ) -> None:
        """Emit an event to one client, a room, several rooms, or everyone.

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
        """
        target = self._target(
            namespace,
            to if to is not None else room,
            skip_sid,
            except_rooms,
            volatile,
            local or ignore_queue,
        )
        args = as_args(data)
        if self.listener is not None:  # admin hook
            self.listener.on_event_sent(target, event, args)
        if callback is None:
            await self.manager.emit(
                target, self.dispatcher.encode_event(target.namespace, event, args)
            )
            return
        single = self._single_socket(target)
        if single is not None:
            self.dispatcher.emit_with_callback(single, event, args, callback, timeout)
            return
        remote = self._remote_candidate(target)
        if remote is not None:  # maybe a sid of another process: the ack comes in a task
            self.start_background_task(
                self._remote_callback, target, remote, event, args, callback, timeout
            )
            return
        if timeout is None:
            raise ValueError("a broadcast with a callback needs a timeout")
        responses = await self.manager.broadcast_with_acks(target, event, args, timeout)
        if isinstance(responses, AckTimeout):
            callback(responses)
        else:
            callback(None, responses)

    async def send(
        self,
        data: Any,
        to: Rooms = None,
        room: Rooms = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Emit a ``message`` event (``socket.send`` in the JavaScript client)."""
        await self.emit("message", data, to, room, skip_sid, namespace, callback, **kwargs)

    async def call(
        self,
        event: str,
        data: Any = None,
        to: Rooms = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float = 60.0,
        **kwargs: Any,
    ) -> Any:
        """Emit to one client and wait for its ack; returns the ack's argument(s).

        To a room (or everyone) it waits for every recipient's ack and returns a dict of
        responses by sid.

        Raises:
            AckTimeout: no ack within ``timeout`` (``responses`` holds a broadcast's partial
                results).
            NotConnected: the client is not connected, or disconnected before answering.
        """
        target = self._target(namespace, sid if sid is not None else to, None, (), False, False)
        args = as_args(data)
        single = self._single_socket(target)
        if single is None:
            remote = self._remote_candidate(target)
            if remote is not None:
                try:
                    data = await self.manager.call_socket(
                        target.namespace, remote, event, args, timeout
                    )
                    return data[0] if len(data) == 1 else (tuple(data) if data else None)
                except NotConnected:
                    if sid is not None:
                        raise
            if (
                target.rooms is not None
                and len(target.rooms) == 1
                and (not self.manager.registry.members(target.namespace, target.rooms[0]))
                and sid is not None
            ):
                raise NotConnected(f"{sid} is not connected to {target.namespace}")
            result = await self.manager.broadcast_with_acks(target, event, args, timeout)
            if isinstance(result, AckTimeout):
                raise result
            return result
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        # The dispatcher's ack timer removes the waiter from ``socket.acks`` and fails the
        # future with AckTimeout: a timed-out call leaves nothing pending.
        self.dispatcher.register_ack(single, event, args, AckWaiter(future=future), timeout)
        return await future

    def to(self, room: Rooms) -> BroadcastOperator:
        """Node's broadcast operators: ``sio.to("a").to("b").except_("c").emit(...)``."""
        return BroadcastOperator(self).to(room)

    in_ = to

    def except_(self, room: Rooms) -> BroadcastOperator:
        """A broadcast to everyone except the clients in ``room``."""
        return BroadcastOperator(self).except_(room)

    def of(self, namespace: str) -> BroadcastOperator:
        """Operators for another namespace."""
        return BroadcastOperator(self, namespace=namespace)

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

    def instrument(self, auth: Any = None, **options: Any) -> AdminInstrument:
        """python-socketio's ``instrument()``: the Admin UI (see :mod:`.admin`'s class)."""
        from .admin import AdminInstrument  # noqa: PLC0415 (admin.py imports this module)

        return AdminInstrument(self, auth=auth, **options)

    # ----------------------------------------------------------------------- rooms

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Add a client to a room."""
        await self.manager.enter_room(namespace or DEFAULT_NAMESPACE, sid, room)

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Remove a client from a room."""
        await self.manager.leave_room(namespace or DEFAULT_NAMESPACE, sid, room)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """Remove every client from a room."""
        await self.manager.close_room(namespace or DEFAULT_NAMESPACE, room)

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
        target = self._target(namespace, to, None, except_rooms, False, False)
        return await self.manager.fetch_sockets(target, timeout=timeout)

    def socket_info(self, namespace: str, sid: str) -> SocketInfo:
        """What :meth:`fetch_sockets` reports for one local socket."""
        socket = self._socket(sid, namespace)
        return SocketInfo(
            sid,
            namespace,
            tuple(self.manager.rooms(namespace, sid)),
            dict(socket.data),
            socket.handshake,
        )

    # -------------------------------------------------------------------- sessions

    async def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """The user session of a client (a dict the application owns)."""
        return self._socket(sid, namespace or DEFAULT_NAMESPACE).session

    async def save_session(
        self, sid: str, session: dict[str, Any], namespace: str | None = None
    ) -> None:
        """Replace the user session of a client."""
        self._socket(sid, namespace or DEFAULT_NAMESPACE).session = session

    @contextlib.asynccontextmanager
    async def session(
        self, sid: str, namespace: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """``async with sio.session(sid) as session:`` edits and saves the session."""
        session = await self.get_session(sid, namespace)
        yield session
        await self.save_session(sid, session, namespace)

    def get_environ(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """The WSGI-style environ of the client's handshake request."""
        return self._socket(sid, namespace or DEFAULT_NAMESPACE).client.environ

    def transport(self, sid: str, namespace: str | None = None) -> str:
        """``polling`` or ``websocket``."""
        socket = self._socket(sid, namespace or DEFAULT_NAMESPACE)
        return self.eio.transport(socket.client.eio_sid)

    def socket_data(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """Node's ``socket.data``: app data shared through ``fetch_sockets``."""
        return self._socket(sid, namespace or DEFAULT_NAMESPACE).data

    # ------------------------------------------------------------------ lifecycle

    async def disconnect(
        self,
        sid: str,
        namespace: str | None = None,
        ignore_queue: bool = False,
        *,
        close: bool = False,
    ) -> None:
        """Disconnect a client from a namespace (``close``: end its whole connection)."""
        ns = namespace or DEFAULT_NAMESPACE
        socket = self.dispatcher.sockets.get(sid)
        if socket is None or socket.namespace != ns:
            if not ignore_queue and not self.manager.is_connected(ns, sid):
                await self.manager.disconnect_sockets(
                    BroadcastTarget(ns, rooms=(sid,)), close=close
                )
            return
        if socket.connected:
            self.dispatcher.send_packet(
                socket.client.eio_sid, Packet(PacketType.DISCONNECT, NamespaceName(ns))
            )
        if close:
            await self.eio.disconnect(socket.client.eio_sid)
        await self.dispatcher.socket_gone(socket, "server namespace disconnect")

    async def shutdown(self) -> None:
        """Disconnect every client and stop the manager."""
        await self.eio.shutdown()
        await self.manager.stop()

    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        """Run ``target(*args, **kwargs)`` in a task the server keeps a reference to."""
        task: asyncio.Task[Any] = asyncio.ensure_future(target(*args, **kwargs))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

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
        await self._start_manager()
        await self.eio.serve(host, port, engineio_path=socketio_path, ssl=ssl, **kwargs)

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

        Entering it (or awaiting it) starts the client manager first, as :meth:`serve` does,
        so a pub/sub manager is subscribed before the first client arrives.
        """
        return Listening(
            self, self.eio.listen(host, port, engineio_path=socketio_path, ssl=ssl, **kwargs)
        )

    async def _start_manager(self) -> None:
        if not self._manager_started:
            self._manager_started = True
            await self.manager.start()

    # -------------------------------------------------------------------- helpers

    @staticmethod
    def share(messages: Iterable[str | bytes]) -> list[EIOPacket]:
        """Engine.IO packets shared by a broadcast's recipients: encoded once, to the frame."""
        return [EIOPacket(EIOPacketType.MESSAGE, message) for message in messages]

    def deliver(
        self,
        namespace: str,
        sid: str,
        messages: Collection[str | bytes | EIOPacket],
        volatile: bool = False,
    ) -> None:
        """Hand pre-encoded messages to one local socket (the manager's fan-out)."""
        socket = self.dispatcher.sockets.get(sid)
        if socket is None or socket.namespace != namespace:
            return
        if socket.held is not None:
            socket.held.append(list(messages))
            return
        driver = self.eio.sessions.get(socket.client.eio_sid)  # type: ignore[call-overload]
        if driver is None or (volatile and not driver.writable):
            return
        if self.listener is not None:  # admin hook
            self.listener.on_packets_out(messages)
        try:
            for message in messages:
                driver.send(message)
        except SessionClosed:
            pass

    def _target(
        self,
        namespace: str | None,
        to: Rooms,
        skip: str | Iterable[str] | None,
        except_rooms: Iterable[str],
        volatile: bool,
        local: bool,
    ) -> BroadcastTarget:
        rooms = None if to is None else (to,) if isinstance(to, str) else tuple(to)
        skipped = () if skip is None else (skip,) if isinstance(skip, str) else tuple(skip)
        return BroadcastTarget(
            namespace or DEFAULT_NAMESPACE, rooms, tuple(except_rooms), skipped, local, volatile
        )

    def _remote_candidate(self, target: BroadcastTarget) -> str | None:
        """The one room of ``target`` with no local member: maybe a remote sid (pub/sub)."""
        if (
            not self.manager.cluster
            or target.local
            or target.rooms is None
            or len(target.rooms) != 1
            or target.except_rooms
            or target.skip
            or self.manager.registry.members(target.namespace, target.rooms[0])
        ):
            return None
        return target.rooms[0]

    async def _remote_callback(
        self,
        target: BroadcastTarget,
        sid: str,
        event: str,
        args: list[Any],
        callback: Callable[..., Any],
        timeout: float | None,
    ) -> None:
        """``emit(callback=)`` to a remote socket (a gone client's callback is dropped)."""
        try:
            data = await self.manager.call_socket(
                target.namespace, sid, event, args, 60.0 if timeout is None else timeout
            )
        except NotConnected:
            if timeout is None:
                logger.debug("x %s: not connected anywhere; callback dropped", sid)
                return
            responses = await self.manager.broadcast_with_acks(target, event, args, timeout)
            result = (
                callback(responses)
                if isinstance(responses, AckTimeout)
                else callback(None, responses)
            )
        except AckTimeout as exc:
            if timeout is None:
                logger.debug("x %s: no ack; callback dropped", sid)
                return
            result = callback(exc)
        else:
            result = callback(*data) if timeout is None else callback(None, *data)
        if inspect.isawaitable(result):
            await result

    def _single_socket(self, target: BroadcastTarget) -> Socket | None:
        """The local socket when ``target`` names exactly one connected sid."""
        if target.rooms is None or len(target.rooms) != 1 or target.except_rooms or target.skip:
            return None
        socket = self.dispatcher.sockets.get(target.rooms[0])
        return socket if socket is not None and socket.namespace == target.namespace else None

    def _socket(self, sid: str, namespace: str | None) -> Socket:
        socket = self.dispatcher.sockets.get(sid)
        if socket is None or socket.namespace != (namespace or DEFAULT_NAMESPACE):
            raise NotConnected(f"{sid} is not connected to {namespace or DEFAULT_NAMESPACE}")
        return socket
