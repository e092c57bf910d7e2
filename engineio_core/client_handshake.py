"""The client's side of the Engine.IO v4 handshake: reading the open packet.

Theory of operation
-------------------
The server answers the handshake (a polling GET, or the first message of a WebSocket-only
session) with an open packet whose data is a JSON object (spec "Handshake")::

    {"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,
     "pingTimeout":20000,"maxPayload":1000000}

:func:`parse_open_packet` checks it and returns an :class:`OpenInfo`, durations in seconds like
every ``now`` on our side. :class:`Connected` is the event
:class:`engineio_core.client_session.ClientSession` reports with it.

Rules this file keeps
---------------------
* ``sid`` (non-empty string), ``upgrades`` (list of strings), ``pingInterval`` and
  ``pingTimeout`` (positive integers; a JSON ``true`` is not one) are required, and anything
  else raises :exc:`DecodeError`. ``maxPayload`` may be missing (servers that predate it) and
  then defaults to Node's 1 000 000 bytes. Unknown keys are ignored, unknown upgrade names kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from .exceptions import DecodeError
from .handshake import Sid, Transport

__all__ = ["DEFAULT_MAX_PAYLOAD", "Connected", "OpenInfo", "parse_open_packet"]

#: The server's ``maxPayload`` assumed when the open packet has none (Node's default).
DEFAULT_MAX_PAYLOAD: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class OpenInfo:
    """The open packet's contents (spec "Handshake"); durations in seconds.

    Attributes:
        sid: the session id.
        upgrades: the transports the session may upgrade to, as the server named them.
        ping_interval: the server's ping interval.
        ping_timeout: the server's ping timeout.
        max_payload: the largest POST body the server accepts, in bytes.
    """

    sid: Sid
    upgrades: tuple[str, ...]
    ping_interval: float
    ping_timeout: float
    max_payload: int


@dataclass(frozen=True, slots=True)
class Connected:
    """The handshake completed: the open packet arrived.

    Attributes:
        info: what the open packet said.
        transport: the transport the session opened on.
    """

    info: OpenInfo
    transport: Transport


def _positive_int(obj: dict[str, Any], key: str, default: int | None = None) -> int:
    """Read a positive integer field of the open packet (``bool`` is not an integer here)."""
    if key not in obj and default is not None:
        return default
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise DecodeError(f"open packet: {key} must be a positive integer, not {value!r}")
    return value


def parse_open_packet(data: str) -> OpenInfo:
    """Parse and check the JSON payload of an open packet.

    ``sid``, ``upgrades``, ``pingInterval`` and ``pingTimeout`` are required; ``maxPayload`` is
    optional (servers before Engine.IO 4's ``maxPayload`` omit it) and defaults to
    :data:`DEFAULT_MAX_PAYLOAD`. Unknown keys are ignored.

    Args:
        data: the open packet's data.

    Returns:
        The contents, durations converted from milliseconds to seconds.

    Raises:
        DecodeError: not a JSON object, or a key missing or of the wrong type.
    """
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise DecodeError("open packet: invalid JSON") from exc
    if not isinstance(obj, dict):
        raise DecodeError("open packet: not a JSON object")
    sid = obj.get("sid")
    if not isinstance(sid, str) or not sid:
        raise DecodeError(f"open packet: sid must be a non-empty string, not {sid!r}")
    upgrades = obj.get("upgrades")
    if not isinstance(upgrades, list) or not all(isinstance(u, str) for u in upgrades):
        raise DecodeError(f"open packet: upgrades must be a list of strings, not {upgrades!r}")
    return OpenInfo(
        sid=Sid(sid),
        upgrades=tuple(upgrades),
        # Spec "Handshake": "pingInterval ... (in milliseconds)".
        ping_interval=_positive_int(obj, "pingInterval") / 1000,
        ping_timeout=_positive_int(obj, "pingTimeout") / 1000,
        max_payload=_positive_int(obj, "maxPayload", DEFAULT_MAX_PAYLOAD),
    )
