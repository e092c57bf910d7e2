"""Benchmark multi-core: ``python -m socketio_core serve --workers N`` against Node's cluster.

Run from the repository root::

    .venv/bin/python benchmarks/workers_bench.py              # 3 rounds, ~8 minutes
    .venv/bin/python benchmarks/workers_bench.py --quick      # 1 round, ~2 minutes
    .venv/bin/python benchmarks/workers_bench.py --workers 2 --rounds 5

Servers (each a subprocess tree on a free loopback port, one after the other, in the same
order in every round; ping interval 300 s; the handlers of ``benchmarks/sio_servers/``: ``echo``
acks its argument, ``join`` enters ``"room"``, ``fanout(n)`` emits ``tick`` 0..n-1 to the
room and acks ``n``):

* **ours, 1 process**: ``sio_servers/ours_standalone.py`` (asyncio, in-memory manager): the
  single-process baseline, the same server as ``socketio_bench.py``'s;
* **ours --workers N**: ``python -m socketio_core serve ours_workers:sio --workers N``
  (``sio_servers/ours_workers.py``: ``AsyncRedisManager(forward_requests=True)`` on a private
  ``redis-server`` that this script starts and stops): N processes on one port with
  ``SO_REUSEPORT``, a polling request that lands on a worker that does not own its session is
  forwarded over Redis, and a broadcast reaches the other workers through Redis;
* **Node, 1 process**: ``sio_servers/node_socketio.js`` (socket.io 4.8, in-memory adapter);
* **Node cluster N**: ``sio_servers/node_cluster.js``: the ``cluster`` module with N workers,
  ``@socket.io/sticky`` in the primary (round-robin; every request of a session reaches
  its worker) and ``@socket.io/cluster-adapter`` (broadcasts relayed by the primary over IPC).
  (``@socket.io/cluster-engine``, the no-sticky alternative, is not on the npm registry.
  Round-robin rather than the README's least-connection, which counts a worker's sessions
  only once the worker reported them: a burst of new connections all lands on one worker.)

Load: ``benchmarks/sio_load.js``, the generator of ``socketio_bench.py`` (raw Engine.IO v4 /
Socket.IO v5 frames; every ack and every tick checked, a failing cell prints **FAIL**), on:
echo with ack over WebSocket at 10 and 100 clients and over polling at 10 clients (acks/s),
and fan-out to 1,000 clients (deliveries/s: ``--triggers`` triggers of ``--ticks`` emits).

CPU: the load generator reads ``/proc/<pid>/stat`` of every process of the server (the
supervisor or primary and its workers) and of ``redis-server`` over the measured window; the
CPU per operation is their sum divided by the operations, and the Redis part is shown apart.
In the fan-out cell, the script also counts each worker's open file descriptors while the
receivers are connected: a worker that never held a fair share of the receivers (a quarter of
``receivers / N``) fails the cell, so a cross-worker broadcast is really measured.

Each cell is the median of the rounds (servers alternated within each round); ratios are ours /
Node for rates and Node / ours for CPU per operation (above 1: ours is better), scaling is
N processes / 1 process of the same implementation. The load generator shares the 2 cores with
the servers, so a server of N processes on this machine competes with its own load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import (
    NODE_MODULES,
    START_TIMEOUT,
    fmt_ms,
    fmt_rate,
    fmt_ratio,
    fmt_us,
    machine_lines,
    node_binary,
    node_env,
    raise_fd_limit,
    read_line,
    wait_ready,
)
from redis_fanout import start_redis
from redis_fanout import stop as stop_redis
from socketio_bench import failed, ok

ROOT = Path(__file__).resolve().parent.parent
SERVERS_DIR = ROOT / "benchmarks" / "sio_servers"
LOAD_JS = ROOT / "benchmarks" / "sio_load.js"
PING_INTERVAL = 300.0
STOP_GRACE = 15.0

Cell = tuple[str, int]  # (mode, clients)


@dataclass
class Settings:
    """What one run measures."""

    workers: int
    concurrency: tuple[int, ...] = (10, 100)
    polling_concurrency: tuple[int, ...] = (10,)
    receivers: int = 1000
    warmup: float = 1.0
    duration: float = 3.0
    size: int = 64
    ticks: int = 20
    triggers: int = 5
    latency_triggers: int = 10
    rounds: int = 3
    step_timeout: float = 15.0

    def cells(self) -> list[Cell]:
        """The (mode, n) cells, in table order."""
        cells: list[Cell] = [("websocket", c) for c in self.concurrency]
        cells += [("polling", c) for c in self.polling_concurrency]
        return [*cells, ("fanout", self.receivers)]


@dataclass
class Server:
    """A running server: its process tree and where it listens."""

    key: str
    proc: subprocess.Popen[bytes]
    port: int
    impl: str
    pids: list[int]  # every process of the server (supervisor or primary first)
    workers: list[int]  # the processes that hold connections
    redis_pid: int | None = None


@dataclass
class Results:
    """Every run of every cell, by server key."""

    runs: dict[tuple[str, Cell], list[dict[str, Any]]] = field(default_factory=dict)
    impls: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, cell: Cell, result: dict[str, Any]) -> None:
        self.runs.setdefault((key, cell), []).append(result)

    def median(self, key: str, cell: Cell, what: str) -> float | None:
        """The median of ``what`` over the valid runs of a cell (None if none is valid)."""
        runs = self.runs.get((key, cell), [])
        values = [r[what] for r in runs if ok(r) and r.get(what) is not None]
        return float(statistics.median(values)) if values else None

    def best(self, key: str, cell: Cell) -> float | None:
        """The highest rate over the valid runs of a cell (a busy neighbour only slows)."""
        values = [r["rate"] for r in self.runs.get((key, cell), []) if ok(r)]
        return float(max(values)) if values else None

    def failures(self) -> list[str]:
        return [
            f"{key} {cell[0]} n={cell[1]}: {'; '.join(r['firstErrors'][:3])}"
            for (key, cell), runs in self.runs.items()
            for r in runs
            if not ok(r)
        ]


# ------------------------------------------------------------------------ servers


def server_keys(workers: int) -> list[str]:
    """The servers of a run, in the order they run."""
    return ["ours-1", f"ours-w{workers}", "node-1", f"node-c{workers}"]


def label(key: str) -> str:
    """A column title for a server key."""
    kind, _, n = key.partition("-")
    who = "ours" if kind == "ours" else "Node"
    if n == "1":
        return f"{who}, 1 process"
    return f"ours --workers {n[1:]}" if kind == "ours" else f"Node cluster {n[1:]}"


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry))
    return sorted(found)


def start_server(key: str, redis: tuple[int, int], workdir: Path, count: int) -> Server:
    """Start one server; returns once it answers an Engine.IO handshake."""
    kind, _, n = key.partition("-")
    ping = str(PING_INTERVAL)
    env = node_env()
    if key == "ours-1":
        cmd = [sys.executable, str(SERVERS_DIR / "ours_standalone.py"), ping, "asyncio"]
    elif kind == "ours":
        cmd = [sys.executable, "-m", "socketio_core", "serve", "ours_workers:sio"]
        cmd += ["--host", "127.0.0.1", "--port", "0", "--workers", n[1:]]
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(SERVERS_DIR)])
        env["WB_REDIS_URL"] = f"redis://127.0.0.1:{redis[1]}/0"
        env["WB_CHANNEL"] = f"workers-bench-{count}"  # a fresh channel for each start
        env["WB_PING"] = ping
    elif key == "node-1":
        cmd = [node_binary(), str(SERVERS_DIR / "node_socketio.js"), ping]
    else:
        cmd = [node_binary(), str(SERVERS_DIR / "node_cluster.js"), ping, n[1:]]
    stderr_path = workdir / f"{key}.stderr"
    with open(stderr_path, "ab") as stderr:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=ROOT, start_new_session=True
        )
    try:
        line = read_line(proc, START_TIMEOUT)
        if kind == "ours" and key != "ours-1":
            match = re.search(r":(\d+)/ \(path", line)
            if match is None:
                raise RuntimeError(f"{key}: unexpected banner {line!r}")
            port, impl = int(match.group(1)), line
            kids = children(proc.pid)  # none with --workers 1: it serves in-process
            pids = [proc.pid, *kids]
            server = Server(key, proc, port, impl, pids, kids or [proc.pid], redis[0])
            server.impl = (
                f"socketio_core serve --workers {n[1:]} (asyncio, AsyncRedisManager"
                f"(forward_requests=True), redis-server pid {redis[0]})"
            )
        else:
            info = json.loads(line)
            pids = [int(p) for p in info.get("pids", [proc.pid])]
            workers = pids[1:] or pids
            server = Server(key, proc, int(info["port"]), str(info["impl"]), pids, workers)
        wait_ready(server.port, "/socket.io/", key)
    except BaseException:
        stop_tree(proc)
        raise
    return server


def stop_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the supervisor or primary (it stops its workers), then SIGKILL the group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(STOP_GRACE)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers: a worker the supervisor missed
    if proc.poll() is None:
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


# --------------------------------------------------------------------------- load


class FdSampler:
    """Counts each worker's open file descriptors every ``every`` s, keeping the largest."""

    def __init__(self, pids: list[int], every: float = 0.5, limit: float = 600.0) -> None:
        self.pids = pids
        self.every = every
        self.limit = limit
        self.base = {pid: self._count(pid) for pid in pids}
        self.peak = dict(self.base)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _count(pid: int) -> int:
        try:
            return len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            return 0

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit
        while not self.done.wait(self.every) and time.monotonic() < deadline:
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], self._count(pid))

    def __enter__(self) -> FdSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    def held(self) -> list[int]:
        """How many descriptors each worker opened at most during the cell."""
        return [self.peak[pid] - self.base[pid] for pid in self.pids]


def run_load(server: Server, settings: Settings, mode: str, n: int) -> dict[str, Any]:
    """One load generator run against ``server``; returns its JSON result."""
    pids = server.pids + ([server.redis_pid] if server.redis_pid else [])
    options: dict[str, Any] = {
        "port": server.port,
        "mode": mode,
        "concurrency": n,
        "warmup": settings.warmup,
        "duration": settings.duration,
        "size": settings.size,
        "receivers": n,
        "ticks": settings.ticks,
        "triggers": settings.triggers,
        "latencyTriggers": settings.latency_triggers,
        "inflight": 100,
        "timeout": settings.step_timeout,
        "serverPids": pids,
        "clkTck": os.sysconf("SC_CLK_TCK"),
    }
    limit = (
        settings.warmup
        + settings.duration
        + settings.step_timeout * (settings.triggers + settings.latency_triggers + 6)
        + 90
    )
    proc = subprocess.Popen(
        [node_binary(), str(LOAD_JS), json.dumps(options)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=node_env(),
        cwd=ROOT,
    )
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return failed(mode, n, f"load generator killed after {limit:.0f} s")
    lines = out.decode().strip().splitlines()
    if not lines:
        return failed(mode, n, f"no output; stderr: {err.decode()[-300:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["concurrency"] = n
    if server.proc.poll() is not None or any(not Path(f"/proc/{p}").exists() for p in pids):
        result["errors"] += 1
        result["firstErrors"].append("a server process exited during the cell")
    add_cpu(result, server)
    return result


def add_cpu(result: dict[str, Any], server: Server) -> None:
    """Server CPU per operation, split into the server's processes and Redis."""
    if not ok(result) or (result["mode"] == "fanout" and not result.get("wall")):
        return
    by_pid = {int(p): v for p, v in (result.get("serverCpuByPid") or {}).items()}
    total = result.get("serverCpu")
    redis = by_pid.get(server.redis_pid) if server.redis_pid else None
    procs = total - redis if total is not None and redis is not None else total
    ops = result["messages"] / (result["wall"] if result["mode"] == "fanout" else 1.0)
    rate = ops if result["mode"] == "fanout" else result["rate"]
    result["cpuProcs"] = procs / rate if procs and rate else None
    result["cpuRedis"] = redis / rate if redis is not None and rate else None
    result["cpuPerWorker"] = [by_pid.get(p) for p in server.workers] if by_pid else None


def run_server(key: str, settings: Settings, results: Results, ctx: dict[str, Any]) -> None:
    """Every cell against one start of one server."""
    ctx["count"] += 1
    server = start_server(key, ctx["redis"], ctx["workdir"], ctx["count"])
    try:
        results.impls[key] = server.impl
        for mode, n in settings.cells():
            if mode == "fanout" and len(server.workers) > 1:
                with FdSampler(server.workers) as sampler:
                    result = run_load(server, settings, mode, n)
                check_spread(result, sampler.held(), n)
            else:
                result = run_load(server, settings, mode, n)
            results.add(key, (mode, n), result)
            print(f"  {label(key):24} {mode:9} n={n:<5} {cell_text(result)}", file=sys.stderr)
            if mode == "fanout":
                time.sleep(1.0)  # let the server tear down the sessions just aborted
    finally:
        stop_tree(server.proc)
    log = (ctx["workdir"] / f"{key}.stderr").read_text(errors="replace").strip()
    if log:
        print(f"  {key} stderr (tail): {log[-400:]}", file=sys.stderr)


def check_spread(result: dict[str, Any], held: list[int], receivers: int) -> None:
    """Fail a fan-out cell in which some worker never held a fair share of the receivers."""
    result["held"] = held
    floor = receivers // (4 * len(held))
    if min(held) < floor:
        result["errors"] += 1
        result["firstErrors"].append(
            f"receivers not spread over the workers (descriptors held: {held}, "
            f"each needs {floor}): the broadcast did not cross workers"
        )


# ------------------------------------------------------------------------- output


def cell_text(result: dict[str, Any]) -> str:
    """One run, short."""
    if not ok(result):
        return f"FAIL ({result['errors']} errors, {result['mismatches']} mismatches)"
    cpu = fmt_us(result.get("cpuProcs"))
    if result.get("cpuRedis") is not None:
        cpu += f" + Redis {fmt_us(result['cpuRedis'])}"
    spread = f", fds/worker {result['held']}" if "held" in result else ""
    split = result.get("cpuPerWorker")
    if split and len(split) > 1 and None not in split:
        spread += ", CPU/worker " + "/".join(f"{100 * c:.0f}%" for c in split)
    return (
        f"{fmt_rate(result['rate'])}, p50 {fmt_ms(result['p50'])} / p99 "
        f"{fmt_ms(result['p99'])} ms, CPU/op {cpu}{spread}"
    )


def row_title(cell: Cell) -> str:
    mode, n = cell
    return {
        "websocket": f"echo+ack websocket, {n} clients (acks/s)",
        "polling": f"echo+ack polling, {n} clients (acks/s)",
        "fanout": f"fan-out to {n:,} clients (deliveries/s)",
    }[mode]


def div(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def cpu_total(results: Results, key: str, cell: Cell) -> float | None:
    """Median CPU per op of a server: its processes plus Redis."""
    values = [
        r["cpuProcs"] + (r["cpuRedis"] or 0.0)
        for r in results.runs.get((key, cell), [])
        if ok(r) and r.get("cpuProcs")
    ]
    return float(statistics.median(values)) if values else None


def print_tables(results: Results, settings: Settings, keys: list[str]) -> None:
    """The rates with ratios, then the CPU per operation (a column per server in ``keys``)."""
    w = settings.workers
    ours1, oursn, node1, noden = server_keys(w)
    head = [
        "scenario",
        *(label(k) for k in keys),
        "ours/Node, 1 process",
        f"ours/Node, {w} processes",
        f"scaling ours ({w}/1)",
        f"scaling Node ({w}/1)",
    ]
    print(f"Medians of {settings.rounds} round(s); rates, ratios above 1: ours is faster.")
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for cell in settings.cells():
        rates = {k: results.median(k, cell, "rate") for k in {*keys, *server_keys(w)}}
        row = [row_title(cell)]
        row += ["FAIL" if rates[k] is None else fmt_rate(rates[k]) for k in keys]
        row += [
            fmt_ratio(div(rates[ours1], rates[node1])),
            fmt_ratio(div(rates[oursn], rates[noden])),
            fmt_ratio(div(rates[oursn], rates[ours1])),
            fmt_ratio(div(rates[noden], rates[node1])),
        ]
        print("| " + " | ".join(row) + " |")
    print()
    print(
        "Server CPU per operation (medians), summed over the server's processes (supervisor or"
        " primary and workers); for ours --workers, plus redis-server's; Node/ours: above 1,"
        " ours does the work more cheaply."
    )
    print()
    head = ["scenario", *(label(k) for k in keys), "Node/ours, 1", f"Node/ours, {w}"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for cell in settings.cells():
        row = [row_title(cell)]
        for k in keys:
            procs = results.median(k, cell, "cpuProcs")
            redis = results.median(k, cell, "cpuRedis")
            text = fmt_us(procs)
            if redis is not None:
                text = f"{fmt_us(cpu_total(results, k, cell))} ({fmt_us(redis)} Redis)"
            row.append(text)
        row += [
            fmt_ratio(div(cpu_total(results, node1, cell), cpu_total(results, ours1, cell))),
            fmt_ratio(div(cpu_total(results, noden, cell), cpu_total(results, oursn, cell))),
        ]
        print("| " + " | ".join(row) + " |")
    print()
    print("Best round of each cell (the machine is shared: a busy neighbour only slows a run):")
    print()
    head = ["scenario", *(label(k) for k in keys), "ours/Node, 1", f"ours/Node, {w}"]
    head += [f"scaling ours ({w}/1)", f"scaling Node ({w}/1)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for cell in settings.cells():
        best = {k: results.best(k, cell) for k in {*keys, *server_keys(w)}}
        row = [row_title(cell)]
        row += ["FAIL" if best[k] is None else fmt_rate(best[k]) for k in keys]
        row += [
            fmt_ratio(div(best[ours1], best[node1])),
            fmt_ratio(div(best[oursn], best[noden])),
            fmt_ratio(div(best[oursn], best[ours1])),
            fmt_ratio(div(best[noden], best[node1])),
        ]
        print("| " + " | ".join(row) + " |")
    problems = results.failures()
    if problems:
        print()
        print("Failures:")
        for line in problems:
            print(f"- {line}")


def parse_args() -> tuple[argparse.Namespace, Settings]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="N of the multi-process servers")
    parser.add_argument("--quick", action="store_true", help="1 round, shorter cells")
    parser.add_argument("--rounds", type=int, help="rounds (3; --quick: 1)")
    parser.add_argument("--duration", type=float, help="measured seconds per echo cell (3)")
    parser.add_argument("--receivers", type=int, help="fan-out receivers (1,000)")
    parser.add_argument(
        "--servers",
        help=f"comma-separated, instead of {server_keys(2)} (N=2); also ours-w1: "
        "serve --workers 1 (one process on the Redis manager with forwarding)",
    )
    parser.add_argument("--json", type=Path, help="also write every run to this file")
    parser.add_argument("--replay", type=Path, help="print the tables of a --json file; no run")
    args = parser.parse_args()
    if args.workers < 2:
        raise SystemExit("--workers must be at least 2 (1 process is the baseline)")
    settings = Settings(workers=args.workers)
    if args.quick:
        settings.rounds, settings.warmup, settings.duration = 1, 0.5, 1.5
        settings.ticks, settings.triggers, settings.latency_triggers = 10, 3, 5
    if args.rounds:
        settings.rounds = args.rounds
    if args.duration:
        settings.duration = args.duration
    if args.receivers:
        settings.receivers = args.receivers
    return args, settings


def main() -> None:
    args, settings = parse_args()
    keys = server_keys(settings.workers)
    if args.servers:
        keys = args.servers.split(",")
        for key in keys:
            if not re.fullmatch(r"(ours|node)-1|ours-w\d+|node-c\d+", key):
                raise SystemExit(f"unknown server {key!r}")
    for package in ("ws", "@socket.io/sticky", "@socket.io/cluster-adapter"):
        if not NODE_MODULES.joinpath(package).is_dir():
            raise SystemExit(f"{NODE_MODULES} has no {package}: run npm install in tests/node")
    if args.replay:
        results = Results()
        saved = json.loads(args.replay.read_text())
        results.impls = saved["impls"]
        for run in saved["runs"]:
            results.add(run["server"], (run["mode"], run["concurrency"]), run)
        print_tables(results, settings, [k for k in keys if k in results.impls])
        return
    raise_fd_limit(settings.receivers * 4 + 1000)
    started = time.perf_counter()
    results = Results()
    print(
        f"workers bench: N={settings.workers}, echo C={settings.concurrency} (polling "
        f"{settings.polling_concurrency}), {settings.warmup} s warm-up + {settings.duration} s, "
        f"fan-out {settings.receivers} clients x {settings.triggers} triggers of "
        f"{settings.ticks} emits, {settings.rounds} round(s), servers {keys}",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix="workers-bench-") as tmp:
        workdir = Path(tmp)
        redis_proc, redis_port = start_redis(workdir)
        ctx: dict[str, Any] = {"redis": (redis_proc.pid, redis_port), "workdir": workdir}
        ctx["count"] = 0
        try:
            for round_no in range(settings.rounds):
                print(f"round {round_no + 1} of {settings.rounds}", file=sys.stderr)
                for key in keys:
                    run_server(key, settings, results, ctx)
        finally:
            stop_redis(redis_proc)
    for line in machine_lines(("redis",)):
        print(line)
    for key, impl in results.impls.items():
        print(f"Server {label(key)}: {impl}")
    print(f"Command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print()
    print_tables(results, settings, keys)
    if args.json:
        runs = [{"server": k, **r} for (k, _), rs in sorted(results.runs.items()) for r in rs]
        args.json.write_text(json.dumps({"impls": results.impls, "runs": runs}, indent=1))
    print()
    print(f"Total run time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
