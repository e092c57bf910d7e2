"""Per-connection state of the Socket.IO server: clients, sockets and pending acks.

A *client* is one Engine.IO session; it carries one packet decoder and a *socket* for each
namespace it joined (each with a sid of its own, as Socket.IO v5 requires). A client's work
(CONNECT handling, events, the final disconnect) runs through an ordered queue that a task
drains only while there is work, so an idle client owns no task, and events of one client are
handled in arrival order. Acknowledgements bypass the queue: they are resolved as they arrive,
so a handler that awaits the client's ack cannot deadlock its own queue.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..decoder import Decoder

__all__ = ["AckWaiter", "Client", "Socket"]

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class AckWaiter:
    """What to do when the ack with one id comes back from one socket.

    Exactly one of ``future`` (``call``), ``callback`` (``emit(callback=)``) and ``collect``
    (a broadcast with acks) is set.
    """

    future: asyncio.Future[Any] | None = None
    callback: Callable[..., Any] | None = None
    err_first: bool = False
    collect: Callable[[str, list[Any]], None] | None = None
    timer: asyncio.TimerHandle | None = None


@dataclass(slots=True, eq=False)
class Socket:
    """One namespace connection of a client."""

    sid: str
    namespace: str
    client: Client
    auth: Any = None
    session: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    connected_at: float = field(default_factory=time.time)
    acks: dict[int, AckWaiter] = field(default_factory=dict)
    # Messages emitted to the socket while its connect handler runs: sent after CONNECT.
    held: list[list[Any]] | None = field(default_factory=list)
    connected: bool = False

    @property
    def handshake(self) -> dict[str, Any]:
        """Node's ``socket.handshake``: headers, time, address, query, auth."""
        environ = self.client.environ
        request = environ.get("engineio.request")
        headers = dict(request.headers) if request is not None else {}
        return {
            "headers": headers,
            "time": time.strftime("%a %b %d %Y %H:%M:%S", time.gmtime(self.connected_at)),
            "address": environ.get("REMOTE_ADDR", ""),
            "xdomain": "origin" in headers,
            "secure": environ.get("wsgi.url_scheme") in ("https", "wss"),
            "issued": int(self.connected_at * 1000),
            "url": environ.get("PATH_INFO", "")
            + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else ""),
            "query": dict(request.query) if request is not None else {},
            "auth": self.auth if isinstance(self.auth, dict) else {},
        }


class Client:
    """One Engine.IO session seen from Socket.IO."""

    __slots__ = (
        "_environ",
        "_queue",
        "_task",
        "closed",
        "connect_timer",
        "decoder",
        "eio_sid",
        "request",
        "sockets",
    )

    def __init__(self, eio_sid: str, environ: dict[str, Any], decoder: Decoder) -> None:
        self.eio_sid = eio_sid
        # Keep the request, not the environ built from it: the environ is rebuilt when asked
        # for (connect handlers, get_environ), so an idle client does not carry that dict.
        request = environ.get("engineio.request")
        self.request = request
        self._environ: dict[str, Any] | None = environ if request is None else None
        self.decoder = decoder
        self.sockets: dict[str, Socket] = {}
        self.connect_timer: asyncio.TimerHandle | None = None
        self.closed = False
        self._queue: collections.deque[Job] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def environ(self) -> dict[str, Any]:
        """The WSGI-style environ of the handshake request (a fresh dict each time)."""
        if self._environ is not None or self.request is None:
            return self._environ or {}
        return dict(self.request.environ)

    def enqueue(self, job: Job) -> None:
        """Run ``job`` after every job queued before it."""
        queue = self._queue
        if queue is None:
            queue = self._queue = collections.deque()
        queue.append(job)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain(queue))

    async def _drain(self, queue: collections.deque[Job]) -> None:
        try:
            while queue:
                job = queue.popleft()
                try:
                    await job()
                except Exception:
                    logger.error("! handler failed for client %s", self.eio_sid, exc_info=True)
        finally:
            self._task = None
            queue.clear()  # empty, or cancelled with work left
            if self._queue is queue:
                self._queue = None  # an idle client holds no queue

    @property
    def busy(self) -> bool:
        """Whether queued work is pending or running."""
        return self._task is not None
