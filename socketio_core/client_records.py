"""The client session's records: one per namespace the client wants to be in, and one per
emit that waits (for its ack, in the send buffer, or in the retry queue).

Plain data with one rule each: a namespace changes state only along ``_TRANSITIONS`` (the
diagram in :mod:`socketio_core.client_session`); an emit knows its earliest deadline.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from .client_events import EventReceived
from .exceptions import LocalProtocolError

__all__ = ["NamespaceRecord", "NamespaceState", "Outgoing"]


class NamespaceState(enum.Enum):
    """Where the client stands with one namespace."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"


_TRANSITIONS: Final[dict[NamespaceState, frozenset[NamespaceState]]] = {
    NamespaceState.DISCONNECTED: frozenset({NamespaceState.CONNECTING}),
    NamespaceState.CONNECTING: frozenset({NamespaceState.CONNECTED, NamespaceState.DISCONNECTED}),
    NamespaceState.CONNECTED: frozenset({NamespaceState.DISCONNECTED}),
}


@dataclass(eq=False)
class Outgoing:
    """One emit waiting for its ack, in the buffer, or in the retry queue."""

    namespace: str
    data: list[Any]
    token: object | None
    deadline: float | None  # the emit's own timeout, from the moment of the emit
    retries: int = 0  # attempts left after the current one
    id: int | None = None
    attempt_deadline: float | None = None
    in_flight: bool = False
    done: bool = False

    def when(self) -> float | None:
        """The earliest deadline of this record."""
        times = [t for t in (self.deadline, self.attempt_deadline) if t is not None]
        return min(times) if times else None


@dataclass(eq=False)
class NamespaceRecord:
    """The state of one namespace the client wants to be in."""

    state: NamespaceState = NamespaceState.DISCONNECTED
    sid: str | None = None
    buffer: deque[Outgoing] = field(default_factory=deque)
    queue: deque[Outgoing] = field(default_factory=deque)
    #: Events the server sent before its CONNECT reply (python-socketio sends what a
    #: ``connect`` handler emits at once): delivered right after the CONNECT, in order.
    early: list[EventReceived] = field(default_factory=list)
    #: Connection state recovery: the server's pid (None while it is off), the offset of the
    #: last event received, and whether the last CONNECT recovered the session.
    pid: str | None = None
    offset: str | None = None
    recovered: bool = False

    def move(self, state: NamespaceState) -> None:
        """Change state, refusing what the table forbids."""
        if state not in _TRANSITIONS[self.state]:
            raise LocalProtocolError(f"namespace cannot go from {self.state} to {state}")
        self.state = state
        if state is NamespaceState.DISCONNECTED:
            self.early.clear()  # refused or cut off: what came early is void
