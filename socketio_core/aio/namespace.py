"""Class-based namespaces: ``on_<event>`` methods, as python-socketio's ``AsyncNamespace``.

Example::

    class Chat(Namespace):
        async def on_connect(self, sid, environ, auth):
            await self.enter_room(sid, "lobby")

        async def on_message(self, sid, data):
            await self.emit("message", data, room="lobby", skip_sid=sid)

    sio.register_namespace(Chat("/chat"))

The helper methods default their ``namespace`` to the class's own.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

__all__ = ["Namespace", "NamespaceHost"]


class NamespaceHost(Protocol):
    """The server API a class-based namespace forwards to (:class:`AsyncServer`'s)."""

    @property
    def emit(self) -> Callable[..., Awaitable[None]]: ...
    @property
    def send(self) -> Callable[..., Awaitable[None]]: ...
    @property
    def call(self) -> Callable[..., Awaitable[Any]]: ...
    @property
    def enter_room(self) -> Callable[..., Awaitable[None]]: ...
    @property
    def leave_room(self) -> Callable[..., Awaitable[None]]: ...
    @property
    def close_room(self) -> Callable[..., Awaitable[None]]: ...
    @property
    def rooms(self) -> Callable[..., list[str]]: ...
    @property
    def get_session(self) -> Callable[..., Awaitable[dict[str, Any]]]: ...
    @property
    def save_session(self) -> Callable[..., Awaitable[None]]: ...
    @property
    def session(self) -> Callable[..., contextlib.AbstractAsyncContextManager[dict[str, Any]]]: ...
    @property
    def disconnect(self) -> Callable[..., Awaitable[None]]: ...


class Namespace:
    """Base class for class-based namespaces.

    Args:
        namespace: the namespace, ``"/"`` by default; ``"*"`` for every namespace (each method
            then receives the namespace before the sid).
    """

    def __init__(self, namespace: str = "/") -> None:
        self.namespace = namespace
        self._server: NamespaceHost | None = None

    @property
    def server(self) -> NamespaceHost:
        """The server this namespace is registered with."""
        if self._server is None:
            raise RuntimeError("the namespace is not registered with a server")
        return self._server

    def attach(self, server: NamespaceHost) -> None:
        """Called by :meth:`AsyncServer.register_namespace`."""
        self._server = server

    def handler_for(self, event: str) -> Callable[..., Any] | None:
        """The ``on_<event>`` method, or None."""
        if not isinstance(event, str):  # a numeric event name (allowed by the spec)
            return None
        method = getattr(self, "on_" + event, None)
        return method if callable(method) else None

    # -------------------------------------------------- helpers bound to the namespace
    # emit, send, the room helpers and disconnect act at the call, as the server's do:
    # awaiting them is optional.

    def emit(
        self, event: str, data: Any = None, *, namespace: str | None = None, **kwargs: Any
    ) -> Awaitable[None]:
        """:meth:`AsyncServer.emit` in this namespace."""
        return self.server.emit(event, data, namespace=namespace or self.namespace, **kwargs)

    def send(self, data: Any, *, namespace: str | None = None, **kwargs: Any) -> Awaitable[None]:
        """:meth:`AsyncServer.send` in this namespace."""
        return self.server.send(data, namespace=namespace or self.namespace, **kwargs)

    async def call(
        self, event: str, data: Any = None, *, namespace: str | None = None, **kwargs: Any
    ) -> Any:
        """:meth:`AsyncServer.call` in this namespace."""
        return await self.server.call(event, data, namespace=namespace or self.namespace, **kwargs)

    def enter_room(self, sid: str, room: str, namespace: str | None = None) -> Awaitable[None]:
        """:meth:`AsyncServer.enter_room` in this namespace."""
        return self.server.enter_room(sid, room, namespace=namespace or self.namespace)

    def leave_room(self, sid: str, room: str, namespace: str | None = None) -> Awaitable[None]:
        """:meth:`AsyncServer.leave_room` in this namespace."""
        return self.server.leave_room(sid, room, namespace=namespace or self.namespace)

    def close_room(self, room: str, namespace: str | None = None) -> Awaitable[None]:
        """:meth:`AsyncServer.close_room` in this namespace."""
        return self.server.close_room(room, namespace=namespace or self.namespace)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """:meth:`AsyncServer.rooms` in this namespace."""
        return self.server.rooms(sid, namespace=namespace or self.namespace)

    async def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """:meth:`AsyncServer.get_session` in this namespace."""
        return await self.server.get_session(sid, namespace=namespace or self.namespace)

    async def save_session(
        self, sid: str, session: dict[str, Any], namespace: str | None = None
    ) -> None:
        """:meth:`AsyncServer.save_session` in this namespace."""
        await self.server.save_session(sid, session, namespace=namespace or self.namespace)

    @contextlib.asynccontextmanager
    async def session(
        self, sid: str, namespace: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """:meth:`AsyncServer.session` in this namespace."""
        async with self.server.session(sid, namespace=namespace or self.namespace) as session:
            yield session

    def disconnect(self, sid: str, namespace: str | None = None) -> Awaitable[None]:
        """:meth:`AsyncServer.disconnect` in this namespace."""
        return self.server.disconnect(sid, namespace=namespace or self.namespace)
