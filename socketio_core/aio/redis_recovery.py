"""Connection state recovery in Redis: a client recovers on any server process of a cluster.

Theory of operation
-------------------
``AsyncRedisManager(...)`` with ``connection_state_recovery`` on keeps, in the Redis server
it already uses (keys prefixed ``{channel}:recovery:``):

* ``...:log``, a Redis *stream*, the cluster's packet log: each recorded packet is one entry
  (fields ``o`` offset, ``t`` target, ``m`` encoded messages). Entries are added in order by a
  single writer task per process (pipelined), trimmed to ``max_log_packets`` (``MAXLEN ~``) and
  to twice the window (``MINID``), so the log is bounded in count and in time;
* ``...:s:{pid}``, one key per disconnected session (JSON: sid, namespace, rooms, the
  application's state, its ``since`` and deadline), with a TTL of the window: Redis forgets it
  when the window ends.

A restore is ``GETDEL`` on the session key (exactly once across the cluster: two processes
cannot both take it), then ``XRANGE`` from the session's connection time; the client's offset
must be an entry addressed to that session (as :class:`~socketio_core.recovery.RecoveryStore`
checks in memory); the entries after it that reach the session are the missed packets. A
refused offset puts the session back (with its remaining TTL), so that a forged CONNECT cannot
destroy it.

Offsets are ``{epoch}{counter}``, made at the emit by the emitting process (``epoch`` is
unique per process), so an emit is encoded at once and then published as usual. The log's
order is the order of arrival in Redis; for packets emitted by one process, their order.

The session's state (``session`` and ``data``) must be JSON-serialisable to cross processes;
a socket whose state is not is not kept (one log line). Limits: the same options as in
memory; a session that missed more than ``max_session_packets`` / ``max_session_bytes`` is
not recovered.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..broadcast import BroadcastTarget
from ..recovery import (
    INVALID,
    TOO_MANY,
    UNKNOWN_OFFSET,
    UNKNOWN_PID,
    RecoveryOptions,
    Refused,
    Restored,
    SessionRecord,
    reaches,
)

__all__ = ["RedisRecovery"]

logger = logging.getLogger(__name__)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _pack_messages(messages: Sequence[str | bytes]) -> str:
    return json.dumps(
        [m if isinstance(m, str) else {"b": base64.b64encode(m).decode()} for m in messages],
        separators=(",", ":"),
    )


def _unpack_messages(raw: Any) -> list[str | bytes]:
    out: list[str | bytes] = []
    for item in json.loads(raw):
        out.append(item if isinstance(item, str) else base64.b64decode(item["b"]))
    return out


class RedisRecovery:
    """The Redis backend of connection state recovery; see the module docstring.

    Args:
        client: a ``redis.asyncio.Redis`` client (its own connection pool).
        prefix: the key prefix.
        options: the window and the bounds.
        epoch: this process's offset prefix.
    """

    def __init__(self, client: Any, prefix: str, options: RecoveryOptions, epoch: str) -> None:
        self.options = options
        self.client = client
        self.prefix = prefix
        self.epoch = epoch
        self.log_key = f"{prefix}:log"
        self._seq = 0
        self._pending: list[dict[str, str]] = []
        self._writer: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def _session_key(self, pid: str) -> str:
        return f"{self.prefix}:s:{pid}"

    # -- the seam ------------------------------------------------------------------------------

    def record(
        self, target: BroadcastTarget, encode: Callable[[str], Sequence[str | bytes]]
    ) -> Sequence[str | bytes]:
        offset = f"{self.epoch}{self._seq:x}"
        self._seq += 1
        messages = encode(offset)
        self._pending.append(
            {
                "o": offset,
                "t": json.dumps(target.to_wire(), separators=(",", ":")),
                "m": _pack_messages(messages),
            }
        )
        if self._writer is None or self._writer.done():
            self._idle.clear()
            self._writer = asyncio.get_running_loop().create_task(self._write())
        return messages

    def head(self) -> int:
        return _now_ms()

    async def flush(self) -> None:
        """Wait until every packet recorded so far is in Redis."""
        await self._idle.wait()

    async def persist(self, session: SessionRecord) -> None:
        window_ms = int(self.options.max_disconnection_duration * 1000)
        try:
            raw = json.dumps(
                {
                    "sid": session.sid,
                    "ns": session.namespace,
                    "rooms": list(session.rooms),
                    "state": session.state,
                    "since": session.since,
                    "deadline": _now_ms() + window_ms,
                },
                separators=(",", ":"),
            )
        except (TypeError, ValueError) as exc:
            logger.info("! recovery: %s not kept: its state is not JSON (%s)", session.sid, exc)
            return
        try:
            await self.client.set(self._session_key(session.pid), raw, px=window_ms)
        except Exception as exc:  # the broker is away: the session is lost, not the server
            logger.info("! recovery: %s not kept: %s", session.sid, exc)

    async def restore(self, namespace: str, pid: Any, offset: Any) -> Restored | Refused:
        if not isinstance(pid, str) or not (offset is None or isinstance(offset, str)):
            return Refused(INVALID)
        if len(pid) > 64 or (offset is not None and len(offset) > 64):
            return Refused(INVALID)
        await self.flush()
        key = self._session_key(pid)
        try:
            raw = await self.client.getdel(key)
            if raw is None:
                return Refused(UNKNOWN_PID)
            fields = json.loads(raw)
            session = SessionRecord(
                str(fields["sid"]),
                pid,
                str(fields["ns"]),
                tuple(str(r) for r in fields["rooms"]),
                dict(fields["state"]),
                int(fields["since"]),
            )
            deadline = int(fields["deadline"])
        except Exception as exc:
            logger.info("! recovery: session %s unreadable: %s", pid, type(exc).__name__)
            return Refused(UNKNOWN_PID)
        if session.namespace != namespace:
            await self._put_back(key, raw, deadline)
            return Refused(UNKNOWN_PID)
        try:
            result = await self._missed(session, offset)
        except Exception as exc:
            logger.info("! recovery: log unreadable: %s", type(exc).__name__)
            result = Refused(UNKNOWN_OFFSET)
        if isinstance(result, Refused):
            await self._put_back(key, raw, deadline)
        return result

    async def close(self) -> None:
        if self._writer is not None and not self._writer.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), 5.0)
            except Exception:
                self._writer.cancel()
        self._writer = None
        await self.client.aclose()

    # -- internals -----------------------------------------------------------------------------

    async def _missed(self, session: SessionRecord, offset: str | None) -> Restored | Refused:
        options = self.options
        entries = await self.client.xrange(
            self.log_key, min=f"{session.since}-0", max="+", count=options.max_log_packets
        )
        missed: list[Sequence[str | bytes]] = []
        size = 0
        found = offset is None
        for _, fields in entries:
            entry_offset = _text(fields.get(b"o"))
            target = BroadcastTarget.from_wire(json.loads(fields[b"t"]))
            if not found:
                if entry_offset == offset:
                    if not reaches(target, session):
                        return Refused(UNKNOWN_OFFSET)  # a packet this session never had
                    found = True
                continue
            if reaches(target, session):
                messages = _unpack_messages(fields[b"m"])
                missed.append(messages)
                size += sum(len(m) for m in messages) + 64
                if len(missed) > options.max_session_packets or size > options.max_session_bytes:
                    return Refused(TOO_MANY)
        if not found:
            return Refused(UNKNOWN_OFFSET)
        return Restored(session, missed)

    async def _put_back(self, key: str, raw: Any, deadline: int) -> None:
        left = deadline - _now_ms()
        if left > 0:
            try:
                await self.client.set(key, raw, px=left, nx=True)
            except Exception as exc:
                logger.info("! recovery: session not put back: %s", exc)

    async def _write(self) -> None:
        options = self.options
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                keep_ms = int(2 * options.max_disconnection_duration * 1000)
                async with self.client.pipeline(transaction=False) as pipe:
                    for fields in batch:
                        pipe.xadd(
                            self.log_key, fields, maxlen=options.max_log_packets, approximate=True
                        )
                    pipe.xtrim(self.log_key, minid=f"{_now_ms() - keep_ms}-0", approximate=True)
                    pipe.pexpire(self.log_key, keep_ms)
                    await pipe.execute()
        except Exception as exc:  # the broker is away: these packets cannot be replayed
            logger.info("! recovery: %d packet(s) not logged: %s", len(self._pending), exc)
            self._pending.clear()
        finally:
            self._idle.set()


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
