"""Engine.IO v4, written by hand: a sans-I/O core, and its asyncio layer in ``aio/``.

Core modules: :mod:`engineio_core.packet` (packet codec), :mod:`engineio_core.payload` (HTTP
long-polling payload codec), :mod:`engineio_core.handshake` (request checks, sids, options, the
open packet), :mod:`engineio_core.server_session` (the server session state machine) and
:mod:`engineio_core.events` (what a session reports), with the client side in
:mod:`engineio_core.client_session`. The asyncio layer (:mod:`engineio_core.aio`) has the
``AsyncServer`` with its two front doors (standalone, ASGI) and the ``AsyncClient``. Errors are in
:mod:`engineio_core.exceptions`. The protocol is ``shared/specs/engine.io-protocol-v4.md``.
"""

from __future__ import annotations
