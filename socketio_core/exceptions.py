"""Exceptions of the ``socketio_core`` package.

Every exception raised by this package derives from :exc:`SocketIOError`::

    SocketIOError
    ├── RemoteProtocolError          the peer broke Socket.IO v5: close the Engine.IO connection
    │   ├── DecodeError              malformed packet: type, attachment count, namespace, ack id,
    │   │                            JSON or msgpack syntax
    │   ├── InvalidPacket            well-formed, but breaks a rule: payload shape, reserved or
    │   │                            non-string event name, ack id on a packet that takes none
    │   ├── AttachmentError          binary reassembly broken: a placeholder out of range, a
    │   │                            binary message with no packet pending, text during reassembly
    │   ├── AttachmentLimitExceeded  more attachments or more attachment bytes than allowed
    │   └── UnexpectedPacket         the first packet of a connection is not CONNECT
    ├── LocalProtocolError           the caller misused the API: an invalid Packet, a payload
    │                                that cannot be encoded, feeding a decoder that failed
    ├── AckTimeout                   (also the builtin TimeoutError) an acknowledgement did not
    │                                come in time; carries what did come for a broadcast
    ├── NotConnected                 the sid is not connected (or disconnected while waiting)
    │   └── SendBufferFull           a client emit while disconnected found its buffer full
    ├── ConnectFailed                (also the builtin ConnectionError) a client's connect()
    │                                failed or a namespace was refused; carries message, data
    ├── MissingDependency            (also ImportError) an optional dependency is not installed;
    │                                the message names the extra, e.g. ``socketio-stack[msgpack]``
    ├── BrokerError                  (also the builtin ConnectionError) the message broker of a
    │                                pub/sub manager is unreachable at start-up, or a publish
    │                                still failed when its retry window ran out
    ├── ConnectionRefused            (also the builtin ConnectionRefusedError) raised by a
    │                                ``connect`` handler to refuse a client; becomes the
    │                                CONNECT_ERROR payload ``{"message": ..., "data": ...}``
    └── DisconnectedError            a simple client's ``emit`` / ``call`` / ``receive`` found
                                     it disconnected (python-socketio's name)

python-socketio's names are importable from here for code written against it:
``ConnectionError`` is :exc:`ConnectFailed`, ``ConnectionRefusedError`` is
:exc:`ConnectionRefused`, ``TimeoutError`` is :exc:`AckTimeout` and ``BadNamespaceError`` is
:exc:`NotConnected` (the same classes, under the names python-socketio uses). They shadow
builtins only as attributes of this module: ``from socketio_core import exceptions`` then
``exceptions.TimeoutError``, as python-socketio code spells them.

*Remote* errors mean the peer is at fault. The spec allows one answer to them: "the receiver
MUST close the connection" (section "Sending and receiving data"). There is no Socket.IO error
packet for a malformed packet, so the I/O layer closes the Engine.IO connection and drops all
state of the Socket.IO session; :attr:`RemoteProtocolError.reason` is the disconnect reason to
report (``"parse error"``, the reason socket.io-client uses). *Local* errors mean the calling
code is at fault and are raised to it.

Refusing a connection, for python-socketio users
------------------------------------------------
python-socketio handlers refuse a connection with
``raise socketio.exceptions.ConnectionRefusedError(message, *data)``. This package never reuses
a builtin name, so the class is :exc:`ConnectionRefused`; it takes the same positional
arguments and exposes the same ``error_args``. Porting is a rename::

    from socketio_core.exceptions import ConnectionRefused
    raise ConnectionRefused("Not authorized", {"retry": False})

The builtin :exc:`ConnectionRefusedError` is a second base class, so code written against the
bare name (``except ConnectionRefusedError``, ``pytest.raises(ConnectionRefusedError)``) still
catches it. The reverse does not hold on purpose: a handler that lets a *builtin*
``ConnectionRefusedError`` escape (an ``OSError`` from a socket it opened, say, to a database)
has crashed; it has not refused the client, and its errno text must not reach the client.
"""

from __future__ import annotations

import errno
from typing import Any

__all__ = [
    "AckTimeout",
    "AttachmentError",
    "AttachmentLimitExceeded",
    "BrokerError",
    "ConnectFailed",
    "ConnectionRefused",
    "DecodeError",
    "DisconnectedError",
    "InvalidPacket",
    "LocalProtocolError",
    "MissingDependency",
    "NotConnected",
    "RemoteProtocolError",
    "SendBufferFull",
    "SocketIOError",
    "UnexpectedPacket",
]


class SocketIOError(Exception):
    """Root of every exception raised by the ``socketio_core`` package."""


class RemoteProtocolError(SocketIOError):
    """The peer sent something Socket.IO v5 does not allow.

    The only remedy is to close the Engine.IO connection and forget the session: nothing of
    the offending packet may stay buffered.

    Attributes:
        reason: the disconnect reason to report to the application.
    """

    reason: str = "parse error"


class DecodeError(RemoteProtocolError):
    """A packet is malformed: it cannot be split into type, namespace, ack id and payload."""


class InvalidPacket(RemoteProtocolError):
    """A packet is well-formed but breaks a rule of the spec (payload shape, event name...)."""


class AttachmentError(RemoteProtocolError):
    """The binary attachments of a packet do not fit its placeholders or arrive out of turn."""


class AttachmentLimitExceeded(RemoteProtocolError):
    """A packet announces more attachments, or brings more attachment bytes, than allowed."""


class UnexpectedPacket(RemoteProtocolError):
    """A packet arrived before the CONNECT packet that must come first."""


class LocalProtocolError(SocketIOError):
    """The caller used the API in a way the protocol does not allow."""


class AckTimeout(SocketIOError, TimeoutError):
    """An acknowledgement did not arrive within the timeout.

    Attributes:
        responses: for a broadcast, the responses that did arrive, by sid.
    """

    def __init__(self, message: str = "ack timeout", responses: dict[str, Any] | None = None):
        super().__init__(message)
        self.responses: dict[str, Any] = responses or {}


class NotConnected(SocketIOError):
    """The sid is not connected to that namespace (or disconnected while we waited)."""


class MissingDependency(SocketIOError, ImportError):
    """An optional dependency is missing.

    Args:
        module: the module that failed to import.
        extra: the ``socketio-stack`` extra that installs it.
    """

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"{module} is not installed: pip install socketio-stack[{extra}]", name=module
        )
        self.extra = extra


class ConnectionRefused(SocketIOError, ConnectionRefusedError):
    """Raised by a ``connect`` handler to refuse the connection to a namespace.

    The arguments follow python-socketio's ``ConnectionRefusedError``: a message, then
    optional data (one value as is, several as a list).

    Args:
        message: the reason shown to the client.
        *data: extra data for the client.

    Attributes:
        message: the reason shown to the client.
        data: the extra data, ``None`` when none was given.
    """

    def __init__(self, message: object = "Connection rejected by server", *data: Any) -> None:
        self.message = str(message)
        self.data: Any = None if not data else data[0] if len(data) == 1 else list(data)
        # Two arguments make OSError fill ``errno`` and ``strerror``, as a refused socket would.
        super().__init__(errno.ECONNREFUSED, self.message)

    def __str__(self) -> str:
        return self.message

    @property
    def error_args(self) -> dict[str, Any]:
        """The CONNECT_ERROR payload: ``{"message": ...}`` plus ``"data"`` when given.

        Returns:
            A new dict each time, ready for :class:`socketio_core.packet.Packet`.
        """
        args: dict[str, Any] = {"message": self.message}
        if self.data is not None:
            args["data"] = self.data
        return args


class SendBufferFull(NotConnected):
    """An emit while disconnected found the send buffer (or the retry queue) full."""


class ConnectFailed(SocketIOError, ConnectionError):
    """``connect()`` could not open the connection or join every namespace.

    Attributes:
        message: what went wrong (the server's CONNECT_ERROR message when it refused).
        data: the ``data`` of the server's CONNECT_ERROR, or None.
        namespace: the namespace that was refused, or None.
    """

    def __init__(self, message: str, data: Any = None, namespace: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        self.namespace = namespace


class BrokerError(SocketIOError, ConnectionError):
    """The broker of a pub/sub manager (Redis, RabbitMQ) could not be used.

    Raised at start-up when the broker is unreachable, and by an operation whose publish still
    failed when the manager's retry window ran out (the local sockets were served already).
    """


class DisconnectedError(SocketIOError):
    """python-socketio's ``DisconnectedError``: a simple client is not connected."""


# python-socketio's names for the same classes (see the module docstring). Bound through
# globals() so that this module's own code never sees a builtin name shadowed.
globals().update(
    ConnectionError=ConnectFailed,
    ConnectionRefusedError=ConnectionRefused,
    TimeoutError=AckTimeout,
    BadNamespaceError=NotConnected,
)
