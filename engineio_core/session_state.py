"""The states of a server session and the transitions allowed between them.

Kept apart from :mod:`engineio_core.server_session`, in the manner of h11's ``_state.py``: the
table is the whole rule, and :meth:`ServerSession._set_state` refuses anything else::

    POLLING --attach_websocket--> PROBING --"2probe"--> UPGRADING --"5"--> WEBSOCKET
    PROBING, UPGRADING --upgrade timeout, bad message, websocket closed--> POLLING
    POLLING, PROBING, UPGRADING --close()--> CLOSING --close packet collected--> CLOSED
    any --ping timeout, close packet, protocol error, transport gone--> CLOSED
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["POLLING_STATES", "TRANSITIONS", "SessionState"]


class SessionState(enum.Enum):
    """Where a session is; see the module docstring for the diagram."""

    POLLING = "polling"
    PROBING = "probing"
    UPGRADING = "upgrading"
    WEBSOCKET = "websocket"
    CLOSING = "closing"
    CLOSED = "closed"


# Allowed transitions; anything else is a bug in server_session.py.
TRANSITIONS: Final[dict[SessionState, frozenset[SessionState]]] = {
    SessionState.POLLING: frozenset(
        {SessionState.PROBING, SessionState.CLOSING, SessionState.CLOSED}
    ),
    SessionState.PROBING: frozenset(
        {SessionState.UPGRADING, SessionState.POLLING, SessionState.CLOSING, SessionState.CLOSED}
    ),
    SessionState.UPGRADING: frozenset(
        {SessionState.WEBSOCKET, SessionState.POLLING, SessionState.CLOSING, SessionState.CLOSED}
    ),
    SessionState.WEBSOCKET: frozenset({SessionState.CLOSED}),
    SessionState.CLOSING: frozenset({SessionState.CLOSED}),
    SessionState.CLOSED: frozenset(),
}

#: The states in which a GET may be parked and answered with buffered packets.
POLLING_STATES: Final = frozenset({SessionState.POLLING, SessionState.PROBING})
