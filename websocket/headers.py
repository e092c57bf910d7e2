"""Parsers and serializers for the opening handshake's header fields, sans I/O.

Theory of operation
-------------------
The WebSocket handshake headers are all comma-separated lists (RFC 7230 section 7, the ``#rule``):

* ``Connection`` and ``Upgrade`` are lists of tokens (``Upgrade`` items may carry a ``/version``),
  matched ASCII case-insensitively (RFC 6455 section 4.2.1, items 3 and 4), so the parsers return
  them lowercased.
* ``Sec-WebSocket-Protocol`` is ``1#token`` (RFC 6455 section 11.3.4); subprotocol names are
  case-sensitive and returned as sent.
* ``Sec-WebSocket-Extensions`` is the grammar of RFC 6455 section 9.1::

      extension-list = 1#extension
      extension = extension-token *( ";" extension-param )
      extension-param = token [ "=" (token | quoted-string) ]

  where a quoted value "after quoted-string unescaping MUST conform to the 'token' ABNF".

A header that appears on several lines means the same as one line with the values joined by
commas (RFC 7230 section 3.2.2), so every parser takes the list of values h11 reports for one
name. Empty list elements are skipped, as RFC 7230 section 7 requires ("a recipient MUST parse and
ignore a reasonable number of empty list elements"), but a header that is present must hold at
least one element (``1#``).

Rules this file keeps
---------------------
* Parsers raise an :exc:`~websocket.exceptions.InvalidHandshake` subclass with status 400 on
  malformed input: :exc:`InvalidUpgrade` for ``Connection`` / ``Upgrade``,
  :exc:`NegotiationError` for ``Sec-WebSocket-Protocol`` / ``Sec-WebSocket-Extensions``. The
  handshake turns them into an error response (server) or a failed handshake (client).
* Serializers raise :exc:`LocalProtocolError` when given something that cannot go on the wire:
  that is a bug in the calling code, not in the peer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NoReturn

from .exceptions import InvalidHandshake, InvalidUpgrade, LocalProtocolError, NegotiationError

__all__ = [
    "Extension",
    "ExtensionParam",
    "build_extensions",
    "build_subprotocols",
    "is_token",
    "parse_connection",
    "parse_extensions",
    "parse_subprotocols",
    "parse_upgrade",
]

#: One extension parameter: its name and its value (None for a bare ``name``).
ExtensionParam = tuple[str, str | None]

# RFC 7230 section 3.2.6: token = 1*tchar.
_TOKEN_RE: Final = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
# RFC 7230 section 6.7: protocol = protocol-name ["/" protocol-version].
_PROTOCOL_RE: Final = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+(?:/[-!#$%&'*+.^_`|~0-9A-Za-z]+)?")
# RFC 7230 section 3.2.6: quoted-string with qdtext and quoted-pair (obs-text allowed).
_QUOTED_RE: Final = re.compile(r'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"')
_UNQUOTE_RE: Final = re.compile(r"\\(.)", re.DOTALL)
# RFC 7230 section 3.2.3: OWS = *( SP / HTAB ).
_OWS_RE: Final = re.compile(r"[ \t]*")


@dataclass(frozen=True, slots=True)
class Extension:
    """One item of a ``Sec-WebSocket-Extensions`` header: an offer or an answer.

    Attributes:
        name: the extension token, e.g. ``permessage-deflate``.
        params: the parameters in the order they appeared, values unquoted.
    """

    name: str
    params: tuple[ExtensionParam, ...] = ()

    def __post_init__(self) -> None:
        if not is_token(self.name):
            raise LocalProtocolError(f"extension name {self.name!r} is not a token")
        for pname, value in self.params:
            if not is_token(pname):
                raise LocalProtocolError(f"extension parameter {pname!r} is not a token")
            if value is not None and not is_token(value):
                # RFC 6455 section 9.1: parameter values conform to the token ABNF.
                raise LocalProtocolError(f"extension parameter value {value!r} is not a token")


def is_token(value: str) -> bool:
    """Whether ``value`` is an RFC 7230 token (``1*tchar``)."""
    return _TOKEN_RE.fullmatch(value) is not None


def _ows(header: str, pos: int) -> int:
    """Skip optional whitespace; return the new position."""
    match = _OWS_RE.match(header, pos)
    assert match is not None  # *( SP / HTAB ) always matches
    return match.end()


def _fail(error: type[InvalidHandshake], name: str, what: str, header: str, pos: int) -> NoReturn:
    """Raise ``error`` describing where ``header`` went wrong."""
    raise error(f"invalid {name} header: {what} at {pos} in {header!r}")


def _split_list(
    values: Sequence[str], name: str, error: type[InvalidHandshake], item: re.Pattern[str]
) -> list[str]:
    """Parse ``1#item`` over the joined ``values`` where each item matches ``item``."""
    header = ", ".join(values)
    items: list[str] = []
    pos = 0
    while True:
        pos = _ows(header, pos)
        if pos == len(header):
            break
        if header[pos] == ",":  # RFC 7230 section 7: skip empty list elements.
            pos += 1
            continue
        match = item.match(header, pos)
        if match is None:
            _fail(error, name, "expected token", header, pos)
        items.append(match.group())
        pos = _ows(header, match.end())
        if pos < len(header) and header[pos] != ",":
            _fail(error, name, "expected comma", header, pos)
    if values and not items:
        _fail(error, name, "empty list", header, pos)
    return items


def parse_connection(values: Sequence[str]) -> list[str]:
    """Parse ``Connection`` header values into lowercased connection options.

    Args:
        values: every value of the header, in order (empty if the header is absent).

    Returns:
        The options, lowercased, e.g. ``["keep-alive", "upgrade"]``.

    Raises:
        InvalidUpgrade: the header is not a list of tokens.
    """
    tokens = _split_list(values, "Connection", InvalidUpgrade, _TOKEN_RE)
    return [token.lower() for token in tokens]


def parse_upgrade(values: Sequence[str]) -> list[str]:
    """Parse ``Upgrade`` header values into lowercased protocols (``name`` or ``name/version``).

    Args:
        values: every value of the header, in order (empty if the header is absent).

    Returns:
        The protocols, lowercased, e.g. ``["websocket"]``.

    Raises:
        InvalidUpgrade: the header is not a list of protocols.
    """
    protocols = _split_list(values, "Upgrade", InvalidUpgrade, _PROTOCOL_RE)
    return [protocol.lower() for protocol in protocols]


def parse_subprotocols(values: Sequence[str]) -> list[str]:
    """Parse ``Sec-WebSocket-Protocol`` header values (RFC 6455 section 11.3.4: ``1#token``).

    Args:
        values: every value of the header, in order (empty if the header is absent).

    Returns:
        The subprotocol names, case preserved, in the order offered.

    Raises:
        NegotiationError: the header is not a list of tokens.
    """
    return _split_list(values, "Sec-WebSocket-Protocol", NegotiationError, _TOKEN_RE)


def build_subprotocols(subprotocols: Sequence[str]) -> str:
    """Serialize subprotocol names into a ``Sec-WebSocket-Protocol`` value.

    Raises:
        LocalProtocolError: the list is empty or a name is not a token.
    """
    if not subprotocols:
        raise LocalProtocolError("Sec-WebSocket-Protocol needs at least one subprotocol")
    for subprotocol in subprotocols:
        if not is_token(subprotocol):
            raise LocalProtocolError(f"subprotocol {subprotocol!r} is not a token")
    return ", ".join(subprotocols)


def _parse_param(header: str, pos: int) -> tuple[ExtensionParam, int]:
    """Parse ``token [ "=" (token | quoted-string) ]`` at ``pos``."""
    name = "Sec-WebSocket-Extensions"
    match = _TOKEN_RE.match(header, pos)
    if match is None:
        _fail(NegotiationError, name, "expected parameter name", header, pos)
    pname = match.group()
    pos = _ows(header, match.end())
    if pos == len(header) or header[pos] != "=":
        return (pname, None), pos
    pos = _ows(header, pos + 1)
    if header.startswith('"', pos):
        match = _QUOTED_RE.match(header, pos)
        if match is None:
            _fail(NegotiationError, name, "expected quoted string", header, pos)
        value = _UNQUOTE_RE.sub(r"\1", match.group()[1:-1])
        if not is_token(value):
            # RFC 6455 section 9.1: "the value after quoted-string unescaping MUST conform
            # to the 'token' ABNF".
            _fail(NegotiationError, name, "quoted value is not a token", header, pos)
    else:
        match = _TOKEN_RE.match(header, pos)
        if match is None:
            _fail(NegotiationError, name, "expected parameter value", header, pos)
        value = match.group()
    return (pname, value), _ows(header, match.end())


def parse_extensions(values: Sequence[str]) -> list[Extension]:
    """Parse ``Sec-WebSocket-Extensions`` header values (RFC 6455 section 9.1).

    Args:
        values: every value of the header, in order (empty if the header is absent).

    Returns:
        The extensions in order, parameters unquoted; the same name may appear several times
        (a client lists alternative offers that way).

    Raises:
        NegotiationError: the header does not follow the grammar.
    """
    name = "Sec-WebSocket-Extensions"
    header = ", ".join(values)
    extensions: list[Extension] = []
    pos = 0
    while True:
        pos = _ows(header, pos)
        if pos == len(header):
            break
        if header[pos] == ",":  # RFC 7230 section 7: skip empty list elements.
            pos += 1
            continue
        match = _TOKEN_RE.match(header, pos)
        if match is None:
            _fail(NegotiationError, name, "expected extension name", header, pos)
        params: list[ExtensionParam] = []
        pos = _ows(header, match.end())
        while pos < len(header) and header[pos] == ";":
            param, pos = _parse_param(header, _ows(header, pos + 1))
            params.append(param)
        if pos < len(header) and header[pos] != ",":
            _fail(NegotiationError, name, "expected comma or semicolon", header, pos)
        extensions.append(Extension(match.group(), tuple(params)))
    if values and not extensions:
        _fail(NegotiationError, name, "empty list", header, pos)
    return extensions


def build_extensions(extensions: Sequence[Extension]) -> str:
    """Serialize extensions into a ``Sec-WebSocket-Extensions`` value.

    Values are written as bare tokens: :class:`Extension` only holds token values, and RFC 6455
    section 9.1 makes the quoted form equivalent.

    Raises:
        LocalProtocolError: the list is empty.
    """
    if not extensions:
        raise LocalProtocolError("Sec-WebSocket-Extensions needs at least one extension")
    items = []
    for extension in extensions:
        parts = [extension.name]
        for pname, value in extension.params:
            parts.append(pname if value is None else f"{pname}={value}")
        items.append("; ".join(parts))
    return ", ".join(items)
