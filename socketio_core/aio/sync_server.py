"""python-socketio's synchronous ``Server``: a facade over :class:`AsyncServer`.

Theory of operation
-------------------
:class:`Server` holds an :class:`~socketio_core.aio.dropin.AsyncServer` that lives on an event
loop of its own, run forever by a daemon thread named ``socketio-server``
(:class:`~socketio_core.aio.loop_thread.LoopThread`), exactly as the blocking ``Client`` drives
an ``AsyncClient``: there is one protocol implementation, and this module only moves calls
across threads. A front door serves that loop: :class:`~socketio_core.aio.wsgi.WSGIApp` under a
threaded WSGI server (gunicorn ``--threads``, Flask's ``app.run(threaded=True)``, Django's
``runserver``), or :meth:`Server.serve` / ``ASGIApp(sio.async_server)``.

Threading model
---------------
* **Plain ``def`` handlers** (and the ``on_<event>`` methods of a :class:`Namespace`, and
  ``emit`` callbacks) run in a pool of handler threads (``socketio-handler``), never on the
  loop: they may block, sleep, and call every method of the server. A client's events still
  run one after the other, in arrival order: the asyncio server waits for each handler of a
  client before it starts the next one (unless ``async_handlers=True``). Different clients
  run in parallel, up to ``handler_threads`` at a time.
* **``async def`` handlers** run on the loop thread, as on :class:`AsyncServer`.
* **The methods** (``emit``, ``send``, ``call``, ``enter_room``, ``leave_room``,
  ``close_room``, ``disconnect``, sessions...) work from any thread: each runs the asyncio
  server's method on the loop and waits for it. Called on the loop thread itself (from an
  ``async def`` handler), the ones that return nothing are scheduled instead of awaited, and
  ``call`` raises :exc:`~socketio_core.exceptions.LocalProtocolError` (it would wait for
  itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import ssl as ssl_module
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..options import server_options
from ..reasons import Reason
from ..signatures import event_decorator
from .dropin import AsyncServer, engineio_option_names
from .loop_thread import LoopThread
from .namespace import Namespace as AsyncNamespace

if TYPE_CHECKING:
    from ..admin import Mode
    from .admin import AdminInstrument

__all__ = ["Namespace", "Server"]

logger = logging.getLogger(__name__)

Handler = Callable[..., Any]


class Server:
    """A Socket.IO server with blocking methods and plain-function handlers (python-socketio's
    ``Server``).

    Example (the seed tutorial, unchanged but for the import)::

        import socketio_core as socketio

        sio = socketio.Server()
        app = socketio.WSGIApp(sio, flask_app.wsgi_app)   # gunicorn --threads 100 module:app

        @sio.on("my message")
        def message(sid, data):
            sio.emit("my reply", data, room="chat_users", skip_sid=sid)

    Args:
        client_manager / logger / serializer / json / async_handlers / always_connect /
            namespaces: as :class:`~socketio_core.aio.dropin.AsyncServer`.
        handler_threads: the most plain-function handlers running at once (64).
        **kwargs: ``async_mode`` (``"threading"`` or None) and the options of
            :class:`~socketio_core.aio.dropin.AsyncServer`.

    Raises:
        ValueError: ``async_mode`` eventlet or gevent (the message names the asyncio way).
        TypeError: an unknown option.
    """

    reason = Reason

    def __init__(
        self,
        client_manager: Any = None,
        logger: bool | logging.Logger = False,
        serializer: Any = "default",
        json: Any = None,
        async_handlers: bool = False,
        always_connect: bool = False,
        namespaces: Any = None,
        *,
        handler_threads: int = 64,
        connection_state_recovery: Any = None,
        **kwargs: Any,
    ) -> None:
        self.async_mode, options = server_options(
            type(self).__name__, "sync", dict(kwargs), engineio_option_names()
        )
        self.executor = ThreadPoolExecutor(handler_threads, thread_name_prefix="socketio-handler")
        self.loop_thread = LoopThread("socketio-server")
        self._scheduled: set[asyncio.Future[Any]] = set()

        async def make() -> AsyncServer:
            return AsyncServer(
                client_manager,
                logger,
                serializer,
                json,
                async_handlers,
                always_connect,
                namespaces,
                connection_state_recovery=connection_state_recovery,
                **options,
            )

        #: The asyncio server doing the work (use it only on :attr:`loop`).
        self.async_server = self.loop_thread.run(make())

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the asyncio server runs on."""
        return self.loop_thread.loop

    @property
    def eio(self) -> Any:
        """The Engine.IO server."""
        return self.async_server.eio

    @property
    def manager(self) -> Any:
        """The client manager."""
        return self.async_server.manager

    # --------------------------------------------------------------- registration

    def in_thread(self, handler: Handler) -> Handler:
        """``handler`` as run by the asyncio server: a plain function goes to the handler
        threads (its signature kept, for the registry's argument checks)."""
        if inspect.iscoroutinefunction(handler):
            return handler
        executor, loop = self.executor, self.loop

        @functools.wraps(handler)
        async def run(*args: Any) -> Any:
            return await loop.run_in_executor(executor, functools.partial(handler, *args))

        return run

    def on(self, event: str, handler: Handler | None = None, namespace: str | None = None) -> Any:
        """Register a handler (a decorator without ``handler``), as :meth:`AsyncServer.on`."""

        def register(func: Handler) -> Handler:
            self.async_server.on(event, self.in_thread(func), namespace)
            return func

        return register if handler is None else register(handler)

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """``@sio.event`` or ``@sio.event(namespace="/chat")``: a handler named after the
        function."""
        return event_decorator(self.on, args, kwargs)

    def register_namespace(self, namespace_handler: AsyncNamespace) -> None:
        """Register a class-based namespace (a :class:`Namespace`: plain methods)."""
        if isinstance(namespace_handler, Namespace):
            namespace_handler.sync_server = self
        self.async_server.register_namespace(namespace_handler)

    def instrument(
        self,
        auth: Any = None,
        mode: Mode = "development",
        read_only: bool = False,
        server_id: str | None = None,
        namespace: str = "/admin",
        server_stats_interval: float = 2,
    ) -> AdminInstrument:
        """The Socket.IO Admin UI (python-socketio's signature), set up on the loop; see
        :meth:`socketio_core.aio.AsyncServer.instrument`."""

        async def make() -> AdminInstrument:
            return self.async_server.instrument(
                auth, mode, read_only, server_id, namespace, server_stats_interval
            )

        return self.loop_thread.run(make())

    # -------------------------------------------------------------- thread hopping

    def _run(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call an asyncio server method on the loop, await what it returns, give the result."""

        async def runner() -> Any:
            result = method(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        if self.loop_thread.on_loop():
            # From an async def handler: schedule, never wait for ourselves.
            task = asyncio.ensure_future(runner())
            self._scheduled.add(task)
            task.add_done_callback(self._scheduled.discard)
            return None
        return self.loop_thread.run(runner())

    def _thread_callback(self, callback: Handler | None) -> Handler | None:
        if callback is None or inspect.iscoroutinefunction(callback):
            return callback
        executor = self.executor

        def submit(*args: Any) -> None:
            executor.submit(callback, *args)

        return submit

    # -------------------------------------------------------------------- emitting

    def emit(
        self,
        event: str,
        data: Any = None,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        callback: Handler | None = None,
        ignore_queue: bool = False,
        **kwargs: Any,
    ) -> None:
        """Emit an event, as :meth:`AsyncServer.emit` (``callback`` runs in a handler
        thread)."""
        self._run(
            self.async_server.emit,
            event,
            data,
            to=to,
            room=room,
            skip_sid=skip_sid,
            namespace=namespace,
            callback=self._thread_callback(callback),
            ignore_queue=ignore_queue,
            **kwargs,
        )

    def send(
        self,
        data: Any,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        callback: Handler | None = None,
        **kwargs: Any,
    ) -> None:
        """Emit a ``message`` event."""
        self.emit("message", data, to, room, skip_sid, namespace, callback, **kwargs)

    def call(
        self,
        event: str,
        data: Any = None,
        to: Any = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float = 60,
        **kwargs: Any,
    ) -> Any:
        """Emit to one client and wait for its ack, as :meth:`AsyncServer.call`.

        Raises:
            AckTimeout: (python-socketio's ``TimeoutError``) no ack in time.
            NotConnected: the client is not connected.
            LocalProtocolError: called on the loop thread.
        """
        call = functools.partial(
            self.async_server.call, event, data, to, sid, namespace, timeout, **kwargs
        )

        async def runner() -> Any:
            return await call()

        return self.loop_thread.run(runner())

    def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Add a client to a room."""
        self._run(self.async_server.enter_room, sid, room, namespace)

    def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Remove a client from a room."""
        self._run(self.async_server.leave_room, sid, room, namespace)

    def close_room(self, room: str, namespace: str | None = None) -> None:
        """Remove every client from a room."""
        self._run(self.async_server.close_room, room, namespace)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """The rooms a client is in."""
        if self.loop_thread.on_loop():
            return self.async_server.rooms(sid, namespace)
        return self._run(self.async_server.rooms, sid, namespace)  # type: ignore[no-any-return]

    def disconnect(
        self, sid: str, namespace: str | None = None, ignore_queue: bool = False
    ) -> None:
        """Disconnect a client from a namespace."""
        self._run(self.async_server.disconnect, sid, namespace, ignore_queue)

    # -------------------------------------------------------------------- sessions

    def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """The user session of a client."""
        return self._run(self.async_server.get_session, sid, namespace)  # type: ignore[no-any-return]

    def save_session(self, sid: str, session: dict[str, Any], namespace: str | None = None) -> None:
        """Replace the user session of a client."""
        self._run(self.async_server.save_session, sid, session, namespace)

    @contextlib.contextmanager
    def session(self, sid: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        """``with sio.session(sid) as session:`` edits and saves the session."""
        session = self.get_session(sid, namespace)
        yield session
        self.save_session(sid, session, namespace)

    def get_environ(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """The WSGI-style environ of the client's handshake request."""
        return self._run(self.async_server.get_environ, sid, namespace)  # type: ignore[no-any-return]

    def transport(self, sid: str, namespace: str | None = None) -> str:
        """``polling`` or ``websocket``."""
        return self._run(self.async_server.transport, sid, namespace)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ lifecycle

    @staticmethod
    def start_background_task(target: Handler, *args: Any, **kwargs: Any) -> threading.Thread:
        """Run ``target(*args, **kwargs)`` in a daemon thread; returns the started thread."""
        thread = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True)
        thread.start()
        return thread

    @staticmethod
    def sleep(seconds: float = 0) -> None:
        """``time.sleep`` (python-socketio's ``sio.sleep`` in threading mode)."""
        time.sleep(seconds)

    def shutdown(self) -> None:
        """Disconnect every client and stop the manager."""
        self._run(self.async_server.shutdown)

    def serve(
        self,
        host: str | None = "127.0.0.1",
        port: int = 5000,
        *,
        socketio_path: str = "socket.io",
        ssl: ssl_module.SSLContext | None = None,
        **kwargs: Any,
    ) -> None:
        """Run the standalone server (HTTP/1.1 and WebSocket) on the loop thread; blocks
        until interrupted. The eventlet set-up of python-socketio becomes this."""
        self.loop_thread.run(
            self.async_server.serve(host, port, socketio_path=socketio_path, ssl=ssl, **kwargs)
        )


class Namespace(AsyncNamespace):
    """A class-based namespace for :class:`Server`: plain ``on_<event>`` methods (run in the
    handler threads) and blocking helpers (python-socketio's ``Namespace``).

    Example::

        class Chat(socketio.Namespace):
            def on_message(self, sid, data):
                self.emit("message", data, room="lobby", skip_sid=sid)

        sio.register_namespace(Chat("/chat"))
    """

    def __init__(self, namespace: str = "/") -> None:
        super().__init__(namespace)
        self.sync_server: Server | None = None
        self._wrapped: dict[str, Handler] = {}

    @property
    def _sync(self) -> Server:
        if self.sync_server is None:
            raise RuntimeError("the namespace is not registered with a Server")
        return self.sync_server

    def handler_for(self, event: str) -> Handler | None:
        """The ``on_<event>`` method, run in a handler thread when it is a plain function."""
        method = super().handler_for(event)
        if method is None or self.sync_server is None:
            return method
        wrapped = self._wrapped.get(event)
        if wrapped is None:
            wrapped = self._wrapped[event] = self.sync_server.in_thread(method)
        return wrapped

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Call the ``on_<event>`` method (python-socketio's dispatch hook)."""
        method = AsyncNamespace.handler_for(self, event)
        return None if method is None else method(*args)

    def emit(  # type: ignore[override]
        self, event: str, data: Any = None, *, namespace: str | None = None, **kwargs: Any
    ) -> None:
        """:meth:`Server.emit` in this namespace."""
        self._sync.emit(event, data, namespace=namespace or self.namespace, **kwargs)

    def send(  # type: ignore[override]
        self, data: Any, *, namespace: str | None = None, **kwargs: Any
    ) -> None:
        """:meth:`Server.send` in this namespace."""
        self._sync.send(data, namespace=namespace or self.namespace, **kwargs)

    def call(
        self, event: str, data: Any = None, *, namespace: str | None = None, **kwargs: Any
    ) -> Any:
        """:meth:`Server.call` in this namespace."""
        return self._sync.call(event, data, namespace=namespace or self.namespace, **kwargs)

    def enter_room(  # type: ignore[override]
        self, sid: str, room: str, namespace: str | None = None
    ) -> None:
        """:meth:`Server.enter_room` in this namespace."""
        self._sync.enter_room(sid, room, namespace or self.namespace)

    def leave_room(  # type: ignore[override]
        self, sid: str, room: str, namespace: str | None = None
    ) -> None:
        """:meth:`Server.leave_room` in this namespace."""
        self._sync.leave_room(sid, room, namespace or self.namespace)

    def close_room(  # type: ignore[override]
        self, room: str, namespace: str | None = None
    ) -> None:
        """:meth:`Server.close_room` in this namespace."""
        self._sync.close_room(room, namespace or self.namespace)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """:meth:`Server.rooms` in this namespace."""
        return self._sync.rooms(sid, namespace or self.namespace)

    def get_session(  # type: ignore[override]
        self, sid: str, namespace: str | None = None
    ) -> dict[str, Any]:
        """:meth:`Server.get_session` in this namespace."""
        return self._sync.get_session(sid, namespace or self.namespace)

    def save_session(  # type: ignore[override]
        self, sid: str, session: dict[str, Any], namespace: str | None = None
    ) -> None:
        """:meth:`Server.save_session` in this namespace."""
        self._sync.save_session(sid, session, namespace or self.namespace)

    @contextlib.contextmanager
    def session(  # type: ignore[override]
        self, sid: str, namespace: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """:meth:`Server.session` in this namespace."""
        with self._sync.session(sid, namespace or self.namespace) as session:
            yield session

    def disconnect(  # type: ignore[override]
        self, sid: str, namespace: str | None = None
    ) -> None:
        """:meth:`Server.disconnect` in this namespace."""
        self._sync.disconnect(sid, namespace or self.namespace)
