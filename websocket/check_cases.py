"""The cases of ``python -m websocket check``: RFC 6455 rules an echo server must keep.

Each case is data (:class:`websocket.check.Case`): the frames a client writes and the judge of
the server's answer. Groups follow Autobahn|Testsuite's chapters: framing, pings, reserved bits
and opcodes, fragmentation, UTF-8, close, limits, permessage-deflate, and the handshake.
"""

from __future__ import annotations

import struct
import zlib

from .check import (
    Case,
    Judge,
    Observed,
    Verdict,
    frame,
    judge_echo,
    judge_failure,
    judge_silence,
    judge_status,
)

__all__ = ["CASES", "GROUPS"]

TEXT, BINARY, CLOSE, PING, PONG = 1, 2, 8, 9, 10


def _close(code: int | None = 1000, reason: bytes = b"") -> bytes:
    return frame(CLOSE, b"" if code is None else struct.pack("!H", code) + reason)


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4] if out.endswith(b"\x00\x00\xff\xff") else out


def _strict_or_echo(data: bytes) -> Judge:
    """Failing (1002) passes; echoing a rule a lenient receiver may overlook is non-strict."""
    fail, echo = judge_failure(), judge_echo([(TEXT, data)])

    def judge(obs: Observed) -> tuple[Verdict, str]:
        verdict, reason = fail(obs)
        if verdict is Verdict.PASS:
            return verdict, reason
        if echo(obs)[0] is Verdict.PASS:
            return Verdict.NON_STRICT, "accepted (a sender rule; a lenient receiver)"
        return verdict, reason

    return judge


def _framing() -> list[Case]:
    cases = []
    for i, n in enumerate((0, 125, 126, 65535, 65536)):
        text = b"*" * n
        cases.append(
            Case(
                f"framing.{i + 1}",
                f"text message of {n} bytes",
                "5.2",
                [frame(TEXT, text)],
                judge_echo([(TEXT, text)]),
            )
        )
    blob = bytes(range(256)) * 4
    cases.append(
        Case(
            "framing.6",
            "binary message of 1024 bytes",
            "5.6",
            [frame(BINARY, blob)],
            judge_echo([(BINARY, blob)]),
        )
    )
    data = b"split across writes"
    whole = frame(TEXT, data)
    cases.append(
        Case(
            "framing.7",
            "a frame written one byte at a time",
            "5.2",
            [whole[i : i + 1] for i in range(len(whole))],
            judge_echo([(TEXT, data)]),
        )
    )
    cases.append(
        Case(
            "framing.8",
            "unmasked client frame",
            "5.1",
            [frame(TEXT, b"hi", mask=False)],
            judge_failure(),
        )
    )
    cases.append(
        Case(
            "framing.9",
            "three messages in one write",
            "5.4",
            [frame(TEXT, b"a") + frame(BINARY, b"b") + frame(TEXT, b"c")],
            judge_echo([(TEXT, b"a"), (BINARY, b"b"), (TEXT, b"c")]),
        )
    )
    cases.append(
        Case(
            "framing.10",
            "16-bit length used for a 5-byte payload (non-minimal)",
            "5.2",
            [bytes([0x81, 0xFE, 0, 5]) + frame(TEXT, b"hello")[2:]],
            _strict_or_echo(b"hello"),
        )
    )
    return cases


def _pings() -> list[Case]:
    return [
        Case("ping.1", "ping without payload", "5.5.2", [frame(PING)], judge_echo([], pongs=[b""])),
        Case(
            "ping.2",
            "ping with 125 bytes",
            "5.5.2",
            [frame(PING, b"p" * 125)],
            judge_echo([], pongs=[b"p" * 125]),
        ),
        Case(
            "ping.3",
            "ping with binary payload",
            "5.5.3",
            [frame(PING, b"\x00\xff\xfe")],
            judge_echo([], pongs=[b"\x00\xff\xfe"]),
        ),
        Case(
            "ping.4",
            "ping with 126 bytes (too long)",
            "5.5",
            [frame(PING, b"p" * 126)],
            judge_failure(),
        ),
        Case(
            "ping.5",
            "unsolicited pong is ignored",
            "5.5.3",
            [frame(PONG, b"unsolicited") + frame(TEXT, b"after")],
            judge_echo([(TEXT, b"after")]),
        ),
        Case(
            "ping.6",
            "ten pings in a row",
            "5.5.3",
            [b"".join(frame(PING, b"%d" % i) for i in range(10))],
            judge_echo([], pongs=[b"%d" % i for i in range(10)], lenient_pongs=True),
        ),
        Case(
            "ping.7",
            "fragmented ping",
            "5.5",
            [frame(PING, b"ab", fin=False) + frame(0, b"cd")],
            judge_failure(),
        ),
    ]


def _reserved() -> list[Case]:
    cases = []
    for i, rsv in enumerate((4, 2, 1, 7)):
        cases.append(
            Case(
                f"reserved.{i + 1}",
                f"RSV bits {rsv:03b} on a text frame",
                "5.2",
                [frame(TEXT, b"ok"), frame(TEXT, b"bad", rsv=rsv)],
                judge_failure(echoed=[(TEXT, b"ok")]),
            )
        )
    for j, op in enumerate((3, 4, 5, 6, 7, 11, 12, 13, 14, 15)):
        cases.append(
            Case(
                f"reserved.{j + 5}",
                f"reserved opcode {op:#x}",
                "5.2",
                [frame(TEXT, b"ok"), frame(op, b"x")],
                judge_failure(echoed=[(TEXT, b"ok")]),
            )
        )
    cases.append(
        Case("reserved.15", "RSV1 on a ping", "5.2", [frame(PING, b"x", rsv=4)], judge_failure())
    )
    return cases


def _fragments() -> list[Case]:
    return [
        Case(
            "fragment.1",
            "text in two fragments",
            "5.4",
            [frame(TEXT, b"frag", fin=False) + frame(0, b"ment")],
            judge_echo([(TEXT, b"fragment")]),
        ),
        Case(
            "fragment.2",
            "binary in three fragments, written apart",
            "5.4",
            [frame(BINARY, b"\x01", fin=False), frame(0, b"\x02", fin=False), frame(0, b"\x03")],
            judge_echo([(BINARY, b"\x01\x02\x03")]),
        ),
        Case(
            "fragment.3",
            "ping between fragments",
            "5.4",
            [frame(TEXT, b"a", fin=False) + frame(PING, b"mid") + frame(0, b"b")],
            judge_echo([(TEXT, b"ab")], pongs=[b"mid"]),
        ),
        Case(
            "fragment.4",
            "continuation without a message",
            "5.4",
            [frame(0, b"orphan")],
            judge_failure(),
        ),
        Case(
            "fragment.5",
            "new text frame inside a fragmented message",
            "5.4",
            [frame(TEXT, b"a", fin=False) + frame(TEXT, b"b")],
            judge_failure(),
        ),
        Case(
            "fragment.6",
            "fragments of empty payloads",
            "5.4",
            [frame(TEXT, b"", fin=False) + frame(0, b"", fin=False) + frame(0, b"")],
            judge_echo([(TEXT, b"")]),
        ),
        Case(
            "fragment.7",
            "100 one-byte fragments",
            "5.4",
            [
                frame(TEXT, b"x", fin=False)
                + b"".join(frame(0, b"x", fin=False) for _ in range(98))
                + frame(0, b"x")
            ],
            judge_echo([(TEXT, b"x" * 100)]),
        ),
    ]


def _utf8() -> list[Case]:
    valid = "κόσμε ∮ 𝄞 ̸".encode()
    cases = [
        Case(
            "utf8.1",
            "valid multi-byte text",
            "8.1",
            [frame(TEXT, valid)],
            judge_echo([(TEXT, valid)]),
        ),
        Case(
            "utf8.2",
            "valid text split inside a code point",
            "8.1",
            [frame(TEXT, valid[:2], fin=False) + frame(0, valid[2:])],
            judge_echo([(TEXT, valid)]),
        ),
    ]
    bad = {
        "lone surrogate ED A0 80": b"\xed\xa0\x80",
        "overlong C0 AF": b"\xc0\xaf",
        "above U+10FFFF (F4 90 80 80)": b"\xf4\x90\x80\x80",
        "truncated sequence at the end": b"abc\xe2\x82",
        "invalid byte FF": b"\xff",
    }
    for i, (title, data) in enumerate(bad.items()):
        cases.append(
            Case(
                f"utf8.{i + 3}",
                f"invalid text: {title}",
                "8.1",
                [frame(TEXT, data)],
                judge_failure((1007,)),
            )
        )
    cases.append(
        Case(
            "utf8.8",
            "invalid first fragment fails fast",
            "8.1",
            [frame(TEXT, b"ok\xed\xa0\x80", fin=False), frame(0, b"rest")],
            judge_failure((1007,), fail_fast_step=0),
        )
    )
    cases.append(
        Case(
            "utf8.9",
            "invalid UTF-8 in the close reason",
            "7.1.6",
            [_close(1000, b"\xff\xfe")],
            judge_failure((1007,), also=(1000, 1002)),
            close=False,
        )
    )
    return cases


def _close_cases() -> list[Case]:
    cases = [
        Case(
            "close.1",
            "close 1000 is answered",
            "5.5.1",
            [_close(1000, b"bye")],
            judge_echo([]),
            close=False,
        ),
        Case(
            "close.2",
            "close without payload is answered",
            "7.1.5",
            [_close(None)],
            judge_echo([], close_codes=(1000, 1005)),
            close=False,
        ),
        Case(
            "close.3",
            "close with a 1-byte payload",
            "5.5.1",
            [frame(CLOSE, b"\x03")],
            judge_failure(),
            close=False,
        ),
        Case(
            "close.4",
            "close reason of 123 bytes",
            "5.5.1",
            [_close(1000, b"r" * 123)],
            judge_echo([]),
            close=False,
        ),
        Case(
            "close.5",
            "data after our close is ignored",
            "5.5.1",
            [_close(1000) + frame(TEXT, b"late")],
            judge_silence,
            close=False,
        ),
    ]
    for i, code in enumerate((0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000)):
        cases.append(
            Case(
                f"close.{i + 6}",
                f"invalid close code {code}",
                "7.4.1",
                [_close(code)],
                judge_failure(),
                close=False,
            )
        )
    for i, code in enumerate((1001, 1003, 1011, 3000, 4999)):
        cases.append(
            Case(
                f"close.{i + 16}",
                f"valid close code {code}",
                "7.4.1",
                [_close(code)],
                judge_echo([], close_codes=(1000, code)),
                close=False,
            )
        )
    return cases


def _limits() -> list[Case]:
    return [
        Case(
            "limits.1",
            "64-bit length with the top bit set",
            "5.2",
            [bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 63) + b"\x00\x00\x00\x00"],
            judge_failure((1002, 1009)),
        ),
        Case(
            "limits.2",
            "a frame declaring 1 TiB",
            "10.4",
            [bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 40) + b"\x00\x00\x00\x00" + b"x" * 64],
            judge_failure((1009,), also=(1002, 1008)),
        ),
        Case(
            "limits.3",
            "1 MiB binary message in 64 fragments",
            "5.4",
            [
                frame(BINARY, b"\xab" * 16384, fin=False)
                + b"".join(frame(0, b"\xab" * 16384, fin=False) for _ in range(62))
                + frame(0, b"\xab" * 16384)
            ],
            judge_echo([(BINARY, b"\xab" * 2**20)]),
        ),
    ]


def _deflate_cases() -> list[Case]:
    text = b"Hello, deflate! " * 20
    comp = _deflate(text)
    return [
        Case(
            "deflate.1",
            "compressed text message",
            "RFC 7692 7.2.2",
            [frame(TEXT, comp, rsv=4)],
            judge_echo([(TEXT, text)], inflate=True),
            deflate=True,
        ),
        Case(
            "deflate.2",
            "compressed message in two fragments (RSV1 on the first only)",
            "RFC 7692 6.1",
            [frame(TEXT, comp[:5], rsv=4, fin=False) + frame(0, comp[5:])],
            judge_echo([(TEXT, text)], inflate=True),
            deflate=True,
        ),
        Case(
            "deflate.3",
            "uncompressed message on a deflate connection",
            "RFC 7692 6",
            [frame(BINARY, b"plain")],
            judge_echo([(BINARY, b"plain")], inflate=True),
            deflate=True,
        ),
        Case(
            "deflate.4",
            "RSV1 on a continuation frame",
            "RFC 7692 6.1",
            [frame(TEXT, comp[:5], rsv=4, fin=False) + frame(0, comp[5:], rsv=4)],
            judge_failure(),
            deflate=True,
        ),
        Case(
            "deflate.5",
            "RSV1 on a ping",
            "RFC 7692 6.1",
            [frame(PING, b"x", rsv=4)],
            judge_failure(),
            deflate=True,
        ),
        Case(
            "deflate.6",
            "corrupt compressed data",
            "RFC 7692 6.2",
            [frame(BINARY, b"\xff\xff\xff\xff\xff", rsv=4)],
            judge_failure((1007, 1002), also=(1011,)),
            deflate=True,
        ),
    ]


def _handshake() -> list[Case]:
    head = "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    return [
        Case(
            "handshake.1",
            "no Sec-WebSocket-Key",
            "4.2.1",
            [],
            judge_status((400,)),
            close=False,
            request=head + "Sec-WebSocket-Version: 13\r\n\r\n",
        ),
        Case(
            "handshake.2",
            "Sec-WebSocket-Version 12",
            "4.4",
            [],
            judge_status((426, 400)),
            close=False,
            request=head + "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 12\r\n\r\n",
        ),
        Case(
            "handshake.3",
            "POST instead of GET",
            "4.2.1",
            [],
            judge_status((400, 404, 405)),
            close=False,
            request=head.replace("GET", "POST")
            + "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
        ),
    ]


CASES: list[Case] = [
    *_framing(),
    *_pings(),
    *_reserved(),
    *_fragments(),
    *_utf8(),
    *_close_cases(),
    *_limits(),
    *_deflate_cases(),
    *_handshake(),
]
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(c.group for c in CASES))
