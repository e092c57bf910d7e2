"""Socket.IO v5, written by hand: a sans-I/O core on top of :mod:`engineio_core`.

Core modules: :mod:`socketio_core.packet` (the packet and the default parser's text codec),
:mod:`socketio_core.decoder` (per-connection decoders with binary reassembly and limits) and
:mod:`socketio_core.parsers` (the pluggable parsers: JSON by default, msgpack as an extra).
The client side's core is :mod:`socketio_core.client_session`, the message-queue wire format
:mod:`socketio_core.pubsub`. The asyncio layer, :mod:`socketio_core.aio`, has the
``AsyncServer``, ``ASGIApp``, ``AsyncClient`` and blocking ``Client``. Errors are in
:mod:`socketio_core.exceptions`. The protocol is
``shared/specs/socket.io-protocol-v5.md``.
"""

from __future__ import annotations
