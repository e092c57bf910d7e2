"""python-socketio's constructor options, translated to ours (the drop-in layer's core).

``import socketio_core as socketio`` gives python-socketio's class names
(:mod:`socketio_core`); their constructors accept the options python-socketio code passes, with
the same meaning, and refuse any other option at construction, naming it and the class. This
module holds the translation, as plain functions over dicts: no I/O.

================================  =============================================================
python-socketio option            here
================================  =============================================================
``async_mode``                    ``"asgi"``, ``"aiohttp"``, ``"sanic"``, ``"tornado"`` (and
                                  None) on the asyncio classes; ``"threading"`` (and None) on
                                  ``Server``. ``"eventlet"`` / ``"gevent"`` /
                                  ``"gevent_uwsgi"`` fail, naming the asyncio equivalent.
``logger`` / ``engineio_logger``  False: nothing; True: INFO logs of the package on stderr
                                  when the application configured no logging; a ``Logger``:
                                  our records are handed to it.
``json``                          a module with ``dumps`` / ``loads`` (stdlib ``json``,
                                  ``simplejson``...): see :class:`JsonModuleParser`.
``ping_interval``                 a number, or python-engineio's pair ``(interval, grace)``:
                                  the grace is added to ``ping_timeout``.
``monitor_clients``               accepted: every session's heartbeat is always monitored
                                  (the Engine.IO session core's deadlines).
``handle_sigint`` (clients)       accepted: the client's threads are daemons, so Ctrl+C ends
                                  the program as python-socketio's handler does.
``http_session`` (clients)        accepted, not used: the client has its own HTTP/1.1 client
                                  (one INFO line says so).
``ssl_verify`` (clients)          passed to the Engine.IO client.
``websocket_extra_options``       accepted, not used (websocket-client's options; one INFO
                                  line says so).
================================  =============================================================
"""

from __future__ import annotations

import json as json_module
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from .packet import Packet
from .parsers import JsonParser

__all__ = [
    "ASYNC_MODES",
    "EVENTLET_HINT",
    "JsonModuleParser",
    "client_options",
    "configure_logger",
    "server_options",
]

logger = logging.getLogger(__name__)

#: The ``async_mode`` values each kind of server accepts (None: the default).
ASYNC_MODES: dict[str, tuple[str | None, ...]] = {
    "async": (None, "asgi", "aiohttp", "sanic", "tornado"),
    "sync": (None, "threading"),
}

EVENTLET_HINT = (
    "this package runs on asyncio only: use socketio_core.AsyncServer() with "
    "sio.serve(host, port) (the standalone server that replaces eventlet.wsgi.server), "
    "ASGIApp under uvicorn, or socketio_core.Server() with WSGIApp under a threaded WSGI "
    "server (gunicorn --threads, Flask's app.run(threaded=True))"
)


def server_options(
    owner: str, kind: str, options: dict[str, Any], engineio_names: Iterable[str]
) -> tuple[str, dict[str, Any]]:
    """Take python-socketio's server options out of ``options``.

    Args:
        owner: the class name, for error messages.
        kind: ``"async"`` or ``"sync"`` (which ``async_mode`` values are valid).
        options: the keyword arguments left after the class's own (mutated: handled ones
            are removed).
        engineio_names: the options the Engine.IO server takes.

    Returns:
        The ``async_mode`` in effect and the Engine.IO server's options.

    Raises:
        ValueError: an ``async_mode`` this package does not run (eventlet, gevent...).
        TypeError: an option neither python-socketio nor this package knows.
    """
    mode = options.pop("async_mode", None)
    if mode not in ASYNC_MODES[kind]:
        if mode in ("eventlet", "gevent", "gevent_uwsgi"):
            raise ValueError(f"{owner}(async_mode={mode!r}): {EVENTLET_HINT}")
        raise ValueError(
            f"{owner}(async_mode={mode!r}): expected one of "
            f"{', '.join(repr(m) for m in ASYNC_MODES[kind] if m)}"
        )
    configure_logger(options.pop("engineio_logger", False), "engineio_core")
    options.pop("monitor_clients", None)
    interval = options.get("ping_interval")
    if isinstance(interval, (tuple, list)):
        # python-engineio: "a tuple (interval, grace) ... the grace period is added to the
        # ping timeout".
        period, grace = interval
        options["ping_interval"] = float(period)
        options["ping_timeout"] = float(options.get("ping_timeout", 20.0)) + float(grace)
    known = set(engineio_names)
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"{owner}() got an unexpected keyword argument {unknown[0]!r}")
    default_mode = {"async": "asgi", "sync": "threading"}[kind]
    return mode or default_mode, options


def client_options(owner: str, options: dict[str, Any]) -> dict[str, Any]:
    """Take python-socketio's client options out of ``options``; returns what is left.

    ``ssl_verify`` stays (the Engine.IO client takes it); ``logger`` and ``json`` are the
    caller's to pop first.
    """
    configure_logger(options.pop("engineio_logger", False), "engineio_core")
    options.pop("handle_sigint", None)
    for name, why in (
        ("http_session", "the client uses its own HTTP/1.1 client"),
        ("websocket_extra_options", "the client uses its own WebSocket client"),
    ):
        if options.pop(name, None) is not None:
            logger.info("= %s(%s=...) is not used: %s", owner, name, why)
    options.pop("timestamp_requests", None)
    return options


def configure_logger(value: bool | logging.Logger | None, package: str) -> None:
    """python-socketio's ``logger`` / ``engineio_logger`` option for ``package``'s loggers.

    False or None changes nothing. True asks for INFO logs: the package logger goes to INFO
    and, when the application configured no logging at all (the root logger has no handler),
    gets a stderr handler, as python-socketio does. A Logger receives our records.
    """
    if not value:
        return
    target = logging.getLogger(package)
    if isinstance(value, logging.Logger):
        if not any(isinstance(h, _Forward) and h.target is value for h in target.handlers):
            target.addHandler(_Forward(value))
            target.setLevel(min(value.getEffectiveLevel(), logging.INFO))
        return
    if target.level == logging.NOTSET or target.level > logging.INFO:
        target.setLevel(logging.INFO)
    if not logging.getLogger().handlers and not target.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        target.addHandler(handler)


class _Forward(logging.Handler):
    """Hands our records to the application's Logger (its level and handlers decide)."""

    def __init__(self, target: logging.Logger) -> None:
        super().__init__()
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        if self.target.isEnabledFor(record.levelno):
            self.target.handle(record)


class JsonModuleParser(JsonParser):
    """The default parser, with payloads made JSON-ready by the application's ``json`` module.

    python-socketio's ``json=`` option names a module whose ``dumps`` / ``loads`` encode every
    payload (simplejson for ``Decimal``, a module with a custom encoder for ``datetime``...).
    Each argument of an outgoing packet goes through ``module.loads(module.dumps(arg))`` so
    that what the module can encode, the wire carries, and binary arguments stay binary.
    Incoming payloads are decoded by the default decoder (the JSON values are the same).

    Args:
        module: the module (anything with ``dumps`` and ``loads``).
        **limits: the :class:`JsonParser` limits.
    """

    def __init__(self, module: Any, **limits: Any) -> None:
        dumps: Callable[[Any], str] = module.dumps
        loads: Callable[[str], Any] = module.loads
        super().__init__(**limits)
        self.module = module
        self._dumps, self._loads = dumps, loads

    def _ready(self, value: Any) -> Any:
        if isinstance(value, (bytes, bytearray, memoryview)) or value is None:
            return value
        try:
            return self._loads(self._dumps(value))
        except (TypeError, ValueError):  # binary inside, or not encodable: as is
            return value

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode ``packet``, each argument made JSON-ready by the module first."""
        if isinstance(packet.data, list) and self.module is not json_module:
            packet = Packet(
                packet.type,
                packet.namespace,
                [self._ready(value) for value in packet.data],
                packet.id,
            )
        return super().encode(packet)


def parser_for(serializer: Any, json: Any, **limits: Any) -> Any:
    """The parser for ``serializer`` and python-socketio's ``json`` option, or None when the
    default applies (the class then builds its own)."""
    if json is None or json is json_module or serializer not in ("default", None):
        return serializer
    if not (callable(getattr(json, "dumps", None)) and callable(getattr(json, "loads", None))):
        raise TypeError("json= must be a module (or object) with dumps() and loads()")
    return JsonModuleParser(json, **limits)
