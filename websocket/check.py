"""A conformance kit for RFC 6455 echo servers: the cases, the transcript and the verdicts.

Theory of operation
-------------------
A :class:`Case` is data: the bytes a client sends, in *steps*, and a judge. The driver
(:mod:`websocket.aio.check`) opens a TCP connection, performs the opening handshake, writes
each step, and records everything the server sends back, frame by frame, in an
:class:`Observed` transcript: which step each frame followed, whether the server closed the
TCP connection, and whether it stayed silent until the timeout. The judge, a pure function of
the transcript, returns a :class:`Result`.

Verdicts follow Autobahn|Testsuite's grades:

* ``pass`` ("OK"): exactly what the RFC requires;
* ``non-strict``: allowed by a lenient reading, e.g. failing the connection by dropping TCP
  without a close frame, a close code other than the one the RFC names, or validating UTF-8
  only at the end of a message instead of failing fast (RFC 6455 section 8.1 says "MAY");
* ``fail``: a rule broken (no answer, a wrong echo, a hang);
* ``skipped``: the case does not apply (e.g. permessage-deflate was not negotiated).

The rules this file keeps: no I/O and no clock (the driver passes what it saw); each case
cites the RFC section it checks; a judge never raises on whatever the server sent.
"""

from __future__ import annotations

import enum
import json
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .frames import apply_mask

__all__ = [
    "Case",
    "Judge",
    "Observed",
    "Received",
    "Result",
    "Verdict",
    "frame",
    "judge_echo",
    "judge_failure",
    "parse_server_frames",
    "render_table",
    "results_to_json",
]

MASK = b"\x37\xfa\x21\x3d"  # a fixed masking key: transcripts are reproducible


class Verdict(enum.Enum):
    """The grade of one case (Autobahn's OK / NON-STRICT / FAILED, plus skipped)."""

    PASS = "pass"
    NON_STRICT = "non-strict"
    FAIL = "fail"
    SKIPPED = "skipped"


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    length: int | None = None,
) -> bytes:
    """One client frame, masked with :data:`MASK`, any bits allowed (to break rules on purpose).

    Args:
        opcode: the 4-bit opcode, reserved ones included.
        payload: the payload, unmasked.
        fin: the FIN bit.
        rsv: the RSV bits as a 3-bit number (4 = RSV1, 2 = RSV2, 1 = RSV3).
        mask: False sends the payload unmasked (section 5.1 forbids it from a client).
        length: the declared payload length, when it must differ from ``len(payload)``.

    Returns:
        The frame bytes.
    """
    b0 = (0x80 if fin else 0) | (rsv & 7) << 4 | opcode & 0x0F
    n = len(payload) if length is None else length
    mbit = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n < 65536:
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    return head + MASK + apply_mask(payload, MASK)


@dataclass(frozen=True)
class Received:
    """One frame the server sent, as it came (the kit's own lenient parse).

    Attributes:
        step: the index of the step written last before it arrived.
        opcode: the opcode.
        payload: the payload (unmasked if the server masked it, which it must not).
        fin: the FIN bit.
        rsv: the RSV bits as a 3-bit number.
        masked: whether the server masked it (section 5.1: a server MUST NOT).
    """

    step: int
    opcode: int
    payload: bytes
    fin: bool = True
    rsv: int = 0
    masked: bool = False


def parse_server_frames(buf: bytearray, step: int) -> list[Received]:
    """Take every complete frame off the front of ``buf`` (lenient: any bit is accepted)."""
    out: list[Received] = []
    while len(buf) >= 2:
        b0, b1 = buf[0], buf[1]
        n, pos = b1 & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                break
            n, pos = struct.unpack_from("!H", buf, 2)[0], 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, pos = struct.unpack_from("!Q", buf, 2)[0], 10
        masked = bool(b1 & 0x80)
        key = b""
        if masked:
            key, pos = bytes(buf[pos : pos + 4]), pos + 4
        if len(buf) < pos + n:
            break
        payload = bytes(buf[pos : pos + n])
        if masked and len(key) == 4:
            payload = apply_mask(payload, key)
        out.append(Received(step, b0 & 0x0F, payload, bool(b0 & 0x80), (b0 >> 4) & 7, masked))
        del buf[: pos + n]
    return out


@dataclass
class Observed:
    """What happened on the wire during one case.

    Attributes:
        status: the HTTP status of the handshake answer (101 expected).
        extensions: the Sec-WebSocket-Extensions header the server answered, or "".
        frames: the frames the server sent.
        eof_step: the step after which the server closed TCP, or None if it did not.
        timed_out: the server neither closed nor answered before the timeout.
        sent: every byte written, in steps (handshake excluded).
        received: every byte read after the handshake.
    """

    status: int = 0
    extensions: str = ""
    frames: list[Received] = field(default_factory=list)
    eof_step: int | None = None
    timed_out: bool = False
    sent: list[bytes] = field(default_factory=list)
    received: bytes = b""


@dataclass(frozen=True)
class Result:
    """The verdict of one case, with the evidence."""

    case: str
    title: str
    section: str
    verdict: Verdict
    reason: str = ""
    sent: bytes = b""
    received: bytes = b""


Judge = Callable[[Observed], tuple[Verdict, str]]


@dataclass(frozen=True)
class Case:
    """One conformance case.

    Attributes:
        id: a short identifier, ``group.n``.
        title: what is checked.
        section: the RFC 6455 section (e.g. ``"5.5.2"``).
        steps: the byte strings to write, one after the other; the driver waits ``quiet``
            seconds for the server after each one but the last.
        judge: the verdict as a function of the transcript.
        deflate: offer permessage-deflate; the case is skipped if the server declines.
        close: after the last step, send a normal close (1000) and wait for the server's.
        request: a raw handshake request to send instead of a valid one (``{key}`` and
            ``{host}`` and ``{path}`` are filled in); the judge sees only the status.
    """

    id: str
    title: str
    section: str
    steps: Sequence[bytes]
    judge: Judge
    deflate: bool = False
    close: bool = True
    request: str | None = None

    @property
    def group(self) -> str:
        """The group name: the part of the id before the dot."""
        return self.id.split(".")[0]


# ------------------------------------------------------------------ transcript helpers


def messages(frames: Sequence[Received], *, inflate: bool = False) -> list[tuple[int, bytes]] | str:
    """Reassemble data messages from the server's frames, or a description of what is wrong.

    Control frames are skipped. With ``inflate``, a message whose first frame has RSV1 set is
    decompressed (permessage-deflate, RFC 7692 section 7.2.2).
    """
    out: list[tuple[int, bytes]] = []
    current: bytearray | None = None
    opcode = 0
    compressed = False
    decoder = zlib.decompressobj(-15)
    for f in frames:
        if f.masked:
            return "the server masked a frame (RFC 6455 section 5.1: it MUST NOT)"
        if f.opcode >= 8:
            if not f.fin or len(f.payload) > 125 or f.rsv:
                return f"malformed control frame from the server (opcode {f.opcode:#x})"
            continue
        if f.opcode in (1, 2):
            if current is not None:
                return "the server started a message inside another one"
            current, opcode, compressed = bytearray(), f.opcode, bool(f.rsv & 4)
            if (f.rsv & 3) or (f.rsv & 4 and not inflate):
                return f"the server set reserved bits {f.rsv:#05b}"
        elif f.opcode == 0:
            if current is None:
                return "the server sent a continuation frame outside a message"
        else:
            return f"the server sent a reserved opcode {f.opcode:#x}"
        current += f.payload
        if f.fin:
            data = bytes(current)
            if compressed:
                try:
                    data = decoder.decompress(data + b"\x00\x00\xff\xff")
                except zlib.error:
                    return "the server sent a compressed message that does not inflate"
            out.append((opcode, data))
            current = None
    return out


def close_code(frames: Sequence[Received]) -> int | None:
    """The code of the server's close frame (1005 for an empty one), or None if it sent none."""
    for f in frames:
        if f.opcode == 8:
            if len(f.payload) >= 2:
                return int(struct.unpack_from("!H", f.payload)[0])
            return 1005
    return None


def _describe(payload: bytes) -> str:
    return repr(payload if len(payload) <= 40 else payload[:40] + b"...")


def judge_echo(
    expected: Sequence[tuple[int, bytes]],
    *,
    pongs: Sequence[bytes] = (),
    lenient_pongs: bool = False,
    inflate: bool = False,
    close_codes: Sequence[int] = (1000,),
) -> Judge:
    """A judge for a valid exchange: the messages echoed, pongs answered, a clean close.

    Args:
        expected: the ``(opcode, payload)`` messages the server must echo, in order.
        pongs: the payloads of the pongs it must send (section 5.5.2).
        lenient_pongs: only the last pong is required; fewer is non-strict (section 5.5.3
            lets an endpoint answer only the most recent ping).
        inflate: decompress messages with RSV1 set.
        close_codes: the close codes accepted in the server's answer to our close.
    """

    def judge(obs: Observed) -> tuple[Verdict, str]:
        got = messages(obs.frames, inflate=inflate)
        if isinstance(got, str):
            return Verdict.FAIL, got
        if got != list(expected):
            shown = [(op, _describe(p)) for op, p in got]
            return Verdict.FAIL, f"echo mismatch: expected {len(expected)} messages, got {shown}"
        got_pongs = [f.payload for f in obs.frames if f.opcode == 0xA]
        verdict = Verdict.PASS
        reason = ""
        if got_pongs != list(pongs):
            if lenient_pongs and pongs and got_pongs and got_pongs[-1] == pongs[-1]:
                verdict, reason = Verdict.NON_STRICT, f"{len(got_pongs)} pongs for {len(pongs)}"
            else:
                return Verdict.FAIL, f"pongs {[_describe(p) for p in got_pongs]}"
        code = close_code(obs.frames)
        if code is None:
            if obs.timed_out:
                return Verdict.FAIL, "no close frame in answer to ours (timed out)"
            return Verdict.NON_STRICT, "TCP closed without answering our close frame"
        if code not in close_codes:
            return Verdict.NON_STRICT, f"answered our close with {code}, expected {close_codes}"
        return verdict, reason

    return judge


def judge_failure(
    codes: Sequence[int] = (1002,),
    *,
    echoed: Sequence[tuple[int, bytes]] = (),
    fail_fast_step: int | None = None,
    also: Sequence[int] = (),
) -> Judge:
    """A judge for a protocol violation: the server must _Fail the WebSocket Connection_.

    Section 7.1.7: fail = send a close frame with a proper code (optional) and close TCP.
    Autobahn grades a close with the named code as OK, and a TCP close without a close frame
    or with another code as NON-STRICT; a server that echoes the bad input or hangs fails.

    Args:
        codes: the close codes that pass.
        echoed: messages that must have been echoed before the violation.
        fail_fast_step: the connection must be failed right after this step (UTF-8 fail
            fast, section 8.1); failing only later is non-strict.
        also: other close codes accepted as non-strict.
    """

    def judge(obs: Observed) -> tuple[Verdict, str]:
        got = messages(obs.frames, inflate=True)
        if isinstance(got, str):
            return Verdict.FAIL, got
        if got[: len(echoed)] != list(echoed):
            return Verdict.FAIL, f"expected {len(echoed)} echoes before the violation"
        if len(got) > len(echoed):
            extra = _describe(got[len(echoed)][1])
            return Verdict.FAIL, f"the server accepted the invalid input (echoed {extra})"
        if obs.timed_out or obs.eof_step is None:
            return Verdict.FAIL, "the server did not close the connection (hang)"
        code = close_code(obs.frames)
        late = ""
        if fail_fast_step is not None:
            first = next((f.step for f in obs.frames if f.opcode == 8), obs.eof_step)
            if first > fail_fast_step:
                late = f"failed only after step {first}, not fast (section 8.1 allows it)"
        if code is None:
            return Verdict.NON_STRICT, late or "TCP closed without a close frame"
        if code in codes:
            return (Verdict.NON_STRICT, late) if late else (Verdict.PASS, "")
        why = f"close code {code}, expected {list(codes)}"
        if code in also or code in (1002, 1007, 1008, 1009, 1011):
            return Verdict.NON_STRICT, why
        return Verdict.FAIL, why

    return judge


def judge_status(statuses: Sequence[int]) -> Judge:
    """A judge for a refused handshake: the answer's HTTP status must be one of ``statuses``."""

    def judge(obs: Observed) -> tuple[Verdict, str]:
        if obs.status in statuses:
            return Verdict.PASS, ""
        if obs.status == 101:
            return Verdict.FAIL, "the server accepted an invalid handshake"
        if 400 <= obs.status < 500 or obs.status == 0:
            return Verdict.NON_STRICT, f"status {obs.status or 'none (closed)'}"
        return Verdict.FAIL, f"status {obs.status}, expected {list(statuses)}"

    return judge


def judge_silence(obs: Observed) -> tuple[Verdict, str]:
    """A judge for "ignore this": nothing but the answer to our close may come back."""
    data = [f for f in obs.frames if f.opcode != 8]
    if data:
        return Verdict.FAIL, f"the server answered data sent after the close ({len(data)} frames)"
    if close_code(obs.frames) is None and obs.timed_out:
        return Verdict.FAIL, "no close frame in answer to ours"
    return Verdict.PASS, ""


# ------------------------------------------------------------------------- output


def render_table(results: Sequence[Result], *, title: str = "") -> str:
    """A plain-text table of results, then the evidence of each failure.

    Args:
        results: the results.
        title: a heading line.

    Returns:
        The text (no trailing newline).
    """
    lines = [title] if title else []
    width = max((len(r.title) for r in results), default=10)
    width = min(width, 60)
    for r in results:
        mark = {"pass": "ok", "non-strict": "~~", "fail": "XX", "skipped": "--"}[r.verdict.value]
        note = f"  {r.reason}" if r.reason else ""
        lines.append(
            f"{mark} {r.case:<13} {r.title[:60]:<{width}} [{r.section}] {r.verdict.value}{note}"
        )
    counts = {v: sum(r.verdict is v for r in results) for v in Verdict}
    lines.append(
        ", ".join(f"{n} {v.value}" for v, n in counts.items()) + f" ({len(results)} cases)"
    )
    for r in results:
        if r.verdict is Verdict.FAIL:
            lines.append(f"--- {r.case} {r.title} [{r.section}]: {r.reason}")
            lines.append(f"  > {r.sent[:400]!r}")
            lines.append(f"  < {r.received[:400]!r}")
    return "\n".join(lines)


def results_to_json(results: Sequence[Result]) -> str:
    """The results as a JSON document (bytes as Latin-1 text, lossless)."""
    items: list[dict[str, Any]] = [
        {
            "case": r.case,
            "title": r.title,
            "section": r.section,
            "verdict": r.verdict.value,
            "reason": r.reason,
            "sent": r.sent.decode("latin-1"),
            "received": r.received.decode("latin-1"),
        }
        for r in results
    ]
    return json.dumps(items, indent=1)
