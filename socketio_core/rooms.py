"""Rooms: which sockets are in which rooms, per namespace, sans I/O.

Every socket (a sid in a namespace) is in the room named after its own sid from the moment it
connects until it disconnects, so "emit to a sid" and "emit to a room" are one operation.
A room exists while it has members; a room whose last member leaves is forgotten, so memory is
bounded by the number of (socket, room) memberships.

Selection (:meth:`RoomRegistry.select`) follows socket.io's broadcast operators: the union of
the ``rooms`` (or every socket of the namespace when no room is given), minus the sockets in
any of the ``except_rooms``, minus the ``skip`` sids. Each socket is selected once, in the
order it joined its first selected room, which keeps delivery order stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

__all__ = ["RoomObserver", "RoomRegistry"]


class RoomObserver(Protocol):
    """Told of every membership change (the Admin UI's ``room_joined`` / ``room_left``)."""

    def on_join(self, namespace: str, sid: str, room: str) -> None:
        """``sid`` entered ``room`` (its own sid room included, on connect)."""

    def on_leave(self, namespace: str, sid: str, room: str) -> None:
        """``sid`` left ``room`` (every room, on disconnect)."""


class RoomRegistry:
    """Room memberships of every socket, by namespace."""

    __slots__ = ("_rooms", "_sockets", "observer")

    def __init__(self) -> None:
        #: Told of membership changes; None (the default) costs one test per change.
        self.observer: RoomObserver | None = None
        # namespace -> room -> sids (a dict used as an ordered set)
        self._rooms: dict[str, dict[str, dict[str, None]]] = {}
        # namespace -> sid -> rooms (ordered)
        self._sockets: dict[str, dict[str, dict[str, None]]] = {}

    # ------------------------------------------------------------------ sockets

    def connect(self, namespace: str, sid: str) -> None:
        """Register a socket; it enters the room named after its sid."""
        self._sockets.setdefault(namespace, {}).setdefault(sid, {})
        self.enter(namespace, sid, sid)

    def disconnect(self, namespace: str, sid: str) -> list[str]:
        """Forget a socket and its memberships; returns the rooms it was in."""
        rooms = self._sockets.get(namespace, {}).pop(sid, None)
        if rooms is None:
            return []
        if self.observer is not None:  # admin hook
            for room in rooms:
                self.observer.on_leave(namespace, sid, room)
        by_room = self._rooms[namespace]
        for room in rooms:
            members = by_room[room]
            del members[sid]
            if not members:
                del by_room[room]
        if not by_room:
            del self._rooms[namespace]
            del self._sockets[namespace]
        return list(rooms)

    def is_connected(self, namespace: str, sid: str) -> bool:
        """Whether the socket is registered."""
        return sid in self._sockets.get(namespace, {})

    def sockets(self, namespace: str) -> list[str]:
        """Every socket of a namespace, in connection order."""
        return list(self._sockets.get(namespace, {}))

    def namespaces(self) -> list[str]:
        """Namespaces with at least one socket."""
        return list(self._sockets)

    # -------------------------------------------------------------------- rooms

    def enter(self, namespace: str, sid: str, room: str) -> None:
        """Add a connected socket to a room (idempotent).

        Raises:
            KeyError: the socket is not connected in that namespace.
        """
        rooms = self._sockets[namespace][sid]
        if self.observer is not None and room not in rooms:  # admin hook
            self.observer.on_join(namespace, sid, room)
        rooms[room] = None
        self._rooms.setdefault(namespace, {}).setdefault(room, {})[sid] = None

    def leave(self, namespace: str, sid: str, room: str) -> None:
        """Remove a socket from a room (a socket never leaves its own sid room this way)."""
        if room == sid:
            return
        rooms = self._sockets.get(namespace, {}).get(sid)
        if rooms is None or room not in rooms:
            return
        del rooms[room]
        if self.observer is not None:  # admin hook
            self.observer.on_leave(namespace, sid, room)
        members = self._rooms[namespace][room]
        del members[sid]
        if not members:
            del self._rooms[namespace][room]

    def close_room(self, namespace: str, room: str) -> list[str]:
        """Remove every socket from a room; returns the sids that were in it."""
        members = list(self._rooms.get(namespace, {}).get(room, {}))
        for sid in members:
            self.leave(namespace, sid, room)
        return members

    def rooms_of(self, namespace: str, sid: str) -> list[str]:
        """The rooms a socket is in, its own sid room first."""
        return list(self._sockets.get(namespace, {}).get(sid, {}))

    def members(self, namespace: str, room: str) -> list[str]:
        """The sids in a room."""
        return list(self._rooms.get(namespace, {}).get(room, {}))

    def rooms(self, namespace: str) -> list[str]:
        """Every room of a namespace (sid rooms included)."""
        return list(self._rooms.get(namespace, {}))

    # ---------------------------------------------------------------- selection

    def select(
        self,
        namespace: str,
        rooms: Iterable[str] | None = None,
        *,
        except_rooms: Iterable[str] = (),
        skip: Iterable[str] = (),
    ) -> Iterator[str]:
        """The sids a broadcast reaches; see the module docstring for the rules."""
        by_room = self._rooms.get(namespace)
        if not by_room:
            return iter(())
        excluded: set[str] = set(skip)
        for room in except_rooms:
            excluded.update(by_room.get(room, ()))
        if rooms is None:
            candidates = list(self._sockets[namespace])  # a snapshot, as for rooms
            return (sid for sid in candidates if sid not in excluded)
        room_list = list(rooms)
        if len(room_list) == 1:
            members = by_room.get(room_list[0], {})
            return (sid for sid in list(members) if sid not in excluded)
        return self._union(by_room, room_list, excluded)

    @staticmethod
    def _union(
        by_room: dict[str, dict[str, None]], rooms: list[str], excluded: set[str]
    ) -> Iterator[str]:
        seen = set(excluded)
        for room in rooms:
            for sid in list(by_room.get(room, ())):
                if sid not in seen:
                    seen.add(sid)
                    yield sid
