"""Disconnect reasons, with python-socketio's names (``sio.reason.CLIENT_DISCONNECT``).

python-socketio passes one of these strings as the ``reason`` argument of ``disconnect``
handlers (server and client). Node's socket.io spells the namespace-level ones
``"client namespace disconnect"`` and ``"server namespace disconnect"``; both spellings are
listed so that code can compare against either.
"""

from __future__ import annotations

from typing import Final

__all__ = ["Reason", "reason"]


class Reason:
    """Disconnect reasons (python-socketio's ``socketio.Server.reason``)."""

    #: The server ended the connection or the namespace.
    SERVER_DISCONNECT: Final = "server disconnect"
    #: The client ended the connection or the namespace.
    CLIENT_DISCONNECT: Final = "client disconnect"
    #: No answer to the server's ping in time.
    PING_TIMEOUT: Final = "ping timeout"
    #: The connection was closed (the peer went away).
    TRANSPORT_CLOSE: Final = "transport close"
    #: The connection failed.
    TRANSPORT_ERROR: Final = "transport error"
    #: Node's spelling of a namespace left by the server.
    SERVER_NAMESPACE_DISCONNECT: Final = "server namespace disconnect"
    #: Node's spelling of a namespace left by the client.
    CLIENT_NAMESPACE_DISCONNECT: Final = "client namespace disconnect"


#: python-socketio's lower-case spelling (``socketio.Server.reason``).
reason = Reason
