"""Tests for websocket.events: frozen, slotted, comparable value objects."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from websocket.events import CloseReceived, Event, Message, Ping, Pong

ALL_EVENTS = [Message("hi"), Message(b"\x00"), Ping(b"p"), Pong(b"q"), CloseReceived(1000, "bye")]


@pytest.mark.parametrize("event", ALL_EVENTS, ids=repr)
def test_events_are_frozen(event: Event) -> None:
    field = dataclasses.fields(event)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(event, field, None)


@pytest.mark.parametrize("event", ALL_EVENTS, ids=repr)
def test_events_use_slots(event: Event) -> None:
    assert not hasattr(event, "__dict__")


def test_events_compare_by_value() -> None:
    assert Message("a") == Message("a")
    assert Message("a") != Message(b"a")  # text and binary messages differ
    assert Ping(b"x") != Pong(b"x")  # type: ignore[comparison-overlap]
    assert CloseReceived(1000, "") != CloseReceived(1001, "")
    assert hash(Ping(b"x")) == hash(Ping(b"x"))


def test_event_union_lists_every_event() -> None:
    assert set(typing.get_args(Event)) == {Message, Ping, Pong, CloseReceived}


def test_close_received_fields() -> None:
    event = CloseReceived(1005, "")
    assert (event.code, event.reason) == (1005, "")
