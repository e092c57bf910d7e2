"""Tests for socketio_core.exceptions: the tree, the hints, and ConnectionRefused."""

from __future__ import annotations

import builtins
import errno
import inspect

import pytest
from socketio import exceptions as oracle

from socketio_core import exceptions
from socketio_core.exceptions import (
    AttachmentError,
    AttachmentLimitExceeded,
    ConnectionRefused,
    DecodeError,
    InvalidPacket,
    LocalProtocolError,
    MissingDependency,
    RemoteProtocolError,
    SocketIOError,
    UnexpectedPacket,
)


def test_every_exception_derives_from_the_root() -> None:
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        assert issubclass(cls, SocketIOError), name


def test_the_docstring_names_every_exception() -> None:
    doc = inspect.getdoc(exceptions) or ""
    for name in exceptions.__all__:
        assert name in doc, name


def test_no_builtin_name_is_reused() -> None:
    assert not set(exceptions.__all__) & set(dir(builtins))


@pytest.mark.parametrize(
    "cls", [DecodeError, InvalidPacket, AttachmentError, AttachmentLimitExceeded, UnexpectedPacket]
)
def test_remote_errors(cls: type[RemoteProtocolError]) -> None:
    assert issubclass(cls, RemoteProtocolError)
    assert not issubclass(cls, LocalProtocolError)
    assert cls("x").reason == "parse error"


def test_missing_dependency_names_the_extra() -> None:
    exc = MissingDependency("msgpack", "msgpack")
    assert isinstance(exc, ImportError)
    assert exc.name == "msgpack"
    assert exc.extra == "msgpack"
    assert "pip install socketio-stack[msgpack]" in str(exc)


# (arguments, error_args): the same as python-socketio's ConnectionRefusedError.
REFUSALS: list[tuple[tuple[object, ...], dict[str, object]]] = [
    ((), {"message": "Connection rejected by server"}),
    (("Not authorized",), {"message": "Not authorized"}),
    (("Not authorized", {"retry": 5}), {"message": "Not authorized", "data": {"retry": 5}}),
    (("Not authorized", 1, 2), {"message": "Not authorized", "data": [1, 2]}),
    ((401,), {"message": "401"}),
]


@pytest.mark.parametrize(("args", "error_args"), REFUSALS)
def test_connection_refused_matches_python_socketio(
    args: tuple[object, ...], error_args: dict[str, object]
) -> None:
    exc = ConnectionRefused(*args)
    assert exc.error_args == error_args
    theirs = oracle.ConnectionRefusedError(*args).error_args
    if isinstance(theirs.get("data"), tuple):
        theirs["data"] = list(theirs["data"])  # a JSON array either way
    assert theirs == error_args


def test_connection_refused_is_catchable_as_the_builtin() -> None:
    with pytest.raises(ConnectionRefusedError) as info:
        raise ConnectionRefused("Not authorized", {"a": 1})
    exc = info.value
    assert isinstance(exc, ConnectionRefused)
    assert isinstance(exc, SocketIOError)
    assert isinstance(exc, OSError)
    assert exc.errno == errno.ECONNREFUSED
    assert exc.strerror == "Not authorized"
    assert str(exc) == "Not authorized"
    assert exc.message == "Not authorized"
    assert exc.data == {"a": 1}


def test_a_builtin_refusal_is_not_ours() -> None:
    # An OSError from a socket must not be mistaken for the application refusing a client.
    assert not isinstance(ConnectionRefusedError(errno.ECONNREFUSED, "x"), ConnectionRefused)


def test_error_args_is_a_fresh_dict() -> None:
    exc = ConnectionRefused("no")
    exc.error_args["message"] = "changed"
    assert exc.error_args == {"message": "no"}
