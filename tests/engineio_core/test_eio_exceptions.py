"""Tests for engineio_core.exceptions: the tree, the hints and Node's error bodies."""

from __future__ import annotations

import json

import pytest

from engineio_core import exceptions
from engineio_core.exceptions import (
    BadHandshakeMethod,
    DecodeError,
    EngineIOError,
    ErrorCode,
    Forbidden,
    HeartbeatError,
    LocalProtocolError,
    PayloadTooLarge,
    RemoteProtocolError,
    RequestOverlap,
    SessionClosed,
    UnknownSession,
    UnknownTransport,
    UnsupportedProtocolVersion,
)


@pytest.mark.parametrize(
    ("cls", "status", "code", "message"),
    [
        (RemoteProtocolError, 400, 3, "Bad request"),
        (DecodeError, 400, 3, "Bad request"),
        (PayloadTooLarge, 413, 3, "Bad request"),
        (HeartbeatError, 400, 3, "Bad request"),
        (RequestOverlap, 400, 3, "Bad request"),
        (UnknownTransport, 400, 0, "Transport unknown"),
        (UnknownSession, 400, 1, "Session ID unknown"),
        (BadHandshakeMethod, 400, 2, "Bad handshake method"),
        (Forbidden, 403, 4, "Forbidden"),
        (UnsupportedProtocolVersion, 400, 5, "Unsupported protocol version"),
    ],
)
def test_remote_errors_carry_node_hints(
    cls: type[RemoteProtocolError], status: int, code: int, message: str
) -> None:
    exc = cls("detail")
    assert isinstance(exc, EngineIOError)
    assert (exc.status, exc.code, str(exc)) == (status, code, "detail")
    assert exc.error_body() == f'{{"code":{code},"message":"{message}"}}'.encode()
    assert json.loads(exc.error_body()) == {"code": code, "message": message}


def test_hints_can_be_overridden() -> None:
    exc = RemoteProtocolError("x", status=401, code=ErrorCode.FORBIDDEN)
    assert (exc.status, exc.code) == (401, ErrorCode.FORBIDDEN)
    assert RemoteProtocolError("y").status == 400  # class default untouched


def test_local_and_closed_errors() -> None:
    assert issubclass(LocalProtocolError, EngineIOError)
    assert not issubclass(LocalProtocolError, RemoteProtocolError)
    exc = SessionClosed("ping timeout")
    assert isinstance(exc, EngineIOError)
    assert exc.reason == "ping timeout"
    assert str(exc) == "session closed: ping timeout"


def test_every_exported_name_is_in_the_docstring_tree() -> None:
    doc = exceptions.__doc__
    assert doc is not None
    for name in exceptions.__all__:
        if name != "ErrorCode":
            assert name in doc, name
