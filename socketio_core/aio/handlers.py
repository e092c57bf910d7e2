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

from collections.abc import Callable
from typing import Any, Protocol

from ..signatures import SERVER_EVENTS, check_handler, fit_server_event, positional_count

__all__ = ["HandlerRegistry", "NamespaceHandlers", "fit_server_event", "positional_count"]

Handler = Callable[..., Any]


class NamespaceHandlers(Protocol):
    """A class-based namespace as the registry sees it (:class:`~.namespace.Namespace`)."""

    namespace: str

    def handler_for(self, event: str) -> Callable[..., Any] | None:
        """The ``on_<event>`` method, or None."""


class HandlerRegistry:
    """Function handlers by namespace and event, and class-based namespaces.

    Every signature is checked here, when it is registered (:mod:`socketio_core.signatures`).
    """

    def __init__(self) -> None:
        self.handlers: dict[str, dict[str, Handler]] = {}
        self.namespaces: dict[str, NamespaceHandlers] = {}
        # (namespace, event) -> how many positional arguments the handler takes
        self._arity: dict[tuple[str, str], int | None] = {}
        # (namespace, event) -> the same, for the methods of class-based namespaces
        self._method_arity: dict[tuple[str, str], int | None] = {}

    def on(self, event: str, handler: Handler, namespace: str) -> None:
        """Register ``handler`` for ``event`` in ``namespace`` (``"*"`` for any).

        Raises:
            TypeError: the handler cannot take what it would be passed.
        """
        prefix = (1 if event == "*" else 0) + (1 if namespace == "*" else 0)
        count = check_handler(event, handler, prefix)
        self.handlers.setdefault(namespace, {})[event] = handler
        self._arity[(namespace, event)] = count

    def register_namespace(self, namespace_handler: NamespaceHandlers) -> None:
        """Register a class-based namespace, checking each ``on_<event>`` method.

        Raises:
            TypeError: a method cannot take what it would be passed.
        """
        name = namespace_handler.namespace
        prefix = 1 if name == "*" else 0
        arity: dict[tuple[str, str], int | None] = {}
        for attribute in dir(namespace_handler):
            if not attribute.startswith("on_"):
                continue
            event = attribute[3:]
            method = namespace_handler.handler_for(event)
            if method is not None:
                arity[(name, event)] = check_handler(event, method, prefix)
        self._method_arity = {
            key: value for key, value in self._method_arity.items() if key[0] != name
        }
        self._method_arity.update(arity)
        self.namespaces[name] = namespace_handler

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
                return handler, self._fit(self._arity, namespace, event, args, 0)
            handler = by_event.get("*")
            if handler is not None and event not in SERVER_EVENTS:
                return handler, (event, *args)
        by_event = self.handlers.get("*")
        if by_event is not None:
            handler = by_event.get(event)
            if handler is not None:
                return handler, self._fit(self._arity, "*", event, (namespace, *args), 1)
            handler = by_event.get("*")
            if handler is not None and event not in SERVER_EVENTS:
                return handler, (event, namespace, *args)
        ns_handler = self.namespaces.get(namespace)
        if ns_handler is not None:
            method = ns_handler.handler_for(event)
            if method is not None:
                return method, self._fit(self._method_arity, namespace, event, args, 0)
        ns_handler = self.namespaces.get("*")
        if ns_handler is not None:
            method = ns_handler.handler_for(event)
            if method is not None:
                return method, self._fit(self._method_arity, "*", event, (namespace, *args), 1)
        return None, args

    @staticmethod
    def _fit(
        table: dict[tuple[str, str], int | None],
        namespace: str,
        event: str,
        args: tuple[Any, ...],
        prefix: int,
    ) -> tuple[Any, ...]:
        """Drop the optional trailing argument (auth, reason) a handler does not take."""
        if event not in SERVER_EVENTS:
            return args
        return fit_server_event(event, table.get((namespace, event)), args, prefix)
