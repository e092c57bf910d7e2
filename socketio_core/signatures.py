"""Handler signatures, checked once: how many positional arguments a handler takes.

Written once for the whole package: the server's handlers (:func:`check_handler`,
:func:`fit_server_event`) and the client's own events (:func:`fit_client_event`).

python-socketio lets a ``connect`` handler take ``(sid, environ)`` or ``(sid, environ,
auth)``, and a ``disconnect`` handler ``(sid)`` or ``(sid, reason)``. The signature is read
once, when the handler is registered (:func:`check_handler`), and the call then passes what
the handler takes (:func:`fit_server_event`); nothing ever catches a ``TypeError`` at call
time, which would hide a bug inside the handler.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Final

__all__ = [
    "SERVER_EVENTS",
    "check_handler",
    "event_decorator",
    "fit_client_event",
    "fit_server_event",
    "positional_count",
]

#: Events the server raises itself; a client can never trigger them (see packet.RESERVED_EVENTS).
SERVER_EVENTS: Final = frozenset({"connect", "disconnect"})

# The fewest arguments each server event passes; an event from a client passes the sid.
_MINIMUM: Final = {"connect": 2, "disconnect": 1}


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


def check_handler(event: str, func: Callable[..., Any], prefix: int = 0) -> int | None:
    """Check that ``func`` can take what a handler of ``event`` is passed.

    Args:
        event: the event name.
        func: the handler.
        prefix: arguments passed before the usual ones (a catch-all's event or namespace).

    Returns:
        Its positional argument count (None: ``*args``).

    Raises:
        TypeError: not callable, or it takes fewer positional arguments than it is passed.
    """
    if not callable(func):
        raise TypeError("a handler must be callable")
    minimum = prefix + _MINIMUM.get(event, 1)
    count = positional_count(func)
    if count is not None and count < minimum:
        raise TypeError(
            f"the {event!r} handler {func!r} takes {count} positional arguments, "
            f"at least {minimum} are passed"
        )
    return count


def fit_server_event(
    event: str, count: int | None, args: tuple[Any, ...], prefix: int = 0
) -> tuple[Any, ...]:
    """``connect(sid, environ[, auth])`` and ``disconnect(sid[, reason])``: trim to ``count``."""
    if count is None or event not in SERVER_EVENTS:
        return args
    full = prefix + (3 if event == "connect" else 2)
    if count < full:
        return args[: max(count, full - 1)]
    return args


def fit_client_event(
    func: Callable[..., Any], event: str, counts: tuple[int, ...], prefix: int
) -> int:
    """How many arguments to pass a handler of one of the client's own events.

    Args:
        func: the handler.
        event: the event name (for the error message).
        counts: the argument counts the event may pass, preferred first
            (``disconnect``: ``(1, 0)``, the reason or nothing).
        prefix: arguments passed before the usual ones (a catch-all's namespace).

    Returns:
        ``prefix`` plus the first count of ``counts`` the handler accepts.

    Raises:
        TypeError: it accepts none of them.
    """
    try:
        signature = inspect.signature(func)
    except ValueError:  # no signature (a builtin): trust it
        return prefix + counts[0]
    for count in counts:
        try:
            signature.bind(*range(prefix + count))
        except TypeError:
            continue
        return prefix + count
    raise TypeError(f"a {event} handler must take {prefix + counts[0]} argument(s)")


def event_decorator(on: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """python-socketio's ``@sio.event`` over an ``on(event, handler, ...)`` method: ``@sio.event``
    registers the function under its own name, ``@sio.event(namespace="/chat")`` returns the
    decorator that does."""
    if len(args) == 1 and not kwargs and callable(args[0]):
        return on(args[0].__name__, args[0])

    def register(func: Callable[..., Any]) -> Any:
        return on(func.__name__, func, *args, **kwargs)

    return register
