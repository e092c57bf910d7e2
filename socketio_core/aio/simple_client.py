"""python-socketio's simple clients: :class:`AsyncSimpleClient` and the blocking
:class:`SimpleClient`.

One namespace, no handlers: ``connect``, ``emit``, ``call``, and ``receive`` for what the
server sends, in arrival order (events sent before the namespace's CONNECT reply included).
Both are thin: :class:`AsyncSimpleClient` is an :class:`~socketio_core.aio.dropin.AsyncClient`
with a catch-all handler that fills a queue, and :class:`SimpleClient` runs it on a loop
thread of its own (:class:`~socketio_core.aio.loop_thread.LoopThread`).

Example::

    async with socketio.AsyncSimpleClient() as sio:
        await sio.connect("http://localhost:5000", auth={"token": "my-token"})
        print(await sio.receive())
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from ..exceptions import AckTimeout, DisconnectedError, NotConnected
from .dropin import AsyncClient
from .loop_thread import LoopThread

__all__ = ["AsyncSimpleClient", "SimpleClient"]

_GONE = object()


class AsyncSimpleClient:
    """A client for one namespace, driven by calls (python-socketio's ``AsyncSimpleClient``).

    Args:
        *args / **kwargs: the :class:`~socketio_core.aio.dropin.AsyncClient` options.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.client = AsyncClient(*args, **kwargs)
        self.namespace = "/"
        self._inbox: asyncio.Queue[Any] | None = None

    @property
    def sid(self) -> str | None:
        """The sid in the namespace, while connected."""
        return self.client.get_sid(self.namespace)

    @property
    def transport(self) -> str:
        """``"polling"`` or ``"websocket"`` (empty while not connected)."""
        return self.client.transport() or ""

    async def connect(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        auth: Any = None,
        transports: Sequence[str] | str | None = None,
        namespace: str = "/",
        socketio_path: str = "socket.io",
        wait_timeout: float = 5,
    ) -> None:
        """Connect to ``url`` and join ``namespace``.

        Raises:
            ConnectFailed: (python-socketio's ``ConnectionError``) unreachable or refused.
        """
        self.namespace = namespace
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._inbox = inbox

        def on_event(event: str, *args: Any) -> None:
            inbox.put_nowait([event, *args])

        def on_disconnect(reason: str) -> None:
            inbox.put_nowait(_GONE)

        self.client.on("*", on_event, namespace=namespace)
        self.client.on("disconnect", on_disconnect, namespace=namespace)
        await self.client.connect(
            url,
            headers=headers,
            auth=auth,
            transports=transports,
            namespaces=[namespace],
            socketio_path=socketio_path,
            wait_timeout=wait_timeout,
        )

    def _check(self) -> None:
        if self._inbox is None or not self.client.connected:
            raise DisconnectedError("the client is not connected")

    async def emit(self, event: str, data: Any = None) -> None:
        """Emit an event (``data``: one argument, a tuple of several, or None).

        Raises:
            DisconnectedError: not connected.
        """
        self._check()
        try:
            await self.client.emit(event, data, namespace=self.namespace)
        except NotConnected as exc:
            raise DisconnectedError(str(exc)) from exc

    async def call(self, event: str, data: Any = None, timeout: float = 60) -> Any:
        """Emit an event and return the server's ack.

        Raises:
            AckTimeout: (python-socketio's ``TimeoutError``) no ack in time.
            DisconnectedError: not connected, or disconnected before the ack.
        """
        self._check()
        try:
            return await self.client.call(event, data, namespace=self.namespace, timeout=timeout)
        except NotConnected as exc:
            raise DisconnectedError(str(exc)) from exc

    async def receive(self, timeout: float | None = None) -> list[Any]:
        """The next event from the server, as ``[event, *args]``.

        Raises:
            AckTimeout: (python-socketio's ``TimeoutError``) nothing within ``timeout``.
            DisconnectedError: the client is (or got) disconnected.
        """
        if self._inbox is None:
            raise DisconnectedError("the client is not connected")
        try:
            item = await asyncio.wait_for(self._inbox.get(), timeout)
        except TimeoutError:
            raise AckTimeout(f"no event within {timeout}s") from None
        if item is _GONE:
            self._inbox.put_nowait(_GONE)  # every later receive() fails the same way
            raise DisconnectedError("the client is disconnected")
        return list(item)

    async def disconnect(self) -> None:
        """Disconnect (nothing when not connected)."""
        await self.client.disconnect()

    async def __aenter__(self) -> AsyncSimpleClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()


class SimpleClient:
    """The blocking :class:`AsyncSimpleClient` (python-socketio's ``SimpleClient``): each
    method runs the async one on the client's loop thread and waits.

    Example::

        with socketio.SimpleClient() as sio:
            sio.connect("http://localhost:5000")
            sio.emit("ping", {"n": 1})
            print(sio.receive(timeout=5))
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._thread = LoopThread("socketio-simple-client")
        self._args, self._kwargs = args, kwargs
        self._client: AsyncSimpleClient | None = None

    def _async(self) -> AsyncSimpleClient:
        if self._client is None:

            async def make() -> AsyncSimpleClient:
                return AsyncSimpleClient(*self._args, **self._kwargs)

            self._client = self._thread.run(make())
        return self._client

    @property
    def sid(self) -> str | None:
        """The sid in the namespace, while connected."""
        return None if self._client is None else self._client.sid

    @property
    def transport(self) -> str:
        """``"polling"`` or ``"websocket"`` (empty while not connected)."""
        return "" if self._client is None else self._client.transport

    def connect(self, url: str, **kwargs: Any) -> None:
        """Connect, as :meth:`AsyncSimpleClient.connect`."""
        self._thread.run(self._async().connect(url, **kwargs))

    def emit(self, event: str, data: Any = None) -> None:
        """Emit, as :meth:`AsyncSimpleClient.emit`."""
        self._thread.run(self._async().emit(event, data))

    def call(self, event: str, data: Any = None, timeout: float = 60) -> Any:
        """Emit and wait for the ack, as :meth:`AsyncSimpleClient.call`."""
        return self._thread.run(self._async().call(event, data, timeout))

    def receive(self, timeout: float | None = None) -> list[Any]:
        """The next event, as :meth:`AsyncSimpleClient.receive`."""
        return self._thread.run(self._async().receive(timeout))

    def disconnect(self) -> None:
        """Disconnect."""
        if self._client is not None:
            self._thread.run(self._client.disconnect())

    def __enter__(self) -> SimpleClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()
