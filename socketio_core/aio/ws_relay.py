"""A WebSocket upgrade that lands on another process than its session's: served where it lands.

Theory of operation
-------------------
Without sticky sessions (:mod:`socketio_core.aio.forwarder`), the WebSocket upgrade of a
polling session may reach any process. The process it lands on (the *landing* process) asks
the owner (named by the sid) over the broker whether it knows the session (``open``); the
owner attaches a stand-in WebSocket (:class:`_OwnerEnd`) to the session, answers ``opened``,
and the landing process accepts the WebSocket (``refused``, or no answer: ``400 Session ID
unknown``, as Node's cluster engine answers). From then on the Engine.IO upgrade runs on the
owner as for a local WebSocket: the client's messages go ``up`` in order, the owner's come
``down``, and each side's close goes to the other.

When the upgrade completes (the client's ``5``), the owner decides, like Node's
``@socket.io/cluster-engine``:

* **the session moves** (``moved``) when nothing of it has reached the application yet: a new
  polling session is held for ``upgrade_hold`` seconds
  (:meth:`~engineio_core.aio.session.SessionDriver.hold`), and the usual client upgrades
  within a few milliseconds of its handshake. The owner drops the session
  (:meth:`~engineio_core.aio.session.SessionDriver.move_out`: whatever it had queued for the
  client has already gone ``down``, in order) and sends the messages it held; the landing
  process opens the session on its WebSocket
  (:meth:`~engineio_core.aio.server.AsyncServer.adopt`) and delivers them first. From then on
  the session is local there, and the broker carries nothing more for it.
* otherwise **the session stays** (``stay``) with the owner, whose application already knows
  it (rooms, pending acks, the handlers' state), and the landing process relays the WebSocket
  for the session's whole life.

The landing process stops relaying after it passed the client's ``5`` up, and keeps what the
client sends next until the owner's answer: after ``moved`` it goes to the local session,
after ``stay`` up to the owner, so nothing is lost or delivered twice.

Order: each relay publishes from one task at a time (:class:`_Outbox`), so its messages reach
the peer in order; consecutive WebSocket messages are batched into one broker message.

Bounds: what waits to be published and what the client sends while the owner decides are
capped at ``max_buffer`` bytes (the Engine.IO send-buffer limit), the WebSocket's own backlog
on the landing process likewise: past them, the WebSocket closes. A landing process that hears
nothing from the owner for a ping interval plus a ping timeout (the owner pings through the
relay) closes the WebSocket; an owner whose landing process is gone (its publishes reach
nobody) closes the session's WebSocket, and the session's heartbeat closes it otherwise.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from engineio_core.handshake import Sid

from ..forwarding import RelayMessage, encode, node_channel, relay_size, sid_owner

if TYPE_CHECKING:
    from engineio_core.aio.server import AsyncServer
    from engineio_core.aio.session import SessionDriver, WebSocketTarget, WebSocketTransport
    from engineio_core.request import HTTPRequest

__all__ = ["RelayStats", "WebSocketRelays"]

logger = logging.getLogger(__name__)

_UPGRADE = "5"  # the Engine.IO upgrade packet (spec "Upgrade")


class RelayLink(Protocol):
    """What the relays need of the broker (the forwarder's link)."""

    async def publish(self, channel: str, data: bytes) -> int | None:
        """Publish ``data``; the number of subscribers that got it when the broker says."""


class _Outbox:
    """The ordered publishes of one relay to its peer: one task at a time, consecutive
    WebSocket messages batched into one broker message of at most ``batch`` bytes."""

    __slots__ = ("_items", "_relays", "_running", "channel", "on_gone", "pending", "rid")

    def __init__(self, relays: WebSocketRelays, peer: str, rid: int) -> None:
        self._relays = relays
        self.channel = node_channel(relays.channel, peer)
        self.rid = rid
        self._items: deque[tuple[str, str, list[str | bytes], int]] = deque()
        self._running = False
        #: Bytes queued and not yet published.
        self.pending = 0
        #: Called when a publish reached nobody (the peer is gone), failed, or was over the
        #: broker message limit: the relay ends.
        self.on_gone: Callable[[], None] = lambda: None

    def send(self, op: str, message: str | bytes | None = None, sid: str = "") -> None:
        size = relay_size(message) if message is not None else 0
        items = self._items
        last = items[-1] if items else None
        if (
            message is not None
            and last is not None
            and last[0] == op
            and last[3] + size <= self._relays.batch
        ):
            last[2].append(message)
            items[-1] = (op, sid, last[2], last[3] + size)
        else:
            items.append((op, sid, [] if message is None else [message], size))
        self.pending += size
        if not self._running:
            self._running = True
            self._relays.spawn(self._run())

    async def _run(self) -> None:
        relays = self._relays
        try:
            while self._items:
                op, sid, messages, size = self._items.popleft()
                data = encode(RelayMessage(relays.node, self.rid, op, sid, tuple(messages)))
                count: int | None = 0
                if len(data) > relays.max_message_size:  # the peer would drop it unread
                    logger.warning("! a relayed message of %d bytes is over the limit", len(data))
                else:
                    try:
                        count = await relays.link.publish(self.channel, data)
                    except Exception as exc:
                        logger.warning("! relay publish on %s failed: %r", self.channel, exc)
                        count = 0
                self.pending -= size
                if count == 0:
                    self._items.clear()
                    self.pending = 0
                    self.on_gone()
                    return
        finally:
            self._running = False


class _OwnerEnd:
    """The owner's stand-in for a WebSocket that landed on another process: a
    :class:`~engineio_core.aio.session.WebSocketTransport` of the session."""

    __slots__ = ("answered", "closed", "driver", "key", "outbox", "relays")

    def __init__(self, relays: WebSocketRelays, peer: str, rid: int, driver: SessionDriver):
        self.relays = relays
        self.key = (peer, rid)
        self.driver = driver
        self.outbox = _Outbox(relays, peer, rid)
        self.outbox.on_gone = self.peer_closed
        self.closed = False
        self.answered = False  # moved / stay sent

    # -- WebSocketTransport (called by the session driver)

    def write(self, message: str | bytes) -> None:
        if not self.closed:
            self.outbox.send("down", message)

    def close(self) -> None:
        if self.closed:
            return
        self.outbox.send("down-close")
        self._end()
        # A local WebSocket would report its end; the landing process may be gone.
        asyncio.get_running_loop().call_soon(self._report_closed)

    @property
    def backlog(self) -> int:
        return self.outbox.pending

    # -- from the landing process

    def up(self, messages: tuple[str | bytes, ...]) -> None:
        driver = self.driver
        for message in messages:
            if self.closed:
                return
            driver.ws_message(message)
            if not self.answered and driver.ws is self and driver.transport == "websocket":
                self._upgraded()

    def peer_closed(self) -> None:
        if not self.closed:
            self._end()
            self._report_closed()

    # --

    def _upgraded(self) -> None:
        """The client's ``5`` arrived: the session moves if the application never saw it."""
        self.answered = True
        driver = self.driver
        if not driver.held:
            self.outbox.send("stay")
            logger.info("%s: upgraded on a WebSocket relayed from another server", driver.sid)
            return
        held = driver.move_out()
        self._end()
        self.relays.stats.moved_out += 1
        for message in held:  # in as many broker messages as their size needs
            self.outbox.send("held", message)
        self.outbox.send("moved")
        logger.info("%s: session moved to the server its WebSocket landed on", driver.sid)

    def _end(self) -> None:
        self.closed = True
        self.relays.owner_ends.pop(self.key, None)

    def _report_closed(self) -> None:
        if self.driver.ws is self:
            self.driver.ws_closed()


class _LandingEnd:
    """The WebSocket of another process's session, accepted here: a
    :class:`~engineio_core.aio.session.WebSocketTarget` for the front door."""

    __slots__ = (
        "closed",
        "early",
        "heard",
        "held",
        "local",
        "opened",
        "outbox",
        "owner",
        "relays",
        "request",
        "rid",
        "sid",
        "timer",
        "waiting",
        "waiting_bytes",
        "ws",
    )

    def __init__(
        self, relays: WebSocketRelays, owner: str, rid: int, sid: str, request: HTTPRequest
    ) -> None:
        self.relays = relays
        self.owner = owner
        self.rid = rid
        self.sid = sid
        self.request = request
        self.outbox = _Outbox(relays, owner, rid)
        self.outbox.on_gone = self._owner_gone
        self.opened: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.ws: WebSocketTransport | None = None
        self.early: list[str | bytes] = []  # down before the WebSocket was attached
        self.held: list[str | bytes] = []  # what the owner held, when the session moves here
        self.local: SessionDriver | None = None  # the session, once it moved here
        self.waiting: list[str | bytes] | None = None  # client messages after its "5"
        self.waiting_bytes = 0
        self.closed = False
        self.heard = asyncio.get_running_loop().time()
        self.timer: asyncio.TimerHandle | None = None

    # -- WebSocketTarget (called by the front door)

    def attach_websocket(self, ws: WebSocketTransport) -> bool:
        if self.closed:
            return False
        self.ws = ws
        early, self.early = self.early, []
        for message in early:
            ws.write(message)
        self._arm()
        return True

    def ws_message(self, data: str | bytes) -> None:
        if self.local is not None:
            self.local.ws_message(data)
            return
        waiting = self.waiting
        if waiting is not None:  # also while the session moves in (closed by then)
            waiting.append(data)
            self.waiting_bytes += len(data)
            if self.waiting_bytes > self.relays.max_buffer:
                self._overflow("while the owner decides")
            return
        if self.closed:
            return
        self.outbox.send("up", data)
        if data == _UPGRADE:
            self.waiting = []
        if self.outbox.pending > self.relays.max_buffer:
            self._overflow("to the owner")

    def ws_closed(self) -> None:
        if self.local is not None:
            self.local.ws_closed()
            return
        self.ws = None
        if not self.closed:
            self.outbox.send("up-close")
            self._end()

    def handshake_failed(self) -> None:
        self.ws_closed()

    # -- from the owner

    def receive(self, message: RelayMessage) -> None:
        self.heard = asyncio.get_running_loop().time()
        op = message.op
        if op == "down":
            ws = self.ws
            if ws is None:
                self.early.extend(message.messages)
                return
            for data in message.messages:
                ws.write(data)
            if ws.backlog > self.relays.max_buffer:
                self._overflow("to the client")
        elif op in {"opened", "refused"}:
            if not self.opened.done():
                self.opened.set_result(op == "opened")
        elif op == "down-close":
            self._end()
            if self.ws is not None:
                self.ws.close()
        elif op == "stay":
            waiting, self.waiting = self.waiting or [], None
            self.waiting_bytes = 0
            for data in waiting:
                self.outbox.send("up", data)
        elif op == "held":
            self.held.extend(message.messages)
        elif op == "moved":
            self._end()
            held, self.held = self.held, []
            self.relays.spawn(self._move_in(held))

    async def _move_in(self, held: list[str | bytes]) -> None:
        """The session moves here: open it on this WebSocket, then deliver what the owner
        held and what the client sent since its ``5``."""
        ws, server = self.ws, self.relays.server
        if ws is None or server is None:
            return
        driver = await server.adopt(self.sid, self.request, ws, held)
        if driver is None:
            ws.close()
            return
        self.relays.stats.moved_in += 1
        self.local = driver
        waiting, self.waiting = self.waiting or [], None
        for data in waiting:
            driver.ws_message(data)
        if self.ws is None:  # the WebSocket closed while the session was being opened
            driver.ws_closed()

    # --

    def _overflow(self, where: str) -> None:
        logger.info(
            "! %s: relayed WebSocket over %d bytes %s", self.sid, self.relays.max_buffer, where
        )
        self.abandon()
        if self.ws is not None:
            self.ws.close()

    def abandon(self) -> None:
        """Not accepted after all: drop this relay, and the owner's end if it made one."""
        if not self.closed:
            self._end()
            self.outbox.send("up-close")

    def shut(self) -> None:
        """This process stops: close the WebSocket (its client reconnects elsewhere)."""
        self._owner_gone()

    def _owner_gone(self) -> None:
        if not self.opened.done():
            self.opened.set_result(False)
        if not self.closed:
            logger.info("%s: the owner of a relayed WebSocket is gone", self.sid)
            self._end()
            if self.ws is not None:
                self.ws.close()

    def _end(self) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.relays.landing_ends.pop(self.rid, None)

    def _arm(self) -> None:
        if not self.closed:
            at = self.heard + self.relays.idle_timeout
            self.timer = asyncio.get_running_loop().call_at(at, self._check_idle)

    def _check_idle(self) -> None:
        self.timer = None
        if self.closed or self.local is not None:
            return
        if asyncio.get_running_loop().time() - self.heard >= self.relays.idle_timeout:
            logger.info("! %s: nothing from the owner of a relayed WebSocket: closing", self.sid)
            self._owner_gone()
        else:
            self._arm()


@dataclass
class RelayStats:
    """Counters of the WebSocket relays of a process.

    Attributes:
        opened: WebSockets that landed here for another process's session and were accepted.
        refused: ... that the owner did not know or refused (answered 400).
        served: WebSockets relayed for sessions owned here.
        moved_in: sessions that moved here with their WebSocket.
        moved_out: sessions that moved away with theirs.
    """

    opened: int = 0
    refused: int = 0
    served: int = 0
    moved_in: int = 0
    moved_out: int = 0


class WebSocketRelays:
    """Both ends of the relayed WebSockets of one process (see the module docstring).

    Args:
        link: the broker.
        channel: the cluster's channel (each process listens on ``<channel>#fwd#<node>``).
        node: this process's server id.
        spawn: runs a coroutine in a task the owner of this object tracks and cancels.
        max_message_size: the broker message limit (batches stay well under it).
        max_opening: most upgrades for other processes' sessions waiting for their owner's
            answer at once (past it, such an upgrade is answered 400 at once).
        open_timeout: seconds to wait for the owner's answer to ``open``.
    """

    def __init__(
        self,
        link: RelayLink,
        channel: str,
        node: str,
        spawn: Callable[[Awaitable[Any]], None],
        *,
        max_message_size: int,
        max_opening: int = 10_000,
        open_timeout: float = 5.0,
    ) -> None:
        self.link = link
        self.channel = channel
        self.node = node
        self.spawn = spawn
        self.max_message_size = max_message_size
        self.batch = max(1024, max_message_size // 2)
        self.open_timeout = open_timeout
        self.max_opening = max_opening
        self._opening = 0
        self.server: AsyncServer | None = None
        self.max_buffer = 4 * 1024 * 1024
        self.idle_timeout = 45.0
        self.stats = RelayStats()
        self.owner_ends: dict[tuple[str, int], _OwnerEnd] = {}
        self.landing_ends: dict[int, _LandingEnd] = {}
        self._rids = itertools.count(1)

    def bind(self, server: AsyncServer) -> None:
        """Serve relays for ``server``'s sessions and move sessions into it."""
        config = server.session_config
        self.server = server
        self.max_buffer = config.send_buffer_limit
        self.idle_timeout = config.ping_interval + config.ping_timeout

    async def websocket(self, request: HTTPRequest, sid: str) -> WebSocketTarget | None:
        """Ask ``sid``'s owner for its session; the relay to feed the WebSocket to, or None
        (the owner does not know the sid, refuses the upgrade, or does not answer)."""
        owner = sid_owner(sid)
        if owner is None or owner == self.node:
            return None
        if self._opening >= self.max_opening:
            self.stats.refused += 1
            logger.warning("! %d upgrades wait for their owners: %s refused", self._opening, sid)
            return None
        rid = next(self._rids)
        end = _LandingEnd(self, owner, rid, sid, request)
        self.landing_ends[rid] = end
        end.outbox.send("open", sid=sid)
        self._opening += 1
        try:
            accepted = await asyncio.wait_for(asyncio.shield(end.opened), self.open_timeout)
        except TimeoutError:
            accepted = False
        except BaseException:  # cancelled: the client went away
            end.abandon()
            raise
        finally:
            self._opening -= 1
        if not accepted:
            end.abandon()
            self.stats.refused += 1
            logger.info("! WebSocket for %s: its owner %s does not take it", sid, owner)
            return None
        self.stats.opened += 1
        return end

    def receive(self, message: RelayMessage) -> None:
        """One relay message from this process's channel."""
        op = message.op
        if op == "open":
            self._open(message.sender, message.rid, message.sid)
        elif op in {"up", "up-close"}:
            owner_end = self.owner_ends.get((message.sender, message.rid))
            if owner_end is None:
                return
            if op == "up":
                owner_end.up(message.messages)
            else:
                owner_end.peer_closed()
        else:
            landing_end = self.landing_ends.get(message.rid)
            if landing_end is not None and landing_end.owner == message.sender:
                landing_end.receive(message)

    def _open(self, peer: str, rid: int, sid: str) -> None:
        server = self.server
        driver = server.sessions.get(Sid(sid)) if server is not None else None
        end = _OwnerEnd(self, peer, rid, driver) if driver is not None else None
        if end is None or driver is None or not driver.attach_websocket(end, remote=True):
            logger.info("! a relayed WebSocket for %s refused", sid)
            _Outbox(self, peer, rid).send("refused")
            return
        self.stats.served += 1
        self.owner_ends[end.key] = end
        end.outbox.send("opened")

    def close_all(self) -> None:
        """Close every relayed WebSocket (the process stops)."""
        for landing_end in list(self.landing_ends.values()):
            landing_end.shut()
        for owner_end in list(self.owner_ends.values()):
            owner_end.peer_closed()
