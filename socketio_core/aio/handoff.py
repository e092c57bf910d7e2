"""A WebSocket on a socket some other server accepted: the upgrade is answered on the raw
socket, then the socket is handed to the event loop, where our WebSocket layer runs it.

Used by front doors whose server parses HTTP itself but does not speak WebSocket (the WSGI
servers: werkzeug exposes the connection as ``environ["werkzeug.socket"]``, gunicorn as
``environ["gunicorn.socket"]``). The steps, each on the thread it belongs to:

1. (loop) :meth:`engineio_core.aio.AsyncServer.websocket_target` checks the request and finds
   or opens the session, as for every other front door;
2. (caller) :meth:`websocket.http11.UpgradePolicy.negotiate` checks the handshake (RFC 6455
   section 4.2.1) and :func:`switching_protocols` is written on the socket as it is;
3. (loop) :func:`run_websocket` adopts a duplicate of the socket with
   ``loop.connect_accepted_socket`` and reads frames into the session until the close.

The other server's thread waits for step 3 to end; its own copy of the socket is then closed
by that server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

from engineio_core.aio.session import SessionDriver
from websocket.aio import ConnectionOptions
from websocket.aio.server import open_connection
from websocket.exceptions import ConnectionClosed
from websocket.http11 import Accepted, Request, Response
from websocket.protocol import Role

__all__ = ["run_websocket", "session_failed", "switching_protocols"]

logger = logging.getLogger(__name__)


def switching_protocols(headers: list[tuple[str, str]]) -> bytes:
    """The 101 response head (RFC 6455 section 4.2.2 item 5) with ``headers``."""
    lines = ["HTTP/1.1 101 Switching Protocols", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


class _Adapter:
    """:class:`websocket.aio.Connection` as a session's ``WebSocketTransport``."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def write(self, message: str | bytes) -> None:
        with contextlib.suppress(ConnectionClosed):  # the reader reports the end
            self._conn.write(message)

    def close(self) -> None:
        self._conn.start_closing()

    @property
    def backlog(self) -> int:
        return int(self._conn.write_buffer_size)


def session_failed(target: SessionDriver) -> None:
    """A WebSocket-only handshake whose upgrade failed: its session ends here (on the loop)."""
    if target.ws is None and target.transport == "websocket":
        target.ws_closed()


async def run_websocket(
    sock: socket.socket,
    request: Request,
    accepted: Accepted,
    target: SessionDriver,
    options: ConnectionOptions,
) -> None:
    """Run the WebSocket on ``sock`` (answered with 101 already) until it closes.

    Args:
        sock: a duplicate of the accepted socket; this function owns and closes it.
        request: the handshake request.
        accepted: the negotiated handshake.
        target: the Engine.IO session to attach the WebSocket to.
        options: the WebSocket limits.
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**16)
    protocol = asyncio.StreamReaderProtocol(reader)
    try:
        transport, _ = await loop.connect_accepted_socket(lambda: protocol, sock)
    except OSError as exc:
        logger.info("! WebSocket hand-off failed: %s", exc)
        sock.close()
        session_failed(target)
        return
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    conn = open_connection(
        reader,
        writer,
        Accepted(request, Response(101, ()), None, accepted.compressor),
        Role.SERVER,
        options,
    )
    if not target.attach_websocket(_Adapter(conn)):
        conn.start_closing(1000)
        await conn.run(lambda message: None)
        return
    try:
        await conn.run(target.ws_message)
    finally:
        target.ws_closed()
        writer.close()
