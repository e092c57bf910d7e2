"""RFC 6455 WebSocket, written by hand: a sans-I/O core and an asyncio I/O layer.

Core modules: :mod:`websocket.frames` (frame codec), :mod:`websocket.protocol` (connection
state machine), :mod:`websocket.handshake` (opening handshake on h11),
:mod:`websocket.deflate` (permessage-deflate, RFC 7692). The asyncio layer is
:mod:`websocket.aio`.

The PyPI package ``websocket-client`` also installs a top-level ``websocket`` module. The two
cannot share an environment: whichever is found first hides the other. This module refuses to
import when that package is installed, and ``engineio_core`` refuses to run on a ``websocket``
module that is not this one (see :data:`IS_SOCKETIO_STACK`).
"""

from __future__ import annotations

import importlib.metadata as _metadata

#: Marker the layers above check, so that a foreign ``websocket`` module fails loudly.
IS_SOCKETIO_STACK = True


def _refuse_websocket_client() -> None:
    try:
        version = _metadata.version("websocket-client")
    except _metadata.PackageNotFoundError:
        return
    raise ImportError(
        f"the PyPI package 'websocket-client' {version} is installed in this environment and "
        "also provides a top-level 'websocket' module, which clashes with this project's "
        "'websocket' package; run 'pip uninstall websocket-client' (see README.md)"
    )


_refuse_websocket_client()

from .exceptions import (  # noqa: E402
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
    LocalProtocolError,
    PayloadTooBig,
    RemoteProtocolError,
    WebSocketError,
)

__all__ = [
    "IS_SOCKETIO_STACK",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "InvalidHandshake",
    "InvalidStatus",
    "InvalidURI",
    "LocalProtocolError",
    "PayloadTooBig",
    "RemoteProtocolError",
    "WebSocketError",
]
