"""The blocking Socket.IO client, :class:`Client`, for scripts and threads.

Theory of operation
-------------------
:class:`Client` holds an :class:`~socketio_core.aio.client.AsyncClient` and an event loop of
its own, run forever in a daemon thread named ``socketio-loop`` (started by the first
:meth:`Client.connect`). Each blocking method submits the matching coroutine to that loop with
``asyncio.run_coroutine_threadsafe`` and waits for its result: every protocol decision is the
async client's; this module only moves calls across threads.

Threading model: which thread runs what
---------------------------------------
* **Plain-function handlers** (``def``), ``emit`` callbacks and the methods of a
  :class:`~socketio_core.aio.client_namespace.ClientNamespace` run in one thread of their own,
  ``socketio-handlers``, one at a time and in the order the events arrived, as the async
  client's dispatcher hands them over. A handler may block, and may call the client's blocking
  methods (``emit``, ``call``, ``send``): the loop thread stays free to do the I/O, and acks
  resolve without going through the handler queue. A slow handler only delays the handlers
  after it.
* **Coroutine handlers** (``async def``) run on the ``socketio-loop`` thread, like
  everything inside :class:`AsyncClient`; they must not block.
* **The blocking methods** may be called from any thread but ``socketio-loop``
  (:exc:`LocalProtocolError` there: it would wait for itself). :meth:`Client.disconnect`
  called from a handler starts the disconnection and returns at once (waiting would wait for
  the handler that is running); :meth:`Client.wait` may not be called from a handler.
* Properties (``sid``, ``connected``, ``namespaces``...) read the async client's state without
  locking: they give a recent answer, as any state read across threads does.

Both threads are daemons, so a script that never disconnects still exits.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..exceptions import LocalProtocolError
from .client import AsyncClient
from .client_namespace import ClientNamespace, Handler

__all__ = ["Client"]

T = TypeVar("T")
HANDLER_THREAD = "socketio-handlers"
LOOP_THREAD = "socketio-loop"


class Client:
    """A blocking Socket.IO v5 client: :class:`AsyncClient`'s API, blocking.

    Example (python-socketio's tutorial)::

        sio = Client()

        @sio.on("connect")
        def on_connect():
            print("connected")

        @sio.on("event")
        def on_event(data):
            print(data)

        sio.connect("http://127.0.0.1:5000")
        sio.wait()

    Args:
        **options: the :class:`AsyncClient` arguments (``reconnection``, ``retries``...),
            except ``handler_executor``.
    """

    def __init__(self, *args: Any, **options: Any) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=HANDLER_THREAD)
        self._async = AsyncClient(*args, handler_executor=self._executor, **options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def async_client(self) -> AsyncClient:
        """The :class:`AsyncClient` doing the work (use it only on its loop)."""
        return self._async

    # -- the loop thread -----------------------------------------------------------------------

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name=LOOP_THREAD, daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop thread and wait for its result."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise LocalProtocolError("a blocking Client method called on its own loop thread")
        loop = self._start()
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    @staticmethod
    def _in_handler() -> bool:
        return threading.current_thread().name.startswith(HANDLER_THREAD)

    # -- handlers ------------------------------------------------------------------------------

    def on(self, event: str, handler: Handler | None = None, namespace: str | None = None) -> Any:
        """Register a handler, as :meth:`AsyncClient.on` (a decorator without ``handler``)."""
        return self._async.on(event, handler, namespace)

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Register a handler named after the function, as :meth:`AsyncClient.event`."""
        return self._async.event(*args, **kwargs)

    def register_namespace(self, namespace_handler: ClientNamespace) -> None:
        """Register a class-based namespace; its helpers call this blocking client."""
        self._async.register_namespace(namespace_handler, proxy=self)

    # -- state ---------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Connected to the server, in at least one namespace."""
        return self._async.connected

    @property
    def namespaces(self) -> dict[str, str]:
        """The connected namespaces and the sid of each."""
        return self._async.namespaces

    @property
    def sid(self) -> str | None:
        """The sid in the default namespace, while connected to it."""
        return self._async.sid

    @property
    def recovered(self) -> bool:
        """Whether the last connection to ``"/"`` recovered its session (see
        :attr:`AsyncClient.recovered <socketio_core.aio.client.AsyncClient.recovered>`)."""
        return self._async.recovered

    def get_sid(self, namespace: str | None = None) -> str | None:
        """The sid in ``namespace`` (default ``"/"``)."""
        return self._async.get_sid(namespace)

    def transport(self) -> str | None:
        """``"polling"`` or ``"websocket"`` while connected, else None."""
        return self._async.transport()

    # -- blocking API --------------------------------------------------------------------------

    def connect(
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
        """Connect, as :meth:`AsyncClient.connect` (a callable ``auth`` runs on the loop
        thread; a plain function must not block)."""
        self._run(
            self._async.connect(
                url, headers, auth, transports, namespaces, socketio_path, wait, wait_timeout
            )
        )

    def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
    ) -> None:
        """Emit an event, as :meth:`AsyncClient.emit` (``callback`` runs in the handler
        thread)."""
        self._run(self._async.emit(event, data, namespace, callback))

    def send(
        self, data: Any, namespace: str | None = None, callback: Callable[..., Any] | None = None
    ) -> None:
        """Emit a ``message`` event."""
        self._run(self._async.send(data, namespace, callback))

    def call(
        self, event: str, data: Any = None, namespace: str | None = None, timeout: float = 60
    ) -> Any:
        """Emit an event and wait for its ack, as :meth:`AsyncClient.call`."""
        return self._run(self._async.call(event, data, namespace, timeout))

    def disconnect(self) -> None:
        """Disconnect, as :meth:`AsyncClient.disconnect`; from a handler, returns at once."""
        if self._loop is None:
            return
        if self._in_handler():
            asyncio.run_coroutine_threadsafe(self._async.disconnect(), self._loop)
            return
        self._run(self._async.disconnect())

    def wait(self) -> None:
        """Block until the client is disconnected for good.

        Raises:
            LocalProtocolError: called from a handler (it would wait for itself).
        """
        if self._in_handler():
            raise LocalProtocolError("Client.wait() called from a handler")
        if self._loop is None:
            return
        self._run(self._async.wait())

    @staticmethod
    def sleep(seconds: float = 0) -> None:
        """``time.sleep``, for python-socketio compatibility."""
        time.sleep(seconds)
