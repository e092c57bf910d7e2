"""Connection state recovery, sans-I/O: disconnected sessions and the packets they missed.

Theory of operation
-------------------
Node's socket.io 4.6+ ``connectionStateRecovery``, on the wire exactly as Node's server does
it: while it is on, every event packet a broadcast or a targeted emit sends (not volatile,
without an ack) carries an *offset* string as its last argument; the CONNECT reply is
``{"sid": ..., "pid": ...}``; a client that comes back sends ``{"pid": ..., "offset": ...}``
in its CONNECT payload (merged with its ``auth``).

:class:`RecoveryStore` keeps, for one server process (or, later, one shared store):

* a *log* of the recorded packets, in order, each with its target (namespace, rooms,
  except rooms, skipped sids), its encoded messages and the time it was emitted; bounded in
  count and bytes (``max_log_packets``, ``max_log_bytes``: the oldest go first);
* the *sessions* of sockets that left abnormally (transport close or error, ping timeout):
  sid, pid, namespace, rooms, the application's state, and ``since``, the log position of the
  socket's first connection. Each has a deadline, ``max_disconnection_duration`` after the
  disconnect; bounded in count (``max_sessions``); and each counts the packets and bytes
  addressed to it while it is away (``max_session_packets``, ``max_session_bytes``): past
  either, the session is dropped (it could not be replayed whole).

:meth:`RecoveryStore.restore` takes a pid and the client's last offset and returns a
:class:`Restored` (the session, and the messages of every packet after that offset that was
addressed to it, in order) or a :class:`Refused` with the reason. The offset must be one the
store still has, at or after the session's ``since``, and of a packet addressed to that
session: a forged, too old, negative or huge offset, or one of another session, is refused
and nothing is replayed. A restored session leaves the store (exactly once); its socket,
connected again, is persisted again if it drops again, with the same ``since``.

No clock, no randomness: ``now`` comes in, ``next_deadline()`` goes out, offsets are
``epoch`` (given) + a counter.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "RECOVERABLE_REASONS",
    "RecoveryOptions",
    "RecoveryStore",
    "Refused",
    "Restored",
    "SessionRecord",
    "reaches",
]

logger = logging.getLogger(__name__)

#: Disconnect reasons after which a session is kept (Node's ``RECOVERABLE_DISCONNECT_REASONS``):
#: the transport went away; never a deliberate disconnect by either side.
RECOVERABLE_REASONS: Final = frozenset(
    {"transport close", "transport error", "ping timeout", "forced close"}
)

#: Why a restore was refused (``Refused.reason``).
UNKNOWN_PID: Final = "unknown pid"
EXPIRED: Final = "expired"
UNKNOWN_OFFSET: Final = "unknown offset"
INVALID: Final = "invalid pid or offset"
TOO_MANY: Final = "too many missed packets"


@dataclass(frozen=True, slots=True)
class RecoveryOptions:
    """The ``connection_state_recovery`` option (Node's names in snake case), with bounds.

    Attributes:
        max_disconnection_duration: seconds a session is kept after an abnormal disconnect.
        skip_middlewares: a recovered socket skips the connection middlewares.
        max_sessions: disconnected sessions kept at once (the oldest is dropped past it).
        max_session_packets / max_session_bytes: packets and bytes addressed to one session
            while it is away; past either the session is dropped.
        max_log_packets / max_log_bytes: the whole packet log.
    """

    max_disconnection_duration: float = 120.0
    skip_middlewares: bool = True
    max_sessions: int = 100_000
    max_session_packets: int = 10_000
    max_session_bytes: int = 8 * 1024 * 1024
    max_log_packets: int = 100_000
    max_log_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_disconnection_duration <= 0:
            raise ValueError("max_disconnection_duration must be > 0")
        for name in (
            "max_sessions",
            "max_session_packets",
            "max_session_bytes",
            "max_log_packets",
            "max_log_bytes",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")

    @classmethod
    def from_option(
        cls, value: bool | dict[str, Any] | RecoveryOptions | None
    ) -> RecoveryOptions | None:
        """The option as given to the server: None/False (off), True (defaults), a dict.

        Node's camelCase keys (``maxDisconnectionDuration`` in milliseconds,
        ``skipMiddlewares``) are accepted too.

        Raises:
            ValueError: an unknown key or a bad value.
        """
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, RecoveryOptions):
            return value
        if not isinstance(value, dict):
            raise ValueError("connection_state_recovery must be a bool or a dict")
        options = dict(value)
        if "maxDisconnectionDuration" in options:
            options["max_disconnection_duration"] = options.pop("maxDisconnectionDuration") / 1000
        if "skipMiddlewares" in options:
            options["skip_middlewares"] = options.pop("skipMiddlewares")
        unknown = set(options) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown connection_state_recovery option {sorted(unknown)[0]!r}")
        return cls(**options)


@dataclass(slots=True)
class SessionRecord:
    """What is kept of a socket that left abnormally.

    Attributes:
        sid / pid / namespace: the socket's ids.
        rooms: the rooms it was in (its own sid included).
        state: the application's state (session, data...), kept as is.
        since: the log position of the socket's first connection.
    """

    sid: str
    pid: str
    namespace: str
    rooms: tuple[str, ...]
    state: dict[str, Any]
    since: int
    deadline: float = 0.0
    packets: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class Restored:
    """A session restored: its record, and the messages of each packet it missed, in order."""

    session: SessionRecord
    missed: list[Sequence[str | bytes]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Refused:
    """No recovery: ``reason`` is one of ``unknown pid``, ``expired``, ``unknown offset``,
    ``invalid pid or offset``."""

    reason: str


class _Entry:
    """One recorded packet: its target (tuples, as given) and its encoded messages."""

    __slots__ = (
        "emitted_at",
        "except_rooms",
        "messages",
        "namespace",
        "offset",
        "rooms",
        "seq",
        "size",
        "skip",
    )

    def __init__(
        self,
        seq: int,
        offset: str,
        namespace: str,
        rooms: Sequence[str] | None,
        except_rooms: Sequence[str],
        skip: Sequence[str],
        messages: Sequence[str | bytes],
        size: int,
        emitted_at: float,
    ) -> None:
        self.seq = seq
        self.offset = offset
        self.namespace = namespace
        self.rooms = rooms
        self.except_rooms = except_rooms
        self.skip = skip
        self.messages = messages
        self.size = size
        self.emitted_at = emitted_at

    def reaches(self, session: SessionRecord) -> bool:
        return reaches(self, session)


def reaches(target: Any, session: SessionRecord) -> bool:
    """Whether a packet sent to ``target`` (a :class:`~socketio_core.broadcast.BroadcastTarget`)
    reaches ``session`` (by its rooms, its own sid included), as Node's
    ``shouldIncludePacket``."""
    if target.namespace != session.namespace or session.sid in target.skip:
        return False
    rooms = session.rooms
    if target.except_rooms and any(room in target.except_rooms for room in rooms):
        return False
    return target.rooms is None or any(room in target.rooms for room in rooms)


class RecoveryStore:
    """The disconnected sessions and the packet log of one process; see the module doc.

    Args:
        options: the bounds and the window.
        epoch: the prefix of every offset (unique per store: a restart's offsets never match
            the previous run's).
    """

    def __init__(self, options: RecoveryOptions, epoch: str) -> None:
        self.options = options
        self.epoch = epoch
        self._log: deque[_Entry] = deque()
        self._log_bytes = 0
        self._next_seq = 0
        self._sessions: dict[str, SessionRecord] = {}  # pid -> record, in disconnect order

    # -- queries -------------------------------------------------------------------------------

    @property
    def head(self) -> int:
        """The log position of the next packet (a new socket's ``since``)."""
        return self._next_seq

    @property
    def session_count(self) -> int:
        """How many disconnected sessions are kept."""
        return len(self._sessions)

    @property
    def log_size(self) -> tuple[int, int]:
        """The log's packets and bytes."""
        return len(self._log), self._log_bytes

    def pids(self) -> list[str]:
        """The pids of the disconnected sessions, oldest first."""
        return list(self._sessions)

    def next_deadline(self) -> float | None:
        """When :meth:`on_timer` must next be called (a session or a packet expires)."""
        window = self.options.max_disconnection_duration
        when: float | None = None
        if self._sessions:
            when = next(iter(self._sessions.values())).deadline
        if self._log:
            expiry = self._log[0].emitted_at + window
            # A packet kept for a session still away goes when that session goes.
            if when is None or expiry <= when - window:
                when = expiry if when is None else min(when, expiry)
        return when

    # -- input ---------------------------------------------------------------------------------

    def record(
        self,
        namespace: str,
        rooms: Sequence[str] | None,
        except_rooms: Sequence[str],
        skip: Sequence[str],
        now: float,
        encode: Callable[[str], Sequence[str | bytes]],
    ) -> Sequence[str | bytes]:
        """Give the next packet an offset, keep it, and return its encoded messages.

        Args:
            namespace / rooms / except_rooms / skip: the packet's target (None: everybody);
                kept as given (tuples: they must not change afterwards).
            now: the current time.
            encode: makes the messages of the packet given its offset (the last argument).
        """
        seq = self._next_seq
        self._next_seq = seq + 1
        offset = f"{self.epoch}{seq:x}"
        messages = encode(offset)
        size = 64
        for message in messages:
            size += len(message)
        entry = _Entry(seq, offset, namespace, rooms, except_rooms, skip, messages, size, now)
        log = self._log
        log.append(entry)
        self._log_bytes += size
        options = self.options
        while len(log) > options.max_log_packets or self._log_bytes > options.max_log_bytes:
            self._log_bytes -= log.popleft().size
        if self._sessions:
            self._count(entry)
        return messages

    def persist(self, session: SessionRecord, now: float) -> None:
        """Keep a socket that left abnormally, until ``now`` + the window."""
        session.deadline = now + self.options.max_disconnection_duration
        session.packets = session.bytes = 0
        self._sessions.pop(session.pid, None)
        self._sessions[session.pid] = session
        while len(self._sessions) > self.options.max_sessions:
            pid = next(iter(self._sessions))
            del self._sessions[pid]
            logger.info("! recovery: session store full; oldest session dropped")

    def restore(self, namespace: str, pid: Any, offset: Any, now: float) -> Restored | Refused:
        """Take back the session ``pid`` and the packets it missed after ``offset``.

        ``offset`` None means "no packet received since the connection" (Node's client then
        omits it): everything since the session's ``since`` is replayed. Never raises.
        """
        if not isinstance(pid, str) or not (offset is None or isinstance(offset, str)):
            return Refused(INVALID)
        session = self._sessions.get(pid)
        if session is None or session.namespace != namespace:
            return Refused(UNKNOWN_PID)
        if session.deadline <= now:
            del self._sessions[pid]
            return Refused(EXPIRED)
        log = self._log
        first = log[0].seq if log else self._next_seq
        if offset is None:
            start = session.since
        else:
            seq = self._parse(offset)
            if seq is None or seq < first or seq >= self._next_seq or seq < session.since:
                return Refused(UNKNOWN_OFFSET)
            if not log[seq - first].reaches(session):
                return Refused(UNKNOWN_OFFSET)  # a packet this session never had
            start = seq + 1
        if start < first:
            return Refused(UNKNOWN_OFFSET)  # packets it may have missed are gone
        del self._sessions[pid]
        missed = [
            entry.messages
            for i in range(start - first, len(log))
            if (entry := log[i]).reaches(session)
        ]
        return Restored(session, missed)

    def on_timer(self, now: float) -> None:
        """Drop the sessions whose window is over, and the packets nobody can need."""
        sessions = self._sessions
        while sessions:
            pid, session = next(iter(sessions.items()))
            if session.deadline > now:
                break
            del sessions[pid]
        if not sessions:
            self._sessions = sessions = {}  # a dict never shrinks: give its table back
        # A packet is needed by a session disconnected within the window of its emission
        # (its client may have lost it in flight): keep it while such a session may exist.
        window = self.options.max_disconnection_duration
        # Sessions are kept in disconnect order, with one window: the first is the oldest.
        limit = now if not sessions else min(now, next(iter(sessions.values())).deadline - window)
        log = self._log
        while log and log[0].emitted_at + window <= limit:
            self._log_bytes -= log.popleft().size
        if not log:
            self._log_bytes = 0

    # -- internals -----------------------------------------------------------------------------

    def _parse(self, offset: str) -> int | None:
        epoch = self.epoch
        if not offset.startswith(epoch) or len(offset) > len(epoch) + 16:
            return None
        digits = offset[len(epoch) :]
        if not digits or any(c not in "0123456789abcdef" for c in digits):
            return None
        return int(digits, 16)

    def _count(self, entry: _Entry) -> None:
        options = self.options
        dropped = []
        for pid, session in self._sessions.items():
            if entry.reaches(session):
                session.packets += 1
                session.bytes += entry.size
                if (
                    session.packets > options.max_session_packets
                    or session.bytes > options.max_session_bytes
                ):
                    dropped.append(pid)
        for pid in dropped:
            del self._sessions[pid]
            logger.info("! recovery: a session missed too much while away; dropped")
