"""What the Engine.IO server hands its front doors: a prepared HTTP response.

:class:`~engineio_core.aio.server.AsyncServer` owns the sessions table and answers requests; a
front door (:mod:`engineio_core.aio.standalone`, :mod:`engineio_core.aio.asgi`) reads requests
off the network and writes what the server prepared. Each module sees the server only through a
narrow interface (:class:`~engineio_core.aio.standalone.FrontDoorServer`,
:class:`~engineio_core.aio.session.SessionHost`), so imports point one way (server ->
standalone -> session -> front) and the package has no import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PreparedResponse", "Respond"]


@dataclass(frozen=True, slots=True)
class PreparedResponse:
    """A complete HTTP response for a front door to write."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


Respond = Callable[[PreparedResponse], None]
