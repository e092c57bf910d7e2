"""A fast path for the HTTP/1.1 requests an Engine.IO client sends once connected, sans I/O.

Theory of operation
-------------------
After the handshake, a polling client sends the same two requests over and over on a
keep-alive connection: ``GET /engine.io/?EIO=4&transport=polling&sid=...`` and a ``POST`` of
the same target with a ``Content-Length`` body, each with a handful of headers. h11 parses them
correctly and generally, and that generality (an event per step, a state machine for both
roles, header normalisation objects) is about a third of the server's CPU per polling
message. :class:`FastRequestParser` reads just those shapes, in a few C-level string calls, and
for anything else says :data:`Verdict.NOT_MINE`: the caller then hands the very same bytes to
h11, which stays the reference parser (and is the oracle of the tests: whatever this module
accepts, h11 must parse to the same request).

The rules this file keeps:

* it accepts a strict subset of what h11 accepts, never more. A request is "mine" only if it
  is ``GET`` or ``POST`` of the Engine.IO path with a query, ``HTTP/1.1``, CRLF line endings,
  header lines of plain token names and printable ASCII values (no obs-fold, no obs-text, no
  control bytes), exactly one ``Host``, ``Connection`` (if any) only ``keep-alive``, no
  ``Transfer-Encoding``, ``Upgrade`` or ``Expect``, and for a POST exactly one plain decimal
  ``Content-Length`` within ``max_body_size`` (a GET has none). Anything else, including every
  malformed request, goes to h11, so every strict-HTTP rule of the front door (400 on
  Content-Length with Transfer-Encoding, 431 on header floods, 413 on big bodies, 100-continue,
  upgrades, ``Connection: close``) is applied by the one code path that already applies it;
* a head that is still incomplete is given up (``NOT_MINE``) as soon as it cannot be one of
  those shapes (its first bytes differ) or reaches ``max_header_bytes``, so that h11 reports
  its errors exactly when it would have without this module;
* the limits hold whatever the read boundaries: a complete head over ``max_header_bytes`` or
  with more than ``max_header_count`` lines is not mine either (h11 and the front door's
  head check answer 431).

:func:`encode_response` is the writing half: one ``bytes`` for a whole response, in the same
bytes h11 would write (status line without a reason phrase, headers in the given order).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = ["FastHead", "FastRequestParser", "Verdict", "encode_response"]

# RFC 9110 section 5.6.2: token = 1*tchar.
_TOKEN = r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+"
# RFC 9110 section 5.5: field-value = *field-content, without leading or trailing
# whitespace; here printable ASCII only (h11 also takes obs-text and control bytes: not mine).
_FIELD_VALUE = r"(?:[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*)?"
_HEADER_LINE = rf"\r\n{_TOKEN}:[ \t]*{_FIELD_VALUE}[ \t]*"
# A whole response head as this module writes it, without its final CRLF.
_RESPONSE_HEADERS = re.compile(rf"(?:{_TOKEN}: {_FIELD_VALUE}\r\n)*", re.ASCII)
# RFC 9112 section 6.2: Content-Length = 1*DIGIT (bounded: h11 takes at most 20 digits).
_MAX_LENGTH_DIGITS = 18
# Header names whose requests are not mine whatever their value: h11 handles them.
_REFUSED = frozenset({"transfer-encoding", "upgrade", "expect"})
_PATH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/")
_STATUS_LINES = {
    status: b"HTTP/1.1 %d \r\n" % status for status in (200, 204, 400, 403, 404, 413, 500, 503)
}


class Verdict(enum.Enum):
    """What :meth:`FastRequestParser.parse_head` says when it returns no head."""

    NEED_DATA = "need data"  # could be mine: read more bytes and call again
    NOT_MINE = "not mine"  # hand every buffered byte to h11


@dataclass(frozen=True, slots=True)
class FastHead:
    """A complete request head of one of the Engine.IO shapes.

    Attributes:
        method: ``GET`` or ``POST``.
        target: the request target as sent (path and query).
        query_string: the raw query, without ``?``.
        headers: (name, value) pairs, names lowercased, values without surrounding
            whitespace, in arrival order (as h11 reports them, decoded as Latin-1).
        head_size: bytes from the request line to the blank line included.
        body_size: the body's ``Content-Length`` (0 for a GET).
    """

    method: str
    target: str
    query_string: str
    headers: tuple[tuple[str, str], ...]
    head_size: int
    body_size: int


class FastRequestParser:
    """Recognises the polling requests of one Engine.IO path; see the module docstring.

    Args:
        path: the Engine.IO path with its slashes, such as ``/engine.io/``. The fast path
            stays off (every request is not mine) when it holds a character that a client
            could percent-encode.
        max_header_bytes: largest request head, in bytes.
        max_header_count: most header lines in a head.
        max_body_size: largest POST body (``max_http_buffer_size``).
    """

    def __init__(
        self, path: str, *, max_header_bytes: int, max_header_count: int, max_body_size: int
    ) -> None:
        self.enabled = bool(path) and set(path) <= _PATH_CHARS
        self.max_header_bytes = max_header_bytes
        self.max_header_count = max_header_count
        self.max_body_size = max_body_size
        self._starts = (
            f"GET {path}?".encode("latin-1", "replace"),
            f"POST {path}?".encode("latin-1", "replace"),
        )
        self._head = re.compile(
            rf"(GET|POST) {re.escape(path)}\?([\x21-\x7e]*) HTTP/1\.1(?:{_HEADER_LINE})*",
            re.ASCII,
        )

    def parse_head(self, data: bytes | bytearray) -> FastHead | Verdict:
        """Look at the start of ``data`` (the bytes received and not yet consumed).

        Returns:
            The head once complete (its body is the ``body_size`` bytes that follow it),
            :data:`Verdict.NEED_DATA` while it may still become one, else
            :data:`Verdict.NOT_MINE`.
        """
        if not self.enabled:
            return Verdict.NOT_MINE
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if len(data) >= self.max_header_bytes or not self._may_start(data):
                return Verdict.NOT_MINE
            if data.count(b"\n") != data.count(b"\r\n"):
                # A bare LF: h11 may see the end of a head here ("\n\n"), so let it judge now.
                return Verdict.NOT_MINE
            return Verdict.NEED_DATA
        head_size = end + 4
        if head_size > self.max_header_bytes:
            return Verdict.NOT_MINE
        text = data[:end].decode("latin-1")
        match = self._head.fullmatch(text)
        if match is None:
            return Verdict.NOT_MINE
        lines = text.split("\r\n")
        if len(lines) - 1 > self.max_header_count:
            return Verdict.NOT_MINE
        method: str = match[1]
        hosts = 0
        length: str | None = None
        headers: list[tuple[str, str]] = []
        for index in range(1, len(lines)):
            name, _, value = lines[index].partition(":")
            name = name.lower()
            value = value.strip(" \t")
            if name == "host":
                hosts += 1
            elif name == "content-length":
                if length is not None:
                    return Verdict.NOT_MINE  # h11 merges equal repeats; leave that to it
                length = value
            elif name == "connection":
                if value.lower() != "keep-alive":
                    return Verdict.NOT_MINE
            elif name in _REFUSED:
                return Verdict.NOT_MINE
            headers.append((name, value))
        if hosts != 1:
            return Verdict.NOT_MINE
        body_size = 0
        if method == "POST":
            if length is None or not (0 < len(length) <= _MAX_LENGTH_DIGITS):
                return Verdict.NOT_MINE
            if not length.isdigit():  # the head regex made it ASCII
                return Verdict.NOT_MINE
            body_size = int(length)
            if body_size > self.max_body_size:
                return Verdict.NOT_MINE  # h11 and the front door answer 413
        elif length is not None:
            return Verdict.NOT_MINE
        target = text[len(method) + 1 : match.end(2)]
        return FastHead(method, target, match[2], tuple(headers), head_size, body_size)

    def _may_start(self, data: bytes | bytearray) -> bool:
        """Whether an incomplete head may still become a request of this path."""
        size = len(data)
        # One of the two is a prefix of the other, whichever is shorter.
        return any(start[:size] == data[: len(start)] for start in self._starts)


def encode_response(
    status: int, headers: list[tuple[str, str]], body: bytes, *, close: bool
) -> tuple[bytes, bool] | None:
    """A whole HTTP/1.1 response to a request parsed by :class:`FastRequestParser`.

    The body is framed by ``Content-Length`` whatever the given headers say: a given
    ``Content-Length`` or ``Transfer-Encoding`` that does not match ``body`` is replaced.

    Args:
        status: the status code (200 to 599).
        headers: (name, value) pairs, written in this order.
        body: the whole body.
        close: add ``Connection: close``.

    Returns:
        The response bytes and whether the connection must close after them (``close``, or
        a ``Connection: close`` among ``headers``); None when a header is not valid HTTP
        (a name that is not a token, a value with a control character or non-ASCII text).
    """
    if not 200 <= status <= 599 or (status in (204, 304) and body):
        return None
    length = str(len(body))
    lines: list[str] = []
    framed = closing = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-length":
            if framed or value != length:
                continue
            framed = True
        elif lowered == "transfer-encoding":
            continue
        elif lowered == "connection" and "close" in _tokens(value):
            if closing:
                continue
            close = closing = True
        lines.append(f"{name}: {value}\r\n")
    if not framed:
        lines.append(f"Content-Length: {length}\r\n")
    if close and not closing:
        lines.append("Connection: close\r\n")
    text = "".join(lines)
    # One regex for the whole head; the line count catches a CR LF smuggled inside a value.
    if _RESPONSE_HEADERS.fullmatch(text) is None or text.count("\n") != len(lines):
        return None
    status_line = _STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status
    return b"".join((status_line, text.encode("ascii"), b"\r\n", body)), close


def _tokens(value: str) -> set[str]:
    """The lowercased tokens of a comma-separated header value."""
    return {token.strip(" \t") for token in value.lower().split(",")}
