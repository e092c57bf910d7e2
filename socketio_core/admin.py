"""The Socket.IO Admin UI protocol, sans I/O: credentials, sessions, stats and event shapes.

Theory of operation
-------------------
The official Admin UI (npm ``@socket.io/admin-ui``) is a Socket.IO client of the ``/admin``
namespace. Its server side (``dist/index.js`` of the npm package) defines the protocol this
module writes down, event by event (each argument as the UI's ``App.vue`` reads it):

* after CONNECT: ``session`` (a session id the UI stores and sends back as
  ``auth.sessionId`` instead of the password), ``config`` (``{"supportedFeatures": [...]}``)
  and, in development mode, ``all_sockets`` (every socket of every namespace, cluster-wide);
* every ``server_stats_interval`` seconds, from each server: ``server_stats`` (server id,
  uptime, client counts, per-namespace socket counts, ``aggregatedEvents`` counted per second);
* development mode only, as they happen: ``socket_connected(socket, ts)``,
  ``socket_updated({id, nsp, transport})``, ``socket_disconnected(nsp, id, reason, ts)``,
  ``room_joined(nsp, room, id, ts)``, ``room_left(nsp, room, id, ts)``,
  ``event_received(nsp, id, [event, *args], ts)``, ``event_sent(nsp, id, [event, *args], ts)``;
* the UI's actions (unless read-only): ``join(nsp, room, filter)``, ``leave(nsp, room,
  filter)``, ``_disconnect(nsp, close, filter)``, ``emit(nsp, filter, event, *args)``, where
  ``filter`` is a sid or room (None: the whole namespace).

Timestamps travel as ISO-8601 strings, as ``JSON.stringify(new Date())`` writes them.

Rules this file keeps
---------------------
* A password is never kept in clear: a plain one is hashed with scrypt when the credentials
  are built; a bcrypt (``$2b$...``) or scrypt (``scrypt:N:r:p$salt$hex``, werkzeug's format)
  hash is kept as given. Comparisons use :func:`hmac.compare_digest`.
* A bcrypt hash needs the ``bcrypt`` package (the ``admin`` extra), imported when the
  credentials are built, so a missing package fails at ``instrument()``, not at login.
* Sessions are bounded in number and lifetime; ``now`` is passed in.
* The handshake sent to the UI never carries the client's ``auth`` (it holds passwords).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .exceptions import MissingDependency

__all__ = [
    "ALL_FEATURES",
    "AdminSessions",
    "Credentials",
    "EventBuffer",
    "Mode",
    "ServerListener",
    "features",
    "hash_password",
    "iso_time",
    "serialize_socket",
    "server_stats",
]

Mode = Literal["development", "production"]

#: The features the UI enables buttons for (``typed-events.ts`` of the npm package).
ACTION_FEATURES = ("EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT")
ALL_FEATURES = (*ACTION_FEATURES, "AGGREGATED_EVENTS", "ALL_EVENTS")

#: scrypt cost of a password hashed at start-up (werkzeug's defaults: about 32 MiB).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")


def features(*, read_only: bool, mode: Mode) -> list[str]:
    """The ``config`` event's ``supportedFeatures``, as Node's ``instrument()`` builds it."""
    found = [] if read_only else list(ACTION_FEATURES)
    found.append("AGGREGATED_EVENTS")
    if mode == "development":
        found.append("ALL_EVENTS")
    return found


def iso_time(timestamp: float) -> str:
    """A Unix time as JavaScript's ``Date.prototype.toJSON`` writes it (millisecond, ``Z``)."""
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# ----------------------------------------------------------------- credentials


def hash_password(
    password: str,
    *,
    salt: str | None = None,
    n: int = SCRYPT_N,
    r: int = SCRYPT_R,
    p: int = SCRYPT_P,
) -> str:
    """Hash a password with scrypt, in werkzeug's format ``scrypt:N:r:p$salt$hex``.

    Give the result to ``instrument(auth={"username": ..., "password": hash})`` to keep the
    clear password out of the configuration (``python -c "from socketio_core.admin import
    hash_password; print(hash_password('secret'))"``).
    """
    salt = salt if salt is not None else secrets.token_hex(8)
    digest = _scrypt(password, salt, n, r, p)
    return f"scrypt:{n}:{r}:{p}${salt}${digest.hex()}"


def _scrypt(password: str, salt: str, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt.encode(),
        n=n,
        r=r,
        p=p,
        maxmem=128 * r * (n + p + 2) + 2**20,
        dklen=64,
    )


def _parse_scrypt(stored: str) -> tuple[int, int, int, str, bytes]:
    method, salt, digest = stored.split("$", 2)
    _, n, r, p = method.split(":")
    return int(n), int(r), int(p), salt, bytes.fromhex(digest)


@dataclass(frozen=True, slots=True)
class _Account:
    username: str
    stored: str  # a bcrypt or scrypt hash, never the password

    def matches(self, username: Any, password: Any) -> bool:
        if not isinstance(username, str) or not isinstance(password, str):
            return False
        same_user = hmac.compare_digest(username.encode(), self.username.encode())
        if self.stored.startswith(_BCRYPT_PREFIXES):
            bcrypt = _import_bcrypt()
            try:
                good = bool(bcrypt.checkpw(password.encode(), self.stored.encode()))
            except ValueError:  # bcrypt >= 5 refuses passwords over 72 bytes
                good = False
        else:
            n, r, p, salt, expected = _parse_scrypt(self.stored)
            good = hmac.compare_digest(_scrypt(password, salt, n, r, p), expected)
        return same_user and good


def _import_bcrypt() -> Any:
    try:
        import bcrypt  # noqa: PLC0415 (optional dependency, imported lazily)
    except ImportError as exc:
        raise MissingDependency("bcrypt", "admin") from exc
    return bcrypt


class Credentials:
    """The accounts allowed into the Admin UI, with hashed passwords.

    Args:
        auth: ``{"username": ..., "password": ...}`` or a list of them (python-socketio's
            forms). A password is a bcrypt hash, an scrypt hash from :func:`hash_password`,
            or a clear password, hashed here (the clear text is not kept).

    Raises:
        ValueError: a malformed entry or hash.
        MissingDependency: a bcrypt hash without the ``bcrypt`` package (the ``admin`` extra).
    """

    __slots__ = ("accounts",)

    def __init__(self, auth: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> None:
        entries = [auth] if isinstance(auth, Mapping) else list(auth)
        if not entries:
            raise ValueError("auth: no account given")
        self.accounts: tuple[_Account, ...] = tuple(self._account(entry) for entry in entries)

    @staticmethod
    def _account(entry: Mapping[str, Any]) -> _Account:
        username, password = entry.get("username"), entry.get("password")
        if not isinstance(username, str) or not isinstance(password, str) or not password:
            raise ValueError("auth: each account needs a 'username' and a 'password' string")
        if password.startswith(_BCRYPT_PREFIXES):
            bcrypt = _import_bcrypt()
            try:
                bcrypt.checkpw(b"", password.encode())  # validates the hash's shape
            except ValueError as exc:
                raise ValueError("auth: the password is not a valid bcrypt hash") from exc
            return _Account(username, password)
        if password.startswith("scrypt:"):
            try:
                n, r, p, _, digest = _parse_scrypt(password)
            except ValueError as exc:
                raise ValueError("auth: the password is not a valid scrypt hash") from exc
            if n < 2 or n & (n - 1) or r < 1 or p < 1 or not digest:
                raise ValueError("auth: the scrypt hash has invalid parameters")
            return _Account(username, password)
        return _Account(username, hash_password(password))

    def verify(self, client_auth: Any) -> bool:
        """Whether the ``auth`` of a CONNECT names an account (CPU-bound: scrypt/bcrypt).

        Every account is checked, so the time taken does not tell which username exists.
        """
        if not isinstance(client_auth, Mapping):
            return False
        username, password = client_auth.get("username"), client_auth.get("password")
        results = [account.matches(username, password) for account in self.accounts]
        return any(results)


@dataclass(slots=True)
class AdminSessions:
    """Session ids handed to logged-in UIs (Node's ``InMemoryStore``), bounded.

    Args:
        max_sessions: sessions kept; the oldest is forgotten beyond this.
        ttl: seconds a session id stays valid.
    """

    max_sessions: int = 1000
    ttl: float = 24 * 3600.0
    _expiry: dict[str, float] = field(default_factory=dict)

    def add(self, session_id: str, now: float) -> None:
        """Remember a new session id."""
        self._expiry[session_id] = now + self.ttl
        while len(self._expiry) > self.max_sessions:
            del self._expiry[next(iter(self._expiry))]

    def valid(self, session_id: Any, now: float) -> bool:
        """Whether ``session_id`` names a live session (constant time per entry)."""
        if not isinstance(session_id, str) or not session_id:
            return False
        found = False
        for known, expiry in list(self._expiry.items()):
            if expiry <= now:
                del self._expiry[known]
            elif hmac.compare_digest(known.encode(), session_id.encode()):
                found = True
        return found

    def __len__(self) -> int:
        return len(self._expiry)


# ------------------------------------------------------------------ socket details


def serialize_socket(
    sid: str,
    namespace: str,
    rooms: Iterable[str],
    data: Mapping[str, Any],
    handshake: Mapping[str, Any],
    *,
    client_id: str | None = None,
    transport: str | None = None,
) -> dict[str, Any]:
    """A socket as the UI shows it (Node's ``serialize()``).

    ``client_id`` and ``transport`` default to what ``data["_admin"]`` holds (set on the
    socket's server so that ``fetch_sockets`` carries them across a cluster). The handshake
    loses its ``auth`` and the data its ``_admin``.
    """
    admin = data.get("_admin")
    admin = admin if isinstance(admin, Mapping) else {}
    headers = handshake.get("headers") or {}
    address = (
        headers.get("cf-connecting-ip")
        or headers.get("x-forwarded-for")
        or handshake.get("address", "")
    )
    return {
        "id": sid,
        "clientId": client_id if client_id is not None else admin.get("clientId", sid),
        "transport": transport if transport is not None else admin.get("transport", "polling"),
        "nsp": namespace,
        "data": {key: value for key, value in data.items() if key != "_admin"},
        "handshake": {
            "address": address,
            "headers": dict(headers),
            "query": dict(handshake.get("query") or {}),
            "issued": handshake.get("issued", 0),
            "secure": bool(handshake.get("secure", False)),
            "time": handshake.get("time", ""),
            "url": handshake.get("url", ""),
            "xdomain": bool(handshake.get("xdomain", False)),
        },
        "rooms": list(rooms),
    }


# --------------------------------------------------------------------- statistics


class EventBuffer:
    """Counts of engine-level happenings per second (Node's ``EventBuffer``).

    Types: ``rawConnection``, ``rawDisconnection`` (``subType``: the reason), ``packetsIn``,
    ``packetsOut``, ``bytesIn``, ``bytesOut``. The buffer holds at most one entry per
    (second, type, subType) and is emptied by each ``server_stats``.
    """

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[tuple[int, str, str | None], int] = {}

    def push(self, kind: str, now: float, count: int = 1, sub_type: str | None = None) -> None:
        """Count ``count`` happenings of ``kind`` at time ``now``."""
        key = (int(now) * 1000, kind, sub_type)
        self._counts[key] = self._counts.get(key, 0) + count

    def drain(self) -> list[dict[str, Any]]:
        """The counts since the last drain, as ``aggregatedEvents`` entries."""
        values = [
            {"timestamp": ms, "type": kind, "subType": sub, "count": count}
            if sub is not None
            else {"timestamp": ms, "type": kind, "count": count}
            for (ms, kind, sub), count in self._counts.items()
        ]
        self._counts.clear()
        return values


def server_stats(
    *,
    server_id: str,
    hostname: str,
    pid: int,
    uptime: float,
    clients_count: int,
    polling_clients_count: int,
    aggregated_events: list[dict[str, Any]],
    namespaces: Mapping[str, int],
) -> dict[str, Any]:
    """The ``server_stats`` payload (``namespaces``: socket count by namespace name)."""
    return {
        "serverId": server_id,
        "hostname": hostname,
        "pid": pid,
        "uptime": uptime,
        "clientsCount": clients_count,
        "pollingClientsCount": polling_clients_count,
        "aggregatedEvents": aggregated_events,
        "namespaces": [{"name": name, "socketsCount": n} for name, n in namespaces.items()],
    }


# ---------------------------------------------------------------- server listener


class ServerListener(Protocol):
    """What the Socket.IO server tells an observer (the Admin UI instrumentation).

    The server holds at most one listener (``AsyncServer.listener``, None unless
    ``instrument()`` was called; setting it reaches the ``Dispatcher`` and the
    ``ServerSessionDriver`` of every connection) and calls these methods synchronously, from
    the network path: an implementation only records and schedules, it never awaits or raises.
    Messages in and out are told by the connection's driver, sockets and events by the
    dispatcher, emits by ``AsyncServer.emit_to_target``.
    """

    def on_eio_connect(self, eio_sid: str) -> None:
        """An Engine.IO session opened."""

    def on_eio_disconnect(self, eio_sid: str, reason: str) -> None:
        """An Engine.IO session closed."""

    def on_packet_in(self, data: str | bytes) -> None:
        """An Engine.IO message arrived."""

    def on_packets_out(self, messages: Collection[Any]) -> None:
        """Engine.IO messages (str, bytes or shared packets) went to one client."""

    def on_connect(self, namespace: str, sid: str, eio_sid: str) -> None:
        """A socket connected (its CONNECT was sent)."""

    def on_disconnect(self, namespace: str, sid: str, reason: str) -> None:
        """A connected socket left."""

    def on_event_received(self, namespace: str, sid: str, event: str, args: list[Any]) -> None:
        """An event of a client passed the packet middlewares."""

    def on_event_sent(self, target: Any, event: str, args: list[Any]) -> None:
        """``AsyncServer.emit`` sent an event (``target``: its ``BroadcastTarget``)."""
