"""How an emit or a call reaches its sockets: one local socket, a socket of another process,
or a broadcast through the manager.

The application API (:mod:`socketio_core.aio.server`) builds a
:class:`~socketio_core.broadcast.BroadcastTarget`; :class:`Router` decides the path for it:

* exactly one sid, connected here: straight to its connection (an ack, if wanted, is a
  pending ack of that socket's core, with the core's deadline);
* exactly one room with no local member, with a pub/sub manager: maybe the sid of a socket of
  another process (``manager.call_socket``);
* anything else: the manager, which encodes once and fans out (and, with acks, collects them
  by sid with one shared ack id).

It is also where the manager's operations are started at the call (:meth:`Router.act`).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from ..args import ack_value, as_args
from ..broadcast import BroadcastTarget
from ..exceptions import AckTimeout, NotConnected
from ..packet import Packet
from ..parsers import Parser
from .acks import AckWaiter
from .dispatch import Dispatcher, SocketContext
from .eager import done, start_now
from .manager import AsyncManager

__all__ = ["Router"]

logger = logging.getLogger(__name__)


class Router:
    """Routes emits and calls to their sockets; see the module docstring.

    Args:
        dispatcher: the connections and sockets of this process.
        manager: the client manager.
        parser: the packet parser.
        spawn: starts a task the server keeps a reference to.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        manager: AsyncManager,
        parser: Parser,
        spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]],
    ) -> None:
        self.dispatcher = dispatcher
        self.manager = manager
        self.parser = parser
        self._spawn = spawn

    def act(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        """Run a manager operation at the call: at once, synchronously, with the in-memory
        manager (its operations never wait); in a task, started now, with a pub/sub manager
        (a publish waits for the broker, and must run in a task of its own)."""
        if self.manager.cluster:
            return self._spawn(coro)
        return start_now(coro)

    def emit(
        self,
        target: BroadcastTarget,
        event: str,
        data: Any,
        callback: Callable[..., Any] | None,
        timeout: float | None,
    ) -> asyncio.Future[Any]:
        """Emit to the sockets of ``target``, at the call; see :meth:`AsyncServer.emit`."""
        args = as_args(data)
        if callback is None:
            if self.manager.recovery_backend is not None and not target.volatile:
                # Connection state recovery: the offset is the last argument (as Node's).
                def encode(offset: str) -> list[str | bytes]:
                    return self.parser.encode(
                        Packet.event([event, *args, offset], namespace=target.namespace)
                    )

                return self.act(self.manager.emit(target, self.manager.record(target, encode)))
            packet = Packet.event([event, *args], namespace=target.namespace)
            return self.act(self.manager.emit(target, self.parser.encode(packet)))
        single = self._single_socket(target)
        if single is not None:
            waiter = AckWaiter(callback=callback, err_first=timeout is not None)
            self.dispatcher.emit(single, event, args, waiter, timeout)
            return done()
        remote = self._remote_candidate(target)
        if remote is not None:  # maybe a sid of another process: the ack comes in a task
            return self._spawn(
                self._remote_callback(target, remote, event, args, callback, timeout)
            )
        if timeout is None:
            raise ValueError("a broadcast with a callback needs a timeout")
        return self._spawn(self._broadcast_callback(target, event, args, callback, timeout))

    async def _broadcast_callback(
        self,
        target: BroadcastTarget,
        event: str,
        args: list[Any],
        callback: Callable[..., Any],
        timeout: float,
    ) -> None:
        responses = await self.manager.broadcast_with_acks(target, event, args, timeout)
        result = (
            callback(responses) if isinstance(responses, AckTimeout) else callback(None, responses)
        )
        if inspect.isawaitable(result):
            await result

    async def call(
        self,
        target: BroadcastTarget,
        event: str,
        data: Any,
        timeout: float,
        must_exist: str | None = None,
        sid_only: bool = False,
    ) -> Any:
        """Emit and wait for the acks; see :meth:`AsyncServer.call`.

        Args:
            must_exist: the one sid or room named: reaching no socket raises
                :exc:`NotConnected`.
            sid_only: it is a sid (``call(sid=)``): never tried as a room of the cluster.
        """
        args = as_args(data)
        single = self._single_socket(target)
        if single is not None:
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            # The core's deadline fails the future with AckTimeout and forgets the ack: a
            # timed-out call leaves nothing pending.
            self.dispatcher.emit(single, event, args, AckWaiter(future=future), timeout)
            return await future
        remote = self._remote_candidate(target)
        if remote is not None:
            try:
                return ack_value(
                    await self.manager.call_socket(target.namespace, remote, event, args, timeout)
                )
            except NotConnected:
                if sid_only:
                    raise  # sid=: a socket, not a room
        elif (
            must_exist is not None and not self.manager.cluster and not self.manager.select(target)
        ):
            raise NotConnected(f"{must_exist} is not connected to {target.namespace}")
        result = await self.manager.broadcast_with_acks(target, event, args, timeout)
        if isinstance(result, AckTimeout):
            raise result
        if must_exist is not None and not result:
            # Nobody in the cluster had that sid or room: nobody could answer.
            raise NotConnected(f"{must_exist} is not connected to {target.namespace}")
        return result

    async def collect_acks(
        self, target: BroadcastTarget, event: str, args: list[Any], timeout: float
    ) -> Any:
        """Emit with one ack id to the local sockets of ``target``; the responses by sid, or
        :exc:`AckTimeout` carrying the partial responses."""
        collector = self.dispatcher.begin_acks(
            target.namespace,
            self.manager.select(target),
            event,
            args,
            timeout,
            volatile=target.volatile,
        )
        await collector.done
        return collector.result()

    def emit_for_acks(
        self,
        namespace: str,
        sids: Iterable[str],
        event: str,
        args: list[Any],
        timeout: float | None,
        on_ack: Callable[[str, list[Any]], None],
    ) -> int:
        """Emit with acks to the local sockets among ``sids`` (for another process):
        ``on_ack(sid, args)`` for each ack; returns how many sockets were reached."""
        sids = list(sids)
        collector = self.dispatcher.begin_acks(namespace, sids, event, args, timeout, on_ack=on_ack)
        return collector.total

    def _remote_candidate(self, target: BroadcastTarget) -> str | None:
        """With a pub/sub manager: the one room of ``target`` when no local socket is in it
        (it may be the sid of a socket of another process)."""
        if (
            not self.manager.cluster
            or target.local
            or target.rooms is None
            or len(target.rooms) != 1
            or target.except_rooms
            or target.skip
            or self.manager.registry.members(target.namespace, target.rooms[0])
        ):
            return None
        return target.rooms[0]

    async def _remote_callback(
        self,
        target: BroadcastTarget,
        sid: str,
        event: str,
        args: list[Any],
        callback: Callable[..., Any],
        timeout: float | None,
    ) -> None:
        """``emit(callback=)`` to a socket of another process (python-socketio's semantics:
        the callback of a client that is gone is dropped); a room with a ``timeout``."""
        try:
            data = await self.manager.call_socket(
                target.namespace, sid, event, args, 60.0 if timeout is None else timeout
            )
        except NotConnected:
            if timeout is None:
                logger.debug("x %s: not connected anywhere; callback dropped", sid)
                return
            responses = await self.manager.broadcast_with_acks(target, event, args, timeout)
            result = (
                callback(responses)
                if isinstance(responses, AckTimeout)
                else callback(None, responses)
            )
        except AckTimeout as exc:
            if timeout is None:
                logger.debug("x %s: no ack; callback dropped", sid)
                return
            result = callback(exc)
        else:
            result = callback(*data) if timeout is None else callback(None, *data)
        if inspect.isawaitable(result):
            await result

    def _single_socket(self, target: BroadcastTarget) -> SocketContext | None:
        """The local socket when ``target`` names exactly one connected sid."""
        if target.rooms is None or len(target.rooms) != 1 or target.except_rooms or target.skip:
            return None
        return self.dispatcher.socket(target.rooms[0], target.namespace)
