"""Argument packing, written once for the whole package (client and server).

* :func:`as_args`: python-socketio's ``data`` convention (``None`` is no argument, a tuple
  several, anything else one); also how a handler's return value becomes ACK arguments.
* :func:`ack_value`: an ACK's arguments as one Python value (``None``, the one value, or a
  tuple of several): what ``call()`` returns, and what a broadcast collects per sid.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ack_value", "as_args"]


def as_args(data: Any) -> list[Any]:
    """python-socketio's convention: None is no argument, a tuple several, else one.

    Args:
        data: what the application passed (``emit(event, data)``) or a handler returned.

    Returns:
        The packet's argument list (a new list).
    """
    if data is None:
        return []
    if isinstance(data, tuple):
        return list(data)
    return [data]


def ack_value(args: list[Any]) -> Any:
    """The value of an ACK's arguments: None for none, the value for one, a tuple for several.

    The inverse of :func:`as_args` (``ack_value(as_args(x)) == x`` for None, a tuple of two or
    more, and anything that is not a tuple).
    """
    if len(args) == 1:
        return args[0]
    return tuple(args) if args else None
