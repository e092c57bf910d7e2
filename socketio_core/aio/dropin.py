"""python-socketio's server and client classes: ``import socketio_core as socketio``.

The classes here are the native ones (:class:`socketio_core.aio.AsyncServer`,
:class:`~socketio_core.aio.AsyncClient`, the blocking :class:`~socketio_core.aio.Client`) with
python-socketio's constructor: its positional order, its options with their meaning (see
:mod:`socketio_core.options`), and an unknown option refused at construction, naming it and
the class. They add what python-socketio code calls besides: ``async_mode``, ``reason``,
``sio.attach(app)`` (aiohttp, sanic), and on the clients ``start_background_task``, ``sleep``
and ``shutdown``. No behaviour is written twice: every method is the native class's (the
server's ``instrument()``, the Admin UI, has python-socketio's signature there).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

from engineio_core.aio import AsyncServer as EngineIOServer
from engineio_core.aio.client import AsyncClient as EngineIOClient

from ..options import client_options, configure_logger, parser_for, server_options
from ..reasons import Reason
from .blocking import Client as BlockingClient
from .client import AsyncClient as NativeAsyncClient
from .server import AsyncServer as NativeAsyncServer

__all__ = ["AsyncClient", "AsyncServer", "Client", "engineio_option_names"]

logger = logging.getLogger(__name__)


def _keywords(*functions: Callable[..., Any]) -> set[str]:
    names: set[str] = set()
    for function in functions:
        for param in inspect.signature(function).parameters.values():
            if param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD):
                names.add(param.name)
    return names - {"self"}


def engineio_option_names() -> set[str]:
    """The keyword options a server passes on: the native server's and the Engine.IO
    server's."""
    return _keywords(NativeAsyncServer.__init__, EngineIOServer.__init__) - {"client_manager"}


class AsyncServer(NativeAsyncServer):
    """python-socketio's ``AsyncServer``: :class:`socketio_core.aio.AsyncServer` with its
    constructor.

    Args:
        client_manager: the manager (in memory, Redis, RabbitMQ).
        logger: False, True (INFO logs on stderr) or a Logger.
        serializer: ``"default"``, ``"msgpack"`` or a parser.
        json: a module with ``dumps`` / ``loads`` for payloads.
        async_handlers: run each event in a task of its own. The default here is False:
            a client's events are handled in arrival order.
        always_connect: send CONNECT before the ``connect`` handler runs.
        namespaces: the namespaces accepted besides those with handlers.
        **kwargs: ``async_mode`` (``"asgi"``, ``"aiohttp"``, ``"sanic"``, ``"tornado"``),
            ``engineio_logger``, ``ping_interval`` (a number or a pair), ``monitor_clients``
            and the native server's and Engine.IO server's options.

    Raises:
        ValueError: ``async_mode`` eventlet or gevent (the message names the asyncio way).
        TypeError: an unknown option.
    """

    reason = Reason

    def __init__(
        self,
        client_manager: Any = None,
        logger: bool | logging.Logger = False,
        serializer: Any = "default",
        json: Any = None,
        async_handlers: bool = False,
        always_connect: bool = False,
        namespaces: Any = None,
        connection_state_recovery: Any = None,
        **kwargs: Any,
    ) -> None:
        self.async_mode, options = server_options(
            type(self).__name__, "async", dict(kwargs), engineio_option_names()
        )
        configure_logger(logger, "socketio_core")
        super().__init__(
            client_manager,
            serializer=parser_for(serializer, json),
            async_handlers=async_handlers,
            always_connect=always_connect,
            namespaces=namespaces,
            connection_state_recovery=connection_state_recovery,
            **options,
        )

    def attach(self, app: Any, socketio_path: str = "socket.io") -> None:
        """Serve this server from an aiohttp or sanic application (python-socketio's
        ``sio.attach(app)``); see :mod:`socketio_core.aio.frameworks`."""
        from .frameworks import attach  # noqa: PLC0415 (aiohttp/sanic only when used)

        attach(self, app, socketio_path)


def _client_kwargs(owner: str, json: Any, serializer: Any, kwargs: dict[str, Any]) -> Any:
    options = client_options(owner, dict(kwargs))
    allowed = _keywords(NativeAsyncClient.__init__, EngineIOClient.__init__)
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"{owner}() got an unexpected keyword argument {unknown[0]!r}")
    options["serializer"] = parser_for(serializer, json)
    return options


class AsyncClient(NativeAsyncClient):
    """python-socketio's ``AsyncClient``: :class:`socketio_core.aio.AsyncClient` with its
    constructor (``logger``, ``json``, ``handle_sigint``, ``http_session``, ``ssl_verify``,
    ``websocket_extra_options``, ``request_timeout``...; see :mod:`socketio_core.options`).

    Raises:
        TypeError: an unknown option.
    """

    reason = Reason

    def __init__(
        self,
        reconnection: bool = True,
        reconnection_attempts: int = 0,
        reconnection_delay: float = 1,
        reconnection_delay_max: float = 5,
        randomization_factor: float = 0.5,
        logger: bool | logging.Logger = False,
        serializer: Any = "default",
        json: Any = None,
        handle_sigint: bool = True,
        **kwargs: Any,
    ) -> None:
        configure_logger(logger, "socketio_core")
        super().__init__(
            reconnection,
            reconnection_attempts,
            reconnection_delay,
            reconnection_delay_max,
            randomization_factor,
            **_client_kwargs(type(self).__name__, json, serializer, kwargs),
        )
        self._background: set[asyncio.Task[Any]] = set()

    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        """Run ``target(*args, **kwargs)`` (a coroutine function) in a task."""
        task: asyncio.Task[Any] = asyncio.ensure_future(target(*args, **kwargs))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    @staticmethod
    async def sleep(seconds: float = 0) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(seconds)

    async def shutdown(self) -> None:
        """Stop the client for good: disconnect, and stop any reconnection in progress."""
        await self.disconnect()


class Client(BlockingClient):
    """python-socketio's ``Client``: the blocking :class:`socketio_core.aio.Client` with its
    constructor (the options of :class:`AsyncClient`).

    Raises:
        TypeError: an unknown option.
    """

    reason = Reason

    def __init__(
        self,
        reconnection: bool = True,
        reconnection_attempts: int = 0,
        reconnection_delay: float = 1,
        reconnection_delay_max: float = 5,
        randomization_factor: float = 0.5,
        logger: bool | logging.Logger = False,
        serializer: Any = "default",
        json: Any = None,
        handle_sigint: bool = True,
        **kwargs: Any,
    ) -> None:
        configure_logger(logger, "socketio_core")
        super().__init__(
            reconnection,
            reconnection_attempts,
            reconnection_delay,
            reconnection_delay_max,
            randomization_factor,
            **_client_kwargs(type(self).__name__, json, serializer, kwargs),
        )

    @staticmethod
    def start_background_task(
        target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> threading.Thread:
        """Run ``target(*args, **kwargs)`` in a daemon thread; returns the started thread."""
        thread = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True)
        thread.start()
        return thread

    def shutdown(self) -> None:
        """Stop the client for good (python-socketio's ``shutdown``)."""
        self.disconnect()
