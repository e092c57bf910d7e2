from __future__ import annotations

import pytest

from websocket.exceptions import InvalidURI
from websocket.uri import WebSocketURI, parse_uri


@pytest.mark.parametrize(
    ("uri", "expected", "host_header"),
    [
        ("ws://example.com", WebSocketURI(False, "example.com", 80, "/"), "example.com"),
        (
            "ws://example.com/chat?x=1",
            WebSocketURI(False, "example.com", 80, "/chat?x=1"),
            "example.com",
        ),
        ("wss://example.com", WebSocketURI(True, "example.com", 443, "/"), "example.com"),
        ("wss://example.com:443/", WebSocketURI(True, "example.com", 443, "/"), "example.com"),
        (
            "ws://127.0.0.1:8765/a/b",
            WebSocketURI(False, "127.0.0.1", 8765, "/a/b"),
            "127.0.0.1:8765",
        ),
        ("ws://[::1]:9000/", WebSocketURI(False, "::1", 9000, "/"), "[::1]:9000"),
        ("ws://[::1]/", WebSocketURI(False, "::1", 80, "/"), "[::1]"),
        ("ws://host:80?q", WebSocketURI(False, "host", 80, "/?q"), "host"),
    ],
)
def test_parse(uri: str, expected: WebSocketURI, host_header: str) -> None:
    parsed = parse_uri(uri)
    assert parsed == expected
    assert parsed.host_header == host_header


@pytest.mark.parametrize(
    "uri",
    [
        "http://example.com/",
        "example.com",
        "ws://",
        "ws:///path",
        "ws://host/#frag",
        "ws://host/#",
        "ws://host:99999/",
        "ws://host:abc/",
    ],
)
def test_invalid(uri: str) -> None:
    with pytest.raises(InvalidURI):
        parse_uri(uri)


def test_invalid_uri_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a ws"):
        parse_uri("ftp://x/")
