"""The verdict side of ``python -m socketio_core check``: results, contract, matching, output.

The cases themselves are conversations (open a session, park a GET, upgrade, wait for a
ping...), so they live with their driver in :mod:`socketio_core.aio.check`. What is decided
without I/O lives here: the echo contract a server under test keeps, how a received
Socket.IO message is compared with the expected one, what a case's result holds, and how the
results are printed (a table, then the exact bytes of each failure) or saved as JSON.

The echo contract is the one of the official Socket.IO test suite (socket.io-protocol
``test-suite/``), with its event names configurable:

* on connection to any namespace, the server emits ``auth`` with the CONNECT payload;
* ``message`` with any arguments is answered by ``message-back`` with the same ones;
* ``message-with-ack`` with any arguments is acknowledged with the same ones;
* the namespace ``/custom`` exists; ``/random`` does not.

For a plain Engine.IO server (``--engineio``), the contract of the official Engine.IO suite:
every message is sent back as it came.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from websocket.check import Verdict

from .exceptions import SocketIOError
from .packet import Packet, PacketType, PendingPacket, decode_text

__all__ = [
    "CaseFailed",
    "CaseLenient",
    "CaseSkipped",
    "Contract",
    "Result",
    "Verdict",
    "decode_sio",
    "render_table",
    "results_to_json",
    "summary",
]

EIO_SPEC = "engine.io-protocol-v4"
SIO_SPEC = "socket.io-protocol-v5"


class CaseFailed(SocketIOError):
    """Raised inside a case: the server broke the rule the case checks (the message says how)."""


class CaseLenient(SocketIOError):
    """Raised inside a case: allowed by a lenient reading of the spec, but not what it asks."""


class CaseSkipped(SocketIOError):
    """Raised inside a case: the case does not apply to this server (the message says why)."""


@dataclass(frozen=True)
class Contract:
    """The names a server under test answers to (the official suites' by default).

    Attributes:
        path: the Engine.IO request path.
        echo: the event the server answers with ``echo_back`` and the same arguments.
        echo_back: the answer's event name.
        ack: the event the server acknowledges with its arguments.
        auth: the event the server emits on connection, with the CONNECT payload.
        namespace: a namespace that accepts connections (besides ``/``).
        refused: a namespace that does not exist.
        engineio: the server is a plain Engine.IO echo server (Socket.IO groups are skipped).
        connect_timeout: the server's connect timeout in seconds, when known.
        max_wait: the longest a heartbeat or timeout case waits; longer ones are skipped.
        timeout: how long to wait for an answer that must come.
    """

    path: str = "/socket.io/"
    echo: str = "message"
    echo_back: str = "message-back"
    ack: str = "message-with-ack"
    auth: str = "auth"
    namespace: str = "/custom"
    refused: str = "/random"
    engineio: bool = False
    connect_timeout: float | None = None
    max_wait: float = 5.0
    timeout: float = 2.0


@dataclass(frozen=True)
class Result:
    """The verdict of one case, with the bytes exchanged.

    Attributes:
        case: the case id, ``group.name``.
        title: what is checked.
        section: the spec and section, e.g. ``engine.io-protocol-v4 Handshake``.
        verdict: pass, fail or skipped.
        reason: why it failed or was skipped.
        transcript: ``(direction, bytes)`` pairs, ``>`` sent and ``<`` received.
        seconds: how long the case took.
    """

    case: str
    title: str
    section: str
    verdict: Verdict
    reason: str = ""
    transcript: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    seconds: float = 0.0

    @property
    def group(self) -> str:
        """The group: the part of the id before the dot."""
        return self.case.split(".")[0]


def decode_sio(messages: Sequence[str | bytes]) -> list[Packet] | str:
    """Decode Socket.IO packets from Engine.IO message payloads (binary ones reassembled).

    Args:
        messages: the payloads of the Engine.IO message packets, in order.

    Returns:
        The packets, or a description of the first that does not decode.
    """
    out: list[Packet] = []
    pending: PendingPacket | None = None
    buffers: list[bytes] = []
    for message in messages:
        if isinstance(message, bytes):
            if pending is None:
                return f"a binary message with no packet waiting for it: {message[:20]!r}"
            buffers.append(message)
            if len(buffers) == pending.attachments:
                try:
                    out.append(pending.reconstruct(buffers))
                except SocketIOError as exc:
                    return f"attachments do not fit: {exc}"
                pending, buffers = None, []
            continue
        if pending is not None:
            return f"text {message[:40]!r} while {pending.attachments} attachments were due"
        try:
            packet = decode_text(message)
        except SocketIOError as exc:
            return f"{message[:60]!r} is not a valid Socket.IO packet: {exc}"
        if isinstance(packet, PendingPacket):
            pending = packet
        else:
            out.append(packet)
    return out


def find_event(packets: Sequence[Packet], name: str, namespace: str = "/") -> Packet | None:
    """The first EVENT or BINARY_EVENT named ``name`` in ``namespace``, or None."""
    for p in packets:
        if (
            p.type in (PacketType.EVENT, PacketType.BINARY_EVENT)
            and p.namespace == namespace
            and p.data
            and p.data[0] == name
        ):
            return p
    return None


def summary(results: Sequence[Result]) -> dict[str, int]:
    """How many results of each verdict: ``{"pass": n, "non-strict": n, "fail": n, ...}``."""
    return {v.value: sum(r.verdict is v for r in results) for v in Verdict}


def _show(data: bytes) -> str:
    shown = repr(data[:300])
    return shown + (f" ... ({len(data)} bytes)" if len(data) > 300 else "")


def render_table(results: Sequence[Result], *, title: str = "") -> str:
    """A plain-text table of results, then the citation and the bytes of each failure.

    Args:
        results: the results.
        title: a heading line.

    Returns:
        The text (no trailing newline).
    """
    lines = [title] if title else []
    marks = {
        Verdict.PASS: "ok",
        Verdict.FAIL: "XX",
        Verdict.SKIPPED: "--",
        Verdict.NON_STRICT: "~~",
    }
    idw = max((len(r.case) for r in results), default=8)
    tw = min(max((len(r.title) for r in results), default=10), 58)
    for r in results:
        note = f"  {r.reason}" if r.reason and r.verdict is not Verdict.FAIL else ""
        lines.append(
            f"{marks[r.verdict]} {r.case:<{idw}}  {r.title[:58]:<{tw}}  {r.verdict.value}{note}"
        )
    counts = summary(results)
    lines.append(
        ", ".join(f"{n} {name}" for name, n in counts.items()) + f" ({len(results)} cases)"
    )
    for r in results:
        if r.verdict is not Verdict.FAIL:
            continue
        lines.append("")
        lines.append(f"FAIL {r.case}: {r.title}")
        lines.append(f"  spec: {r.section}")
        lines.append(f"  why:  {r.reason}")
        for direction, data in r.transcript[-12:]:
            lines.append(f"  {direction} {_show(data)}")
    return "\n".join(lines)


def results_to_json(results: Sequence[Result], **extra: Any) -> str:
    """The results as JSON (bytes as Latin-1 text, lossless), with ``extra`` top-level keys."""
    doc: dict[str, Any] = dict(extra)
    doc["summary"] = summary(results)
    doc["results"] = [
        {
            "case": r.case,
            "title": r.title,
            "section": r.section,
            "verdict": r.verdict.value,
            "reason": r.reason,
            "seconds": round(r.seconds, 3),
            "transcript": [[d, b.decode("latin-1")] for d, b in r.transcript],
        }
        for r in results
    ]
    return json.dumps(doc, indent=1)
