"""Packet handling of the Socket.IO server: CONNECT, events, acks, disconnects.

:class:`Dispatcher` is the half of :class:`~socketio_core.aio.server.AsyncServer` that reacts
to the network; the other half (the application API) is in :mod:`socketio_core.aio.server`.

Rules this file keeps (spec section "Sending and receiving data" and Node's socket.io):

* The first packet of a connection must be a CONNECT, within ``connect_timeout``; a decoder
  error of any kind closes the Engine.IO connection and forgets everything of the client.
* CONNECT to a namespace nobody serves gets CONNECT_ERROR ``{"message": "Invalid
  namespace"}``; a refusal by a middleware or the ``connect`` handler gets CONNECT_ERROR with
  the refusal's ``message`` and ``data``.
* A socket is registered (rooms, sessions) before its ``connect`` handler runs, so the handler
  can join rooms and emit; what it emits is held back and sent right after the CONNECT packet.
* Events for a namespace the client has not joined are dropped. An event with an ack id gets
  an ACK carrying the handler's return value (a tuple is several arguments).
* Every pending ack of a socket is settled when it disconnects: nothing piles up.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engineio_core.handshake import new_sid

from ..exceptions import AckTimeout, ConnectionRefused, NotConnected, RemoteProtocolError
from ..packet import Namespace, Packet, PacketType
from .manager import BroadcastTarget
from .state import AckWaiter, Client, Socket

if TYPE_CHECKING:
    from .server import AsyncServer

__all__ = ["Dispatcher"]

logger = logging.getLogger(__name__)


class Dispatcher:
    """The network side of an :class:`AsyncServer`; see the module docstring."""

    def __init__(self, server: AsyncServer) -> None:
        self.server = server
        self.clients: dict[str, Client] = {}
        self.sockets: dict[str, Socket] = {}
        self._ack_ids: dict[str, int] = {}

    # ------------------------------------------------------------ Engine.IO events

    def on_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        client = Client(eio_sid, environ, self.server.parser.decoder(require_connect_first=True))
        self.clients[eio_sid] = client
        if self.server.listener is not None:  # admin hook
            self.server.listener.on_eio_connect(eio_sid)
        client.connect_timer = asyncio.get_running_loop().call_later(
            self.server.connect_timeout, self._connect_timed_out, client
        )
        if not self.server._manager_started:
            self.server.start_background_task(self.server._start_manager)

    def _connect_timed_out(self, client: Client) -> None:
        client.connect_timer = None
        if not client.sockets and not client.closed:
            logger.info(
                "! %s: no CONNECT within %ss, closing", client.eio_sid, self.server.connect_timeout
            )
            self._close_client(client)

    def _close_client(self, client: Client) -> None:
        driver = self.server.eio.sessions.get(client.eio_sid)  # type: ignore[call-overload]
        if driver is not None:
            driver.close()

    def on_eio_message(self, eio_sid: str, data: str | bytes) -> None:
        if self.server.listener is not None:  # admin hook
            self.server.listener.on_packet_in(data)
        client = self.clients.get(eio_sid)
        if client is None or client.closed:
            return
        try:
            packet = client.decoder.feed(data)
        except RemoteProtocolError as exc:
            # Spec: a malformed packet means "the receiver MUST close the connection".
            logger.info("! %s: %s; closing the connection", eio_sid, exc)
            client.closed = True
            self._close_client(client)
            return
        if packet is None:
            return
        kind = packet.type
        if kind is PacketType.ACK or kind is PacketType.BINARY_ACK:
            self._handle_ack(client, packet)
        elif self.server.async_handlers and kind in (PacketType.EVENT, PacketType.BINARY_EVENT):
            self.server.start_background_task(self._handle_event, client, packet)
        else:
            client.enqueue(lambda: self._handle_packet(client, packet))

    async def on_eio_disconnect(self, eio_sid: str, reason: object) -> None:
        client = self.clients.pop(eio_sid, None)
        if self.server.listener is not None:  # admin hook
            self.server.listener.on_eio_disconnect(eio_sid, str(reason))
        if client is None:
            return
        if client.connect_timer is not None:
            client.connect_timer.cancel()
            client.connect_timer = None

        async def gone() -> None:
            client.closed = True
            for socket in list(client.sockets.values()):
                await self.socket_gone(socket, str(reason))

        client.enqueue(gone)

    # ----------------------------------------------------------------- packets

    async def _handle_packet(self, client: Client, packet: Packet) -> None:
        if client.closed:
            return
        kind = packet.type
        if kind is PacketType.CONNECT:
            await self._handle_connect(client, packet.namespace, packet.data)
        elif kind is PacketType.EVENT or kind is PacketType.BINARY_EVENT:
            await self._handle_event(client, packet)
        elif kind is PacketType.DISCONNECT:
            socket = client.sockets.get(packet.namespace)
            if socket is not None:
                await self.socket_gone(socket, "client namespace disconnect")
        else:  # CONNECT_ERROR is for clients only
            logger.info("! %s: unexpected %s packet; closing", client.eio_sid, kind.name)
            client.closed = True
            self._close_client(client)

    def _accepts(self, namespace: str) -> bool:
        if namespace == "/" or self.server.registry.known(namespace):
            return True
        accepted = self.server.accepted_namespaces
        if (
            accepted == "*"
            or "*" in self.server.registry.handlers
            or "*" in self.server.registry.namespaces
        ):
            return True
        if isinstance(accepted, re.Pattern):
            return accepted.fullmatch(namespace) is not None
        if callable(accepted):
            return bool(accepted(namespace))
        return accepted is not None and namespace in accepted

    async def _handle_connect(self, client: Client, namespace: str, auth: Any) -> None:
        if client.connect_timer is not None:
            client.connect_timer.cancel()
            client.connect_timer = None
        if namespace in client.sockets:
            logger.info("! %s: second CONNECT to %s ignored", client.eio_sid, namespace)
            return
        if not self._accepts(namespace):
            self.send_packet(
                client.eio_sid,
                Packet(
                    PacketType.CONNECT_ERROR, Namespace(namespace), {"message": "Invalid namespace"}
                ),
            )
            return
        sid = new_sid()
        socket = Socket(sid, namespace, client, auth=auth)
        client.sockets[namespace] = socket
        self.sockets[sid] = socket
        self.server.manager.connect(namespace, sid)
        if self.server.always_connect:
            self._open_socket(socket)
        refusal: ConnectionRefused | None = None
        try:
            for scope, middleware in self.server.middlewares:
                if scope is None or scope == namespace:
                    await _maybe_await(middleware(sid, client.environ, auth))
            handler, args = self.server.registry.resolve(
                "connect", namespace, (sid, client.environ, auth)
            )
            if handler is not None and await _maybe_await(handler(*args)) is False:
                refusal = ConnectionRefused()
        except ConnectionRefused as exc:
            refusal = exc
        except Exception:
            logger.error("! connect handler failed for %s", sid, exc_info=True)
            refusal = ConnectionRefused("Internal server error")
        if client.closed:
            return  # the client left while the handler ran
        if self.sockets.get(sid) is not socket:
            # The application disconnected the socket from its own connect handler: a
            # client still waiting for its CONNECT is refused instead of left hanging.
            if not socket.connected:
                self.send_packet(
                    client.eio_sid,
                    Packet(
                        PacketType.CONNECT_ERROR,
                        Namespace(namespace),
                        ConnectionRefused().error_args,
                    ),
                )
            return
        if refusal is None:
            if not socket.connected:
                self._open_socket(socket)
            logger.info("= %s connected to %s as %s", client.eio_sid, namespace, sid)
            return
        logger.info("! %s refused on %s: %s", client.eio_sid, namespace, refusal)
        kind = PacketType.DISCONNECT if socket.connected else PacketType.CONNECT_ERROR
        data = None if kind is PacketType.DISCONNECT else refusal.error_args
        self._forget_socket(socket)
        self.send_packet(client.eio_sid, Packet(kind, Namespace(namespace), data))

    def _open_socket(self, socket: Socket) -> None:
        """Send CONNECT, then what was emitted to the socket meanwhile."""
        socket.connected = True
        self.send_packet(
            socket.client.eio_sid,
            Packet(PacketType.CONNECT, Namespace(socket.namespace), {"sid": socket.sid}),
        )
        if self.server.listener is not None:  # admin hook
            self.server.listener.on_connect(socket.namespace, socket.sid, socket.client.eio_sid)
        held, socket.held = socket.held, None
        for messages in held or ():
            self.server.deliver(socket.namespace, socket.sid, messages)

    async def _handle_event(self, client: Client, packet: Packet) -> None:
        socket = client.sockets.get(packet.namespace)
        if socket is None or not socket.connected:
            logger.debug(
                "< %s: event for unjoined namespace %s dropped", client.eio_sid, packet.namespace
            )
            return
        event, *args = packet.data
        try:
            for scope, middleware in self.server.packet_middlewares:
                if scope is None or scope == packet.namespace:
                    await _maybe_await(middleware(socket.sid, event, args))
        except Exception as exc:
            logger.info("! %s: event %r dropped by a middleware: %s", socket.sid, event, exc)
            return
        if self.server.listener is not None:  # admin hook
            self.server.listener.on_event_received(packet.namespace, socket.sid, event, args)
        handler, call_args = self.server.registry.resolve(
            event, packet.namespace, (socket.sid, *args)
        )
        if handler is None:
            logger.debug("< %s: no handler for %r", socket.sid, event)
            return
        try:
            result = await _maybe_await(handler(*call_args))
        except Exception:
            logger.error("! handler for %r failed (sid %s)", event, socket.sid, exc_info=True)
            return
        if packet.id is not None and self.sockets.get(socket.sid) is socket:
            ack = list(result) if isinstance(result, tuple) else [] if result is None else [result]
            self.send_packet(
                client.eio_sid, Packet.ack(ack, id=packet.id, namespace=packet.namespace)
            )

    def _handle_ack(self, client: Client, packet: Packet) -> None:
        socket = client.sockets.get(packet.namespace)
        waiter = None if socket is None or packet.id is None else socket.acks.pop(packet.id, None)
        if waiter is None:
            logger.debug("< %s: unexpected ack %s", client.eio_sid, packet.id)
            return
        assert socket is not None
        _settle(waiter, socket.sid, list(packet.data), None)

    async def socket_gone(self, socket: Socket, reason: str) -> None:
        if self.sockets.get(socket.sid) is not socket:
            return
        was_connected = socket.connected
        self._forget_socket(socket)
        if was_connected and self.server.listener is not None:  # admin hook
            self.server.listener.on_disconnect(socket.namespace, socket.sid, reason)
        if was_connected:
            handler, args = self.server.registry.resolve(
                "disconnect", socket.namespace, (socket.sid, reason)
            )
            if handler is not None:
                try:
                    await _maybe_await(handler(*args))
                except Exception:
                    logger.error("! disconnect handler failed for %s", socket.sid, exc_info=True)
        logger.info("x %s left %s: %s", socket.sid, socket.namespace, reason)

    def _forget_socket(self, socket: Socket) -> None:
        self.sockets.pop(socket.sid, None)
        if socket.client.sockets.get(socket.namespace) is socket:
            del socket.client.sockets[socket.namespace]
        self.server.manager.disconnect(socket.namespace, socket.sid)
        error = NotConnected(f"{socket.sid} disconnected")
        for waiter in socket.acks.values():
            _settle(waiter, socket.sid, None, error)
        socket.acks.clear()

    # ------------------------------------------------------------------ sending

    def send_packet(self, eio_sid: str, packet: Packet) -> None:
        driver = self.server.eio.sessions.get(eio_sid)  # type: ignore[call-overload]
        if driver is None:
            return
        messages = self.server.parser.encode(packet)
        if self.server.listener is not None:  # admin hook
            self.server.listener.on_packets_out(messages)
        for message in messages:
            try:
                driver.send(message)
            except Exception as exc:  # SessionClosed: the client is leaving
                logger.debug("x %s: %s", eio_sid, exc)
                return

    def encode_event(
        self, namespace: str, event: str, args: list[Any], ack_id: int | None = None
    ) -> list[str | bytes]:
        return self.server.parser.encode(
            Packet.event([event, *args], namespace=namespace, id=ack_id)
        )

    def _next_ack_id(self, namespace: str) -> int:
        # One counter per namespace, as Node's ``nsp._ids``: a broadcast's single id is then
        # unique among every socket's pending acks.
        ack_id = self._ack_ids.get(namespace, 0)
        self._ack_ids[namespace] = ack_id + 1
        return ack_id

    def register_ack(
        self,
        socket: Socket,
        event: str,
        args: list[Any],
        waiter: AckWaiter,
        timeout: float | None,
    ) -> None:
        ack_id = self._next_ack_id(socket.namespace)
        socket.acks[ack_id] = waiter
        if timeout is not None:
            waiter.timer = asyncio.get_running_loop().call_later(
                timeout, self._ack_timed_out, socket, ack_id
            )
        self.server.deliver(
            socket.namespace, socket.sid, self.encode_event(socket.namespace, event, args, ack_id)
        )

    def _ack_timed_out(self, socket: Socket, ack_id: int) -> None:
        waiter = socket.acks.pop(ack_id, None)
        if waiter is not None:
            waiter.timer = None
            _settle(waiter, socket.sid, None, AckTimeout(f"no ack {ack_id} from {socket.sid}"))

    def emit_with_callback(
        self,
        socket: Socket,
        event: str,
        args: list[Any],
        callback: Callable[..., Any],
        timeout: float | None,
    ) -> None:
        waiter = AckWaiter(callback=callback, err_first=timeout is not None)
        self.register_ack(socket, event, args, waiter, timeout)

    async def broadcast_with_acks(
        self, target: BroadcastTarget, event: str, args: list[Any], timeout: float
    ) -> Any:
        """Emit once to every target with one ack id; collect the acks by sid."""
        sids = self.server.manager.select(target)
        responses: dict[str, Any] = {}
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting = set(sids)

        def collect(sid: str, data: list[Any]) -> None:
            waiting.discard(sid)
            responses[sid] = data[0] if len(data) == 1 else data
            if not waiting and not done.done():
                done.set_result(None)

        ack_id = self._next_ack_id(target.namespace)
        messages = self.encode_event(target.namespace, event, args, ack_id)
        for sid in sids:
            socket = self.sockets[sid]
            socket.acks[ack_id] = AckWaiter(collect=collect)
            self.server.deliver(target.namespace, sid, messages, target.volatile)
        if waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(done), timeout)
        for sid in waiting:
            late = self.sockets.get(sid)
            if late is not None:
                late.acks.pop(ack_id, None)
        if waiting:
            return AckTimeout(f"{len(waiting)} of {len(sids)} clients did not ack", responses)
        return responses


# Async ack callbacks run as tasks; keep them referenced until they finish.
_callback_tasks: set[asyncio.Future[Any]] = set()


def _settle(waiter: AckWaiter, sid: str, data: list[Any] | None, error: Exception | None) -> None:
    """Deliver an ack (``data``) or a failure (``error``) to whoever waits for it."""
    if waiter.timer is not None:
        waiter.timer.cancel()
        waiter.timer = None
    if waiter.future is not None:
        if not waiter.future.done():
            if error is not None:
                waiter.future.set_exception(error)
            else:
                assert data is not None
                waiter.future.set_result(
                    data[0] if len(data) == 1 else (tuple(data) if data else None)
                )
        return
    if waiter.collect is not None:
        if error is None and data is not None:
            waiter.collect(sid, data)
        return
    if waiter.callback is None:
        return
    try:
        if error is not None:
            if waiter.err_first and isinstance(error, AckTimeout):
                result = waiter.callback(error)
            else:
                return  # python-socketio drops callbacks of clients that left
        elif waiter.err_first:
            result = waiter.callback(None, *(data or ()))
        else:
            result = waiter.callback(*(data or ()))
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            _callback_tasks.add(task)
            task.add_done_callback(_callback_tasks.discard)
    except Exception:
        logger.error("! ack callback failed", exc_info=True)


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value
