"""Benchmark broadcast fan-out through Redis: 3 server processes, ours against python-socketio.

Run from the repository root::

    .venv/bin/python benchmarks/redis_fanout.py            # 1,000 clients, ~2 minutes
    .venv/bin/python benchmarks/redis_fanout.py --quick    # 200 clients, ~30 s

One private ``redis-server`` (free loopback port, no persistence) serves both clusters, each on
a channel of its own. For each implementation, one after the other, three server processes
(``benchmarks/redis_servers/``) share that Redis:

* **ours**: ``socketio_core.aio.AsyncServer(client_manager=AsyncRedisManager(url))`` on its
  standalone front door (h11 + ``websocket.aio``);
* **python-socketio**: ``socketio.AsyncServer(async_mode="asgi",
  client_manager=socketio.AsyncRedisManager(url))`` in ``socketio.ASGIApp`` under uvicorn.

Both on the default asyncio loop unless ``--loop uvloop``; the ping interval is 300 s. The load
generator, ``benchmarks/redis_servers/fanout_load.js`` (Node + ``ws``, raw Engine.IO/Socket.IO
text frames, see its header), connects the receivers round-robin to the three servers; each
joins the room ``"room"``. A trigger session on server 0 asks it to loop
``await sio.emit("tick", i, room="room")``: a third of the deliveries are local to server 0,
the rest go through Redis to servers 1 and 2. Measured:

* **latency**: ``--latency-triggers`` broadcasts of one tick; one sample is the time from the
  trigger to the last delivery to the last client (p50, p99);
* **throughput**: ``--triggers`` triggers of ``--ticks`` broadcasts each; deliveries/s =
  deliveries / the summed trigger-to-last-delivery times.

Every delivery is checked: each client must get every tick once, in order, and the server must
ack each trigger; a failing run prints **FAIL** instead of numbers. With ``--rounds`` above 1
each implementation runs that many times (alternating) and keeps its best run. Ratios: ours /
theirs for deliveries/s, theirs / ours for latency, so above 1 means ours is better.

Everything shares the machine: the CPU columns say how much of a core the three servers plus
Redis used during the throughput window, how much the load generator used, and how much the
rest of the machine used ("other").
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ROOT / "benchmarks" / "redis_servers"
LOAD_JS = SERVERS / "fanout_load.js"
NODE_MODULES = ROOT / "tests" / "node" / "node_modules"
IMPLS = {"ours": "ours.py", "python-socketio": "pysocketio.py"}
START_TIMEOUT = 30.0


@dataclass
class Settings:
    receivers: int
    ticks: int
    triggers: int
    latency_triggers: int
    rounds: int
    loop: str
    servers: int = 3
    timeout: float = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop a process group we started, by its id."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server is not installed (scripts/install-brokers.sh)")
    port = free_port()
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", str(workdir), "--daemonize", "no", "--loglevel", "warning"]
    log = (workdir / "redis.log").open("ab")
    proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
    log.close()
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return proc, port
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise SystemExit(f"redis-server did not start; see {workdir / 'redis.log'}")
        time.sleep(0.05)  # polling a child's port: there is no event to wait for


def read_line(proc: subprocess.Popen[bytes], deadline: float) -> dict[str, Any]:
    assert proc.stdout is not None
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or proc.poll() is not None:
            raise RuntimeError(f"server did not start (exit {proc.poll()})")
        ready, _, _ = select.select([proc.stdout], [], [], remaining)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"server exited ({proc.wait()})")
            line += chunk
    info: dict[str, Any] = json.loads(line)
    return info


def run_cluster(
    impl: str, url: str, channel: str, redis_pid: int, s: Settings, workdir: Path
) -> dict[str, Any]:
    """Start the servers of one implementation, run the load generator, stop them."""
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    try:
        for i in range(s.servers):
            log_path = workdir / f"{impl}-{channel}-{i}.log"
            logs.append(log_path)
            with log_path.open("ab") as log:
                args = [sys.executable, str(SERVERS / IMPLS[impl]), url, channel]
                args += [str(s.servers - 1), s.loop]
                procs.append(
                    subprocess.Popen(
                        args, stdout=subprocess.PIPE, stderr=log, start_new_session=True, cwd=ROOT
                    )
                )
        deadline = time.monotonic() + START_TIMEOUT
        infos = [read_line(p, deadline) for p in procs]
        options = {
            "ports": [info["port"] for info in infos],
            "receivers": s.receivers,
            "ticks": s.ticks,
            "triggers": s.triggers,
            "latencyTriggers": s.latency_triggers,
            "timeout": s.timeout,
            "pids": [info["pid"] for info in infos] + [redis_pid],
            "clkTck": os.sysconf("SC_CLK_TCK"),
        }
        env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
        limit = s.timeout * (s.triggers + s.latency_triggers + 10) + 90
        done = subprocess.run(
            ["node", str(LOAD_JS), json.dumps(options)],
            capture_output=True,
            env=env,
            timeout=limit,
            check=False,
        )
        lines = done.stdout.decode().strip().splitlines()
        result: dict[str, Any] = json.loads(lines[-1]) if lines else {"errors": 1}
        result["ok"] = (
            done.returncode == 0 and not result.get("errors") and not result.get("mismatches")
        )
        result["impl_detail"] = infos[0]["impl"]
        if not result["ok"]:
            result["stderr"] = done.stderr.decode()[-2000:]
            result["server_logs"] = [p.read_text()[-1000:] for p in logs if p.exists()]
        return result
    finally:
        for proc in procs:
            stop(proc)


def best(results: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in results if r.get("ok")]
    if not good:
        return results[-1]
    return max(good, key=lambda r: r["rate"])


def fmt_rate(value: float) -> str:
    return f"{value / 1000:,.1f} k/s" if value < 1e6 else f"{value / 1e6:.2f} M/s"


def machine() -> str:
    model = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    node = subprocess.run(["node", "--version"], capture_output=True, check=False)
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, check=False)
    redis_version = redis.stdout.decode().split()[2] if redis.returncode == 0 else "?"
    return (
        f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, Node {node.stdout.decode().strip()}, "
        f"redis-server {redis_version.removeprefix('v=')}, redis-py {metadata.version('redis')}, "
        f"python-socketio {metadata.version('python-socketio')}, "
        f"uvicorn {metadata.version('uvicorn')}"
    )


def report(
    results: dict[str, dict[str, Any]], s: Settings, runs: dict[str, list[dict[str, Any]]]
) -> str:
    out = [
        f"{s.servers} servers, {s.receivers} clients (round-robin), one room; latency: "
        f"{s.latency_triggers} broadcasts of 1 tick; throughput: {s.triggers} x {s.ticks} "
        f"broadcasts; loop {s.loop}; best of {s.rounds}",
        "",
        "| server | deliveries/s | p50 emit->last client | p99 emit->last client "
        "| servers+redis CPU | load gen CPU | other CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for impl, r in results.items():
        if not r.get("ok"):
            out.append(f"| {impl} | **FAIL** | | | | | |")
            continue
        out.append(
            f"| {impl} | {fmt_rate(r['rate'])} | {r['p50']:.1f} ms | {r['p99']:.1f} ms | "
            f"{r['serverCpu']:.2f} | {r['lgCpu']:.2f} | {r['otherCpu']:.2f} |"
        )
    ours, theirs = results.get("ours"), results.get("python-socketio")
    if ours and theirs and ours.get("ok") and theirs.get("ok"):
        rate = ours["rate"] / theirs["rate"]
        p50 = theirs["p50"] / ours["p50"]
        p99 = theirs["p99"] / ours["p99"]
        out.append(
            f"| **ours / python-socketio** | **{rate:.2f}x** | {p50:.2f}x | {p99:.2f}x | | | |"
        )
        out.append("")
        verdict = "met" if rate >= 2 else "NOT met"
        out.append(f"Target deliveries/s >= 2x python-socketio: **{verdict}** ({rate:.2f}x).")
        ours_rates = [r["rate"] for r in runs.get("ours", []) if r.get("ok")]
        their_rates = [r["rate"] for r in runs.get("python-socketio", []) if r.get("ok")]
        if len(ours_rates) > 1 or len(their_rates) > 1:
            worst = min(ours_rates) / max(their_rates)
            out.append(
                f"Worst round of ours against the best of python-socketio: {worst:.2f}x "
                f"(ours {', '.join(fmt_rate(r) for r in ours_rates)}; python-socketio "
                f"{', '.join(fmt_rate(r) for r in their_rates)})."
            )
    return "\n".join(out)


def parse_settings(description: str) -> tuple[argparse.Namespace, Settings]:
    """The command line shared by the Redis fan-out benchmarks, and the settings it gives."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="200 clients, fewer broadcasts")
    parser.add_argument("--receivers", type=int)
    parser.add_argument("--ticks", type=int)
    parser.add_argument("--triggers", type=int)
    parser.add_argument("--latency-triggers", type=int)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--json", type=Path, help="also write the raw results there")
    args = parser.parse_args()
    if args.quick:
        s = Settings(200, 20, 5, 30, 1, args.loop)
    else:
        s = Settings(1000, 50, 10, 50, 2, args.loop)
    for name in ("receivers", "ticks", "triggers", "latency_triggers", "rounds"):
        if getattr(args, name) is not None:
            setattr(s, name, getattr(args, name))
    return args, s


def round_status(result: dict[str, Any]) -> str:
    """One round's line: rate and latencies, or why it failed."""
    if result["ok"]:
        return f"{fmt_rate(result['rate'])}, p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms"
    return f"FAIL {result.get('firstErrors')} {result.get('stderr', '')}"


def main() -> None:
    args, s = parse_settings(__doc__.split("\n", 1)[0])
    if shutil.which("node") is None or not (NODE_MODULES / "ws").is_dir():
        raise SystemExit("needs node and tests/node/node_modules (make setup)")
    started = datetime.datetime.now(datetime.UTC)
    print(f"# {started:%Y-%m-%d %H:%M} UTC; {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="redis-fanout-") as tmp:
        workdir = Path(tmp)
        redis, port = start_redis(workdir)
        url = f"redis://127.0.0.1:{port}/0"
        runs: dict[str, list[dict[str, Any]]] = {impl: [] for impl in IMPLS}
        try:
            for round_ in range(s.rounds):
                for impl in IMPLS:
                    channel = f"bench-{impl}-{round_}"
                    t0 = time.monotonic()
                    result = run_cluster(impl, url, channel, redis.pid, s, workdir)
                    runs[impl].append(result)
                    status = round_status(result)
                    print(
                        f"  round {round_ + 1} {impl}: {status} ({time.monotonic() - t0:.0f} s)",
                        flush=True,
                    )
                    if not result["ok"]:
                        for log in result.get("server_logs", []):
                            print("    server log:", log.strip()[-500:], flush=True)
        finally:
            stop(redis)
    results = {impl: best(items) for impl, items in runs.items()}
    for impl, r in results.items():
        print(f"# {impl}: {r.get('impl_detail')}")
    print()
    print(report(results, s, runs))
    if args.json:
        args.json.write_text(json.dumps({"settings": s.__dict__, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
