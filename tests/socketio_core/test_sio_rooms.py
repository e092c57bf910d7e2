"""Tests for the sans-I/O room registry (socketio_core.rooms)."""

from __future__ import annotations

import pytest

from socketio_core.rooms import RoomRegistry

NS = "/"


def registry(*sids: str, namespace: str = NS) -> RoomRegistry:
    rooms = RoomRegistry()
    for sid in sids:
        rooms.connect(namespace, sid)
    return rooms


def test_connect_enters_the_sid_room() -> None:
    rooms = registry("a")
    assert rooms.is_connected(NS, "a")
    assert not rooms.is_connected(NS, "b")
    assert not rooms.is_connected("/other", "a")
    assert rooms.rooms_of(NS, "a") == ["a"]
    assert rooms.members(NS, "a") == ["a"]
    assert rooms.sockets(NS) == ["a"]
    assert rooms.namespaces() == [NS]
    assert rooms.rooms(NS) == ["a"]


def test_connect_twice_is_idempotent() -> None:
    rooms = registry("a")
    rooms.enter(NS, "a", "r")
    rooms.connect(NS, "a")
    assert rooms.rooms_of(NS, "a") == ["a", "r"]
    assert rooms.sockets(NS) == ["a"]


def test_enter_and_leave() -> None:
    rooms = registry("a", "b")
    rooms.enter(NS, "a", "r")
    rooms.enter(NS, "b", "r")
    rooms.enter(NS, "a", "r")  # idempotent
    assert rooms.members(NS, "r") == ["a", "b"]
    assert rooms.rooms_of(NS, "a") == ["a", "r"]
    rooms.leave(NS, "a", "r")
    assert rooms.members(NS, "r") == ["b"]
    assert rooms.rooms_of(NS, "a") == ["a"]
    # Leaving a room one is not in, or as an unknown socket, does nothing.
    rooms.leave(NS, "a", "r")
    rooms.leave(NS, "zzz", "r")
    rooms.leave("/nowhere", "a", "r")
    assert rooms.members(NS, "r") == ["b"]


def test_enter_requires_a_connected_socket() -> None:
    rooms = registry("a")
    with pytest.raises(KeyError):
        rooms.enter(NS, "ghost", "r")
    with pytest.raises(KeyError):
        rooms.enter("/other", "a", "r")
    assert rooms.members(NS, "r") == []


def test_a_socket_never_leaves_its_sid_room() -> None:
    rooms = registry("a")
    rooms.leave(NS, "a", "a")
    assert rooms.rooms_of(NS, "a") == ["a"]
    assert rooms.members(NS, "a") == ["a"]


def test_empty_rooms_are_forgotten() -> None:
    rooms = registry("a", "b")
    rooms.enter(NS, "a", "r")
    rooms.leave(NS, "a", "r")
    assert "r" not in rooms.rooms(NS)
    assert rooms.members(NS, "r") == []
    rooms.enter(NS, "a", "s")
    rooms.enter(NS, "b", "s")
    rooms.disconnect(NS, "a")
    assert rooms.rooms(NS) == ["b", "s"]
    rooms.disconnect(NS, "b")
    # The last socket gone: nothing of the namespace is kept.
    assert rooms.rooms(NS) == []
    assert rooms.namespaces() == []
    assert rooms.sockets(NS) == []
    assert rooms._rooms == {}
    assert rooms._sockets == {}


def test_disconnect_returns_the_rooms() -> None:
    rooms = registry("a")
    rooms.enter(NS, "a", "x")
    rooms.enter(NS, "a", "y")
    assert rooms.disconnect(NS, "a") == ["a", "x", "y"]
    assert not rooms.is_connected(NS, "a")
    assert rooms.disconnect(NS, "a") == []
    assert rooms.disconnect("/never", "a") == []


def test_close_room() -> None:
    rooms = registry("a", "b", "c")
    rooms.enter(NS, "a", "r")
    rooms.enter(NS, "c", "r")
    assert rooms.close_room(NS, "r") == ["a", "c"]
    assert rooms.members(NS, "r") == []
    assert "r" not in rooms.rooms(NS)
    assert rooms.rooms_of(NS, "a") == ["a"]
    assert rooms.close_room(NS, "r") == []
    assert rooms.close_room("/never", "r") == []


def test_namespaces_are_separate() -> None:
    rooms = registry("a")
    rooms.connect("/chat", "a2")
    rooms.enter("/chat", "a2", "r")
    rooms.enter(NS, "a", "r")
    assert rooms.members("/chat", "r") == ["a2"]
    assert rooms.members(NS, "r") == ["a"]
    assert rooms.namespaces() == [NS, "/chat"]
    rooms.disconnect("/chat", "a2")
    assert rooms.namespaces() == [NS]
    assert list(rooms.select("/chat")) == []


def _world() -> RoomRegistry:
    rooms = registry("s1", "s2", "s3", "s4", "s5")
    for sid, names in {
        "s1": ["a"],
        "s2": ["b", "a"],
        "s3": ["b"],
        "s4": ["a", "b", "c"],
        "s5": [],
    }.items():
        for name in names:
            rooms.enter(NS, sid, name)
    return rooms


def test_select_everyone_in_connection_order() -> None:
    rooms = _world()
    assert list(rooms.select(NS)) == ["s1", "s2", "s3", "s4", "s5"]
    assert list(rooms.select("/empty")) == []


def test_select_one_room_in_join_order() -> None:
    rooms = _world()
    assert list(rooms.select(NS, ["a"])) == ["s1", "s2", "s4"]
    assert list(rooms.select(NS, ["b"])) == ["s2", "s3", "s4"]
    assert list(rooms.select(NS, ["s3"])) == ["s3"]
    assert list(rooms.select(NS, ["nobody"])) == []


def test_select_union_each_sid_once() -> None:
    rooms = _world()
    # Rooms in the order given; each member once, at its first selected room.
    assert list(rooms.select(NS, ["a", "b"])) == ["s1", "s2", "s4", "s3"]
    assert list(rooms.select(NS, ["b", "a"])) == ["s2", "s3", "s4", "s1"]
    assert list(rooms.select(NS, ["c", "s5", "c"])) == ["s4", "s5"]
    assert list(rooms.select(NS, [])) == []


def test_select_except_rooms_and_skip() -> None:
    rooms = _world()
    assert list(rooms.select(NS, except_rooms=["b"])) == ["s1", "s5"]
    assert list(rooms.select(NS, except_rooms=["b", "a"])) == ["s5"]
    assert list(rooms.select(NS, except_rooms=["nobody"])) == ["s1", "s2", "s3", "s4", "s5"]
    assert list(rooms.select(NS, skip=["s1", "s5"])) == ["s2", "s3", "s4"]
    assert list(rooms.select(NS, ["a"], except_rooms=["c"])) == ["s1", "s2"]
    assert list(rooms.select(NS, ["a", "b"], except_rooms=["c"], skip=["s1"])) == ["s2", "s3"]
    assert list(rooms.select(NS, ["a"], skip=["s2"])) == ["s1", "s4"]
    # Excluding a sid room excludes that socket.
    assert list(rooms.select(NS, ["b"], except_rooms=["s3"])) == ["s2", "s4"]


@pytest.mark.parametrize("target", [None, ["a"], ["a", "b"]])
def test_select_survives_membership_changes_while_iterating(
    target: list[str] | None,
) -> None:
    # A broadcast may disconnect sockets (disconnect_sockets) while it walks the selection.
    rooms = _world()
    seen = []
    for sid in rooms.select(NS, target):
        seen.append(sid)
        rooms.disconnect(NS, sid)
    # The selection is a snapshot of who was there when the walk reached each room.
    assert seen == {None: ["s1", "s2", "s3", "s4", "s5"], 1: ["s1", "s2", "s4"]}.get(
        None if target is None else len(target), ["s1", "s2", "s4", "s3"]
    )
