"""Tests for socketio_core.signatures: the client's own events (the server's rules are tested
with the server's handler table)."""

from __future__ import annotations

from typing import Any

import pytest

from socketio_core.signatures import event_decorator, fit_client_event


def test_the_first_count_the_handler_accepts() -> None:
    def with_reason(reason: str) -> None: ...

    def without() -> None: ...

    def catch_all(namespace: str, reason: str) -> None: ...

    def variadic(*args: Any) -> None: ...

    assert fit_client_event(with_reason, "disconnect", (1, 0), 0) == 1
    assert fit_client_event(without, "disconnect", (1, 0), 0) == 0
    assert fit_client_event(catch_all, "disconnect", (1, 0), 1) == 2
    assert fit_client_event(variadic, "disconnect", (1, 0), 0) == 1


def test_a_builtin_without_signature_is_trusted() -> None:
    assert fit_client_event(print, "connect_error", (1,), 0) == 1


def test_a_handler_that_fits_no_count_is_refused() -> None:
    def two(a: int, b: int) -> None: ...

    with pytest.raises(TypeError, match="a connect handler must take 0 argument"):
        fit_client_event(two, "connect", (0,), 0)


def test_event_decorator_names_the_handler_after_the_function() -> None:
    calls: list[tuple[object, ...]] = []

    def on(event: str, handler: object, *args: object, **kwargs: object) -> object:
        calls.append((event, handler, args, kwargs))
        return handler

    def message(sid: str) -> None: ...

    assert event_decorator(on, (message,), {}) is message
    decorator = event_decorator(on, (), {"namespace": "/chat"})
    assert decorator(message) is message
    assert calls == [
        ("message", message, (), {}),
        ("message", message, (), {"namespace": "/chat"}),
    ]
