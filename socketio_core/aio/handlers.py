"""The application's handlers and how an event finds its handler (python-socketio's rules).

Resolution, for ``event`` in ``namespace`` (first match wins), with the arguments each form
receives before the client's own::

    handlers[namespace][event]      handler(sid, ...)
    handlers[namespace]["*"]        handler(event, sid, ...)        (not for reserved events)
    handlers["*"][event]            handler(namespace, sid, ...)
    handlers["*"]["*"]              handler(event, namespace, sid, ...)
    namespace class of namespace    ns.on_<event>(sid, ...)
    namespace class of "*"          ns.on_<event>(namespace, sid, ...)

Signatures are checked once, when a handler is registered, never by catching ``TypeError``
at call time: a ``connect`` handler taking ``(sid, environ)`` gets no ``auth``, and a
``disconnect`` handler taking ``(sid,)`` gets no ``reason``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .namespace import Namespace

__all__ = ["HandlerRegistry", "positional_count"]

Handler = Callable[..., Any]

#: Events the server raises itself; a client can never trigger them (see packet.RESERVED_EVENTS).
SERVER_EVENTS = frozenset({"connect", "disconnect"})


def positional_count(func: Callable[..., Any]) -> int | None:
    """How many positional arguments ``func`` accepts; None when it takes ``*args``."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    count = 0
    for param in params:
        if param.kind is param.VAR_POSITIONAL:
            return None
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


class HandlerRegistry:
    """Function handlers by namespace and event, and class-based namespaces."""

    def __init__(self) -> None:
        self.handlers: dict[str, dict[str, Handler]] = {}
        self.namespaces: dict[str, Namespace] = {}
        # (namespace, event) -> how many positional arguments the handler takes
        self._arity: dict[tuple[str, str], int | None] = {}

    def on(self, event: str, handler: Handler, namespace: str) -> None:
        """Register ``handler`` for ``event`` in ``namespace`` (``"*"`` for any)."""
        if not callable(handler):
            raise TypeError("a handler must be callable")
        prefix = (1 if event == "*" else 0) + (1 if namespace == "*" else 0)
        minimum = prefix + {"connect": 2, "disconnect": 1}.get(event, 1)
        count = positional_count(handler)
        if count is not None and count < minimum:
            raise TypeError(
                f"the {event!r} handler {handler!r} takes {count} positional arguments, "
                f"at least {minimum} are passed"
            )
        self.handlers.setdefault(namespace, {})[event] = handler
        self._arity[(namespace, event)] = count

    def register_namespace(self, namespace_handler: Namespace) -> None:
        """Register a class-based namespace."""
        self.namespaces[namespace_handler.namespace] = namespace_handler

    def known(self, namespace: str) -> bool:
        """Whether any handler exists for ``namespace`` specifically."""
        return namespace in self.handlers or namespace in self.namespaces

    def resolve(
        self, event: str, namespace: str, args: tuple[Any, ...]
    ) -> tuple[Handler | None, tuple[Any, ...]]:
        """The handler for ``event`` and the arguments to call it with (see module doc)."""
        by_event = self.handlers.get(namespace)
        if by_event is not None:
            handler = by_event.get(event)
            if handler is not None:
                return handler, self._fit(namespace, event, args, 0)
            handler = by_event.get("*")
            if handler is not None and event not in SERVER_EVENTS:
                return handler, (event, *args)
        by_event = self.handlers.get("*")
        if by_event is not None:
            handler = by_event.get(event)
            if handler is not None:
                return handler, self._fit("*", event, (namespace, *args), 1)
            handler = by_event.get("*")
            if handler is not None and event not in SERVER_EVENTS:
                return handler, (event, namespace, *args)
        ns_handler = self.namespaces.get(namespace)
        if ns_handler is not None:
            method = ns_handler.handler_for(event)
            if method is not None:
                return method, ns_handler.fit(event, method, args)
        ns_handler = self.namespaces.get("*")
        if ns_handler is not None:
            method = ns_handler.handler_for(event)
            if method is not None:
                return method, ns_handler.fit(event, method, (namespace, *args), prefix=1)
        return None, args

    def _fit(
        self, namespace: str, event: str, args: tuple[Any, ...], prefix: int
    ) -> tuple[Any, ...]:
        """Drop the optional trailing argument (auth, reason) a handler does not take."""
        if event not in SERVER_EVENTS:
            return args
        count = self._arity.get((namespace, event))
        return fit_server_event(event, count, args, prefix)


def fit_server_event(
    event: str, count: int | None, args: tuple[Any, ...], prefix: int = 0
) -> tuple[Any, ...]:
    """``connect(sid, environ[, auth])`` and ``disconnect(sid[, reason])``: trim to ``count``."""
    if count is None:
        return args
    full = prefix + (3 if event == "connect" else 2)
    if count < full:
        return args[: max(count, full - 1)]
    return args
