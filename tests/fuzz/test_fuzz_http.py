"""Fuzzing the HTTP request head as the standalone front door reads it.

The front door feeds h11 the bytes as they arrive, checks each complete head with
:func:`websocket.http11.check_request_head` (sizes measured from h11's buffer, as
``engineio_core.aio.standalone`` does), then reads the body, and parses the query with
:func:`engineio_core.handshake.check_request`. Property: only h11's RemoteProtocolError (with
a 4xx/501 hint), a 400/431 from the head check, or Engine.IO's own errors; bounded memory.
"""

from __future__ import annotations

import h11
from hypothesis import given
from hypothesis import strategies as st

from engineio_core.exceptions import RemoteProtocolError
from engineio_core.handshake import check_request
from engineio_core.request import HTTPRequest
from websocket.http11 import check_request_head

from .fuzzkit import FUZZ, allocation_bound, mutate, splits

MAX_HEAD = 2048
MAX_BODY = 4096


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from(["GET", "POST", "OPTIONS", "PUT"]))
    query = draw(st.sampled_from(["EIO=4&transport=polling", "EIO=3", "sid=x&EIO=4", "", "%zz"]))
    headers = ["Host: x"]
    for _ in range(draw(st.integers(0, 4))):
        headers.append(
            draw(
                st.sampled_from(
                    [
                        "Content-Length: 5",
                        "Content-Length: 99999999999",
                        "Transfer-Encoding: chunked",
                        "Transfer-Encoding: gzip, chunked",
                        "Connection: close",
                        "Upgrade: websocket",
                        "X-Long: " + "a" * 600,
                    ]
                )
            )
        )
    body = draw(st.sampled_from([b"", b"4hello", b"5\r\n4abcd\r\n0\r\n\r\n", b"zz\r\n"]))
    head = f"{method} /engine.io/?{query} HTTP/1.1\r\n" + "".join(h + "\r\n" for h in headers)
    return mutate(head.encode() + b"\r\n" + body, draw) * draw(st.integers(1, 2))


def serve(chunks: list[bytes]) -> list[int]:
    """Run the front door's read loop; the statuses it would answer with (200: served)."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    answers: list[int] = []
    pending = list(chunks)
    while True:
        buffered = len(conn.trailing_data[0])
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            answers.append(exc.error_status_hint)
            return answers
        if event is h11.NEED_DATA:
            if not pending:
                conn.receive_data(b"")
                if conn.their_state is h11.DONE:
                    return answers
                continue
            conn.receive_data(pending.pop(0))
        elif isinstance(event, h11.Request):
            problem = check_request_head(
                event.headers,
                buffered - len(conn.trailing_data[0]),
                max_header_count=20,
                max_header_bytes=MAX_HEAD,
            )
            if problem is not None:
                answers.append(problem[0])
                return answers
            target = event.target.decode("latin-1")
            request = HTTPRequest(
                method=event.method.decode("ascii"),
                path=target.partition("?")[0],
                query_string=target.partition("?")[2],
            )
            try:
                check_request(request.method, request.query)
            except RemoteProtocolError as exc:
                assert exc.status == 400
            answers.append(200)
            return answers  # one request is enough: the body read is covered by h11 above
        elif isinstance(event, (h11.ConnectionClosed, h11.EndOfMessage)):
            return answers
        elif isinstance(event, h11.Data):
            assert len(event.data) <= MAX_BODY + 65536
        else:
            return answers


@FUZZ
@given(st.one_of(requests(), st.binary(max_size=3000)), st.data())
def test_request_head_gets_an_answer_or_needs_more(data: bytes, more: st.DataObject) -> None:
    with allocation_bound(8 * MAX_HEAD):
        answers = serve(splits(data, more.draw))
    for status in answers:
        assert status in (200, 400, 431, 501), status
