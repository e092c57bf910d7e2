"""Events that :class:`websocket.protocol.Protocol` reports to its I/O layer."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CloseReceived", "Event", "Message", "Ping", "Pong"]


@dataclass(frozen=True, slots=True)
class Message:
    """A whole data message: ``str`` for a text message, ``bytes`` for a binary one."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class Ping:
    """A ping arrived; the connection has already queued the pong with the same payload."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    """A pong arrived (solicited or not)."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class CloseReceived:
    """The peer sent a close frame; the connection has already queued its answer.

    Attributes:
        code: the close code, 1005 if the frame had no payload.
        reason: the close reason.
    """

    code: int
    reason: str


Event = Message | Ping | Pong | CloseReceived
