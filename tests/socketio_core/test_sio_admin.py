"""Tests for socketio_core.admin: the Admin UI protocol's sans-I/O pieces (and the rooms'
observer hook, which feeds it)."""

from __future__ import annotations

import hashlib
import sys
from typing import Any

import pytest

from socketio_core.admin import (
    AdminSessions,
    Credentials,
    EventBuffer,
    features,
    hash_password,
    iso_time,
    serialize_socket,
    server_stats,
)
from socketio_core.exceptions import MissingDependency
from socketio_core.rooms import RoomRegistry

CHEAP = {"n": 2**4, "r": 8, "p": 1}


def test_features_follow_node() -> None:
    assert features(read_only=True, mode="production") == ["AGGREGATED_EVENTS"]
    assert features(read_only=True, mode="development") == ["AGGREGATED_EVENTS", "ALL_EVENTS"]
    assert features(read_only=False, mode="production")[:4] == [
        "EMIT",
        "JOIN",
        "LEAVE",
        "DISCONNECT",
    ]


@pytest.mark.parametrize(
    ("timestamp", "text"),
    [(0, "1970-01-01T00:00:00.000Z"), (1.2349, "1970-01-01T00:00:01.234Z")],
)
def test_iso_time_is_javascripts(timestamp: float, text: str) -> None:
    assert iso_time(timestamp) == text


def test_scrypt_hash_format_and_vector() -> None:
    stored = hash_password("pw", salt="NaCl", **CHEAP)
    expected = hashlib.scrypt(b"pw", salt=b"NaCl", n=16, r=8, p=1, dklen=64).hex()
    assert stored == f"scrypt:16:8:1$NaCl${expected}"
    assert hash_password("pw", **CHEAP) != hash_password("pw", **CHEAP)  # random salts


def test_credentials_verify_in_constant_shape() -> None:
    creds = Credentials(
        [
            {"username": "admin", "password": hash_password("one", **CHEAP)},
            {"username": "ops", "password": "two"},  # clear: hashed here
        ]
    )
    assert all(a.stored.startswith("scrypt:") for a in creds.accounts)
    assert "two" not in creds.accounts[1].stored
    assert creds.verify({"username": "admin", "password": "one"})
    assert creds.verify({"username": "ops", "password": "two"})
    assert not creds.verify({"username": "admin", "password": "two"})
    assert not creds.verify({"username": "ops", "password": "one"})
    assert not creds.verify({"username": "admin"})
    assert not creds.verify({"username": 1, "password": []})
    assert not creds.verify("admin:one")


@pytest.mark.parametrize(
    "auth",
    [
        {},
        [],
        {"username": "a"},
        {"username": "a", "password": ""},
        {"username": "a", "password": "scrypt:x$y$z"},
        {"username": "a", "password": "scrypt:15:8:1$salt$00"},  # n not a power of 2
        {"username": "a", "password": "scrypt:16:8:1$salt$"},
        {"username": "a", "password": "$2b$04$notavalidhash"},
    ],
)
def test_bad_credentials_config(auth: Any) -> None:
    with pytest.raises(ValueError, match="auth"):
        Credentials(auth)


def test_bcrypt_hashes() -> None:
    bcrypt = pytest.importorskip("bcrypt")
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    creds = Credentials({"username": "u", "password": hashed})
    assert creds.verify({"username": "u", "password": "pw"})
    assert not creds.verify({"username": "u", "password": "px"})
    assert not creds.verify({"username": "u", "password": "x" * 100})  # over bcrypt's 72 bytes


def test_bcrypt_hash_without_the_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bcrypt", None)  # import bcrypt -> ImportError
    with pytest.raises(MissingDependency, match=r"socketio-stack\[admin\]"):
        Credentials({"username": "u", "password": "$2b$12$" + "a" * 53})


def test_sessions_expire_and_are_bounded() -> None:
    sessions = AdminSessions(max_sessions=2, ttl=10.0)
    sessions.add("a", now=0.0)
    assert sessions.valid("a", now=9.9)
    assert not sessions.valid("a", now=10.0) and len(sessions) == 0  # expired, forgotten
    for name in ("b", "c", "d"):
        sessions.add(name, now=20.0)
    assert len(sessions) == 2 and not sessions.valid("b", 21.0) and sessions.valid("d", 21.0)
    assert not sessions.valid("", 21.0) and not sessions.valid(None, 21.0)


def test_serialize_socket_hides_secrets() -> None:
    handshake = {
        "headers": {"x-forwarded-for": "10.0.0.9", "host": "h"},
        "address": "127.0.0.1",
        "query": {"EIO": "4"},
        "auth": {"password": "hunter2"},
        "issued": 1000,
        "time": "t",
        "url": "/socket.io/",
        "secure": False,
        "xdomain": True,
    }
    data = {"_admin": {"clientId": "eio1", "transport": "websocket"}, "user": "bob"}
    out = serialize_socket("s1", "/", ["s1", "r"], data, handshake)
    assert out == {
        "id": "s1",
        "clientId": "eio1",
        "transport": "websocket",
        "nsp": "/",
        "data": {"user": "bob"},
        "handshake": {
            "address": "10.0.0.9",
            "headers": {"x-forwarded-for": "10.0.0.9", "host": "h"},
            "query": {"EIO": "4"},
            "issued": 1000,
            "secure": False,
            "time": "t",
            "url": "/socket.io/",
            "xdomain": True,
        },
        "rooms": ["s1", "r"],
    }
    bare = serialize_socket("s2", "/", [], {}, {}, transport="polling")
    assert (bare["clientId"], bare["transport"], bare["handshake"]["address"]) == (
        "s2",
        "polling",
        "",
    )


def test_event_buffer_counts_per_second() -> None:
    buffer = EventBuffer()
    buffer.push("packetsIn", 10.2)
    buffer.push("packetsIn", 10.9)
    buffer.push("bytesIn", 10.9, 42)
    buffer.push("rawDisconnection", 11.0, sub_type="transport close")
    assert buffer.drain() == [
        {"timestamp": 10_000, "type": "packetsIn", "count": 2},
        {"timestamp": 10_000, "type": "bytesIn", "count": 42},
        {"timestamp": 11_000, "type": "rawDisconnection", "subType": "transport close", "count": 1},
    ]
    assert buffer.drain() == []


def test_server_stats_shape() -> None:
    stats = server_stats(
        server_id="s",
        hostname="h",
        pid=1,
        uptime=2.5,
        clients_count=3,
        polling_clients_count=1,
        aggregated_events=[],
        namespaces={"/": 2, "/admin": 1},
    )
    assert stats["namespaces"] == [
        {"name": "/", "socketsCount": 2},
        {"name": "/admin", "socketsCount": 1},
    ]
    assert (stats["serverId"], stats["clientsCount"], stats["pollingClientsCount"]) == ("s", 3, 1)


class Changes:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, str]] = []

    def on_join(self, namespace: str, sid: str, room: str) -> None:
        self.seen.append(("join", namespace, sid, room))

    def on_leave(self, namespace: str, sid: str, room: str) -> None:
        self.seen.append(("leave", namespace, sid, room))


def test_room_observer_sees_every_membership_change() -> None:
    registry = RoomRegistry()
    changes = Changes()
    registry.observer = changes
    registry.connect("/", "a")
    registry.enter("/", "a", "r")
    registry.enter("/", "a", "r")  # idempotent: told once
    registry.leave("/", "a", "x")  # not a member: nothing
    registry.leave("/", "a", "r")
    registry.enter("/", "a", "q")
    registry.disconnect("/", "a")
    assert changes.seen == [
        ("join", "/", "a", "a"),
        ("join", "/", "a", "r"),
        ("leave", "/", "a", "r"),
        ("join", "/", "a", "q"),
        ("leave", "/", "a", "a"),
        ("leave", "/", "a", "q"),
    ]
