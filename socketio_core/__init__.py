"""Socket.IO v5, written by hand: a sans-I/O core on top of :mod:`engineio_core`.

For python-socketio users, the first way in is one changed line::

    import socketio_core as socketio      # was: import socketio

Every public name of python-socketio is here (``Server``, ``AsyncServer``, ``Client``,
``AsyncClient``, ``SimpleClient``, ``AsyncSimpleClient``, ``Namespace``, ``AsyncNamespace``,
``ClientNamespace``, ``AsyncClientNamespace``, ``ASGIApp``, ``WSGIApp``, ``Middleware``,
``get_tornado_handler``, the managers and the ``exceptions`` module), imported on first use:
``import socketio_core`` alone loads no asyncio, so the sans-I/O core stays usable without
it. The options python-socketio code passes are accepted (:mod:`socketio_core.options`).

Core modules: :mod:`socketio_core.packet` (the packet and the default parser's text codec),
:mod:`socketio_core.decoder` (per-connection decoders with binary reassembly and limits) and
:mod:`socketio_core.parsers` (the pluggable parsers: JSON by default, msgpack as an extra).
The client side's core is :mod:`socketio_core.client_session`, the message-queue wire format
:mod:`socketio_core.pubsub`. The asyncio layer, :mod:`socketio_core.aio`, has the native
classes. Errors are in :mod:`socketio_core.exceptions`. The protocol is
``shared/specs/socket.io-protocol-v5.md``.

The per-message core modules may run compiled with mypyc, when the install built them: the
seam is :mod:`socketio_core.native`, called below before any of them is imported.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import native as _native

_native.select(__path__)

#: python-socketio's public names -> (module, attribute), imported on first use.
_LAZY: dict[str, tuple[str, str]] = {
    "AsyncServer": ("socketio_core.aio.dropin", "AsyncServer"),
    "AsyncClient": ("socketio_core.aio.dropin", "AsyncClient"),
    "Client": ("socketio_core.aio.dropin", "Client"),
    "Server": ("socketio_core.aio.sync_server", "Server"),
    "Namespace": ("socketio_core.aio.sync_server", "Namespace"),
    "AsyncNamespace": ("socketio_core.aio.namespace", "Namespace"),
    "ClientNamespace": ("socketio_core.aio.client_namespace", "ClientNamespace"),
    "AsyncClientNamespace": ("socketio_core.aio.client_namespace", "ClientNamespace"),
    "SimpleClient": ("socketio_core.aio.simple_client", "SimpleClient"),
    "AsyncSimpleClient": ("socketio_core.aio.simple_client", "AsyncSimpleClient"),
    "ASGIApp": ("socketio_core.aio.asgi", "ASGIApp"),
    "WSGIApp": ("socketio_core.aio.wsgi", "WSGIApp"),
    "Middleware": ("socketio_core.aio.wsgi", "Middleware"),
    "get_tornado_handler": ("socketio_core.aio.frameworks", "get_tornado_handler"),
    "AsyncManager": ("socketio_core.aio.manager", "AsyncManager"),
    "Manager": ("socketio_core.aio.manager", "AsyncManager"),
    "AsyncPubSubManager": ("socketio_core.aio.pubsub_manager", "AsyncPubSubManager"),
    "PubSubManager": ("socketio_core.aio.pubsub_manager", "AsyncPubSubManager"),
    "AsyncRedisManager": ("socketio_core.aio.redis_manager", "AsyncRedisManager"),
    "RedisManager": ("socketio_core.aio.managers", "RedisManager"),
    "AsyncAioPikaManager": ("socketio_core.aio.aiopika_manager", "AsyncAioPikaManager"),
    "KombuManager": ("socketio_core.aio.managers", "KombuManager"),
    "Emitter": ("socketio_core.emitter", "Emitter"),
    "reason": ("socketio_core.reasons", "Reason"),
}

__all__ = [
    "ASGIApp",
    "AsyncAioPikaManager",
    "AsyncClient",
    "AsyncClientNamespace",
    "AsyncManager",
    "AsyncNamespace",
    "AsyncPubSubManager",
    "AsyncRedisManager",
    "AsyncServer",
    "AsyncSimpleClient",
    "Client",
    "ClientNamespace",
    "Emitter",
    "KombuManager",
    "Manager",
    "Middleware",
    "Namespace",
    "PubSubManager",
    "RedisManager",
    "Server",
    "SimpleClient",
    "WSGIApp",
    "exceptions",
    "get_tornado_handler",
    "reason",
]


def __getattr__(name: str) -> Any:
    """Import python-socketio's names on first use (PEP 562)."""
    if name == "exceptions":
        return importlib.import_module("socketio_core.exceptions")
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'socketio_core' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
