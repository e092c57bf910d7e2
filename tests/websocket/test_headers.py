"""Tests for websocket.headers: handshake header grammars, both directions."""

from __future__ import annotations

import pytest

from websocket.exceptions import InvalidUpgrade, LocalProtocolError, NegotiationError
from websocket.headers import (
    Extension,
    build_extensions,
    build_subprotocols,
    is_token,
    parse_connection,
    parse_extensions,
    parse_subprotocols,
    parse_upgrade,
)

# --------------------------------------------------------------------- token lists


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], []),
        (["Upgrade"], ["upgrade"]),
        (["keep-alive, Upgrade"], ["keep-alive", "upgrade"]),
        (["keep-alive,Upgrade"], ["keep-alive", "upgrade"]),
        (["keep-alive \t,\t UPGRADE"], ["keep-alive", "upgrade"]),
        # RFC 7230 section 7: empty list elements are ignored.
        ([", , upgrade ,,"], ["upgrade"]),
        # Several header lines mean the values joined by commas (RFC 7230 section 3.2.2).
        (["keep-alive", "Upgrade"], ["keep-alive", "upgrade"]),
        (["keep-alive", ""], ["keep-alive"]),
    ],
)
def test_parse_connection(values: list[str], expected: list[str]) -> None:
    assert parse_connection(values) == expected


@pytest.mark.parametrize(
    "values",
    [
        [""],
        [" , ,"],
        ["upgrade keep-alive"],
        ["upgrade;"],
        ["(upgrade)"],
        ['"upgrade"'],
        ["up grade"],
    ],
)
def test_parse_connection_invalid(values: list[str]) -> None:
    with pytest.raises(InvalidUpgrade) as excinfo:
        parse_connection(values)
    assert excinfo.value.status == 400


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], []),
        (["websocket"], ["websocket"]),
        (["WebSocket"], ["websocket"]),
        (
            ["HTTP/2.0, SHTTP/1.3, IRC/6.9, RTA/x11"],
            ["http/2.0", "shttp/1.3", "irc/6.9", "rta/x11"],
        ),
        (["h2c", "websocket"], ["h2c", "websocket"]),
    ],
)
def test_parse_upgrade(values: list[str], expected: list[str]) -> None:
    assert parse_upgrade(values) == expected


@pytest.mark.parametrize("values", [[""], ["websocket/"], ["/1"], ["web socket"], ["a/b/c"]])
def test_parse_upgrade_invalid(values: list[str]) -> None:
    with pytest.raises(InvalidUpgrade):
        parse_upgrade(values)


# ----------------------------------------------------------------- subprotocols


@pytest.mark.parametrize(
    ("values", "expected", "serialized"),
    [
        (["chat"], ["chat"], "chat"),
        (["chat, superchat"], ["chat", "superchat"], "chat, superchat"),
        (["chat,superchat"], ["chat", "superchat"], "chat, superchat"),
        (["chat", "superchat"], ["chat", "superchat"], "chat, superchat"),
        # Subprotocol names are case-sensitive and kept as sent.
        (["MQTT, v10.stomp"], ["MQTT", "v10.stomp"], "MQTT, v10.stomp"),
    ],
)
def test_subprotocols_both_ways(values: list[str], expected: list[str], serialized: str) -> None:
    assert parse_subprotocols(values) == expected
    assert build_subprotocols(expected) == serialized
    assert parse_subprotocols([serialized]) == expected


def test_subprotocols_absent() -> None:
    assert parse_subprotocols([]) == []


@pytest.mark.parametrize("values", [[""], ["chat superchat"], ["chat;"], ["chat/1"], ['"chat"']])
def test_parse_subprotocols_invalid(values: list[str]) -> None:
    with pytest.raises(NegotiationError) as excinfo:
        parse_subprotocols(values)
    assert excinfo.value.status == 400


@pytest.mark.parametrize("subprotocols", [[], ["chat room"], [""], ["a,b"]])
def test_build_subprotocols_invalid(subprotocols: list[str]) -> None:
    with pytest.raises(LocalProtocolError):
        build_subprotocols(subprotocols)


# ------------------------------------------------------------------- extensions

PMD = "permessage-deflate"


@pytest.mark.parametrize(
    ("values", "expected", "serialized"),
    [
        ([PMD], [Extension(PMD)], PMD),
        (
            ["permessage-deflate; client_max_window_bits"],
            [Extension(PMD, (("client_max_window_bits", None),))],
            "permessage-deflate; client_max_window_bits",
        ),
        (
            ["permessage-deflate;client_max_window_bits=10;server_no_context_takeover"],
            [
                Extension(
                    PMD, (("client_max_window_bits", "10"), ("server_no_context_takeover", None))
                )
            ],
            "permessage-deflate; client_max_window_bits=10; server_no_context_takeover",
        ),
        # RFC 6455 section 9.1: a quoted value is the same as the token it unescapes to.
        (
            ['permessage-deflate; server_max_window_bits="10"'],
            [Extension(PMD, (("server_max_window_bits", "10"),))],
            "permessage-deflate; server_max_window_bits=10",
        ),
        (
            ['x-ext; a = "b\\c" ; d'],
            [Extension("x-ext", (("a", "bc"), ("d", None)))],
            "x-ext; a=bc; d",
        ),
        # Several offers, on one line or several.
        (
            ["permessage-deflate; client_max_window_bits=10, permessage-deflate", "x-webkit"],
            [
                Extension(PMD, (("client_max_window_bits", "10"),)),
                Extension(PMD),
                Extension("x-webkit"),
            ],
            "permessage-deflate; client_max_window_bits=10, permessage-deflate, x-webkit",
        ),
        ([", permessage-deflate ,, "], [Extension(PMD)], PMD),
    ],
)
def test_extensions_both_ways(
    values: list[str], expected: list[Extension], serialized: str
) -> None:
    assert parse_extensions(values) == expected
    assert build_extensions(expected) == serialized
    assert parse_extensions([serialized]) == expected


def test_extensions_absent() -> None:
    assert parse_extensions([]) == []


@pytest.mark.parametrize(
    "value",
    [
        "",
        " , ",
        ";a",
        "permessage-deflate;",
        "permessage-deflate; =1",
        "permessage-deflate; a=",
        "permessage-deflate; a=b c",
        "permessage-deflate a",
        'permessage-deflate; a="b',
        'permessage-deflate; a="b c"',  # unescaped value is not a token
        'permessage-deflate; a=""',
        "permessage-deflate; a=(b)",
        "permessage-deflate; a=1=2",
    ],
)
def test_parse_extensions_invalid(value: str) -> None:
    with pytest.raises(NegotiationError) as excinfo:
        parse_extensions([value])
    assert excinfo.value.status == 400


@pytest.mark.parametrize(
    ("name", "params"),
    [("bad name", ()), ("x", (("a b", None),)), ("x", (("a", "b c"),)), ("x", (("a", ""),))],
)
def test_extension_must_hold_tokens(name: str, params: tuple[tuple[str, str | None], ...]) -> None:
    with pytest.raises(LocalProtocolError):
        Extension(name, params)


def test_build_extensions_empty() -> None:
    with pytest.raises(LocalProtocolError):
        build_extensions([])


@pytest.mark.parametrize(
    ("value", "expected"),
    [("websocket", True), ("a!#$%&'*+-.^_`|~9", True), ("", False), ("a b", False), ("é", False)],
)
def test_is_token(value: str, expected: bool) -> None:
    assert is_token(value) is expected
