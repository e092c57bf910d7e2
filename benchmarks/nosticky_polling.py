"""Benchmark the cost of no sticky sessions: polling echo with acks, three server processes on
one Redis, behind a round-robin proxy (requests forwarded to their session's owner) and behind
a sticky proxy (every request goes to the owner), in the same run.

Run from the repository root::

    .venv/bin/python benchmarks/nosticky_polling.py              # 2 rounds x 2 modes, ~1 min
    .venv/bin/python benchmarks/nosticky_polling.py --quick      # 1 round, ~20 s
    .venv/bin/python benchmarks/nosticky_polling.py --transport upgrade --upgrade-hold 0

Setup: one private ``redis-server``; three ``benchmarks/redis_servers/nosticky.py`` processes
(``AsyncRedisManager(forward_requests=True)``, ping interval 300 s); one TCP proxy in this
process in front of them, which makes every TCP connection carry one HTTP request (it adds
``Connection: close``, except to a WebSocket upgrade) and picks its server:

* **round-robin**: the next server, whatever the request: two requests in three land on a
  process that does not own the session and are forwarded over Redis;
* **sticky**: the server that owns the request's session, read from its sid
  (``<server id>.<random>``); the handshake goes to the next server. A perfect sticky balancer:
  the same proxy, the same connection policy, no forwarding.

Load: ``--clients`` of our ``AsyncClient`` with ``transports=["polling"]`` in this process, each
looping ``await client.call("echo", payload)``; one sample per ack (its round-trip time).
With ``--transport upgrade`` the clients upgrade to WebSocket (``["polling", "websocket"]``):
behind the round-robin proxy the upgrade lands on any process, and the session either moves
there (its CONNECT was still held, ``--upgrade-hold`` seconds, 0.3 by default) or stays with
its owner and the WebSocket is relayed over Redis (``--upgrade-hold 0`` relays every upgrade
that lands elsewhere); behind the sticky proxy it reaches the owner.
Measured over ``--duration`` seconds after ``--warmup``: acks/s and p50/p99 latency. Every ack
is checked (the payload comes back); any error prints FAIL. Everything shares the machine
(servers, Redis, proxy and clients), so the absolute figures are low; the ratio is the point.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "benchmarks" / "redis_servers" / "nosticky.py"
sys.path.insert(0, str(ROOT))

from socketio_core.aio import AsyncClient  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server is not installed (scripts/install-brokers.sh)")
    port = free_port()
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(
        [*args, "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return proc, port
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("redis-server did not start")
        time.sleep(0.05)  # polling a child's port: there is no event to await


class Proxy:
    """One HTTP request per TCP connection; round-robin or sticky by the sid's owner."""

    def __init__(self, servers: list[dict[str, Any]], sticky: bool) -> None:
        self.ports = [s["port"] for s in servers]
        self.by_uid = {s["uid"]: s["port"] for s in servers}
        self.sticky = sticky
        self.next = 0
        self.port = 0
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def _pick(self, request_line: str) -> int:
        if self.sticky and "sid=" in request_line:
            sid = request_line.split("sid=", 1)[1].split("&", 1)[0].split(" ", 1)[0]
            port = self.by_uid.get(sid.partition(".")[0])
            if port is not None:
                return port
        self.next += 1
        return self.ports[self.next % len(self.ports)]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            if not any(line.lower().startswith("upgrade:") for line in lines):
                kept = [line for line in lines[1:] if not line.lower().startswith("connection:")]
                head = "\r\n".join([lines[0], "Connection: close", *kept]).encode("latin-1")
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._pick(lines[0]))
            up_writer.write(head)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            up_writer.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:  # shutting down
            pass
        finally:
            self.tasks.discard(task)
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


async def load(
    url: str, clients: int, warmup: float, duration: float, transports: list[str]
) -> dict[str, Any]:
    """``clients`` clients looping echo with acks; acks/s and latency percentiles."""
    socks = [AsyncClient(reconnection=False) for _ in range(clients)]
    await asyncio.gather(*(c.connect(url, transports=transports, wait_timeout=10) for c in socks))
    if len(transports) > 1:  # wait (bounded) for the upgrades to settle
        for _ in range(100):
            if all(c.transport() == "websocket" for c in socks):
                break
            await asyncio.sleep(0.05)
    samples: list[float] = []
    errors: list[str] = []
    loop = asyncio.get_running_loop()
    start = loop.time() + warmup
    end = start + duration

    async def run(client: AsyncClient, index: int) -> None:
        n = 0
        while (now := loop.time()) < end:
            payload = {"c": index, "n": n}
            try:
                answer = await client.call("echo", payload, timeout=30)
            except Exception as exc:
                errors.append(repr(exc))
                return
            if answer != payload:
                errors.append(f"wrong ack {answer!r}")
            if now >= start:
                samples.append(loop.time() - now)
            n += 1

    await asyncio.gather(*(run(c, i) for i, c in enumerate(socks)))
    stats = await socks[0].call("forwarded", timeout=10)
    on_websocket = sum(c.transport() == "websocket" for c in socks)
    await asyncio.gather(*(c.disconnect() for c in socks))
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] if samples else float("nan")
    return {
        "acks_per_s": len(samples) / duration,
        "p50_ms": statistics.median(samples) * 1000 if samples else float("nan"),
        "p99_ms": p99 * 1000,
        "errors": errors,
        "on_websocket": on_websocket,
        "sample_server": stats,
    }


async def bench(args: argparse.Namespace, servers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = []
    for round_ in range(args.rounds):
        for sticky in (True, False) if round_ % 2 == 0 else (False, True):
            proxy = Proxy(servers, sticky)
            await proxy.start()
            try:
                result = await load(
                    f"http://127.0.0.1:{proxy.port}",
                    args.clients,
                    args.warmup,
                    args.duration,
                    ["polling", "websocket"] if args.transport == "upgrade" else ["polling"],
                )
            finally:
                await proxy.stop()
            result["mode"] = "sticky" if sticky else "round-robin"
            result["round"] = round_ + 1
            results.append(result)
            status = "FAIL " + result["errors"][0] if result["errors"] else ""
            print(
                f"round {round_ + 1} {result['mode']:>11}: {result['acks_per_s']:8.0f} acks/s  "
                f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  "
                f"on WebSocket {result['on_websocket']}/{args.clients}  "
                f"server sample {result['sample_server']} {status}",
                flush=True,
            )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1 round of 5 s")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--transport", choices=["polling", "upgrade"], default="polling")
    parser.add_argument("--upgrade-hold", type=float, default=0.3, metavar="S")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 5.0, 1.0
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        redis, port = start_redis(Path(tmp))
        procs: list[subprocess.Popen[bytes]] = []
        try:
            channel = f"nosticky-{os.getpid()}"
            url = f"redis://127.0.0.1:{port}/0"
            for _ in range(3):
                procs.append(
                    subprocess.Popen(
                        [sys.executable, str(SERVER), url, channel, str(args.upgrade_hold)],
                        stdout=subprocess.PIPE,
                        env=env,
                        start_new_session=True,
                    )
                )
            servers = []
            for proc in procs:
                assert proc.stdout is not None
                servers.append(json.loads(proc.stdout.readline()))
            results = asyncio.run(bench(args, servers))
        finally:
            for proc in procs:
                stop(proc)
            stop(redis)
    best = {
        mode: max((r for r in results if r["mode"] == mode), key=lambda r: r["acks_per_s"])
        for mode in ("sticky", "round-robin")
    }
    s, r = best["sticky"], best["round-robin"]
    print(
        f"best of {args.rounds}: sticky {s['acks_per_s']:.0f} acks/s p99 {s['p99_ms']:.2f} ms; "
        f"round-robin {r['acks_per_s']:.0f} acks/s p99 {r['p99_ms']:.2f} ms; "
        f"round-robin/sticky throughput {r['acks_per_s'] / s['acks_per_s']:.2f}, "
        f"p99 x{r['p99_ms'] / s['p99_ms']:.2f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 1 if any(x["errors"] for x in results) else 0


if __name__ == "__main__":
    sys.exit(main())
