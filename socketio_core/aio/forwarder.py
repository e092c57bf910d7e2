"""Any process takes any HTTP request of any session: the asyncio driver of the forwarding.

Theory of operation
-------------------
:mod:`socketio_core.forwarding` is the codec and the rules (sid shape, channels); this module
moves its messages over a broker (:class:`ForwardLink`, implemented per broker: Redis in
:mod:`socketio_core.aio.redis_forwarding`) and is the Engine.IO server's
:class:`~engineio_core.aio.server.RemoteSessions`:

* **requester** (a polling request landed here, for a sid of another process):
  :meth:`RequestForwarder.forward` publishes the request on the owner's channel and waits,
  in a task, for the response on this process's channel. Redis says how many subscribers got
  the publish: 0 means the owner is gone, and the request is answered ``400 Session ID
  unknown`` at once (one round trip, and the client reconnects). Otherwise the request waits at
  most ``timeout`` (the Engine.IO ping interval plus ping timeout: the owner answers a parked
  GET at the latest with the next ping), then is answered 400 as well. A client that goes away
  first cancels the task, which tells the owner (:class:`ForwardCancel`).
* **owner**: each :class:`ForwardRequest` from its channel goes through the Engine.IO server's
  ``handle_http``, the same code as a request from its own socket; the response (now, or later
  for a parked GET) is published back to the requester. A cancel aborts the parked GET, as a
  closed connection would.

Bounds: at most ``max_pending`` forwarded requests wait in a process (past it: 503 at once);
a broker message over ``max_message_size`` is dropped unparsed (and a request that large is
answered 400 without being sent); each session keeps its
Engine.IO limits on the owner (``max_http_buffer_size``, ``max_send_buffer``, one parked
GET), since the owner runs the request through its own session.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from engineio_core.aio.server import AsyncServer, PreparedResponse
from engineio_core.aio.session import WebSocketTarget
from engineio_core.request import HTTPRequest

from ..exceptions import BrokerError
from ..forwarding import (
    DEFAULT_MAX_FORWARD_SIZE,
    ForwardCancel,
    ForwardRequest,
    ForwardResponse,
    Rejected,
    RelayMessage,
    decode,
    encode,
    make_sid,
    node_channel,
    sid_owner,
)
from .ws_relay import WebSocketRelays

__all__ = ["ForwardLink", "ForwardStats", "RequestForwarder"]

logger = logging.getLogger(__name__)

HandleHTTP = Callable[
    [HTTPRequest, "bytes | None", Callable[[PreparedResponse], None]],
    Awaitable["Callable[[], None] | None"],
]
Answer = Callable[["PreparedResponse | None"], None]


class ForwardLink(Protocol):
    """The broker under a :class:`RequestForwarder`."""

    async def publish(self, channel: str, data: bytes) -> int | None:
        """Publish ``data``; the number of subscribers that got it when the broker says."""

    async def subscribe(self, channel: str) -> AsyncIterator[bytes]:
        """Subscribe to ``channel``; the iterator ends or raises when the subscription is lost."""

    async def close(self) -> None:
        """Close the broker connections."""


@dataclass
class ForwardStats:
    """Counters of a :class:`RequestForwarder`, for monitoring.

    Attributes:
        forwarded: requests sent to their owner (requester side).
        answered: ... and answered by it.
        unknown: ... whose owner was gone (answered 400 at once).
        timeouts: ... that got no answer in time (answered 400).
        busy: requests answered 503 because ``max_pending`` were waiting.
        served: requests of other processes run here (owner side).
        rejected: broker messages dropped as malformed or oversized.
    """

    forwarded: int = 0
    answered: int = 0
    unknown: int = 0
    timeouts: int = 0
    busy: int = 0
    served: int = 0
    rejected: int = 0


def _busy() -> PreparedResponse:
    body = b"too many forwarded requests"
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    return PreparedResponse(503, headers, body)


class RequestForwarder:
    """Forward polling requests to the process that owns their session, and serve the
    requests forwarded to this process.

    Args:
        link: the broker.
        channel: the cluster's channel name (each process listens on ``<channel>#fwd#<node>``).
        node: this process's server id (16 hex digits; the pub/sub manager's ``uid``).
        max_pending: most forwarded requests waiting here at once, and most WebSocket
            upgrades waiting for their owner's answer.
        max_message_size: larger broker messages are dropped unparsed.
        connect_timeout: subscribing at start.
        upgrade_hold: seconds a new polling session's messages are held back so that the
            session can move whole to the process its WebSocket upgrade lands on
            (:mod:`socketio_core.aio.ws_relay`); 0: never move, always relay.
    """

    def __init__(
        self,
        link: ForwardLink,
        channel: str,
        node: str,
        *,
        max_pending: int = 10_000,
        max_message_size: int = DEFAULT_MAX_FORWARD_SIZE,
        connect_timeout: float = 5.0,
        upgrade_hold: float = 0.3,
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be >= 1")
        if upgrade_hold < 0:
            raise ValueError("upgrade_hold must be >= 0")
        self.link = link
        self.channel = channel
        self.node = node
        self.max_pending = max_pending
        self.max_message_size = max_message_size
        self.connect_timeout = connect_timeout
        #: How long a forwarded request waits for its owner (set by :meth:`bind`).
        self.timeout = 45.0
        self.stats = ForwardStats()
        self._handle_http: HandleHTTP | None = None
        self._rids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[ForwardResponse]] = {}
        self._parked: dict[tuple[str, int], Callable[[], None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listener: asyncio.Task[None] | None = None
        self.upgrade_hold = upgrade_hold
        #: The WebSocket upgrades that land here for sessions of others, and the reverse.
        self.relays = WebSocketRelays(
            link,
            channel,
            node,
            self._spawn,
            max_message_size=max_message_size,
            max_opening=max_pending,
        )

    def bind(self, server: AsyncServer) -> None:
        """Serve forwarded requests and relayed WebSockets with ``server``'s sessions; a
        forwarded request waits for its owner a ping interval plus a ping timeout."""
        config = server.session_config
        self._handle_http = server.handle_http
        self.timeout = config.ping_interval + config.ping_timeout
        self.relays.bind(server)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Subscribe to this process's channel.

        Raises:
            BrokerError: the subscription failed.
        """
        if self._listener is not None:
            return
        try:
            messages = await asyncio.wait_for(
                self.link.subscribe(node_channel(self.channel, self.node)), self.connect_timeout
            )
        except Exception as exc:
            raise BrokerError(f"cannot subscribe the forwarding channel: {exc!r}") from exc
        self._listener = asyncio.create_task(self._listen(messages))

    async def stop(self) -> None:
        """Stop listening; every waiting request is answered 400."""
        listener, self._listener = self._listener, None
        tasks = [t for t in (listener, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for abort in list(self._parked.values()):
            abort()
        self._parked.clear()
        self.relays.close_all()
        with contextlib.suppress(Exception):
            await self.link.close()

    # --------------------------------------------------- RemoteSessions (Engine.IO)

    def new_sid(self) -> str:
        """A fresh Engine.IO sid naming this process."""
        return make_sid(self.node)

    def is_remote(self, sid: str) -> bool:
        """Whether ``sid`` names another process (checked on its shape: no I/O)."""
        owner = sid_owner(sid)
        return owner is not None and owner != self.node

    def forward(
        self, request: HTTPRequest, body: bytes | None, respond: Answer
    ) -> Callable[[], None]:
        """Forward a polling request to its owner (see the module docstring)."""
        owner = sid_owner(request.query.get("sid", ""))
        if owner is None:  # the caller asked is_remote() first; nothing to forward
            respond(None)
            return lambda: None
        if len(self._waiting) >= self.max_pending:
            self.stats.busy += 1
            logger.warning("! %d forwarded requests already wait: 503", self.max_pending)
            respond(_busy())
            return lambda: None
        rid = next(self._rids)
        message = ForwardRequest(
            self.node,
            rid,
            request.method,
            request.path,
            request.query_string,
            request.headers,
            request.client,
            request.scheme,
            request.root_path,
            body or b"",
            body is None,
        )
        future: asyncio.Future[ForwardResponse] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = future
        task = asyncio.ensure_future(self._wait(owner, message, future, respond))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

        def abort() -> None:
            task.cancel()

        return abort

    async def websocket(self, request: HTTPRequest, sid: str) -> WebSocketTarget | None:
        """A WebSocket upgrade for a session of another process (see
        :mod:`socketio_core.aio.ws_relay`)."""
        return await self.relays.websocket(request, sid)

    async def _wait(
        self,
        owner: str,
        message: ForwardRequest,
        future: asyncio.Future[ForwardResponse],
        respond: Answer,
    ) -> None:
        """One forwarded request, from the publish to the answer."""
        self.stats.forwarded += 1
        data = encode(message)
        if len(data) > self.max_message_size:  # the owner would drop it unread
            logger.warning("! a forwarded request of %d bytes is over the limit", len(data))
            self._waiting.pop(message.rid, None)
            respond(None)
            return
        try:
            count = await self.link.publish(node_channel(self.channel, owner), data)
            if count == 0:
                logger.info("! %s %s: server %s is gone", message.method, message.path, owner)
                self.stats.unknown += 1
                respond(None)
                return
            try:
                response = await asyncio.wait_for(future, self.timeout)
            except TimeoutError:
                logger.warning("! forwarded %s to %s: no answer", message.method, owner)
                self.stats.timeouts += 1
                self._cancel(owner, message.rid)
                respond(None)
                return
            self.stats.answered += 1
            respond(PreparedResponse(response.status, list(response.headers), response.body))
        except asyncio.CancelledError:
            self._cancel(owner, message.rid)  # the client went away: free the parked GET
            raise
        except Exception as exc:  # a broker failure: the session cannot be reached
            logger.warning("! forwarding %s to %s failed: %r", message.method, owner, exc)
            respond(None)
        finally:
            self._waiting.pop(message.rid, None)

    def _cancel(self, owner: str, rid: int) -> None:
        data = encode(ForwardCancel(self.node, rid))
        self._spawn(self._publish_quietly(node_channel(self.channel, owner), data))

    async def _publish_quietly(self, channel: str, data: bytes) -> None:
        try:
            await self.link.publish(channel, data)
        except Exception as exc:
            logger.warning("! forwarding publish on %s failed: %r", channel, exc)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ owner side

    async def _listen(self, messages: AsyncIterator[bytes]) -> None:
        try:
            async for data in messages:
                await self.receive(data)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.error("! forwarding subscription lost: %r", exc)

    async def receive(self, data: bytes) -> None:
        """Take one broker message from this process's channel."""
        message = decode(data, max_size=self.max_message_size)
        if isinstance(message, Rejected):
            self.stats.rejected += 1
            logger.warning("! dropped a forwarding message: %s", message.reason)
        elif isinstance(message, ForwardResponse):
            future = self._waiting.get(message.rid)
            if future is not None and not future.done():
                future.set_result(message)
        elif isinstance(message, ForwardCancel):
            abort = self._parked.pop((message.sender, message.rid), None)
            if abort is not None:
                abort()
        elif isinstance(message, RelayMessage):
            self.relays.receive(message)
        else:
            await self._serve(message)

    async def _serve(self, message: ForwardRequest) -> None:
        """Run a forwarded request through the Engine.IO server, as if it came here."""
        if self._handle_http is None:
            return
        self.stats.served += 1
        key = (message.sender, message.rid)
        reply_to = node_channel(self.channel, message.sender)
        request = HTTPRequest(
            message.method,
            message.path,
            message.query_string,
            message.headers,
            message.client,
            message.scheme,
            message.root_path,
        )
        answered = False

        def respond(response: PreparedResponse) -> None:
            nonlocal answered
            answered = True
            self._parked.pop(key, None)
            reply = ForwardResponse(
                self.node, message.rid, response.status, tuple(response.headers), response.body
            )
            data = encode(reply)
            if len(data) > self.max_message_size:  # the requester would drop it unread
                logger.error("! a forwarded response of %d bytes is over the limit", len(data))
                body = b"response over the broker message limit"
                headers = (("Content-Type", "text/plain"), ("Content-Length", str(len(body))))
                data = encode(ForwardResponse(self.node, message.rid, 500, headers, body))
            self._spawn(self._publish_quietly(reply_to, data))

        body = None if message.too_large else message.body
        try:
            abort = await self._handle_http(request, body, respond)
        except Exception:
            logger.error("! a forwarded request failed", exc_info=True)
            return
        if abort is not None and not answered:
            self._parked[key] = abort
