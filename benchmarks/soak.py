"""Soak test: many Socket.IO clients for a long time; are acks exact and memory flat?

Runs our Socket.IO server (``socketio_core.aio.AsyncServer``, standalone front door, default
options) in a subprocess, and in this process:

* ``--clients`` regular clients (``socketio_core.aio.AsyncClient``), half on WebSocket, half on
  polling, each in a loop: connect, emit a random number of ``msg`` events with an ack
  (``call``), sometimes stay idle a while, disconnect, wait, reconnect;
* ``--slow`` slow readers on raw Engine.IO transports: WebSocket clients that stop reading for
  seconds (TCP pushes back on the server) and polling clients that GET only every few seconds,
  answering pings late; now and then one vanishes without closing (its socket aborted);
* the server broadcasts a ``tick`` of ``--tick-bytes`` to everyone ``--tick-hz`` times a second.

Every ``--sample`` seconds it prints the server's RSS (from /proc), its asyncio task count and
open sessions, and the messages delivered (server handler runs) and acked (acks received). At
the end every client disconnects cleanly and the two counts must be equal; the exit status is
1 if they are not.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/soak.py --duration 600 > soak.txt
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socketio_core.aio import AsyncClient, AsyncServer
from websocket.aio import ConnectionOptions, connect
from websocket.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parent.parent
PATH = "/socket.io/"


# ------------------------------------------------------------------------------- server


async def run_server(tick_bytes: int, tick_hz: float) -> None:
    """The server process: prints {"port": N}, then serves until killed."""
    sio = AsyncServer()
    delivered = 0

    @sio.on("msg")
    async def msg(sid: str, data: Any) -> Any:
        nonlocal delivered
        delivered += 1
        return data

    @sio.on("stats")
    async def stats(sid: str) -> dict[str, int]:
        return {
            "delivered": delivered,
            "tasks": len(asyncio.all_tasks()),
            "sessions": len(sio.eio.sessions),
        }

    async def ticker() -> None:
        payload = "t" * tick_bytes
        while True:
            await sio.emit("tick", payload)
            await asyncio.sleep(1 / tick_hz)

    async with sio.listen("127.0.0.1", 0) as front:
        task = asyncio.get_running_loop().create_task(ticker())
        print(json.dumps({"port": front.port}), flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            task.cancel()


# ------------------------------------------------------------------------------- clients


@dataclass
class Counts:
    acked: int = 0
    failed_calls: int = 0
    connects: int = 0
    connect_failures: int = 0
    slow_cycles: int = 0
    slow_vanished: int = 0
    slow_closed_by_server: int = 0
    errors: list[str] = field(default_factory=list)


async def regular_client(port: int, transport: str, stop: asyncio.Event, counts: Counts) -> None:
    rng = random.Random()
    while not stop.is_set():
        client = AsyncClient(reconnection=False)
        client.on("tick", lambda data: None)
        try:
            await client.connect(
                f"http://127.0.0.1:{port}", transports=[transport], wait_timeout=10
            )
        except Exception as exc:
            counts.connect_failures += 1
            counts.errors.append(f"connect: {exc!r}"[:200])
            await asyncio.sleep(1)
            continue
        counts.connects += 1
        try:
            for _ in range(rng.randint(1, 60)):
                if stop.is_set():
                    break
                token = rng.getrandbits(32)
                try:
                    if await client.call("msg", {"n": token}, timeout=30) == {"n": token}:
                        counts.acked += 1
                    else:
                        counts.failed_calls += 1
                except Exception as exc:
                    counts.failed_calls += 1
                    counts.errors.append(f"call: {exc!r}"[:200])
                    break
                await asyncio.sleep(rng.uniform(0, 0.05))
            if rng.random() < 0.2 and not stop.is_set():
                await asyncio.sleep(rng.uniform(1, 3))  # idle, receiving ticks
        finally:
            await client.disconnect()
        await asyncio.sleep(rng.uniform(0, 0.5))


async def slow_websocket(port: int, stop: asyncio.Event, counts: Counts) -> None:
    rng = random.Random()
    uri = f"ws://127.0.0.1:{port}{PATH}?EIO=4&transport=websocket"
    while not stop.is_set():
        ws = await connect(uri, compression=None, options=ConnectionOptions(max_queue=2))
        try:
            await ws.send("40")
            while not stop.is_set():
                counts.slow_cycles += 1
                await asyncio.sleep(rng.uniform(1, 6))  # not reading: TCP backs up
                if rng.random() < 0.05:
                    counts.slow_vanished += 1
                    await ws.abort()
                    break
                for _ in range(400):  # catch up a little
                    message = await asyncio.wait_for(ws.recv(), 1)
                    if message == "2":
                        await ws.send("3")
        except ConnectionClosed:
            counts.slow_closed_by_server += 1
        except TimeoutError:
            pass  # nothing more to read for now: start over with a new connection
        finally:
            await ws.abort()


async def http(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    target: str,
    body: bytes,
) -> tuple[int, bytes]:
    writer.write(
        f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    match = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    length = int(match.group(1)) if match else 0
    return status, await reader.readexactly(length)


async def slow_polling(port: int, stop: asyncio.Event, counts: Counts) -> None:
    rng = random.Random()
    while not stop.is_set():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            _, body = await http(reader, writer, "GET", f"{PATH}?EIO=4&transport=polling", b"")
            sid = json.loads(body[1:])["sid"]
            target = f"{PATH}?EIO=4&transport=polling&sid={sid}"
            await http(reader, writer, "POST", target, b"40")
            while not stop.is_set():
                counts.slow_cycles += 1
                await asyncio.sleep(rng.uniform(1, 6))  # not polling
                if rng.random() < 0.05:
                    counts.slow_vanished += 1
                    break
                status, body = await asyncio.wait_for(http(reader, writer, "GET", target, b""), 30)
                if status != 200:
                    counts.slow_closed_by_server += 1
                    break
                if b"2" in body.split(b"\x1e"):
                    await http(reader, writer, "POST", target, b"3")
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            counts.slow_closed_by_server += 1
        finally:
            writer.transport.abort()


# ------------------------------------------------------------------------------- monitor


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


async def run(args: argparse.Namespace) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            "--tick-bytes",
            str(args.tick_bytes),
            "--tick-hz",
            str(args.tick_hz),
        ],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert server.stdout is not None
        line = await asyncio.to_thread(server.stdout.readline)
        port = json.loads(line)["port"]
        print(
            f"# soak: server pid {server.pid} on port {port}; {args.clients} clients "
            f"(websocket/polling), {args.slow} slow readers, {args.duration:.0f} s",
            flush=True,
        )
        monitor = AsyncClient(reconnection=False)
        await monitor.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        monitor.on("tick", lambda data: None)
        counts = Counts()
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(
                regular_client(port, "websocket" if i % 2 else "polling", stop, counts)
            )
            for i in range(args.clients)
        ]
        for i in range(args.slow):
            slow = slow_websocket if i % 2 else slow_polling
            tasks.append(asyncio.create_task(slow(port, stop, counts)))
        start = time.monotonic()
        samples: list[dict[str, float]] = []
        print("t_s\trss_mib\ttasks\tsessions\tdelivered\tacked", flush=True)
        while time.monotonic() - start < args.duration:
            await asyncio.sleep(min(args.sample, args.duration - (time.monotonic() - start)))
            stats = await monitor.call("stats", timeout=30)
            sample = {"t": time.monotonic() - start, "rss": rss_mib(server.pid), **stats}
            sample["acked"] = counts.acked
            samples.append(sample)
            print(
                f"{sample['t']:.0f}\t{sample['rss']:.1f}\t{stats['tasks']}\t"
                f"{stats['sessions']}\t{stats['delivered']}\t{counts.acked}",
                flush=True,
            )
        stop.set()
        done, pending = await asyncio.wait(tasks, timeout=90)
        for task in pending:
            task.cancel()
        for task in done:
            if task.exception() is not None:
                counts.errors.append(f"client task: {task.exception()!r}"[:200])
        await asyncio.sleep(2)  # the slow readers' sessions time out or close
        final = await monitor.call("stats", timeout=30)
        await monitor.disconnect()
        rss = [s["rss"] for s in samples]
        equal = final["delivered"] == counts.acked
        print("# summary")
        print(
            f"delivered {final['delivered']}  acked {counts.acked}  equal {equal}  "
            f"failed calls {counts.failed_calls}"
        )
        print(
            f"connects {counts.connects}  connect failures {counts.connect_failures}  "
            f"slow cycles {counts.slow_cycles}  slow vanished {counts.slow_vanished}  "
            f"slow closed by server {counts.slow_closed_by_server}"
        )
        if rss:
            first_minute = [s["rss"] for s in samples if s["t"] <= 60] or rss[:1]
            print(
                f"server RSS MiB: first {rss[0]:.1f}  max of first minute "
                f"{max(first_minute):.1f}  max {max(rss):.1f}  last {rss[-1]:.1f}"
            )
        print(
            f"server tasks: max {max(s['tasks'] for s in samples) if samples else 0}  "
            f"after all clients left {final['tasks']} (sessions {final['sessions']})"
        )
        for error in sorted(set(counts.errors))[:10]:
            print(f"error: {error}")
        return 0 if equal else 1
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(5)
        if server.poll() is None:
            server.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--clients", type=int, default=40, help="regular clients")
    parser.add_argument("--slow", type=int, default=8, help="slow readers")
    parser.add_argument("--sample", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--tick-bytes", type=int, default=1024)
    parser.add_argument("--tick-hz", type=float, default=5.0)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(run_server(args.tick_bytes, args.tick_hz))
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
