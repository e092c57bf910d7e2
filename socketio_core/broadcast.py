"""Which sockets an operation is for: the one value of socket.io's broadcast flags.

:class:`BroadcastTarget` is built once, by the operator chain (``sio.to("a").except_("b")``)
or by the keyword arguments of ``emit``, and carried unchanged to the manager, and across
the cluster wire format (:mod:`socketio_core.pubsub`, the ``target`` field). A new flag is a
new field here, validated in one place, encoded in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import KW_ONLY, dataclass, replace
from typing import Any

from .packet import DEFAULT_NAMESPACE

__all__ = ["BroadcastTarget", "names"]


def names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """A room or sid, several, or None, as a tuple."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True, slots=True)
class BroadcastTarget:
    """Which sockets an operation is for (socket.io's broadcast flags).

    Attributes:
        namespace: the namespace.
        rooms: the rooms (sids count as rooms); None for every socket of the namespace.
        except_rooms: sockets in any of these rooms are left out.
        skip: these sids are left out.
        local: this process only (never published; no effect on the in-memory manager).
        volatile: drop the packet for sockets whose transport cannot take it now.
    """

    namespace: str = DEFAULT_NAMESPACE
    rooms: tuple[str, ...] | None = None
    except_rooms: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    _: KW_ONLY
    local: bool = False
    volatile: bool = False

    def to(self, room: str | Iterable[str] | None) -> BroadcastTarget:
        """Also target ``room`` (a sid or a room name, or several); None adds nothing."""
        added = names(room)
        return replace(self, rooms=(self.rooms or ()) + added) if added else self

    def excluding(self, room: str | Iterable[str] | None) -> BroadcastTarget:
        """Leave out the sockets in ``room``."""
        return replace(self, except_rooms=self.except_rooms + names(room))

    def with_flags(self, **flags: Any) -> BroadcastTarget:
        """A copy with some fields changed (``local=True``, ``volatile=True``...)."""
        return replace(self, **flags)

    def to_wire(self) -> dict[str, Any]:
        """The cluster wire format's ``target`` field (``local`` is never published)."""
        return {
            "nsp": self.namespace,
            "rooms": None if self.rooms is None else list(self.rooms),
            "except": list(self.except_rooms),
            "skip": list(self.skip),
            "volatile": self.volatile,
        }

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> BroadcastTarget:
        """The inverse of :meth:`to_wire`, for a field already validated."""
        return cls(
            raw["nsp"],
            None if raw["rooms"] is None else tuple(raw["rooms"]),
            tuple(raw["except"]),
            tuple(raw["skip"]),
            volatile=raw["volatile"],
        )
