"""The Engine.IO v4 handshake: request checks, session ids, options and the open packet.

Theory of operation
-------------------
Before a request reaches a session, the I/O layer calls :func:`check_request` with the
method and the query parameters. It returns the transport and the ``sid`` (``None`` for a
handshake) or raises the :exc:`RemoteProtocolError` subclass whose ``status`` and ``code``
Node's engine.io answers with. The I/O layer then looks the ``sid`` up in its own table
(:exc:`UnknownSession` when absent), or creates a session with :func:`new_sid` and a
:class:`SessionConfig`; the session queues the :func:`open_packet` itself.

Rules this file keeps
---------------------
* Session ids carry 120 random bits from :mod:`secrets` (15 bytes, 20 URL-safe base64
  characters, like Node's ids), from a byte source that tests can inject.
* The open packet holds exactly ``sid``, ``upgrades``, ``pingInterval``, ``pingTimeout`` and
  ``maxPayload``, durations in integer milliseconds (spec "Handshake"); options are seconds
  on our side, like every ``now``.
"""

from __future__ import annotations

import base64
import enum
import json
import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Final, NewType

from .exceptions import (
    BadHandshakeMethod,
    UnknownTransport,
    UnsupportedProtocolVersion,
)
from .packet import Packet, PacketType

__all__ = [
    "PROTOCOL_VERSION",
    "SID_BYTES",
    "RequestInfo",
    "SessionConfig",
    "Sid",
    "Transport",
    "check_request",
    "new_sid",
    "open_packet",
]

PROTOCOL_VERSION: Final = "4"
SID_BYTES: Final = 15  # 120 bits

Sid = NewType("Sid", str)


class Transport(enum.StrEnum):
    """Transport names, as in the ``transport`` query parameter."""

    POLLING = "polling"
    WEBSOCKET = "websocket"


def new_sid(token_bytes: Callable[[int], bytes] = secrets.token_bytes) -> Sid:
    """Make a session id.

    Args:
        token_bytes: the random source, called with a byte count; tests inject a fixed one.

    Returns:
        20 URL-safe base64 characters encoding 120 random bits.
    """
    raw = token_bytes(SID_BYTES)
    if len(raw) != SID_BYTES:
        raise ValueError(f"the sid source returned {len(raw)} bytes instead of {SID_BYTES}")
    return Sid(base64.urlsafe_b64encode(raw).decode("ascii"))


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Server options for a session; durations in seconds.

    Attributes:
        ping_interval: seconds between a pong and the next ping (Node default 25).
        ping_timeout: seconds the client has to answer a ping (Node default 20).
        max_payload: the largest POST body, WebSocket message and GET body, in bytes.
        upgrade_timeout: seconds a websocket has to complete the upgrade (Node default 10).
        close_timeout: seconds a server-closed polling session waits for the GET that
            collects its close packet (Node default 30).
        allow_upgrades: whether polling sessions may upgrade to WebSocket.
        max_send_buffer: most bytes of outgoing packets held for a client that does not
            take them (a polling client that does not poll, a WebSocket peer that does not
            read); None (the default) means four times ``max_payload``. Past it, volatile
            packets are dropped first, then the session closes (see
            :class:`~engineio_core.exceptions.SendBufferFull`).
    """

    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    max_payload: int = 1_000_000
    upgrade_timeout: float = 10.0
    close_timeout: float = 30.0
    allow_upgrades: bool = True
    max_send_buffer: int | None = None

    @property
    def send_buffer_limit(self) -> int:
        """The effective ``max_send_buffer``: four GET responses' worth by default."""
        limit = self.max_send_buffer
        return 4 * self.max_payload if limit is None else limit

    def __post_init__(self) -> None:
        for name in ("ping_interval", "ping_timeout", "upgrade_timeout", "close_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.max_payload < 1:
            raise ValueError("max_payload must be positive")
        if self.max_send_buffer is not None and self.max_send_buffer < 1:
            raise ValueError("max_send_buffer must be positive")


def open_packet(sid: Sid, upgrades: Collection[Transport], config: SessionConfig) -> Packet:
    """Build the handshake's open packet.

    Args:
        sid: the session id.
        upgrades: the transports this session may upgrade to.
        config: the options to announce.

    Returns:
        An open packet whose data is the spec's JSON object, compactly encoded.
    """
    handshake = {
        "sid": sid,
        "upgrades": [str(t) for t in upgrades],
        "pingInterval": round(config.ping_interval * 1000),  # spec: "(in milliseconds)"
        "pingTimeout": round(config.ping_timeout * 1000),
        "maxPayload": config.max_payload,
    }
    return Packet(PacketType.OPEN, json.dumps(handshake, separators=(",", ":")))


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What :func:`check_request` found in a request.

    Attributes:
        transport: the requested transport.
        sid: the session id, ``None`` for a handshake.
    """

    transport: Transport
    sid: Sid | None


def check_request(
    method: str,
    query: Mapping[str, str],
    *,
    transports: Collection[Transport] = (Transport.POLLING, Transport.WEBSOCKET),
) -> RequestInfo:
    """Check the method and query parameters of an Engine.IO request, like Node's ``verify``.

    Args:
        method: the HTTP method, e.g. ``"GET"`` (a WebSocket upgrade is a GET).
        query: the query parameters, first value of each.
        transports: the transports the server offers.

    Returns:
        The transport and sid.

    Raises:
        UnsupportedProtocolVersion: ``EIO`` is missing or not ``4``.
        UnknownTransport: ``transport`` is missing or not in ``transports``.
        BadHandshakeMethod: a handshake (no ``sid``) that is not a GET.
    """
    # "If a mandatory query parameter is missing, then the server MUST respond with an
    # HTTP 400 error status." (spec "Query parameters")
    if query.get("EIO") != PROTOCOL_VERSION:
        raise UnsupportedProtocolVersion(f"unsupported EIO={query.get('EIO')!r}")
    name = query.get("transport")
    transport = next((t for t in transports if t.value == name), None)
    if transport is None:
        raise UnknownTransport(f"unknown transport {name!r}")
    sid = query.get("sid")
    if not sid:
        if method.upper() != "GET":
            raise BadHandshakeMethod(f"handshake with method {method}")
        return RequestInfo(transport, None)
    return RequestInfo(transport, Sid(sid))
