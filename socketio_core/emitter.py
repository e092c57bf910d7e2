"""A blocking, write-only emitter: reach the clients of a cluster from any Python program.

Node's ``@socket.io/redis-emitter`` for Python: a script, a cron job or a WSGI view (no event
loop needed) publishes cluster messages on the channel the servers' pub/sub managers listen
to. The messages are built and encoded by :mod:`socketio_core.pubsub`, exactly as a server
publishes them, so the servers cannot tell an emitter from a peer (except that an emitter never
announces itself, so nobody waits for it).

Example::

    emitter = Emitter.redis("redis://127.0.0.1:6379/0")
    emitter.emit("news", {"title": "..."}, to="room1")
    emitter.close()

Any transport works: ``Emitter(publish)`` takes a callable that publishes bytes on the
channel. For RabbitMQ, run ``AsyncAioPikaManager(url, write_only=True).emit_event`` under
``asyncio.run``.

Node's wire: ``Emitter.redis(url, wire="node")`` publishes what ``@socket.io/redis-emitter``
publishes (:mod:`socketio_core.node_adapter`), so it reaches the clients of Node servers on
``@socket.io/redis-adapter`` and of our servers built with ``wire="node"``. Those messages go
to a channel that depends on the namespace and the rooms: ``Emitter(publish_to=...)`` takes a
callable of ``(channel, bytes)``.
"""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from . import node_adapter as node
from .broadcast import names
from .exceptions import MissingDependency
from .packet import DEFAULT_NAMESPACE
from .parsers import JsonParser, Parser
from .pubsub import ClusterMessage, Encoding, Target, build_emit, encode

__all__ = ["Emitter"]

Publish = Callable[[bytes], object]
PublishTo = Callable[[str, bytes], object]


class Emitter:
    """Publish cluster operations without a server.

    Args:
        publish: publishes one message (bytes) on the cluster's channel.
        encoding: ``"json"`` or ``"msgpack"``.
        parser: the Socket.IO parser the servers use (JSON by default).
        close: called by :meth:`close` (the transport's clean-up).
        publish_to: publishes one message on a given channel: Node's wire (then ``publish``
            may be None).
        key: the ``key`` option of the Node adapter (Node's wire).
    """

    def __init__(
        self,
        publish: Publish | None = None,
        *,
        encoding: Encoding = "json",
        parser: Parser | None = None,
        close: Callable[[], object] | None = None,
        publish_to: PublishTo | None = None,
        key: str = node.DEFAULT_KEY,
    ) -> None:
        if (publish is None) == (publish_to is None):
            raise ValueError("give publish (our wire) or publish_to (Node's wire)")
        self._publish = publish
        self._publish_to = publish_to
        self._close = close
        self.encoding: Encoding = encoding
        self.parser = parser or JsonParser()
        self.key = key
        self.wire = "ours" if publish is not None else "node"
        self.uid = "emitter-" + secrets.token_hex(6)

    @classmethod
    def redis(
        cls, url: str = "redis://localhost:6379/0", channel: str = "socketio", **options: Any
    ) -> Emitter:
        """An emitter on Redis (a plain ``redis.Redis`` client; the ``redis`` extra).

        ``options`` go to ``redis.Redis.from_url``, except ``encoding``, ``parser``, ``wire``
        (``"node"``: Node's ``@socket.io/redis-emitter`` format; ``channel`` is then unused)
        and ``key`` (the Node adapter's ``key``).
        """
        try:
            redis = importlib.import_module("redis")
        except ImportError as exc:
            raise MissingDependency("redis", "redis") from exc
        encoding = options.pop("encoding", "json")
        parser = options.pop("parser", None)
        wire = options.pop("wire", "ours")
        key = options.pop("key", node.DEFAULT_KEY)
        if wire not in ("ours", "node"):
            raise ValueError(f"unknown wire format {wire!r}")
        client = redis.Redis.from_url(url, **options)
        if wire == "node":
            return cls(publish_to=client.publish, parser=parser, close=client.close, key=key)
        return cls(
            lambda data: client.publish(channel, data),
            encoding=encoding,
            parser=parser,
            close=client.close,
        )

    def _send(self, message: ClusterMessage) -> None:
        if self._publish_to is not None:
            self._send_node(message)
            return
        assert self._publish is not None
        self._publish(encode(message, self.encoding))

    def _send_node(self, message: ClusterMessage) -> None:
        """The same operation in ``@socket.io/redis-emitter``'s format."""
        assert self._publish_to is not None
        fields = message.fields
        target: Target = fields["target"] if "target" in fields else Target()
        channels = node.Channels(self.key, target.namespace)
        selection = node.Selection(
            target.rooms or (), (*target.except_rooms, *target.skip), target.volatile
        )
        opts = selection.to_wire(flags=False)
        if message.kind == "emit":
            packet = node.packet_of(fields["messages"], self.parser)
            rooms = target.rooms or ()
            channel = channels.room(rooms[0]) if len(rooms) == 1 else channels.broadcast
            self._publish_to(channel, node.encode_broadcast("emitter", packet, selection))
            return
        extra: dict[str, Any]
        if message.kind == "sockets_join":
            kind, extra = node.RequestType.REMOTE_JOIN, {"opts": opts, "rooms": fields["rooms"]}
        elif message.kind == "sockets_leave":
            kind, extra = node.RequestType.REMOTE_LEAVE, {"opts": opts, "rooms": fields["rooms"]}
        elif message.kind == "disconnect_sockets":
            kind = node.RequestType.REMOTE_DISCONNECT
            extra = {"opts": opts, "close": fields["close"]}
        else:  # server_side_emit
            kind = node.RequestType.SERVER_SIDE_EMIT
            extra = {"data": [fields["event"], *fields["args"]]}
        self._publish_to(channels.request, node.encode_request(kind, "emitter", None, **extra))

    def _target(
        self, to: str | Iterable[str] | None, namespace: str | None, except_rooms: Any
    ) -> Target:
        return Target(namespace or DEFAULT_NAMESPACE, names(to) or None, names(except_rooms))

    def emit(
        self,
        event: str,
        data: Any = None,
        to: str | Iterable[str] | None = None,
        room: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        *,
        except_rooms: str | Iterable[str] = (),
        volatile: bool = False,
    ) -> None:
        """Emit an event to the matching clients of every server (python-socketio's
        arguments: ``data`` is one argument, a tuple of several, or None for none)."""
        message = build_emit(
            self.uid,
            event,
            data,
            to=to if to is not None else room,
            namespace=namespace,
            skip_sid=skip_sid,
            except_rooms=except_rooms,
            volatile=volatile,
            parser=self.parser,
        )
        self._send(message)

    def sockets_join(
        self,
        rooms: str | Iterable[str],
        to: str | Iterable[str] | None = None,
        namespace: str | None = None,
        *,
        except_rooms: str | Iterable[str] = (),
    ) -> None:
        """Make the matching clients join ``rooms``."""
        target = self._target(to, namespace, except_rooms)
        self._send(
            ClusterMessage(
                "sockets_join", self.uid, {"target": target, "rooms": list(names(rooms))}
            )
        )

    def sockets_leave(
        self,
        rooms: str | Iterable[str],
        to: str | Iterable[str] | None = None,
        namespace: str | None = None,
        *,
        except_rooms: str | Iterable[str] = (),
    ) -> None:
        """Make the matching clients leave ``rooms``."""
        target = self._target(to, namespace, except_rooms)
        self._send(
            ClusterMessage(
                "sockets_leave", self.uid, {"target": target, "rooms": list(names(rooms))}
            )
        )

    def close_room(self, room: str, namespace: str | None = None) -> None:
        """Remove every client from ``room``."""
        self.sockets_leave(room, to=room, namespace=namespace)

    def disconnect_sockets(
        self,
        to: str | Iterable[str] | None = None,
        namespace: str | None = None,
        *,
        close: bool = False,
        except_rooms: str | Iterable[str] = (),
    ) -> None:
        """Disconnect the matching clients (``close``: their whole connection)."""
        target = self._target(to, namespace, except_rooms)
        self._send(
            ClusterMessage("disconnect_sockets", self.uid, {"target": target, "close": close})
        )

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send an event to every server's ``on_server_event`` handler (no answer)."""
        self._send(
            ClusterMessage(
                "server_side_emit", self.uid, {"event": event, "args": list(args), "rid": None}
            )
        )

    def close(self) -> None:
        """Release the transport."""
        if self._close is not None:
            self._close()
