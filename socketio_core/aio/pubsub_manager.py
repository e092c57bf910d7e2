"""The base of the managers that join several server processes through a message broker.

:class:`AsyncPubSubManager` applies each cluster operation (emit, rooms, disconnects,
``fetch_sockets``, acks, server-side events) to the local sockets with ``super()`` and
publishes it for the other processes; it applies what the other processes publish, and answers
their requests. The broker side (connections, reconnecting with backoff, membership, request
bookkeeping, and the promise made when the broker goes away) is in
:mod:`socketio_core.aio.pubsub_link`; the wire format in :mod:`socketio_core.pubsub`.

python-socketio's write-only managers (5.14+, JSON) publish on the same default channel
(``"socketio"``): their messages are applied too (:mod:`socketio_core.pysocketio_wire`).

Acks across processes: an emit with acks is published as ``emit_ack``; each server answers
with the number of its recipients (``ack_count``), then relays each recipient's ack (``ack``)
as it comes. ``call``/``emit(callback=)`` to a sid that is not local ask only the server that
has that socket (``sid_only``), and fail with ``NotConnected`` when every server said it has
none.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..args import ack_value
from ..exceptions import AckTimeout, LocalProtocolError, NotConnected
from ..parsers import JsonParser
from ..pubsub import ClusterMessage, Rejected, Target, build_emit
from ..pysocketio_wire import decode_pysocketio
from .manager import BroadcastTarget, SocketInfo
from .pubsub_link import ClusterList, PendingRequest, PubSubLink, PubSubStats
from .pysocketio_bridge import apply_pysocketio, looks_like_pysocketio

__all__ = ["AsyncPubSubManager", "ClusterList", "PubSubStats"]

logger = logging.getLogger(__name__)

ServerHandler = Callable[..., Any]


def _broadcast_target(target: Target) -> BroadcastTarget:
    """An operation received from another process: applied to this process only."""
    return target.with_flags(local=True)


def _wire_target(target: BroadcastTarget) -> Target:
    """The wire carries the broadcast value itself (``local`` is not published)."""
    return target


class AsyncPubSubManager(PubSubLink):
    """A manager that shares the sockets of several processes through a broker channel.

    Subclasses implement the broker seam of :class:`~socketio_core.aio.pubsub_link.PubSubLink`
    (:meth:`_connect_publisher`, :meth:`_publish`, :meth:`_reset_publisher`,
    :meth:`_subscribe`, :meth:`_close`); see it for the constructor's arguments.
    """

    name = "pubsub"
    cluster = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._server_handlers: dict[str, ServerHandler] = {}

    async def _on_data(self, data: bytes) -> None:
        """python-socketio's JSON messages (its write-only managers) are taken too."""
        if not looks_like_pysocketio(data):
            await super()._on_data(data)
            return
        message = decode_pysocketio(data, max_size=self.max_message_size)
        if isinstance(message, Rejected):
            self.stats.rejected += 1
            logger.warning("! %s: dropped a python-socketio message: %s", self.name, message.reason)
        elif message is not None and self._server is not None:
            self.stats.received += 1
            await apply_pysocketio(self, message)

    async def _apply(self, message: ClusterMessage) -> None:
        kind, uid, fields = message.kind, message.uid, message.fields
        if kind == "emit":
            await super().emit(_broadcast_target(fields["target"]), fields["messages"])
        elif kind == "sockets_join":
            await super().sockets_join(_broadcast_target(fields["target"]), fields["rooms"])
        elif kind == "sockets_leave":
            await super().sockets_leave(_broadcast_target(fields["target"]), fields["rooms"])
        elif kind == "disconnect_sockets":
            target = _broadcast_target(fields["target"])
            await super().disconnect_sockets(target, close=fields["close"])
        elif kind == "fetch_sockets":
            await self._answer_fetch(uid, fields["rid"], _broadcast_target(fields["target"]))
        elif kind == "emit_ack":
            await self._answer_emit_ack(message)
        elif kind == "server_side_emit":
            self._spawn(
                self._answer_server_side(uid, fields["event"], fields["args"], fields["rid"])
            )

    # ------------------------------------------------------------------ answers

    async def _answer_fetch(self, origin: str, rid: str, target: BroadcastTarget) -> None:
        sockets = [
            {
                "id": info.id,
                "nsp": info.namespace,
                "rooms": list(info.rooms),
                "data": info.data,
                "handshake": info.handshake,
            }
            for info in await super().fetch_sockets(target)
        ]
        reply = ClusterMessage(
            "fetch_sockets_response", self.uid, {"rid": rid, "sockets": sockets}, origin
        )
        try:
            await self.publish(reply)
        except LocalProtocolError:
            logger.error("! %s: socket data cannot be encoded; sent without it", self.name)
            for item in sockets:
                item["data"] = {}
            await self._publish_quietly(reply)

    async def _answer_emit_ack(self, message: ClusterMessage) -> None:
        fields, origin = message.fields, message.uid
        target = _broadcast_target(fields["target"])
        rid = fields["rid"]
        if fields["sid_only"]:
            sids = [s for s in target.rooms or () if self.is_connected(target.namespace, s)][:1]
        else:
            sids = self.select(target)

        def relay(sid: str, data: list[Any]) -> None:
            ack = ClusterMessage("ack", self.uid, {"rid": rid, "sid": sid, "args": data}, origin)
            self._spawn(self._publish_quietly(ack))

        count = ClusterMessage("ack_count", self.uid, {"rid": rid, "count": len(sids)}, origin)
        await self._publish_quietly(count)
        self.server.emit_for_acks(
            target.namespace, sids, fields["event"], fields["args"], fields["timeout"], relay
        )

    async def _answer_server_side(
        self, origin: str, event: str, args: list[Any], rid: str | None
    ) -> None:
        handler = self._server_handlers.get(event)
        if handler is None:
            logger.debug("< %s: no server-side handler for %r", self.name, event)
            return
        try:
            result = handler(*args)
            if inspect.isawaitable(result):
                result = await result
        except Exception:
            logger.error("! server-side handler for %r failed", event, exc_info=True)
            return
        if rid is not None:
            answer = list(result) if isinstance(result, tuple) else [result]
            fields = {"rid": rid, "args": answer}
            await self._publish_quietly(
                ClusterMessage("server_side_response", self.uid, fields, origin)
            )

    # ------------------------------------------------------- cluster operations

    async def emit(self, target: BroadcastTarget, messages: Sequence[str | bytes]) -> int:
        """Send to the selected local sockets, and publish for the other processes."""
        count = await super().emit(target, messages) if self._server is not None else 0
        if not target.local:
            fields = {"target": _wire_target(target), "messages": list(messages)}
            await self.publish(ClusterMessage("emit", self.uid, fields))
        return count

    async def emit_event(
        self,
        event: str,
        data: Any = None,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: str | None = None,
        *,
        except_rooms: Iterable[str] = (),
        volatile: bool = False,
    ) -> None:
        """Emit an event cluster-wide without a server: what a write-only manager is for.

        The arguments are :meth:`AsyncServer.emit`'s (python-socketio's ``data`` convention).
        """
        parser = self._server.parser if self._server is not None else self.parser
        message = build_emit(
            self.uid,
            event,
            data,
            to=to if to is not None else room,
            namespace=namespace,
            skip_sid=skip_sid,
            except_rooms=tuple(except_rooms),
            volatile=volatile,
            parser=parser or JsonParser(),
        )
        await self.emit(message.fields["target"], message.fields["messages"])

    async def enter_room(self, namespace: str, sid: str, room: str) -> None:
        """Add a socket of any process to a room."""
        if self.is_connected(namespace, sid):
            await super().enter_room(namespace, sid, room)
        else:
            await self.sockets_join(BroadcastTarget(namespace, (sid,)), [room])

    async def leave_room(self, namespace: str, sid: str, room: str) -> None:
        """Remove a socket of any process from a room."""
        if self.is_connected(namespace, sid):
            await super().leave_room(namespace, sid, room)
        else:
            await self.sockets_leave(BroadcastTarget(namespace, (sid,)), [room])

    async def close_room(self, namespace: str, room: str) -> None:
        """Remove every socket of the cluster from a room."""
        if self._server is not None:
            await super().close_room(namespace, room)
        target = Target(namespace, (room,))
        await self.publish(
            ClusterMessage("sockets_leave", self.uid, {"target": target, "rooms": [room]})
        )

    async def sockets_join(self, target: BroadcastTarget, rooms: Iterable[str]) -> None:
        """Make every selected socket of the cluster join ``rooms``."""
        names = list(rooms)
        if self._server is not None:
            await super().sockets_join(target, names)
        if not target.local:
            fields = {"target": _wire_target(target), "rooms": names}
            await self.publish(ClusterMessage("sockets_join", self.uid, fields))

    async def sockets_leave(self, target: BroadcastTarget, rooms: Iterable[str]) -> None:
        """Make every selected socket of the cluster leave ``rooms``."""
        names = list(rooms)
        if self._server is not None:
            await super().sockets_leave(target, names)
        if not target.local:
            fields = {"target": _wire_target(target), "rooms": names}
            await self.publish(ClusterMessage("sockets_leave", self.uid, fields))

    async def disconnect_sockets(self, target: BroadcastTarget, *, close: bool = False) -> None:
        """Disconnect every selected socket of the cluster."""
        if self._server is not None:
            await super().disconnect_sockets(target, close=close)
        if not target.local:
            fields = {"target": _wire_target(target), "close": close}
            await self.publish(ClusterMessage("disconnect_sockets", self.uid, fields))

    async def fetch_sockets(
        self, target: BroadcastTarget, *, timeout: float = 5.0
    ) -> ClusterList[SocketInfo]:
        """Describe every selected socket of the cluster.

        Returns:
            The sockets of this process and of every peer that answered within ``timeout``;
            ``missing`` names the peers that did not (a WARNING is logged).
        """
        local = await super().fetch_sockets(target, timeout=timeout)
        if target.local:
            return ClusterList(local)
        request = await self._request("fetch_sockets", {"target": _wire_target(target)}, timeout)
        items = list(local)
        for sockets in request.replies.values():
            items.extend(
                SocketInfo(s["id"], s["nsp"], tuple(s["rooms"]), s["data"], s["handshake"])
                for s in sockets
            )
        missing = request.missing()
        if missing:
            logger.warning(
                "! %s: fetch_sockets: no answer within %ss from %s",
                self.name,
                timeout,
                ", ".join(sorted(missing)),
            )
        return ClusterList(items, missing)

    async def _ack_request(
        self, target: BroadcastTarget, event: str, args: list[Any], timeout: float, sid_only: bool
    ) -> PendingRequest:
        fields = {
            "target": _wire_target(target),
            "event": event,
            "args": args,
            "timeout": timeout,
            "sid_only": sid_only,
        }
        return await self._request("emit_ack", fields, timeout, acking=True)

    async def broadcast_with_acks(
        self, target: BroadcastTarget, event: str, args: list[Any], timeout: float
    ) -> Any:
        """Emit with acks to every selected socket of the cluster; responses by sid.

        Returns:
            A dict of responses by sid, or :exc:`AckTimeout` carrying the partial responses and
            naming the servers that did not answer.
        """
        if target.local:
            return await super().broadcast_with_acks(target, event, args, timeout)
        local_task = asyncio.ensure_future(
            super().broadcast_with_acks(target, event, args, timeout)
        )
        try:
            request = await self._ack_request(target, event, args, timeout, False)
        finally:
            local = await local_task
        responses = dict(local.responses if isinstance(local, AckTimeout) else local)
        for sid, data in request.acks.items():
            responses[sid] = ack_value(data)
        missing = request.missing()
        if isinstance(local, AckTimeout) or missing or request.short():
            servers = (
                f"; servers that did not answer: {', '.join(sorted(missing))}" if missing else ""
            )
            return AckTimeout(f"not every client acked within {timeout}s{servers}", responses)
        return responses

    async def call_socket(
        self, namespace: str, sid: str, event: str, args: list[Any], timeout: float
    ) -> list[Any]:
        """Emit to a socket of another process and wait for its ack.

        Returns:
            The ack's arguments.

        Raises:
            NotConnected: no server of the cluster has that socket.
            AckTimeout: no ack within ``timeout`` (or a server did not answer).
        """
        target = BroadcastTarget(namespace, (sid,))
        request = await self._ack_request(target, event, args, timeout, True)
        if sid in request.acks:
            return request.acks[sid]
        if any(request.counts.values()) or request.missing():
            raise AckTimeout(f"no ack from {sid} within {timeout}s")
        raise NotConnected(f"{sid} is not connected to any server of the cluster")

    # ------------------------------------------------------ server-side events

    def on_server_event(self, event: str, handler: ServerHandler | None = None) -> Any:
        """Register a handler for :meth:`server_side_emit` of other servers (a decorator too).

        ``handler(*args)`` (sync or async) returns the answer to a :meth:`server_side_call`.
        """

        def register(func: ServerHandler) -> ServerHandler:
            self._server_handlers[event] = func
            return func

        return register if handler is None else register(handler)

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send an event to every other server of the cluster (Node's ``serverSideEmit``)."""
        fields = {"event": event, "args": list(args), "rid": None}
        await self.publish(ClusterMessage("server_side_emit", self.uid, fields))

    async def server_side_call(
        self, event: str, *args: Any, timeout: float = 5.0
    ) -> ClusterList[Any]:
        """Send an event to every other server and gather their answers.

        Returns:
            One answer per server that answered within ``timeout``; ``missing`` names the
            others.
        """
        request = await self._request(
            "server_side_emit", {"event": event, "args": list(args)}, timeout
        )
        answers = [ack_value(data) for data in request.replies.values()]
        return ClusterList(answers, request.missing())
