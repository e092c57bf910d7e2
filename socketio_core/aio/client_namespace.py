"""The client's handlers: function handlers by namespace and event (:class:`HandlerTable`),
and class-based namespaces with ``on_<event>`` methods (:class:`ClientNamespace`, as
python-socketio's ``AsyncClientNamespace`` and ``ClientNamespace``).

Resolution, for ``event`` in ``namespace`` (first match wins), with the arguments each form
receives before the event's own::

    handlers[namespace][event]      handler(...)
    handlers[namespace]["*"]        handler(event, ...)            (not for the client's events)
    handlers["*"][event]            handler(namespace, ...)
    handlers["*"]["*"]              handler(event, namespace, ...)
    namespace class of namespace    ns.on_<event>(...)
    namespace class of "*"          ns.on_<event>(namespace, ...)

The client's own events and their arguments: ``connect()``, ``connect_error(data)``,
``disconnect(reason)`` (or no argument), ``reconnect_attempt(n)``, ``reconnect(n)``,
``reconnect_error(exc)`` and ``reconnect_failed()``. Their handlers' signatures are checked
when registered, never by catching ``TypeError`` at call time.

Example::

    class Chat(ClientNamespace):
        async def on_connect(self):
            await self.emit("join", "lobby")

        async def on_message(self, data):
            print(data)

    sio.register_namespace(Chat("/chat"))

One class serves both clients: the helper methods return what the client they are registered
with returns, a coroutine for :class:`~socketio_core.aio.client.AsyncClient` (await it) and the
result itself for the blocking :class:`~socketio_core.aio.blocking.Client`. Their ``namespace``
defaults to the class's own.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from ..client_events import (
    EventReceived,
    NamespaceConnected,
    NamespaceDisconnected,
    NamespaceRefused,
)
from ..signatures import fit_client_event

__all__ = ["Callback", "ClientNamespace", "Handler", "HandlerTable"]

Handler = Callable[..., Any]

logger = logging.getLogger(__name__)

#: Events the client raises itself, and the arguments their handlers take.
_OWN_EVENTS: dict[str, tuple[int, ...]] = {
    "connect": (0,),
    "connect_error": (1,),
    "disconnect": (1, 0),
    "reconnect_attempt": (1,),
    "reconnect": (1,),
    "reconnect_error": (1,),
    "reconnect_failed": (0,),
}
_STOP = object()


def _arity(handler: Handler, event: str, prefix: int) -> int:
    """The number of arguments to pass to a handler of one of the client's own events."""
    return fit_client_event(handler, event, _OWN_EVENTS[event], prefix)


class Callback:
    """An ``emit(callback=...)`` token: a fresh object per emit."""

    __slots__ = ("func",)

    def __init__(self, func: Handler) -> None:
        self.func = func


class ClientNamespace:
    """Base class for class-based client namespaces.

    Args:
        namespace: the namespace, ``"/"`` by default; ``"*"`` for every namespace (each method
            then receives the namespace first).
    """

    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace or "/"
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The client this namespace is registered with.

        Raises:
            RuntimeError: not registered yet.
        """
        if self._client is None:
            raise RuntimeError("the namespace is not registered with a client")
        return self._client

    def attach(self, client: Any) -> None:
        """Called by ``register_namespace``."""
        self._client = client

    def handler_for(self, event: str) -> Callable[..., Any] | None:
        """The ``on_<event>`` method, or None."""
        method = getattr(self, "on_" + event, None) if isinstance(event, str) else None
        return method if callable(method) else None

    def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
    ) -> Any:
        """The client's ``emit``, in this namespace by default."""
        return self.client.emit(event, data, namespace or self.namespace, callback)

    def send(
        self,
        data: Any,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
    ) -> Any:
        """The client's ``send``, in this namespace by default."""
        return self.client.send(data, namespace or self.namespace, callback)

    def call(
        self, event: str, data: Any = None, namespace: str | None = None, timeout: float = 60
    ) -> Any:
        """The client's ``call``, in this namespace by default."""
        return self.client.call(event, data, namespace or self.namespace, timeout)

    def disconnect(self) -> Any:
        """The client's ``disconnect`` (the whole client, as python-socketio)."""
        return self.client.disconnect()


class HandlerTable:
    """The handlers of one client, and how an event finds its handler.

    Args:
        executor: where plain-function handlers run (None: called on the loop).
    """

    def __init__(self, executor: Executor | None = None) -> None:
        self.executor = executor
        self.handlers: dict[str, dict[str, tuple[Handler, int]]] = {}
        self.namespace_handlers: dict[str, ClientNamespace] = {}

    def on(self, event: str, handler: Handler | None = None, namespace: str | None = None) -> Any:
        """Register ``handler`` for ``event`` in ``namespace`` (``"*"``: any); a decorator when
        ``handler`` is omitted.

        Raises:
            TypeError: a handler of ``connect``, ``connect_error``, ``disconnect`` or a
                ``reconnect*`` event cannot take that event's arguments.
        """
        namespace = namespace or "/"

        def register(func: Handler) -> Handler:
            count = -1
            if event in _OWN_EVENTS:
                count = _arity(func, event, 1 if namespace == "*" else 0)
            self.handlers.setdefault(namespace, {})[event] = (func, count)
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

    def register_namespace(self, namespace_handler: ClientNamespace, proxy: Any) -> None:
        """Register a class-based namespace (its helpers call ``proxy``).

        Raises:
            TypeError: not a :class:`ClientNamespace`, or an own-event method with the wrong
                arguments.
        """
        if not isinstance(namespace_handler, ClientNamespace):
            raise TypeError("not a ClientNamespace")
        prefix = 1 if namespace_handler.namespace == "*" else 0
        for event in _OWN_EVENTS:
            method = namespace_handler.handler_for(event)
            if method is not None:
                _arity(method, event, prefix)
        namespace_handler.attach(proxy)
        self.namespace_handlers[namespace_handler.namespace] = namespace_handler

    def namespaces(self) -> list[str]:
        """The namespaces with handlers (``"*"`` excepted), sorted; ``["/"]`` if none."""
        return sorted({*self.handlers, *self.namespace_handlers} - {"*"}) or ["/"]

    async def dispatch(self, item: Any) -> Any:
        """Run the handler of one item of the client's dispatcher queue; returns its result."""
        if isinstance(item, NamespaceConnected):
            logger.info("= connected to %s, sid %s", item.namespace, item.sid)
            return await self.trigger(item.namespace, "connect")
        if isinstance(item, NamespaceRefused):
            return await self.trigger(item.namespace, "connect_error", item.data)
        if isinstance(item, NamespaceDisconnected):
            logger.info("x disconnected from %s: %s", item.namespace, item.reason)
            return await self.trigger(item.namespace, "disconnect", item.reason)
        if isinstance(item, EventReceived):
            return await self.trigger(item.namespace, item.event, *item.args)
        if item[0] == "callback":
            return await self.run(item[1], *item[2])
        return await self.trigger("/", item[0], *item[1:])

    async def trigger(self, namespace: str, event: Any, *args: Any) -> Any:
        """Find the handler of ``event`` in ``namespace`` and run it."""
        found = self.find(namespace, event)
        if found is None:
            return None
        handler, prefix, count = found
        full = (*prefix, *args)
        return await self.run(handler, *(full if count < 0 else full[:count]))

    def find(self, namespace: str, event: Any) -> tuple[Handler, tuple[Any, ...], int] | None:
        """The handler, the arguments it takes before the event's, and its arity (-1: all)."""
        own = event in _OWN_EVENTS
        for ns, prefix in ((namespace, ()), ("*", (namespace,))):
            table = self.handlers.get(ns, {})
            if event in table:
                return table[event][0], prefix, table[event][1]
            if "*" in table and not own:
                return table["*"][0], (event, *prefix), -1
        for ns, prefix in ((namespace, ()), ("*", (namespace,))):
            ns_handler = self.namespace_handlers.get(ns)
            method = None if ns_handler is None else ns_handler.handler_for(event)
            if method is not None:
                count = _arity(method, event, len(prefix)) if own else -1
                return method, prefix, count
        return None

    async def run(self, handler: Handler, *args: Any) -> Any:
        if inspect.iscoroutinefunction(handler) or self.executor is None:
            result = handler(*args)
        else:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self.executor, functools.partial(handler, *args))
        if inspect.isawaitable(result):
            result = await result
        return result
