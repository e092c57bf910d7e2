"""Tests for engineio_core.http_fast: the polling fast path, with h11 as the oracle.

Every input is run through both parsers the way the standalone front door drives them: the
fast parser first, and h11 (with the door's head check and body limit) as the reference. The
fast parser must accept only what h11 parses to the same request (method, target, headers,
body, bytes consumed), and must never sit waiting for more bytes where h11 would already have
answered with an error. Literal tables first, then hypothesis-generated requests cut at every
read boundary.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engineio_core.http_fast import FastHead, FastRequestParser, Verdict, encode_response
from websocket.http11 import check_request_head

PATH = "/engine.io/"
MAX_HEAD = 1024
MAX_COUNT = 12
MAX_BODY = 64
TARGET = "/engine.io/?EIO=4&transport=polling&sid=AbC-12_x"
GET = f"GET {TARGET} HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nConnection: keep-alive\r\n\r\n".encode()
POST = (
    f"POST {TARGET} HTTP/1.1\r\nContent-Type: text/plain;charset=UTF-8\r\n"
    "Host: 127.0.0.1:5000\r\nConnection: keep-alive\r\nContent-Length: 6\r\n\r\n4hello"
).encode()
ORACLE = settings(
    max_examples=400,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Seen = tuple[str, str, tuple[tuple[str, str], ...], bytes]


def parser(path: str = PATH) -> FastRequestParser:
    return FastRequestParser(
        path, max_header_bytes=MAX_HEAD, max_header_count=MAX_COUNT, max_body_size=MAX_BODY
    )


@dataclass
class Outcome:
    """The requests one side read from a byte stream, and how it stopped."""

    requests: list[Seen] = field(default_factory=list)
    end: str = "need data"  # or "not mine" (fast), or an error status (h11)


def run_fast(chunks: list[bytes]) -> Outcome:
    """The front door's fast-path loop over ``chunks``, until it hands over to h11."""
    fast = parser()
    out = Outcome()
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while buffer:
            head = fast.parse_head(buffer)
            if head is Verdict.NEED_DATA:
                break
            if head is Verdict.NOT_MINE:
                out.end = "not mine"
                return out
            end = head.head_size + head.body_size
            if len(buffer) < end:
                break
            body = bytes(buffer[head.head_size : end])
            out.requests.append((head.method, head.target, head.headers, body))
            del buffer[:end]
    return out


def run_h11(chunks: list[bytes]) -> Outcome:
    """The front door's h11 loop over ``chunks``: head check, body limit, one response each."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    out = Outcome()
    pending = list(chunks)
    request: h11.Request | None = None
    body = b""
    while True:
        buffered = len(conn.trailing_data[0])
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            out.end = str(exc.error_status_hint)
            return out
        if event is h11.NEED_DATA:
            if not pending:
                return out
            conn.receive_data(pending.pop(0))
        elif isinstance(event, h11.Request):
            problem = check_request_head(
                event.headers,
                buffered - len(conn.trailing_data[0]),
                max_header_count=MAX_COUNT,
                max_header_bytes=MAX_HEAD,
            )
            if problem is not None:
                out.end = str(problem[0])
                return out
            request, body = event, b""
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY:
                out.end = "413"
                return out
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            headers = tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in request.headers)
            method, target = request.method.decode(), request.target.decode("latin-1")
            out.requests.append((method, target, headers, body))
            conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
            conn.send(h11.EndOfMessage())
            if conn.our_state is not h11.DONE:
                out.end = "closed"
                return out
            conn.start_next_cycle()
        else:
            out.end = f"unexpected {event!r}"
            return out


def check_against_h11(chunks: list[bytes]) -> Outcome:
    """The oracle property; returns the fast side's outcome."""
    fast, reference = run_fast(chunks), run_h11(chunks)
    assert reference.requests[: len(fast.requests)] == fast.requests
    if fast.end == "need data":
        # Waiting for more bytes: h11 would be waiting too, with nothing more read.
        assert reference.end == "need data", (fast, reference)
        assert reference.requests == fast.requests
    return fast


def every_split(data: bytes) -> list[list[bytes]]:
    """``data`` in one read, a byte at a time, and cut once at every offset."""
    cuts = [[data[:i], data[i:]] for i in range(1, len(data))]
    return [[data], [data[i : i + 1] for i in range(len(data))], *cuts]


# ------------------------------------------------------------------------- literal tables


@pytest.mark.parametrize("data", [GET, POST, GET + POST, POST + GET + GET])
def test_engineio_requests_are_mine_at_every_read_boundary(data: bytes) -> None:
    for chunks in every_split(data):
        fast = check_against_h11(chunks)
        assert fast.end == "need data"
        assert len(fast.requests) == data.count(b"HTTP/1.1")


def test_a_post_as_read() -> None:
    head = parser().parse_head(POST)
    assert head == FastHead(
        method="POST",
        target=TARGET,
        query_string="EIO=4&transport=polling&sid=AbC-12_x",
        headers=(
            ("content-type", "text/plain;charset=UTF-8"),
            ("host", "127.0.0.1:5000"),
            ("connection", "keep-alive"),
            ("content-length", "6"),
        ),
        head_size=len(POST) - 6,
        body_size=6,
    )


def test_whitespace_around_values_is_trimmed_as_h11_does() -> None:
    data = f"GET {TARGET} HTTP/1.1\r\nHost:\t x \r\nX-A:a  b\t\r\nX-Empty:   \r\n\r\n".encode()
    head = parser().parse_head(data)
    assert isinstance(head, FastHead)
    assert head.headers == (("host", "x"), ("x-a", "a  b"), ("x-empty", ""))
    check_against_h11([data])


def request(method: str = "GET", headers: str = "Host: x\r\n", *, target: str = TARGET) -> bytes:
    return f"{method} {target} HTTP/1.1\r\n{headers}\r\n".encode("latin-1")


NOT_MINE = {
    "CL+TE smuggling": request(
        "POST", "Host: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
    )
    + b"0\r\n\r\n",
    "chunked body": request("POST", "Host: x\r\nTransfer-Encoding: chunked\r\n") + b"zz\r\n",
    "obs-fold": request("GET", "Host: x\r\nX-A: a\r\n  folded\r\n"),
    "Expect": request("POST", "Host: x\r\nContent-Length: 1\r\nExpect: 100-continue\r\n"),
    "Upgrade": request("GET", "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"),
    "Connection: close": request("GET", "Host: x\r\nConnection: close\r\n"),
    "Connection: keep-alive, Upgrade": request("GET", "Host: x\r\nConnection: keep-alive, x\r\n"),
    "HTTP/1.0": f"GET {TARGET} HTTP/1.0\r\nHost: x\r\n\r\n".encode(),
    "bare LF": f"GET {TARGET} HTTP/1.1\nHost: x\n\n".encode(),
    "bare LF in a header": request("GET", "Host: x\r\nX-A: a\nb\r\n"),
    "no Host": request("GET", "X-A: a\r\n"),
    "two Hosts": request("GET", "Host: x\r\nHost: y\r\n"),
    "GET with a body": request("GET", "Host: x\r\nContent-Length: 2\r\n") + b"4x",
    "POST without a length": request("POST", "Host: x\r\n"),
    "POST over max_body_size": request("POST", f"Host: x\r\nContent-Length: {MAX_BODY + 1}\r\n"),
    "two lengths": request("POST", "Host: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n") + b"4",
    "listed length": request("POST", "Host: x\r\nContent-Length: 1, 1\r\n") + b"4",
    "signed length": request("POST", "Host: x\r\nContent-Length: +1\r\n") + b"4",
    "huge length": request("POST", "Host: x\r\nContent-Length: 1234567890123456789012\r\n"),
    "too many headers": request("GET", "Host: x\r\n" + "X-A: a\r\n" * MAX_COUNT),
    "head too big": request("GET", "Host: x\r\nX-Big: " + "a" * MAX_HEAD + "\r\n"),
    "other path": request(target="/socket.io/?EIO=4"),
    "path without slash": request(target="/engine.io?EIO=4"),
    "percent-encoded path": request(target="/engine%2Eio/?EIO=4"),
    "no query": request(target="/engine.io/"),
    "lowercase method": request("get"),
    "OPTIONS": request("OPTIONS"),
    "HEAD": request("HEAD"),
    "obs-text value": request("GET", "Host: x\r\nX-A: caf\xe9\r\n"),
    "control byte": request("GET", "Host: x\r\nX-A: a\x01b\r\n"),
    "NUL": request("GET", "Host: x\r\nX-A: a\x00b\r\n"),
    "space before colon": request("GET", "Host: x\r\nX-A : a\r\n"),
    "empty name": request("GET", "Host: x\r\n: a\r\n"),
    "leading CRLF": b"\r\n" + request(),
    "TLS hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "double space": f"GET  {TARGET} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
}


@pytest.mark.parametrize("data", NOT_MINE.values(), ids=NOT_MINE.keys())
def test_other_shapes_and_malformed_requests_go_to_h11(data: bytes) -> None:
    assert parser().parse_head(data) is Verdict.NOT_MINE
    for chunks in every_split(data):
        check_against_h11(chunks)


def test_an_incomplete_head_is_given_up_as_soon_as_it_cannot_be_mine() -> None:
    fast = parser()
    assert fast.parse_head(b"GE") is Verdict.NEED_DATA
    assert fast.parse_head(b"POST /engine.io/?") is Verdict.NEED_DATA
    assert fast.parse_head(b"POST /engine.io/?EIO=4 HTTP/1.1\r\nHo") is Verdict.NEED_DATA
    assert fast.parse_head(b"PUT") is Verdict.NOT_MINE
    assert fast.parse_head(b"GET /socket") is Verdict.NOT_MINE
    assert fast.parse_head(b"GET /engine.io/?EIO=4 HTTP/1.1\n") is Verdict.NOT_MINE
    assert fast.parse_head(GET[:-2] + b"X" * MAX_HEAD) is Verdict.NOT_MINE


def test_the_limits_hold_on_a_complete_head() -> None:
    at_limit = request("GET", "Host: x\r\n" + "X-A: a\r\n" * (MAX_COUNT - 1))
    assert isinstance(parser().parse_head(at_limit), FastHead)
    exactly = request("GET", "Host: x\r\nX-P: \r\n")
    padded = exactly.replace(b"X-P: ", b"X-P: " + b"p" * (MAX_HEAD - len(exactly)))
    assert len(padded) == MAX_HEAD
    assert isinstance(parser().parse_head(padded), FastHead)
    assert parser().parse_head(padded.replace(b"X-P: ", b"X-P: p")) is Verdict.NOT_MINE
    big = request("POST", f"Host: x\r\nContent-Length: {MAX_BODY}\r\n")
    assert isinstance(parser().parse_head(big), FastHead)


def test_a_path_a_client_could_percent_encode_turns_the_fast_path_off() -> None:
    for path in ("/caf\xe9/", "/a b/", "/a%20b/", ""):
        off = parser(path)
        assert not off.enabled
        assert off.parse_head(request(target=f"{path}?EIO=4")) is Verdict.NOT_MINE
    assert parser("/socket.io/").parse_head(request(target="/socket.io/?EIO=4")) != (
        Verdict.NOT_MINE
    )


# ------------------------------------------------------------------------- generated requests

BENIGN_LINES = [
    "Connection: keep-alive",
    "Connection: Keep-Alive",
    "Content-Type: text/plain;charset=UTF-8",
    "Accept: */*",
    "Cookie: io=abc; other=1",
    "User-Agent: node",
    "X-Empty:",
    "X-Tab:\tv\t",
]
ODD_LINES = [
    "Host: y",
    "Connection: close",
    "Content-Length: {n}",
    "Content-Length:  {n} ",
    "Content-Length: 0{n}",
    "Content-Length: {n}, {n}",
    "Content-Length: 99999999999999999999999",
    "Content-Length: -{n}",
    "Transfer-Encoding: chunked",
    "Expect: 100-continue",
    "Upgrade: websocket",
    " folded",
]
TARGETS = [
    "/engine.io/?EIO=4&transport=polling",
    "/engine.io/?",
    "/engine.io/?a=%41+b#frag",
    "/engine.io?EIO=4",
    "/other/?EIO=4",
]
VALUE_CHARS = st.sampled_from([*"aZ09-_:;,/ =\"'", "\t", "\x00", "\x01", "\x7f", "\xe9", "\n"])


def rarely(draw: st.DrawFn) -> bool:
    return draw(st.integers(0, 7)) == 7  # the simplest example (0) is the plain one


@st.composite
def one_request(draw: st.DrawFn) -> bytes:
    """Mostly a well-formed Engine.IO request, with now and then one or two oddities."""
    method = draw(st.sampled_from(["PUT", "OPTIONS", "get"])) if rarely(draw) else "GET"
    if method == "GET" and draw(st.booleans()):
        method = "POST"
    target = draw(st.sampled_from(TARGETS)) if rarely(draw) else TARGET
    version = "HTTP/1.0" if rarely(draw) else "HTTP/1.1"
    body = draw(st.binary(max_size=MAX_BODY + 4)) if method != "GET" or rarely(draw) else b""
    lines = draw(st.lists(st.sampled_from(BENIGN_LINES), max_size=4))
    if method != "GET" and not rarely(draw):
        lines.append("Content-Length: {n}")
    if not rarely(draw):
        lines.insert(draw(st.integers(0, len(lines))), "Host: 127.0.0.1:5000")
    while rarely(draw):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(ODD_LINES)))
    if rarely(draw):
        name = draw(st.sampled_from(["X-A", "x-b", "X C", "X:D", "Content-length", "HOST"]))
        value = "".join(draw(st.lists(VALUE_CHARS, max_size=8)))
        lines.insert(draw(st.integers(0, len(lines))), f"{name}:{value}")
    n = draw(st.integers(0, MAX_BODY + 4)) if rarely(draw) else len(body)
    eol = "\n" if rarely(draw) else "\r\n"
    head = f"{method} {target} {version}{eol}" + "".join(line.format(n=n) + eol for line in lines)
    return head.encode("latin-1") + eol.encode() + body


@st.composite
def streams(draw: st.DrawFn) -> list[bytes]:
    data = b"".join(draw(st.lists(one_request(), min_size=1, max_size=3)))
    if rarely(draw):
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 3))):
            out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
        data = bytes(out)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=5)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@ORACLE
@given(streams())
def test_generated_requests_against_h11(chunks: list[bytes]) -> None:
    check_against_h11(chunks)


@ORACLE
@given(st.lists(st.sampled_from([GET, POST]), min_size=1, max_size=4), st.data())
def test_generated_engineio_streams_are_all_mine(
    requests: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(requests)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunks = [stream[a:b] for a, b in itertools.pairwise([0, *cuts, len(stream)]) if b > a]
    fast = check_against_h11(chunks)
    assert fast.end == "need data"
    assert len(fast.requests) == len(requests)


# ------------------------------------------------------------------------- responses


def h11_response(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """What the front door wrote through h11 for the same response to a GET."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(GET)
    assert isinstance(conn.next_event(), h11.Request)
    data = conn.send(h11.Response(status_code=status, headers=headers)) or b""
    data += conn.send(h11.Data(data=body)) or b""
    return data + (conn.send(h11.EndOfMessage()) or b"")


RESPONSES = [
    (200, [("Content-Type", "text/plain; charset=UTF-8"), ("Content-Length", "2")], b"ok"),
    (200, [("Access-Control-Allow-Origin", "http://a"), ("Vary", "Origin"),
           ("Content-Type", "text/plain; charset=UTF-8"), ("Content-Length", "5")], b"4abcd"),
    (400, [("Content-Type", "application/json"), ("Content-Length", "2")], b"{}"),
    (413, [("Content-Length", "3"), ("Connection", "close")], b"big"),
    (204, [("Content-Length", "0")], b""),
    (503, [("X-Empty", ""), ("Content-Length", "0")], b""),
    (299, [("Content-Length", "1")], b"x"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "headers", "body"), RESPONSES)
def test_responses_are_the_bytes_h11_writes(
    status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    encoded = encode_response(status, headers, body, close=False)
    assert encoded is not None
    data, close = encoded
    assert data == h11_response(status, headers, body)
    assert close == any(name == "Connection" for name, _ in headers)


def test_close_adds_one_connection_close() -> None:
    headers = [("Content-Length", "2")]
    encoded = encode_response(200, headers, b"ok", close=True)
    assert encoded == (h11_response(200, [*headers, ("Connection", "close")], b"ok"), True)
    encoded = encode_response(200, [*headers, ("connection", "Close")], b"ok", close=True)
    assert encoded is not None
    assert encoded[0].lower().count(b"connection: close") == 1


def test_the_body_is_framed_by_its_length_whatever_the_headers_say() -> None:
    for headers in ([], [("Content-Length", "9")], [("Transfer-Encoding", "chunked")]):
        encoded = encode_response(200, [("X-A", "1"), *headers], b"abc", close=False)
        assert encoded == (b"HTTP/1.1 200 \r\nX-A: 1\r\nContent-Length: 3\r\n\r\nabc", False)


@pytest.mark.parametrize(
    "header",
    [
        ("X-A", "a\r\nSet-Cookie: evil=1"),
        ("X-A", "a\nb"),
        ("X-A", "a\x00"),
        ("X-A", " leading"),
        ("X-A", "trailing "),
        ("X-A", "caf\xe9"),
        ("X A", "1"),
        ("", "1"),
        ("X-A\r\nX-B", "1"),
    ],
)
def test_a_header_that_is_not_valid_http_is_refused(header: tuple[str, str]) -> None:
    assert encode_response(200, [header], b"", close=False) is None
    with pytest.raises((h11.LocalProtocolError, UnicodeEncodeError)):
        h11_response(200, [header, ("Content-Length", "0")], b"")


@pytest.mark.parametrize(("status", "body"), [(101, b""), (199, b""), (204, b"x"), (304, b"x")])
def test_statuses_without_a_plain_body_are_refused(status: int, body: bytes) -> None:
    assert encode_response(status, [], body, close=False) is None


@ORACLE
@given(
    st.lists(
        st.tuples(
            st.text(st.sampled_from("aZ-_ :\r\n\x00"), min_size=0, max_size=6),
            st.text(st.sampled_from("aZ09 \t:;,\r\n\x00\x7f\xe9"), max_size=8),
        ),
        max_size=4,
    ),
    st.binary(max_size=8),
)
def test_generated_response_headers_against_h11(
    headers: list[tuple[str, str]], body: bytes
) -> None:
    headers = [h for h in headers if h[0].lower() not in ("content-length", "connection")]
    framed = [*headers, ("Content-Length", str(len(body)))]
    encoded = encode_response(200, framed, body, close=False)
    try:
        expected = h11_response(200, framed, body)
    except (h11.LocalProtocolError, UnicodeEncodeError):
        assert encoded is None
        return
    assert encoded == (expected, False)
