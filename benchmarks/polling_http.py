"""The HTTP/1.1 work per polling request in the standalone door: h11 against the fast path.

Both sides do what ``engineio_core.aio.standalone`` does for one request of a connected
Engine.IO client on a keep-alive connection, without sockets: take the request's bytes, find
the request (method, target, lowercased headers, body), then write the response's bytes.

* **h11**: ``receive_data``, ``next_event`` until ``EndOfMessage``, the door's head check
  (``websocket.http11.check_request_head``), ``send`` of ``Response``, ``Data`` and
  ``EndOfMessage``, ``start_next_cycle``;
* **fast**: :meth:`engineio_core.http_fast.FastRequestParser.parse_head`, the body slice,
  :func:`engineio_core.http_fast.encode_response`.

The requests are the ones Node's ``http`` client sends in ``benchmarks/sio_load.js`` (a GET,
and a POST of a 40-byte Socket.IO event); the responses are the server's (``ok`` for a POST,
a 40-byte packet for a GET). Best of ``--repeat`` runs of ``--number`` requests each,
alternating the two sides.

Usage: ``PYTHONPATH=. .venv/bin/python benchmarks/polling_http.py [--number N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import h11

from engineio_core.http_fast import FastHead, FastRequestParser, encode_response
from websocket.http11 import check_request_head

TARGET = "/socket.io/?EIO=4&transport=polling&sid=Zm9vYmFyYmF6cXV4MTIzNA"
GET = f"GET {TARGET} HTTP/1.1\r\nHost: 127.0.0.1:40000\r\nConnection: keep-alive\r\n\r\n".encode()
BODY = b'42["echo","client 3 sequence 1234 abcdefgh"]'
POST = (
    f"POST {TARGET} HTTP/1.1\r\nContent-Type: text/plain;charset=UTF-8\r\n"
    f"Host: 127.0.0.1:40000\r\nConnection: keep-alive\r\nContent-Length: {len(BODY)}\r\n\r\n"
).encode() + BODY
HEADERS = [("Content-Type", "text/plain; charset=UTF-8")]
ANSWERS = {GET: b'43["client 3 sequence 1234 abcdefgh"]', POST: b"ok"}


def via_h11(requests: list[bytes]) -> int:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16384)
    written = 0
    for data in requests:
        conn.receive_data(data)
        buffered = len(conn.trailing_data[0])
        request = conn.next_event()
        assert isinstance(request, h11.Request)
        check_request_head(
            request.headers,
            buffered - len(conn.trailing_data[0]),
            max_header_count=100,
            max_header_bytes=16384,
        )
        headers = tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in request.headers)
        body = b""
        while not isinstance(event := conn.next_event(), h11.EndOfMessage):
            assert isinstance(event, h11.Data)
            body += event.data
        answer = ANSWERS[data]
        response = [*HEADERS, ("Content-Length", str(len(answer))), ("Server", "x")]
        out = conn.send(h11.Response(status_code=200, headers=response)) or b""
        out += conn.send(h11.Data(data=answer)) or b""
        out += conn.send(h11.EndOfMessage()) or b""
        written += len(out) + len(headers) + len(body)
        conn.start_next_cycle()
    return written


def via_fast(requests: list[bytes]) -> int:
    parser = FastRequestParser(
        "/socket.io/", max_header_bytes=16384, max_header_count=100, max_body_size=1_000_000
    )
    written = 0
    for data in requests:
        buffer = bytearray(data)
        head = parser.parse_head(buffer)
        assert isinstance(head, FastHead)
        end = head.head_size + head.body_size
        body = bytes(buffer[head.head_size : end])
        del buffer[:end]
        answer = ANSWERS[data]
        response = [*HEADERS, ("Content-Length", str(len(answer))), ("Server", "x")]
        encoded = encode_response(200, response, answer, close=False)
        assert encoded is not None
        written += len(encoded[0]) + len(head.headers) + len(body)
    return written


def best(func: Callable[[list[bytes]], int], requests: list[bytes]) -> float:
    start = time.process_time()
    func(requests)
    return (time.process_time() - start) / len(requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--number", type=int, default=20_000, help="requests per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per side (best kept)")
    args = parser.parse_args()
    assert via_h11([GET, POST]) == via_fast([GET, POST])  # same requests, same responses
    for name, request in (("GET", GET), ("POST", POST)):
        requests = [request] * args.number
        times: dict[str, list[float]] = {"h11": [], "fast": []}
        for _ in range(args.repeat):
            times["h11"].append(best(via_h11, requests))
            times["fast"].append(best(via_fast, requests))
        h11_us, fast_us = min(times["h11"]) * 1e6, min(times["fast"]) * 1e6
        print(
            f"{name:4}  h11 {h11_us:6.1f} us  fast {fast_us:5.1f} us  "
            f"saved {h11_us - fast_us:5.1f} us per request ({h11_us / fast_us:.1f}x)"
        )


if __name__ == "__main__":
    main()
