"""A Python server in a Node ``@socket.io/redis-adapter`` cluster (classic mode), end to end.

One redis-server, a Node socket.io 4.8 server on ``createAdapter`` (``tests/node/
sio_redis_node.js``, which also runs the Node socket.io-clients and ``@socket.io/
redis-emitter``) and two of our servers (``cluster_server.py`` with ``wire="node"``). Every
cluster operation is issued from the Node server and from a Python server; the recipients are
those a single process would pick, each once (checked after a fence: an event published later
by the same server, delivered in order by Redis).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from cluster_kit import Cluster, RedisBroker, start_cluster
from node_kit import NodeDriver, bin_, node_ready

from socketio_core.aio.redis_manager import AsyncRedisManager
from socketio_core.emitter import Emitter

#: client name -> (server index: 0 is Node, 1 and 2 Python; rooms)
CLIENTS: dict[str, tuple[int, list[str]]] = {
    "n1": (0, ["a"]),
    "n2": (0, ["b"]),
    "p1a": (1, ["a"]),
    "p1b": (1, ["b"]),
    "p2a": (2, ["a", "c"]),
    "p2x": (2, []),
}


class Mixed:
    """The cluster, its clients and the fences sent so far."""

    def __init__(self, node: NodeDriver, cluster: Cluster, mode: str) -> None:
        self.mode = mode
        self.classic = mode != "sharded"
        self.node = node
        self.cluster = cluster
        self.sids: dict[str, str] = {}
        self.gone: set[str] = set()
        self.fences = 0

    def port(self, server: int) -> int:
        return self.node.port if server == 0 else self.cluster.servers[server - 1].port

    def fence(self, origin: str = "node") -> None:
        """Emit ``fence`` to everyone from ``origin`` ("node" or a client of a Python server,
        whose server emits it) and wait until every connected client has it."""
        self.fences += 1
        if origin == "node":
            self.node.node_op(op="emit", event="fence", args=[self.fences])
        else:
            self.node.client_op(origin, op="emit", event="fence", data=self.fences)
        for name in CLIENTS:
            if name not in self.gone:
                got = self.node.got(name, "fence", self.fences)
                assert [self.fences] in got, (name, got)

    def received(self, event: str) -> dict[str, list[list[Any]]]:
        """Every client's ``event`` argument lists (call after a fence)."""
        result = {}
        for name in CLIENTS:
            got = [args for ev, args in self.node.call("events", name=name) if ev == event]
            if got:
                result[name] = got
        return result


@pytest.fixture(scope="module", params=["classic", "sharded", "classic-specific"])
def mixed(redis_broker: RedisBroker, request: pytest.FixtureRequest) -> Iterator[Mixed]:
    node_ready()
    mode = request.param
    node = NodeDriver(redis_broker.url, mode)
    cluster = None
    try:
        cluster = start_cluster(
            redis_broker,
            2,
            wire="node-sharded" if mode == "sharded" else "node",
            specific=mode == "classic-specific",
            peers=2,
            max_size=100_000,
            namespaces=["/", "/py"],
        )
        world = Mixed(node, cluster, mode)
        for name, (server, rooms) in CLIENTS.items():
            world.sids[name] = node.call("connect", name=name, port=world.port(server), rooms=rooms)
        world.fence()
        yield world
    finally:
        node.close()
        if cluster is not None:
            cluster.close()


def once(*names: str, args: list[Any]) -> dict[str, list[list[Any]]]:
    return {name: [args] for name in names}


PAYLOAD = [1, {"x": "y"}, bin_(b"\x00\x01binary\xff")]


# ------------------------------------------------------------------ broadcasts


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"to": "a"}, ("n1", "p1a", "p2a")),
        ({"except": "a"}, ("n2", "p1b", "p2x")),
        ({"to": ["a", "b"], "except": "c"}, ("n1", "n2", "p1a", "p1b")),
        ({"volatile": True}, tuple(CLIENTS)),
        ({"local": True}, ("n1", "n2")),
    ],
)
def test_broadcast_from_node_reaches_python_clients(
    mixed: Mixed, flags: dict[str, Any], expected: tuple[str, ...]
) -> None:
    event = "from-node-" + json.dumps(flags, sort_keys=True)
    mixed.node.node_op(op="emit", event=event, args=PAYLOAD, **flags)
    mixed.fence()
    assert mixed.received(event) == once(*expected, args=PAYLOAD)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"to": "a"}, ("n1", "p1a", "p2a")),
        ({"except": ["a"]}, ("n2", "p1b", "p2x")),
        ({"to": ["a", "b"], "except": ["c"]}, ("n1", "n2", "p1a", "p1b")),
        ({"volatile": True}, tuple(CLIENTS)),
        ({"local": True}, ("p1a", "p1b")),
    ],
)
def test_broadcast_from_python_reaches_node_clients(
    mixed: Mixed, flags: dict[str, Any], expected: tuple[str, ...]
) -> None:
    event = "from-py-" + json.dumps(flags, sort_keys=True)
    mixed.node.client_op("p1a", op="emit", event=event, data=PAYLOAD, **flags)
    mixed.fence("p1a")
    # python-socketio's data convention: a list is one argument
    assert mixed.received(event) == once(*expected, args=[PAYLOAD])


def test_emit_to_a_sid_of_another_server(mixed: Mixed) -> None:
    mixed.node.node_op(op="emit", event="to-sid-1", args=[1], to=mixed.sids["p2x"])
    mixed.node.client_op("p1a", op="emit", event="to-sid-2", data=2, to=mixed.sids["n2"])
    mixed.fence()
    mixed.fence("p1a")
    assert mixed.received("to-sid-1") == {"p2x": [[1]]}
    assert mixed.received("to-sid-2") == {"n2": [[2]]}


# -------------------------------------------------------------------- rooms


def test_sockets_join_and_leave_both_ways(mixed: Mixed) -> None:
    mixed.node.node_op(op="sockets_join", to="b", rooms=["d"])
    mixed.fence()
    mixed.node.client_op("p2x", op="emit", event="in-d", data=1, to="d")
    mixed.fence("p2x")
    assert mixed.received("in-d") == once("n2", "p1b", args=[1])
    mixed.node.client_op("p1a", op="sockets_join", to="c", rooms=["e"])
    mixed.node.client_op("p1a", op="enter_room", sid=mixed.sids["n1"], room="e")
    mixed.fence("p1a")
    mixed.node.node_op(op="emit", event="in-e", args=[2], to="e")
    mixed.fence()
    assert mixed.received("in-e") == once("n1", "p2a", args=[2])
    mixed.node.client_op("p1a", op="sockets_leave", to="d", rooms=["d"])
    mixed.node.node_op(op="sockets_leave", to="e", rooms=["e"])
    mixed.fence("p1a")
    mixed.fence()
    mixed.node.node_op(op="emit", event="in-d-e", args=[3], to=["d", "e"])
    mixed.fence()
    assert mixed.received("in-d-e") == {}


# -------------------------------------------------------------- fetch_sockets

HANDSHAKE_KEYS = sorted(
    ["address", "auth", "headers", "issued", "query", "secure", "time", "url", "xdomain"]
)


def test_fetch_sockets_from_node_sees_python_sockets(mixed: Mixed) -> None:
    found = mixed.node.node_op(op="fetch_sockets", to="a")
    by_id = {s["id"]: s for s in found}
    assert set(by_id) == {mixed.sids[n] for n in ("n1", "p1a", "p2a")}
    p2a = by_id[mixed.sids["p2a"]]
    assert p2a["rooms"] == sorted([mixed.sids["p2a"], "a", "c"])
    assert p2a["data"] == {"name": "p2a"}
    assert p2a["auth"] == {"name": "p2a", "rooms": ["a", "c"]}
    assert set(HANDSHAKE_KEYS) <= set(p2a["handshakeKeys"])


def test_fetch_sockets_from_python_sees_node_sockets(mixed: Mixed) -> None:
    result = mixed.node.client_op("p1b", op="fetch_sockets", to="a", timeout=3)
    assert result["missing"] == []
    names = sorted(s["data"]["name"] for s in result["sockets"])
    assert names == ["n1", "p1a", "p2a"]
    n1 = next(s for s in result["sockets"] if s["data"]["name"] == "n1")
    assert n1["id"] == mixed.sids["n1"]
    assert sorted(n1["rooms"]) == sorted([mixed.sids["n1"], "a"])
    assert {"name": "n1", "rooms": ["a"]} in result["auth"]


def test_server_count(mixed: Mixed) -> None:
    assert mixed.node.node_op(op="server_count") == 3
    assert mixed.node.client_op("p1a", op="server_count") == {"count": 3}


def test_classic_only_requests(mixed: Mixed, redis_broker: RedisBroker) -> None:
    """io.allRooms() (ALL_ROOMS), and the SOCKETS and single-socket REMOTE_JOIN requests that
    older adapters send: answered on the response channel."""
    if not mixed.classic:
        pytest.skip("the sharded adapter has no such requests")
    rooms = mixed.node.node_op(op="all_rooms")
    assert {"a", "b", "c", mixed.sids["p2x"], mixed.sids["n1"]} <= set(rooms)
    client = redis.Redis.from_url(redis_broker.url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe("socket.io-response#/#", "socket.io-response#/#old#")
        join = {"uid": "old", "requestId": "rj", "type": 2, "sid": mixed.sids["p1b"], "room": "old"}
        client.publish("socket.io-request#/#", json.dumps(join))
        sockets = {"uid": "old", "requestId": "rs", "type": 0, "rooms": ["c"]}
        client.publish("socket.io-request#/#", json.dumps(sockets))
        answers = {}
        for _ in range(50):
            message = pubsub.get_message(timeout=0.2)
            if message is not None:
                body = json.loads(message["data"])
                if body.get("requestId") in ("rj", "rs"):
                    answers.setdefault(body["requestId"], []).append(body)
            if len(answers.get("rs", [])) == 3 and "rj" in answers:  # every server answers
                break
    finally:
        pubsub.close()
        client.close()
    assert answers["rj"] == [{"requestId": "rj"}]  # only the server that has the socket
    assert len(answers["rs"]) == 3  # the Node server too
    assert sorted(s for a in answers["rs"] for s in a["sockets"]) == [mixed.sids["p2a"]]
    mixed.node.node_op(op="emit", event="in-old", args=[1], to="old")
    mixed.fence()
    assert mixed.received("in-old") == once("p1b", args=[1])


# -------------------------------------------------------- server-side events


def test_server_side_emit_with_acks_both_ways(mixed: Mixed) -> None:
    answers = mixed.node.node_op(op="server_side_call", event="whoami", args=[1], timeout=3000)
    assert "answers" in answers, answers
    assert sorted(a["uid"] for a in answers["answers"]) == sorted(
        s.uid for s in mixed.cluster.servers
    )
    assert all(a["args"] == [1] for a in answers["answers"])
    result = mixed.node.client_op("p1a", op="server_side_call", args=[2], timeout=3)
    assert result["missing"] == []
    assert sorted(a["uid"] for a in result["answers"]) == sorted(
        ["node", mixed.cluster.servers[1].uid]
    )
    assert all(a["args"] == [2] for a in result["answers"])


def test_server_side_emit_without_ack_both_ways(mixed: Mixed) -> None:
    mixed.node.node_op(op="server_side_emit", event="note", args=[5])
    mixed.fence()
    noted = mixed.received("noted")
    assert sorted(noted) == ["p1a", "p1b", "p2a", "p2x"]
    assert all(len(v) == 1 and v[0][0]["args"] == [5] for v in noted.values())
    mixed.node.client_op("p1a", op="server_side_emit", event="note", args=[6])
    mixed.fence("p1a")
    assert [6] in mixed.node.call("noted")
    assert len(mixed.received("noted")["p2x"]) == 2
    assert len(mixed.received("noted")["p1a"]) == 1  # not to the sender itself


# --------------------------------------------------------------- broadcast acks


def test_broadcast_acks_both_ways(mixed: Mixed) -> None:
    acks = mixed.node.node_op(op="call", event="ask", args=[7], to="a", timeout=3000)["acks"]
    assert sorted(a["from"] for a in acks) == sorted(mixed.sids[n] for n in ("n1", "p1a", "p2a"))
    assert all(a["args"] == [7] for a in acks)
    result = mixed.node.client_op("p1b", op="call", event="ask", data=8, to="a", timeout=3)
    values = list(result["result"].values())
    assert sorted(v["from"] for v in values) == sorted(mixed.sids[n] for n in ("n1", "p1a", "p2a"))
    single = mixed.node.client_op("p1b", op="call", event="ask", data=9, sid=mixed.sids["n2"])
    assert single["result"] == {"from": mixed.sids["n2"], "args": [9]}


# -------------------------------------------------------------- the emitters


def test_redis_emitter_reaches_python_clients(mixed: Mixed) -> None:
    if not mixed.classic:
        pytest.skip("@socket.io/redis-emitter publishes in the classic format only")
    mixed.node.call("emitter", req={"op": "emit", "event": "em-a", "args": PAYLOAD, "to": "a"})
    mixed.node.call("emitter", req={"op": "emit", "event": "em-x", "args": [1], "except": "a"})
    mixed.node.call("emitter", req={"op": "server_side_emit", "event": "note", "args": ["em"]})
    mixed.fence()
    assert mixed.received("em-a") == once("n1", "p1a", "p2a", args=PAYLOAD)
    assert mixed.received("em-x") == once("n2", "p1b", "p2x", args=[1])
    noted = mixed.received("noted")
    assert all(any(v[0]["args"] == ["em"] for v in values) for values in noted.values())
    mixed.node.call("emitter", req={"op": "sockets_join", "to": "c", "rooms": ["f"]})
    mixed.fence()
    mixed.node.node_op(op="emit", event="in-f", args=[1], to="f")
    mixed.fence()
    assert mixed.received("in-f") == once("p2a", args=[1])


def test_python_socketio_write_only_manager_reaches_python_clients(
    mixed: Mixed, redis_broker: RedisBroker
) -> None:
    socketio = pytest.importorskip("socketio")

    async def publish() -> None:
        mgr = socketio.AsyncRedisManager(redis_broker.url, write_only=True)
        await mgr.emit("pysio", {"n": 1}, room="a", namespace="/")
        await mgr.emit("pysio-bin", (b"\x01\x02", 3), namespace="/", skip_sid=mixed.sids["p1b"])
        await mgr.redis.aclose()

    asyncio.run(publish())
    mixed.fence("p1a")
    assert mixed.received("pysio") == once("p1a", "p2a", args=[{"n": 1}])
    assert mixed.received("pysio-bin") == once("p1a", "p2a", "p2x", args=[bin_(b"\x01\x02"), 3])


def test_our_emitters_reach_node_clients(mixed: Mixed, redis_broker: RedisBroker) -> None:
    classic = mixed.classic
    if classic:  # like @socket.io/redis-emitter, the blocking emitter speaks the classic format
        emitter = Emitter.redis(redis_broker.url, wire="node")
        try:
            emitter.emit("ours-a", (b"\x07bin", 2), to="a")
            emitter.emit("ours-x", 1, except_rooms="a", skip_sid=mixed.sids["p2x"])
            emitter.server_side_emit("note", "ours")
        finally:
            emitter.close()

    async def publish() -> None:
        wire = "node" if classic else "node-sharded"
        mgr = AsyncRedisManager(redis_broker.url, write_only=True, wire=wire)
        await mgr.start()
        try:
            await mgr.emit_event("ours-async", {"k": 1}, to=["a", "b"], except_rooms=["c"])
        finally:
            await mgr.stop()

    asyncio.run(publish())
    mixed.fence()
    assert mixed.received("ours-async") == once("n1", "n2", "p1a", "p1b", args=[{"k": 1}])
    if classic:
        assert mixed.received("ours-a") == once("n1", "p1a", "p2a", args=[bin_(b"\x07bin"), 2])
        assert mixed.received("ours-x") == once("n2", "p1b", args=[1])
        assert ["ours"] in mixed.node.call("noted")


# ------------------------------------------------------------- broker trouble

GARBAGE: list[bytes] = [
    b"",
    b"\xff\xfe not msgpack",
    b"{not json",
    b'{"type": "x"}',
    b'{"type": 5, "requestId": 7}',
    b'{"type": 7, "requestId": "r", "packet": {"type": 0, "data": 1}, "opts": {}}',
    b'{"type": 2, "opts": {"rooms": [{}]}, "rooms": ["z"]}',
    b'{"requestId": "zz", "sockets": [{"id": 3}]}',
    b'{"method": "emit", "event": 3, "data": []}',
    b"\x93\xa3uid\x81\xa4type\x02\x80",  # [uid, {type: 2}, {}]: no data
    b"\x93\xa3uid\xc0\xc0",
    b"\xd4\x05\x00",  # a msgpack extension
    b"[" * 100_000,  # deep nesting, and over the 100 kB limit
    b'{"x": "' + b"y" * 200_000 + b'"}',  # oversized
]


def test_garbage_on_every_channel_is_dropped(mixed: Mixed, redis_broker: RedisBroker) -> None:
    # On "/py", a namespace only the Python servers have: Node's own adapter does not survive
    # a malformed broadcast (notepack.io throws in its Redis listener and the process exits).
    before = [mixed.node.client_op(n, op="state")["stats"]["rejected"] for n in ("p1a", "p2a")]
    channels = [
        "socket.io#/py#",
        "socket.io#/py#a#",
        "socket.io-request#/py#",
        "socket.io-response#/py#",
        "socketio",
    ]
    sharded = ["socket.io#/py#", "socketio"]  # SPUBLISH for the first
    if not mixed.classic:
        channels = sharded
    client = redis.Redis.from_url(redis_broker.url)
    try:
        for channel in channels:
            for data in GARBAGE:
                if not mixed.classic and channel != "socketio":
                    client.spublish(channel, data)
                else:
                    client.publish(channel, data)
    finally:
        client.close()
    mixed.fence("p1a")
    mixed.fence()
    after = [mixed.node.client_op(n, op="state")["stats"]["rejected"] for n in ("p1a", "p2a")]
    assert [a - b for a, b in zip(after, before, strict=True)] == [len(channels) * len(GARBAGE)] * 2
    mixed.node.client_op("p2x", op="emit", event="still-ok", data=1, to="a")
    mixed.fence("p2x")
    assert mixed.received("still-ok") == once("n1", "p1a", "p2a", args=[1])


def test_partial_results_with_a_server_stopped(mixed: Mixed) -> None:
    mixed.cluster.pause(1)
    try:
        result = mixed.node.client_op("p1a", op="fetch_sockets", timeout=1)
        assert sorted(s["data"]["name"] for s in result["sockets"]) == ["n1", "n2", "p1a", "p1b"]
        assert result["missing"] == ["unnamed-1"]
        answers = mixed.node.client_op("p1a", op="server_side_call", args=[3], timeout=1)
        assert [a["uid"] for a in answers["answers"]] == ["node"]
        assert answers["missing"] == ["unnamed-1"]
    finally:
        mixed.cluster.resume(1)
    mixed.fence()


# ------------------------------------------------------------- disconnects (last)


def test_disconnect_sockets_both_ways(mixed: Mixed) -> None:
    mixed.node.node_op(op="disconnect_sockets", to="c")
    mixed.gone.add("p2a")
    assert mixed.node.got("p2a", "$disconnect")
    mixed.node.client_op("p1a", op="disconnect_sockets", to="b")
    mixed.gone.update({"n2", "p1b"})
    assert mixed.node.got("n2", "$disconnect")
    assert mixed.node.got("p1b", "$disconnect")
    mixed.fence()
    for name in ("n1", "p1a", "p2x"):
        assert mixed.node.got(name, "$disconnect", ms=0) == []
    assert mixed.node.client_op("p1a", op="fetch_sockets", timeout=3)["missing"] == []
    names = [
        s["data"]["name"]
        for s in mixed.node.client_op("p1a", op="fetch_sockets", timeout=3)["sockets"]
    ]
    assert sorted(names) == ["n1", "p1a", "p2x"]
