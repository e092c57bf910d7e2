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
"""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from .exceptions import MissingDependency
from .packet import DEFAULT_NAMESPACE
from .parsers import JsonParser, Parser
from .pubsub import ClusterMessage, Encoding, Target, build_emit, encode

__all__ = ["Emitter"]

Publish = Callable[[bytes], object]


def _names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class Emitter:
    """Publish cluster operations without a server.

    Args:
        publish: publishes one message (bytes) on the cluster's channel.
        encoding: ``"json"`` or ``"msgpack"``.
        parser: the Socket.IO parser the servers use (JSON by default).
        close: called by :meth:`close` (the transport's clean-up).
    """

    def __init__(
        self,
        publish: Publish,
        *,
        encoding: Encoding = "json",
        parser: Parser | None = None,
        close: Callable[[], object] | None = None,
    ) -> None:
        self._publish = publish
        self._close = close
        self.encoding: Encoding = encoding
        self.parser = parser or JsonParser()
        self.uid = "emitter-" + secrets.token_hex(6)

    @classmethod
    def redis(
        cls, url: str = "redis://localhost:6379/0", channel: str = "socketio", **options: Any
    ) -> Emitter:
        """An emitter on Redis (a plain ``redis.Redis`` client; the ``redis`` extra).

        ``options`` go to ``redis.Redis.from_url``, except ``encoding`` and ``parser``.
        """
        try:
            redis = importlib.import_module("redis")
        except ImportError as exc:
            raise MissingDependency("redis", "redis") from exc
        encoding = options.pop("encoding", "json")
        parser = options.pop("parser", None)
        client = redis.Redis.from_url(url, **options)
        return cls(
            lambda data: client.publish(channel, data),
            encoding=encoding,
            parser=parser,
            close=client.close,
        )

    def _send(self, message: ClusterMessage) -> None:
        self._publish(encode(message, self.encoding))

    def _target(
        self, to: str | Iterable[str] | None, namespace: str | None, except_rooms: Any
    ) -> Target:
        return Target(namespace or DEFAULT_NAMESPACE, _names(to) or None, _names(except_rooms))

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
                "sockets_join", self.uid, {"target": target, "rooms": list(_names(rooms))}
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
                "sockets_leave", self.uid, {"target": target, "rooms": list(_names(rooms))}
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
