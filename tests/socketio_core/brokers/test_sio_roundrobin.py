"""No sticky sessions: three server processes behind a round-robin TCP proxy, on real Redis.

Every HTTP request may land on any server (the proxy sends each connection to the next server
and makes each connection carry one request, see ``roundrobin_kit.py``); the servers run
``AsyncRedisManager(forward_requests=True)``, which forwards a polling request to the server
that owns its session (:mod:`socketio_core.aio.forwarder`). The clients (Node's
socket.io-client and our AsyncClient, polling only and with upgrade) pair up in rooms and,
for a number of rounds, emit with acks both ways and emit to their room; every ack must be
right and every room message must arrive exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from roundrobin_kit import (
    Barrier,
    Outcome,
    RoundRobinProxy,
    Server,
    run_node,
    run_ours,
    start_servers,
    stop_servers,
)

from socketio_core.aio import AsyncClient

ROUNDS = 12
ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.asyncio


@pytest.fixture
def servers(redis_broker: Any) -> Iterator[list[Server]]:
    channel = f"rr-{os.getpid()}-{time.monotonic_ns()}"
    started = start_servers(redis_broker.url, channel)
    try:
        yield started
    finally:
        stop_servers(started)


@pytest_asyncio.fixture
async def proxy(servers: list[Server]) -> AsyncIterator[RoundRobinProxy]:
    front = RoundRobinProxy([s.port for s in servers])
    await front.start()
    try:
        yield front
    finally:
        await front.stop()


def check(outcomes: list[Outcome], rounds: int = ROUNDS) -> None:
    """Every ack right, every room message of every peer exactly once."""
    for outcome in outcomes:
        assert outcome.errors == [], (outcome.name, outcome.errors)
        assert outcome.reconnects == 0, outcome.name
        for peer, ks in outcome.received.items():
            assert sorted(ks) == list(range(rounds)), (outcome.name, peer, ks)


async def stats(url: str, count: int = 3) -> list[dict[str, Any]]:
    """The forwarding counters of the ``count`` servers (asked over new WebSocket connections
    until each answered: the proxy or the kernel picks the server of each)."""
    found: dict[str, dict[str, Any]] = {}
    for _ in range(24):
        client = AsyncClient(reconnection=False)
        await client.connect(url, auth={"name": "stats", "room": "none"}, transports=["websocket"])
        try:
            answer = await client.call("stats", timeout=10)
        finally:
            await client.disconnect()
        found[answer["uid"]] = answer
        if len(found) == count:
            break
    return list(found.values())


async def test_our_client_polling_without_sticky_sessions(proxy: RoundRobinProxy) -> None:
    url = f"http://127.0.0.1:{proxy.port}"
    peers = ["a", "b"]
    barrier = Barrier(len(peers))
    outcomes = await asyncio.gather(
        *(run_ours(url, name, "room1", peers, ROUNDS, ["polling"], barrier) for name in peers)
    )
    check(outcomes)
    assert all(o.transport == "polling" for o in outcomes)
    counters = await stats(url)
    assert len(counters) == 3
    assert sum(c["served"] for c in counters) > 0  # requests did land on other servers
    assert sum(c["timeouts"] + c["busy"] + c["unknown"] for c in counters) == 0


async def test_node_and_ours_polling_and_upgrade_mixed(node: Any, proxy: RoundRobinProxy) -> None:
    """Node's client and ours, polling only and with upgrade, paired across rooms. Every
    upgrade succeeds, wherever it lands: on the owner as usual, elsewhere relayed to the
    owner or with the session moving there (socketio_core/aio/ws_relay.py)."""
    url = f"http://127.0.0.1:{proxy.port}"
    both = ["polling", "websocket"]
    room1, room2 = ["n_poll", "o_up"], ["o_poll", "n_up"]
    barrier = Barrier(4)
    outcomes = await asyncio.gather(
        run_node(node, url, "n_poll", "r1", room1, ROUNDS, ["polling"], barrier),
        run_ours(url, "o_up", "r1", room1, ROUNDS, both, barrier),
        run_ours(url, "o_poll", "r2", room2, ROUNDS, ["polling"], barrier),
        run_node(node, url, "n_up", "r2", room2, ROUNDS, both, barrier),
    )
    check(outcomes)
    by_name = {o.name: o for o in outcomes}
    assert by_name["n_poll"].transport == by_name["o_poll"].transport == "polling"
    assert by_name["n_up"].transport == by_name["o_up"].transport == "websocket"
    for outcome in outcomes:
        assert len(set(outcome.sessions)) == 1, outcome  # one session, one owner, all along


async def test_a_killed_server_takes_its_sessions_and_its_clients_carry_on(
    node: Any, servers: list[Server], proxy: RoundRobinProxy
) -> None:
    """SIGKILL the server that owns the first session, mid-run: the requests for its sessions
    are answered 400 by the others (Redis: nobody listens on its channel), its clients
    reconnect through the proxy to a live server and finish their rounds."""
    url = f"http://127.0.0.1:{proxy.port}"
    rounds = 12
    names = ["n_poll", "o_poll", "n_up", "o_up"]
    first_owner: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    killed: list[str] = []

    def on_session(uid: str) -> None:
        if not first_owner.done():
            first_owner.set_result(uid)

    def progress(name: str) -> Any:
        def report(k: int) -> None:
            # the first client at round 3 (all started together): everyone is mid-run
            if k == 3 and not killed:
                victim = next(s for s in servers if s.uid == first_owner.result())
                killed.append(victim.uid)
                proxy.backends.remove(victim.port)  # the balancer's health check, made quick
                os.killpg(victim.proc.pid, signal.SIGKILL)

        return report

    both = ["polling", "websocket"]
    barrier = Barrier(len(names))
    kw: dict[str, Any] = {"retry": True, "on_session": on_session}
    outcomes = await asyncio.gather(
        run_node(
            node,
            url,
            "n_poll",
            "r",
            names,
            rounds,
            ["polling"],
            barrier,
            on_progress=progress("n_poll"),
            **kw,
        ),
        run_ours(
            url,
            "o_poll",
            "r",
            names,
            rounds,
            ["polling"],
            barrier,
            on_progress=progress("o_poll"),
            **kw,
        ),
        run_node(
            node, url, "n_up", "r", names, rounds, both, barrier, on_progress=progress("n_up"), **kw
        ),
        run_ours(
            url, "o_up", "r", names, rounds, both, barrier, on_progress=progress("o_up"), **kw
        ),
    )
    assert killed == [first_owner.result()]
    victims = [o for o in outcomes if o.sessions[0] == killed[0]]
    assert victims  # at least the first session's client
    for outcome in outcomes:
        assert [e for e in outcome.errors if not e.startswith("retried")] == [], outcome
        if outcome in victims:
            assert outcome.reconnects >= 1, outcome
            assert outcome.sessions[-1] != killed[0], outcome
        # back in its room after a reconnection
        assert rounds - 1 in outcome.received.get(outcome.name, []), outcome
        if outcome.reconnects == 0:  # connected all along: got the last round of everyone
            for peer in names:
                assert rounds - 1 in outcome.received.get(peer, []), (outcome.name, peer)


async def _recv(ws: aiohttp.ClientWebSocketResponse) -> str:
    """The next text message that is not an Engine.IO ping (answered with a pong)."""
    while True:
        message = await ws.receive_str(timeout=15)
        if message != "2":
            return message
        await ws.send_str("3")


async def _raw_upgrade_elsewhere(owner: Server, lander: Server, *, released: bool) -> Any:
    """A raw Engine.IO client: handshake and Socket.IO CONNECT by polling on ``owner``, then
    its WebSocket upgrade on ``lander``; echo with an ack, then the ``stats`` ack of the
    process that serves the Socket.IO session. ``released``: first wait (polling) for the
    CONNECT answer, so that the application has seen the session before the upgrade."""
    polling = f"http://127.0.0.1:{owner.port}/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as http:
        async with http.get(polling) as response:
            sid = json.loads((await response.text())[1:])["sid"]
        polling += f"&sid={sid}"
        async with http.post(polling, data='40{"name":"raw","room":"raw"}') as response:
            assert await response.text() == "ok"
        if released:
            async with http.get(polling) as response:
                assert (await response.text()).startswith("40{")
        upgrade = f"ws://127.0.0.1:{lander.port}/socket.io/?EIO=4&transport=websocket&sid={sid}"
        async with http.ws_connect(upgrade) as ws:
            await ws.send_str("2probe")
            assert await _recv(ws) == "3probe"
            await ws.send_str("5")
            if not released:
                assert (await _recv(ws)).startswith("40{")  # CONNECT, answered by the lander
            await ws.send_str('421["echo","hi"]')
            assert await _recv(ws) == '431["hi"]'
            await ws.send_str('422["stats"]')
            answer = await _recv(ws)
            assert answer.startswith("432")
            return json.loads(answer[3:])[0]


async def test_an_upgrade_elsewhere_moves_a_new_session_there(servers: list[Server]) -> None:
    """The session's CONNECT was held on its owner: after the upgrade the whole session
    lives on the process its WebSocket landed on (Node's cluster-engine "takeOver")."""
    stats = await _raw_upgrade_elsewhere(servers[0], servers[1], released=False)
    assert stats["uid"] == servers[1].uid
    assert stats["relay"]["moved_in"] == 1


async def test_an_upgrade_elsewhere_is_relayed_once_the_session_is_known(
    servers: list[Server],
) -> None:
    """The application already had the session: it stays with its owner, and the WebSocket
    on the other process is relayed to it."""
    stats = await _raw_upgrade_elsewhere(servers[0], servers[2], released=True)
    assert stats["uid"] == servers[0].uid
    assert stats["relay"]["served"] == 1 and stats["relay"]["moved_out"] == 0


@pytest_asyncio.fixture
async def workers(redis_broker: Any) -> AsyncIterator[int]:
    """``python -m socketio_core serve roundrobin_server:sio --workers 2``; yields its port."""
    env = dict(os.environ)
    env["RR_REDIS_URL"] = redis_broker.url
    env["RR_CHANNEL"] = f"rrw-{os.getpid()}-{time.monotonic_ns()}"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "socketio_core",
        "serve",
        "roundrobin_server:sio",
        "--port",
        "0",
        "--workers",
        "2",
        cwd=Path(__file__).parent,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None
    try:
        banner = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert "2 workers" in banner, banner
        yield int(banner.split(":")[2].split("/")[0])
    finally:
        if proc.returncode is None:
            proc.terminate()  # the supervisor stops its workers
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0


async def test_workers_behind_one_port(node: Any, workers: int) -> None:
    """The same client matrix against ``serve --workers 2``: the kernel spreads the TCP
    connections over the two workers (SO_REUSEPORT), with no affinity."""
    url = f"http://127.0.0.1:{workers}"
    both = ["polling", "websocket"]
    room1, room2 = ["n_poll", "o_up"], ["o_poll", "n_up"]
    barrier = Barrier(4)
    outcomes = await asyncio.gather(
        run_node(node, url, "n_poll", "r1", room1, ROUNDS, ["polling"], barrier),
        run_ours(url, "o_up", "r1", room1, ROUNDS, both, barrier),
        run_ours(url, "o_poll", "r2", room2, ROUNDS, ["polling"], barrier),
        run_node(node, url, "n_up", "r2", room2, ROUNDS, both, barrier),
    )
    check(outcomes)
    assert [o.transport for o in outcomes] == ["polling", "websocket", "polling", "websocket"]
    counters = await stats(url, 2)
    assert len(counters) == 2
    assert sum(c["served"] for c in counters) > 0  # requests did land on the other worker


@pytest.fixture
def amqp_servers(amqp_broker: Any) -> Iterator[list[Server]]:
    channel = f"rr-{os.getpid()}-{time.monotonic_ns()}"
    started = start_servers(amqp_broker.url, channel)
    try:
        yield started
    finally:
        stop_servers(started)


async def test_rabbitmq_polling_without_sticky_sessions(
    node: Any, amqp_servers: list[Server]
) -> None:
    """The same forwarding over RabbitMQ (a queue per process, mandatory publishes), with
    Node's client and ours on polling and one of ours upgrading (its WebSocket served where it
    lands); a sid of a process that is gone is answered 400."""
    front = RoundRobinProxy([s.port for s in amqp_servers])
    await front.start()
    try:
        url = f"http://127.0.0.1:{front.port}"
        peers = ["n_poll", "o_poll", "o_up"]
        barrier = Barrier(3)
        outcomes = await asyncio.gather(
            run_node(node, url, "n_poll", "r", peers, ROUNDS, ["polling"], barrier),
            run_ours(url, "o_poll", "r", peers, ROUNDS, ["polling"], barrier),
            run_ours(url, "o_up", "r", peers, ROUNDS, ["polling", "websocket"], barrier),
        )
        check(outcomes)
        assert [o.transport for o in outcomes] == ["polling", "polling", "websocket"]
        counters = await stats(url)
        assert sum(c["served"] for c in counters) > 0
        assert sum(c["timeouts"] + c["busy"] + c["unknown"] for c in counters) == 0
        path = "/socket.io/?EIO=4&transport=polling&sid=0123456789abcdef." + "A" * 20
        reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        assert status.startswith(b"HTTP/1.1 400"), status
    finally:
        await front.stop()


async def test_rabbitmq_an_upgrade_elsewhere_moves_or_is_relayed(
    amqp_servers: list[Server],
) -> None:
    """Both outcomes of an upgrade that lands on another process, over RabbitMQ."""
    moved = await _raw_upgrade_elsewhere(amqp_servers[0], amqp_servers[1], released=False)
    assert moved["uid"] == amqp_servers[1].uid and moved["relay"]["moved_in"] == 1
    relayed = await _raw_upgrade_elsewhere(amqp_servers[1], amqp_servers[2], released=True)
    assert relayed["uid"] == amqp_servers[1].uid and relayed["relay"]["served"] >= 1
