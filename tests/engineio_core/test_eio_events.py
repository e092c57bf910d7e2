"""Tests for engineio_core.events: frozen values and error responses."""

from __future__ import annotations

import dataclasses

import pytest

from engineio_core.events import (
    APPLICATION_JSON,
    TEXT_PLAIN,
    Closed,
    CloseReason,
    HTTPResponse,
    MessageReceived,
    Upgraded,
)
from engineio_core.exceptions import PayloadTooLarge, UnknownSession


def test_events_are_frozen_values() -> None:
    assert MessageReceived("a") == MessageReceived("a")
    assert Upgraded() == Upgraded()
    assert Closed(CloseReason.PING_TIMEOUT).error is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        MessageReceived("a").data = "b"  # type: ignore[misc]


def test_close_reasons_are_python_engineio_strings() -> None:
    reasons = pytest.importorskip("engineio.base_server").BaseServer.reason
    assert CloseReason.SERVER_DISCONNECT == reasons.SERVER_DISCONNECT
    assert CloseReason.CLIENT_DISCONNECT == reasons.CLIENT_DISCONNECT
    assert CloseReason.PING_TIMEOUT == reasons.PING_TIMEOUT
    assert CloseReason.TRANSPORT_CLOSE == reasons.TRANSPORT_CLOSE
    assert CloseReason.TRANSPORT_ERROR == reasons.TRANSPORT_ERROR


def test_http_response_from_error() -> None:
    assert HTTPResponse(200, b"ok").content_type == TEXT_PLAIN
    assert HTTPResponse.from_error(UnknownSession("x")) == HTTPResponse(
        400, b'{"code":1,"message":"Session ID unknown"}', APPLICATION_JSON
    )
    assert HTTPResponse.from_error(PayloadTooLarge("x")).status == 413
