"""The asyncio Socket.IO v5 client: :class:`AsyncClient`, with python-socketio's API names.

Theory of operation
-------------------
Protocol decisions live in :class:`socketio_core.client_session.ClientSession`, which outlives
every Engine.IO connection; this module opens those connections
(:class:`engineio_core.aio.client.AsyncClient`, one per attempt), feeds the session, and turns
its output into I/O:

* messages to send go to an outbox that one **writer** task hands to Engine.IO, in order;
* acks resolve :meth:`AsyncClient.call` futures at once, when the message arrives, so a
  handler may ``await call(...)`` without blocking the events behind it from being acked;
* every other event (``connect``, ``connect_error``, ``disconnect``, server events, ``emit``
  callbacks, the ``reconnect*`` events) goes through one **dispatcher** task that runs the
  handlers one after the other, in arrival order, and sends the ack a handler's return value
  makes;
* the session's next deadline is one ``loop.call_at`` handle.

When a connection that was up is lost (anything but :meth:`AsyncClient.disconnect`, or the
server leaving every namespace), the **reconnector** task waits
:func:`~socketio_core.client_session.backoff_delay` and tries again, firing
``reconnect_attempt(n)``, then ``reconnect(n)`` or ``reconnect_error(exc)``, and
``reconnect_failed()`` when ``reconnection_attempts`` are used up. Each attempt opens a new
Engine.IO connection and joins every namespace again, evaluating ``auth`` again;
:meth:`~AsyncClient.disconnect` during a retry cancels the reconnector, which closes whatever
it had half opened. Emits made meanwhile wait in the session's send buffer.

Every task belongs to the client and is gone once :meth:`~AsyncClient.disconnect` or
:meth:`~AsyncClient.wait` returns.

Handlers
--------
Registration and lookup are :class:`~socketio_core.aio.client_namespace.HandlerTable`'s (the
module documents the catch-alls and the client's own events). Coroutine handlers run on the
loop; plain functions too, or in ``handler_executor`` (the blocking client's handler thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import random as random_module
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

from engineio_core.aio.client import AsyncClient as EngineIOClient
from engineio_core.exceptions import EngineIOError, SessionClosed

from ..args import ack_value, as_args
from ..client_session import (
    AckFailed,
    AckReceived,
    ClientSession,
    ConnectFailed,
    EventReceived,
    NamespaceRefused,
    ProtocolViolation,
)
from ..exceptions import LocalProtocolError, NotConnected
from ..parsers import JsonParser, MsgpackParser, Parser
from .client_namespace import Callback, ClientNamespace, Handler, HandlerTable
from .reconnect import Reconnector

__all__ = ["AsyncClient"]

logger = logging.getLogger(__name__)
_STOP = object()


class AsyncClient:
    """A Socket.IO v5 client on asyncio.

    Example::

        sio = AsyncClient()

        @sio.event
        async def message(data):
            print(data)

        await sio.connect("http://127.0.0.1:5000", auth={"token": "..."})
        print(await sio.call("sum", (1, 2)))
        await sio.wait()

    Args:
        reconnection: reconnect when a connection that was up is lost.
        reconnection_attempts: give up after this many attempts (0: never).
        reconnection_delay: the first wait, in seconds; doubled at each attempt.
        reconnection_delay_max: the longest wait.
        randomization_factor: jitter, 0 to 1, of each wait.
        serializer: ``"default"`` (JSON), ``"msgpack"`` or a :class:`Parser`.
        retries: times an unacknowledged emit is sent again (socket.io-client ``retries``).
        ack_timeout: seconds each attempt of a retried emit waits (``ackTimeout``).
        buffer_size: emits kept per namespace while disconnected (0: raise instead).
        random: the jitter's random source, ``() -> [0, 1)``.
        request_timeout: seconds for the Engine.IO handshake and each request.
        handler_executor: where plain-function handlers run (default: on the loop).
        **engineio_options: passed to :class:`engineio_core.aio.client.AsyncClient`.
    """

    def __init__(
        self,
        reconnection: bool = True,
        reconnection_attempts: int = 0,
        reconnection_delay: float = 1,
        reconnection_delay_max: float = 5,
        randomization_factor: float = 0.5,
        serializer: str | Parser = "default",
        *,
        retries: int = 0,
        ack_timeout: float | None = None,
        buffer_size: int = 1024,
        random: Callable[[], float] = random_module.random,
        request_timeout: float = 5.0,
        handler_executor: Executor | None = None,
        **engineio_options: Any,
    ) -> None:
        self.reconnection = reconnection
        self.reconnection_attempts = reconnection_attempts
        self.reconnection_delay = reconnection_delay
        self.reconnection_delay_max = reconnection_delay_max
        self.randomization_factor = randomization_factor
        self.random = random
        if serializer == "default":
            self.parser: Parser = JsonParser()
        elif serializer == "msgpack":
            self.parser = MsgpackParser()
        elif isinstance(serializer, Parser):
            self.parser = serializer
        else:
            raise ValueError(f"unknown serializer {serializer!r}")
        self.buffer_size = buffer_size
        self.retries = retries
        self.ack_timeout = ack_timeout
        self.request_timeout, self.engineio_options = request_timeout, engineio_options
        self._handlers = HandlerTable(handler_executor)
        self._session = self._new_session()
        self._connect_args: dict[str, Any] = {}
        self._refusals: dict[str, dict[str, Any]] = {}
        self._eio: EngineIOClient | None = None
        self._outbox: deque[str | bytes] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self._helpers: set[asyncio.Task[Any]] = set()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._changed = asyncio.Event()
        self._done = asyncio.Event()
        self._done.set()
        self._timer: asyncio.TimerHandle | None = None
        self._established = False
        self._stopping = False
        self._violation = False

    # -- handlers ------------------------------------------------------------------------------

    def on(self, event: str, handler: Handler | None = None, namespace: str | None = None) -> Any:
        """Register ``handler`` for ``event`` in ``namespace`` (``"*"``: any); a decorator when
        ``handler`` is omitted (see :mod:`~socketio_core.aio.client_namespace` for the rules).

        Raises:
            TypeError: a handler of one of the client's own events cannot take its arguments.
        """
        return self._handlers.on(event, handler, namespace)

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Register a handler named after the function: ``@sio.event`` or
        ``@sio.event(namespace="/chat")``."""
        return self._handlers.event(*args, **kwargs)

    def register_namespace(self, namespace_handler: ClientNamespace, proxy: Any = None) -> None:
        """Register a class-based namespace; its helpers call ``proxy`` (default: this client).

        Raises:
            TypeError: not a ClientNamespace, or an own-event method with wrong arguments.
        """
        self._handlers.register_namespace(namespace_handler, self if proxy is None else proxy)

    def _new_session(self) -> ClientSession:
        return ClientSession(
            self.parser,
            buffer_size=self.buffer_size,
            retries=self.retries,
            ack_timeout=self.ack_timeout,
        )

    # -- state ---------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Connected to the server, in at least one namespace."""
        return self._eio is not None and bool(self._session.connected_namespaces())

    @property
    def namespaces(self) -> dict[str, str]:
        """The connected namespaces and the sid of each."""
        return self._session.connected_namespaces()

    @property
    def sid(self) -> str | None:
        """The sid in the default namespace, while connected to it."""
        return self._session.sid("/")

    @property
    def recovered(self) -> bool:
        """Whether the last connection to the default namespace recovered its session
        (the server's ``connection_state_recovery``: same sid, rooms and data, and the events
        missed while away delivered, in order, once). Node's ``socket.recovered``."""
        return self._session.recovered("/")

    def is_recovered(self, namespace: str | None = None) -> bool:
        """:attr:`recovered` for ``namespace`` (default ``"/"``)."""
        return self._session.recovered(namespace or "/")

    def get_sid(self, namespace: str | None = None) -> str | None:
        """The sid in ``namespace`` (default ``"/"``), while connected to it."""
        return self._session.sid(namespace or "/")

    def transport(self) -> str | None:
        """``"polling"`` or ``"websocket"`` while connected, else None."""
        return None if self._eio is None else self._eio.transport()

    # -- public API ----------------------------------------------------------------------------

    async def connect(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        auth: Any = None,
        transports: Sequence[str] | str | None = None,
        namespaces: Sequence[str] | str | None = None,
        socketio_path: str = "socket.io",
        wait: bool = True,
        wait_timeout: float = 1,
    ) -> None:
        """Connect and join the namespaces.

        Args:
            url: the server, ``http(s)://host:port``.
            headers: more HTTP headers for every request.
            auth: the CONNECT payload: a dict, or a callable (sync or async) returning one,
                called at each (re)connection of each namespace.
            transports: ``"polling"`` and/or ``"websocket"`` (default both, upgrading).
            namespaces: the namespaces to join (default: those with handlers, else ``"/"``).
            socketio_path: the endpoint's path.
            wait: wait until every namespace has been accepted.
            wait_timeout: seconds to wait for that.

        Raises:
            LocalProtocolError: already connected.
            ConnectFailed: unreachable, or a namespace refused (the server's message, data).
        """
        if not self._done.is_set():
            raise LocalProtocolError("already connected")
        if namespaces is None:
            namespaces = self._handlers.namespaces()
        elif isinstance(namespaces, str):
            namespaces = [namespaces]
        self._connect_args = {
            "url": url,
            "headers": headers,
            "auth": auth,
            "transports": transports,
            "socketio_path": socketio_path,
            "wait": wait,
            "wait_timeout": wait_timeout,
        }
        self._session = self._new_session()
        self._queue = asyncio.Queue()
        self._done.clear()
        self._established = self._stopping = False
        self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch_loop())
        try:
            await self._attempt(list(namespaces))
        except BaseException:
            await self._finish()
            raise
        self._established = True

    async def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        callback: Handler | None = None,
    ) -> None:
        """Emit an event; while disconnected it waits in the send buffer.

        Args:
            event: the event name.
            data: one argument, a tuple of arguments, or None for none.
            namespace: the namespace (default ``"/"``).
            callback: called with the server's ack arguments.

        Raises:
            NotConnected: not in that namespace (or disconnected with buffering off).
            SendBufferFull: disconnected, and the buffer is full.
            LocalProtocolError: a reserved event name, or data that cannot be encoded.
        """
        self._check_open()
        token = None if callback is None else Callback(callback)
        self._session.emit(namespace or "/", [event, *as_args(data)], self._now(), token=token)
        self._process()

    async def send(
        self, data: Any, namespace: str | None = None, callback: Handler | None = None
    ) -> None:
        """Emit a ``message`` event."""
        await self.emit("message", data, namespace, callback)

    async def call(
        self, event: str, data: Any = None, namespace: str | None = None, timeout: float = 60
    ) -> Any:
        """Emit an event and wait for its ack.

        Returns:
            None for an empty ack, the value for one argument, a tuple for several.

        Raises:
            AckTimeout: no ack within ``timeout`` seconds (or after every retry).
            NotConnected: disconnected before the ack arrived.
        """
        self._check_open()
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._session.emit(
            namespace or "/", [event, *as_args(data)], self._now(), token=future, timeout=timeout
        )
        self._process()
        return ack_value(await future)

    async def disconnect(self) -> None:
        """Leave every namespace, close, stop reconnecting; wait until done (not from a
        handler: it does not wait for the handlers still queued)."""
        if self._done.is_set() or self._stopping:
            await self._wait_done()
            return
        self._stopping = True
        reconnector = self._reconnector
        if reconnector is not None and reconnector is not asyncio.current_task():
            reconnector.cancel()
            await asyncio.gather(reconnector, return_exceptions=True)
        self._session.disconnect()
        self._process()
        await self._close_transport()
        await self._finish()

    async def wait(self) -> None:
        """Wait until the client is disconnected for good (by either side, or gave up)."""
        await self._done.wait()

    sleep = staticmethod(asyncio.sleep)  # python-socketio compatibility

    # -- connection attempts -------------------------------------------------------------------

    async def _attempt(self, namespaces: list[str]) -> None:
        """Open one Engine.IO connection and join ``namespaces``; raise ConnectFailed."""
        args = self._connect_args
        eio = EngineIOClient(request_timeout=self.request_timeout, **self.engineio_options)
        eio.on("message", functools.partial(self._on_eio_message, eio))
        eio.on("disconnect", functools.partial(self._on_eio_disconnect, eio))
        self._eio = eio
        self._violation = False
        self._refusals = {}
        self._session.transport_opened()
        try:
            try:
                await eio.connect(
                    args["url"],
                    headers=args["headers"],
                    transports=args["transports"],
                    engineio_path=args["socketio_path"],
                )
            except (EngineIOError, ValueError, OSError, TimeoutError) as exc:
                raise ConnectFailed(f"cannot connect: {exc}") from exc
            for name in namespaces:
                self._session.connect_namespace(name, await self._auth())
            self._process()
            if args["wait"]:
                await self._await_settled(args["wait_timeout"])
        except BaseException:
            await self._drop_transport(eio, "client disconnect")
            raise

    async def _auth(self) -> Any:
        auth = self._connect_args["auth"]
        if callable(auth):
            auth = auth()
            if inspect.isawaitable(auth):
                auth = await auth
        return auth

    async def _await_settled(self, timeout: float) -> None:
        """Wait until every namespace was accepted; raise ConnectFailed otherwise."""
        session = self._session
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not session.settled() and self._eio is not None:
                    self._changed.clear()
                    await self._changed.wait()
        if self._eio is None:
            raise ConnectFailed("the connection closed while joining the namespaces")
        refused = self._refusals
        missing = [n for n in session.namespaces if n not in session.connected_namespaces()]
        if missing:
            data = refused.get(missing[0], {})
            raise ConnectFailed(
                str(data.get("message", f"namespace {missing[0]} did not connect in time")),
                data.get("data"),
                missing[0],
            )

    async def _drop_transport(self, eio: EngineIOClient, reason: str) -> None:
        """Forget a half-open connection and close it."""
        if self._eio is eio:
            self._eio = None
            self._session.transport_closed(reason)
            self._outbox.clear()
            self._process()
        with contextlib.suppress(EngineIOError):
            await asyncio.shield(eio.disconnect(abort=True))

    async def _reconnect_loop(self) -> None:
        reconnector = Reconnector(
            attempts=self.reconnection_attempts,
            delay=self.reconnection_delay,
            delay_max=self.reconnection_delay_max,
            randomization_factor=self.randomization_factor,
            random=self.random,
        )
        if await reconnector.run(self._attempt_again, self._queue.put_nowait):
            self._reconnector = None
            return
        self._reconnector = None
        await self._finish()

    async def _attempt_again(self) -> bool:
        """One reconnection attempt; False when there is nothing left to join."""
        namespaces = self._session.namespaces
        if not namespaces:
            return False
        await self._attempt(namespaces)
        return True

    # -- Engine.IO events ----------------------------------------------------------------------

    def _on_eio_message(self, eio: EngineIOClient, data: str | bytes) -> None:
        if eio is self._eio:
            self._session.receive_message(data, self._now())
            self._process()

    def _on_eio_disconnect(self, eio: EngineIOClient, reason: str) -> None:
        if eio is not self._eio:
            return
        self._eio = None
        self._outbox.clear()
        reason = "parse error" if self._violation else str(reason)
        self._session.transport_closed(reason)
        self._process()
        if not self._established or self._stopping:
            return
        if self.reconnection and self._session.namespaces:
            if self._reconnector is None:
                self._reconnector = asyncio.get_running_loop().create_task(self._reconnect_loop())
        else:
            self._spawn(self._finish())

    # -- the engine ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._done.is_set():
            raise NotConnected("the client is not connected (nor reconnecting)")

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    def _process(self) -> None:
        """Pull the session's output after any input to it."""
        session = self._session
        if self._eio is not None:
            self._outbox.extend(session.data_to_send())
            if self._outbox and (self._writer is None or self._writer.done()):
                self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        else:
            session.data_to_send()
        for event in session.events_received():
            if isinstance(event, AckReceived | AckFailed):
                self._settle_ack(event)
            elif isinstance(event, ProtocolViolation):
                self._violation = True
                if self._eio is not None:
                    self._spawn(self._eio.disconnect(abort=True))
            else:
                if isinstance(event, NamespaceRefused):
                    self._refusals[event.namespace] = event.data
                self._queue.put_nowait(event)
        if (
            self._established
            and not self._stopping
            and not session.namespaces
            and self._eio is not None
        ):
            # The server left every namespace: close the connection, no reconnection.
            self._stopping = True
            self._spawn(self._close_and_finish())
        self._changed.set()
        self._schedule(session.next_deadline())

    def _settle_ack(self, event: AckReceived | AckFailed) -> None:
        token = event.token
        if isinstance(token, asyncio.Future):
            if token.done():
                return
            if isinstance(event, AckReceived):
                token.set_result(event.args)
            else:
                token.set_exception(event.error)
        elif isinstance(token, Callback):
            if isinstance(event, AckReceived):
                self._queue.put_nowait(("callback", token.func, event.args))
            else:
                logger.info("! no ack for an emit with a callback: %s", event.error)

    def _schedule(self, deadline: float | None) -> None:
        if self._timer is not None and (deadline is None or self._timer.when() != deadline):
            self._timer.cancel()
            self._timer = None
        if deadline is not None and self._timer is None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._session.on_timer(self._now())
        self._process()

    async def _write_loop(self) -> None:
        while self._outbox:
            eio = self._eio
            message = self._outbox.popleft()
            if eio is None:
                self._outbox.clear()
                return
            try:
                await eio.send(message)
            except SessionClosed:
                self._outbox.clear()
                return

    async def _close_transport(self) -> None:
        """Flush the outbox, then close the Engine.IO connection gracefully."""
        eio = self._eio
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        if eio is not None:
            with contextlib.suppress(EngineIOError):
                await eio.disconnect()
            if self._eio is eio:  # its disconnect handler did not run (called from it)
                self._on_eio_disconnect(eio, "client disconnect")

    async def _close_and_finish(self) -> None:
        await self._close_transport()
        await self._finish()

    async def _finish(self) -> None:
        """Stop every task; the client is disconnected for good."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        current = asyncio.current_task()
        for task in (self._writer, self._reconnector):
            if task is not None and task is not current and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        dispatcher = self._dispatcher
        if dispatcher is not None:
            self._dispatcher = None
            self._queue.put_nowait(_STOP)
            if dispatcher is not current:
                await asyncio.gather(dispatcher, return_exceptions=True)
        helpers = [t for t in self._helpers if t is not current]
        await asyncio.gather(*helpers, return_exceptions=True)
        self._done.set()

    async def _wait_done(self) -> None:
        current = asyncio.current_task()
        if current is not None and current in (self._dispatcher, *self._helpers):
            return
        await self._done.wait()

    # -- dispatching ---------------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while (item := await self._queue.get()) is not _STOP:
            try:
                result = await self._handlers.dispatch(item)
                if isinstance(item, EventReceived) and item.id is not None:
                    self._session.ack(item.namespace, item.id, as_args(result))
                    self._process()
            except Exception:
                logger.error("handler failed for %r", item, exc_info=True)
