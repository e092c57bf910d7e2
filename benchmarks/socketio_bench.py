"""Benchmark Socket.IO end to end: our server against python-socketio and Node socket.io.

Run from the repository root::

    .venv/bin/python benchmarks/socketio_bench.py                 # asyncio and uvloop, ~6 min
    .venv/bin/python benchmarks/socketio_bench.py --quick         # ~3 minutes
    .venv/bin/python benchmarks/socketio_bench.py --loop asyncio  # one loop only

Each server runs as its own subprocess on a free loopback port, one after the other
(``benchmarks/sio_servers/``: ours on asyncio and uvloop, python-socketio under uvicorn, Node
socket.io 4.8), with the same handlers (``echo`` acks its argument, ``join`` enters
``"room"``, ``fanout(n)`` emits ``tick`` 0..n-1 to the room, then acks ``n``), driven by the
same load generator (``benchmarks/sio_load.js``: raw Engine.IO v4 + Socket.IO v5 frames over
``ws``/``http``). Scenarios: **websocket**/**polling** echo with ack (C clients, closed loop:
acks/s, p50/p99; over WebSocket also with 10 KB payloads at C=10), **fanout** (100 and 1,000
clients in a room: deliveries/s, p50/p99 emit to last delivery), **connect** (sessions/s, 100
in flight) and **idle** (server VmRSS before and after 5,000 sessions, per session).
docs/benchmarks.md describes each in full.

Every cell is checked: each ack must carry the payload sent, ticks must arrive in order with
exact counts, every session must connect and stay open. A failure marks the cell **FAIL**, so
a broken server cannot look fast. Ratios are ours / theirs for rates and theirs / ours for
memory, so above 1 always means ours is better. With ``--rounds`` above 1, each server runs
that many times and each cell keeps its best run.

The load generator and the server share the machine. The CPU table says how much of a core
each used during the measured window, and how much everything else on the machine used
("other"): a noisy neighbour shows there.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import (
    NODE_MODULES,
    START_TIMEOUT,
    bar_chart,
    fmt_cpu,
    fmt_ms,
    fmt_rate,
    fmt_ratio,
    fmt_us,
    machine_lines,
    node_binary,
    node_env,
    raise_fd_limit,
    read_line,
    stop_server,
    wait_ready,
)

ROOT = Path(__file__).resolve().parent.parent
SERVERS_DIR = ROOT / "benchmarks" / "sio_servers"
LOAD_JS = ROOT / "benchmarks" / "sio_load.js"
PLOT = ROOT / "docs" / "benchmarks-socketio.png"
PING_INTERVAL = 300.0  # seconds: no heartbeat during a measurement
LOOPS = ("asyncio", "uvloop")
BIG = "websocket-big"  # the echo cell with big payloads (--big-size)
IMPLS = ("ours", "python-socketio", "node")
LABELS = {"ours": "ours", "python-socketio": "python-socketio", "node": "Node socket.io"}


@dataclass
class Settings:
    """What one run measures."""

    concurrency: tuple[int, ...]
    polling_concurrency: tuple[int, ...]
    warmup: float
    duration: float
    size: int
    receivers: tuple[int, ...]
    ticks: int
    triggers: int
    latency_triggers: int
    connect_sessions: int
    idle_sessions: int
    rounds: int
    inflight: int = 100
    big_size: int = 10 * 1024
    big_concurrency: tuple[int, ...] = (10,)
    step_timeout: float = 15.0


@dataclass
class Server:
    """A running server subprocess."""

    key: str  # "ours/asyncio", "python-socketio/uvloop", "node"
    proc: subprocess.Popen[bytes]
    port: int
    impl: str
    stderr_path: Path


Cell = tuple[str, int]  # (mode, concurrency or clients or sessions)


@dataclass
class Results:
    """Best result per (server key, cell)."""

    cells: dict[tuple[str, str, int], dict[str, Any]] = field(default_factory=dict)
    impls: dict[str, str] = field(default_factory=dict)

    def offer(self, key: str, result: dict[str, Any]) -> None:
        cell_key = (key, result["mode"], result["concurrency"])
        old = self.cells.get(cell_key)
        if old is None or better(result, old):
            self.cells[cell_key] = result

    def get(self, key: str, cell: Cell) -> dict[str, Any] | None:
        return self.cells.get((key, *cell))


def ok(result: dict[str, Any] | None) -> bool:
    """Whether a measurement is valid: something was measured and nothing went wrong."""
    return (
        result is not None
        and result["errors"] == 0
        and result["mismatches"] == 0
        and result["messages"] > 0
    )


def lower_is_better(mode: str) -> bool:
    """Idle memory per connection: lower is better; every other cell is a rate."""
    return mode == "idle"


def better(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether ``new`` should replace ``old`` as the kept run of a cell."""
    if ok(new) != ok(old):
        return ok(new)
    if lower_is_better(new["mode"]):
        return bool(new["rate"] < old["rate"])
    return bool(new["rate"] > old["rate"])


# ------------------------------------------------------------------------ processes


def server_command(key: str) -> list[str]:
    """The command line that starts one server (key: ``impl/loop`` or ``node``)."""
    ping = str(PING_INTERVAL)
    impl, _, loop = key.partition("/")
    if impl == "ours":
        return [sys.executable, str(SERVERS_DIR / "ours_standalone.py"), ping, loop]
    if impl == "python-socketio":
        return [sys.executable, str(SERVERS_DIR / "pysocketio_uvicorn.py"), ping, loop]
    if impl == "node":
        return [node_binary(), str(SERVERS_DIR / "node_socketio.js"), ping]
    raise ValueError(key)


def label(key: str) -> str:
    """A column title for a server key."""
    impl, _, loop = key.partition("/")
    return f"{LABELS[impl]} ({loop})" if loop else LABELS[impl]


def start_server(key: str, workdir: Path) -> Server:
    """Start one server; returns once it answers an Engine.IO handshake."""
    stderr_path = workdir / f"{key.replace('/', '-')}.stderr"
    with open(stderr_path, "ab") as stderr:
        proc = subprocess.Popen(
            server_command(key),
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=node_env(),
            cwd=ROOT,
        )
    try:
        line = read_line(proc, START_TIMEOUT)
        info = json.loads(line)
        server = Server(key, proc, int(info["port"]), str(info["impl"]), stderr_path)
        wait_ready(server.port, "/socket.io/", server.key)
    except BaseException:
        stop_server(proc)
        raise
    return server


def run_load(server: Server, settings: Settings, mode: str, n: int) -> dict[str, Any]:
    """One load generator run against ``server``; returns its JSON result.

    A generator that could not even load ``ws`` (tests/node/node_modules being reinstalled
    meanwhile) is retried, up to three times, five seconds apart.
    """
    for _ in range(3):
        result = run_load_once(server, settings, mode, n)
        if not any("Cannot find module" in e for e in result["firstErrors"]):
            break
        time.sleep(5.0)
    return result


def run_load_once(server: Server, settings: Settings, mode: str, n: int) -> dict[str, Any]:
    """One load generator process against ``server``."""
    big = mode == BIG  # echo over WebSocket with big payloads
    options: dict[str, Any] = {
        "port": server.port,
        "mode": "websocket" if big else mode,
        "concurrency": n,
        "warmup": settings.warmup,
        "duration": settings.duration,
        "size": settings.big_size if big else settings.size,
        "receivers": n,
        "ticks": settings.ticks,
        "triggers": settings.triggers,
        "latencyTriggers": settings.latency_triggers,
        "sessions": n,
        "inflight": settings.inflight,
        "settle": 2.0,
        "timeout": settings.step_timeout,
        "serverPid": server.proc.pid,
        "clkTck": os.sysconf("SC_CLK_TCK"),
    }
    # The generator bounds itself (a hard limit in its header); this bounds it again.
    limit = (
        settings.warmup
        + settings.duration
        + 2.0
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
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = out.decode().strip().splitlines()
    if not lines:
        return failed(mode, n, f"no output; stderr: {err.decode()[-300:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["concurrency"] = n
    result["mode"] = mode
    if server.proc.poll() is not None:
        result["errors"] += 1
        result["firstErrors"].append(f"server exited with {server.proc.returncode}")
    return result


def failed(mode: str, n: int, why: str) -> dict[str, Any]:
    """A result standing for a run that produced none."""
    return {
        "mode": mode,
        "concurrency": n,
        "messages": 0,
        "mismatches": 0,
        "errors": 1,
        "firstErrors": [why],
        "rate": 0,
        "p50": None,
        "p99": None,
        "lgCpu": None,
        "serverCpu": None,
        "otherCpu": None,
    }


# --------------------------------------------------------------------------- output


def cell_text(result: dict[str, Any] | None) -> str:
    """One table cell: the figure and its latencies, or why it failed."""
    if result is None:
        return "not run"
    if not ok(result):
        return f"**FAIL** ({result['errors']} errors, {result['mismatches']} mismatches)"
    mode = result["mode"]
    lat = f"p50 {fmt_ms(result['p50'])} / p99 {fmt_ms(result['p99'])} ms"
    if mode == "idle":
        return f"{result['rate'] / 1024:.1f} KB/conn"
    if mode == "fanout":
        return (
            f"{fmt_rate(result['rate'])}; 1 emit: {lat}; "
            f"{result.get('ticks')} emits: {fmt_ms(result.get('spanP50'))} ms"
        )
    return f"{fmt_rate(result['rate'])}, {lat}"


def ratio(ours: dict[str, Any] | None, theirs: dict[str, Any] | None) -> float | None:
    """ours/theirs for rates, theirs/ours for memory: above 1 means ours is better."""
    if not (ok(ours) and ok(theirs)):
        return None
    assert ours is not None and theirs is not None
    if ours["rate"] <= 0 or theirs["rate"] <= 0:
        return None
    if lower_is_better(ours["mode"]):
        return float(theirs["rate"] / ours["rate"])
    return float(ours["rate"] / theirs["rate"])


def cpu_per_op(result: dict[str, Any] | None) -> float | None:
    """Server CPU seconds per ack, delivery or connect (None for idle memory)."""
    if not ok(result) or result is None or result["mode"] == "idle":
        return None
    if not result["serverCpu"] or not result["rate"]:
        return None
    if result["mode"] == "fanout":
        # serverCpu is over the whole throughput phase (wall time), rate over the busy spans.
        return float(result["serverCpu"] * result["wall"] / result["messages"])
    return float(result["serverCpu"] / result["rate"])


def cpu_ratio(ours: dict[str, Any] | None, theirs: dict[str, Any] | None) -> float | None:
    """theirs/ours server CPU per operation: above 1 means ours does the work more cheaply."""
    a, b = cpu_per_op(ours), cpu_per_op(theirs)
    return None if a is None or b is None or a <= 0 else b / a


def cells_in_order(settings: Settings) -> list[Cell]:
    """The (mode, n) cells, in table order."""
    cells: list[Cell] = [("websocket", c) for c in settings.concurrency]
    cells += [(BIG, c) for c in settings.big_concurrency]
    cells += [("polling", c) for c in settings.polling_concurrency]
    cells += [
        *(("fanout", r) for r in settings.receivers),
        ("connect", settings.connect_sessions),
        ("idle", settings.idle_sessions),
    ]
    return cells


def row_title(cell: Cell, settings: Settings) -> list[str]:
    """The first two columns of a row."""
    mode, n = cell
    titles = {
        "websocket": ("echo+ack websocket", f"C={n}"),
        BIG: (f"echo+ack websocket, {settings.big_size // 1024} KB payloads", f"C={n}"),
        "polling": ("echo+ack polling", f"C={n}"),
        "fanout": ("fan-out deliveries", f"{n:,} clients"),
        "connect": ("connects", f"{n:,} sessions"),
        "idle": ("idle memory", f"{n:,} sessions"),
    }
    return list(titles[mode])


def server_keys(loops: tuple[str, ...]) -> list[str]:
    """The servers of a run, in the order they run."""
    keys = []
    for i, loop in enumerate(loops):
        keys += [f"ours/{loop}", f"python-socketio/{loop}"]
        if i == 0:
            keys.append("node")
    return keys


def print_tables(results: Results, settings: Settings, loops: tuple[str, ...]) -> None:
    """The results table, the CPU table, failures and the targets."""
    keys = server_keys(loops)
    header = ["scenario", "n", *(label(k) for k in keys)]
    for loop in loops:
        header += [f"ours/python-socketio ({loop})", f"ours/Node ({loop})"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for cell in cells_in_order(settings):
        row = row_title(cell, settings) + [cell_text(results.get(k, cell)) for k in keys]
        for loop in loops:
            ours = results.get(f"ours/{loop}", cell)
            row.append(fmt_ratio(ratio(ours, results.get(f"python-socketio/{loop}", cell))))
            row.append(fmt_ratio(ratio(ours, results.get("node", cell))))
        print("| " + " | ".join(row) + " |")
    print()
    print(
        "CPU during the measured window, in % of one core: server / load generator (everything"
        " else on the machine); then the server's CPU time per ack, delivery or connect, and"
        " the ratio theirs / ours of that time (above 1: ours is cheaper)."
    )
    print()
    header = ["scenario", "n", *(label(k) for k in keys)]
    for loop in loops:
        header += [f"CPU/op python-socketio/ours ({loop})", f"CPU/op Node/ours ({loop})"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for cell in cells_in_order(settings):
        row = row_title(cell, settings)
        for k in keys:
            r = results.get(k, cell)
            row.append(
                "-"
                if r is None
                else f"{fmt_cpu(r['serverCpu'])} / {fmt_cpu(r['lgCpu'])} "
                f"({fmt_cpu(r['otherCpu'])}), {fmt_us(cpu_per_op(r))}"
            )
        for loop in loops:
            ours = results.get(f"ours/{loop}", cell)
            row.append(fmt_ratio(cpu_ratio(ours, results.get(f"python-socketio/{loop}", cell))))
            row.append(fmt_ratio(cpu_ratio(ours, results.get("node", cell))))
        print("| " + " | ".join(row) + " |")
    problems = [(k, m, n, r) for (k, m, n), r in sorted(results.cells.items()) if not ok(r)]
    if problems:
        print()
        print("Failures:")
        for k, m, n, r in problems:
            print(f"- {k} {m} n={n}: {'; '.join(r['firstErrors'][:3])}")
    print()
    print("Targets (ours against Node socket.io):")
    targets = [(f"echo C={c}", ("websocket", c)) for c in settings.concurrency]
    targets += [
        (f"echo {settings.big_size // 1024} KB C={c}", (BIG, c)) for c in settings.big_concurrency
    ]
    targets += [(f"polling echo C={c}", ("polling", c)) for c in settings.polling_concurrency]
    targets += [(f"fan-out to {r:,}", ("fanout", r)) for r in settings.receivers]
    targets += [("idle memory per connection", ("idle", settings.idle_sessions))]
    for loop in loops:
        for what, cell in targets:
            value = ratio(results.get(f"ours/{loop}", cell), results.get("node", cell))
            verdict = "n/a" if value is None else "met" if value >= 1 else "NOT met"
            cpu = cpu_ratio(results.get(f"ours/{loop}", cell), results.get("node", cell))
            extra = "" if cpu is None else f" (server CPU per op, Node/ours: {fmt_ratio(cpu)})"
            print(f"- {loop}: {what} at or better than Node: {fmt_ratio(value)}: {verdict}{extra}")


def plot(results: Results, settings: Settings, loops: tuple[str, ...], path: Path) -> bool:
    """Bar charts of the main figures (PNG, through harness.bar_chart)."""
    keys = server_keys(loops)
    specs: list[tuple[str, list[Cell], Callable[[Cell], str], float]] = [
        (
            "Echo with ack (acks/s)",
            [("websocket", c) for c in settings.concurrency]
            + [("polling", c) for c in settings.polling_concurrency],
            lambda cell: f"{'ws' if cell[0] == 'websocket' else 'poll'} C={cell[1]}",
            1.0,
        ),
        (
            "Fan-out (k deliveries/s)",
            [("fanout", r) for r in settings.receivers],
            lambda cell: f"{cell[1]:,} clients",
            1e-3,
        ),
        (
            "Connects (sessions/s)",
            [("connect", settings.connect_sessions)],
            lambda cell: f"{cell[1]:,} sessions",
            1.0,
        ),
        (
            "Idle memory, KB/conn (lower: better)",
            [("idle", settings.idle_sessions)],
            lambda cell: f"{cell[1]:,} sessions",
            1 / 1024,
        ),
    ]
    panels = []
    for title, cells, name, scale in specs:
        values = {
            key: [
                r["rate"] * scale if (r := results.get(key, cell)) is not None and ok(r) else 0.0
                for cell in cells
            ]
            for key in keys
        }
        panels.append((title, [name(c) for c in cells], values))
    series = [(key, label(key), COLORS.get(key, "#777777")) for key in keys]
    return bar_chart(panels, series, [5, 1.5, 1.5, 1.5], "Socket.IO end to end", path)


COLORS = {
    "ours/asyncio": "#1f77b4",
    "ours/uvloop": "#6baed6",
    "python-socketio/asyncio": "#ff7f0e",
    "python-socketio/uvloop": "#fdae6b",
    "node": "#2ca02c",
}


def machine_info(results: Results) -> list[str]:
    """Lines describing the machine, the versions and the servers."""
    dists = ("python-socketio", "python-engineio", "uvicorn", "h11", "websockets", "uvloop")
    lines = machine_lines((*dists, "httptools"))
    lines += [f"Server {label(k)}: {impl}" for k, impl in results.impls.items()]
    return lines


# ----------------------------------------------------------------------------- main


def run_server(
    key: str, settings: Settings, results: Results, workdir: Path, round_no: int
) -> None:
    """Every cell against one server: one process for the traffic cells, a fresh one for idle."""

    def record(result: dict[str, Any]) -> None:
        results.offer(key, result)
        mode, n = result["mode"], result["concurrency"]
        print(
            f"  round {round_no + 1} {label(key):28} {mode:9} n={n:<5} {cell_text(result)}",
            file=sys.stderr,
        )

    traffic = [c for c in cells_in_order(settings) if c[0] != "idle"]
    server = start_server(key, workdir)
    try:
        results.impls[key] = server.impl
        for mode, n in traffic:
            record(run_load(server, settings, mode, n))
            if mode in ("fanout", "connect"):
                time.sleep(1.0)  # let the server tear down the sessions just aborted
    finally:
        stop_server(server.proc)
    server = start_server(key, workdir)
    try:
        record(run_load(server, settings, "idle", settings.idle_sessions))
    finally:
        stop_server(server.proc)
    log = server.stderr_path.read_text(errors="replace").strip()
    if log:
        print(f"  {key} stderr (tail): {log[-500:]}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter cells, fewer sessions")
    parser.add_argument("--loop", choices=("asyncio", "uvloop", "both"), default="both")
    parser.add_argument("--duration", type=float, help="measured seconds per echo cell")
    parser.add_argument("--rounds", type=int, help="runs per server; each cell keeps its best")
    parser.add_argument("--size", type=int, default=64, help="payload characters (64)")
    parser.add_argument(
        "--big-size", type=int, default=10 * 1024, help="payload of the big echo cell (10 KB)"
    )
    parser.add_argument(
        "--receivers", default="100,1000", help="clients of each fan-out cell (100,1000)"
    )
    parser.add_argument("--servers", default=",".join(IMPLS), help="comma-separated subset")
    parser.add_argument("--idle-sessions", type=int, help="sessions for idle memory (5,000)")
    parser.add_argument("--no-plot", action="store_true", help=f"do not write {PLOT.name}")
    parser.add_argument("--json", type=Path, help="also write every kept result to this file")
    args = parser.parse_args()
    receivers = tuple(int(n) for n in args.receivers.split(","))
    if args.quick:
        settings = Settings(
            (1, 10, 100), (1, 10), warmup=0.5, duration=1.5, size=args.size, receivers=receivers,
            ticks=10, triggers=3, latency_triggers=10, connect_sessions=500,
            idle_sessions=2000, rounds=1,
        )  # fmt: skip
    else:
        settings = Settings(
            (1, 10, 100), (1, 10), warmup=1.0, duration=3.0, size=args.size, receivers=receivers,
            ticks=20, triggers=5, latency_triggers=20, connect_sessions=2000,
            idle_sessions=5000, rounds=1,
        )  # fmt: skip
    settings.big_size = args.big_size
    if args.duration:
        settings.duration = args.duration
    if args.rounds:
        settings.rounds = args.rounds
    if args.idle_sessions:
        settings.idle_sessions = args.idle_sessions
    loops = LOOPS if args.loop == "both" else (args.loop,)
    wanted = args.servers.split(",")
    keys = [k for k in server_keys(loops) if k.partition("/")[0] in wanted]
    if not NODE_MODULES.joinpath("ws").is_dir():
        raise SystemExit(f"{NODE_MODULES} has no ws: run npm install in tests/node")
    if "uvloop" in loops and importlib.util.find_spec("uvloop") is None:
        raise SystemExit("--loop uvloop needs uvloop: pip install uvloop")
    raise_fd_limit(max(settings.idle_sessions, settings.connect_sessions) * 2 + 1000)

    started = time.perf_counter()
    results = Results()
    print(
        f"Socket.IO end to end: payload {settings.size} characters, echo C={settings.concurrency}"
        f" (polling {settings.polling_concurrency}), {settings.warmup} s warm-up + "
        f"{settings.duration} s per echo cell, fan-out {settings.receivers} clients x "
        f"{settings.triggers} triggers of {settings.ticks} emits, {settings.connect_sessions} "
        f"connects, {settings.idle_sessions} idle sessions, loops {loops}, "
        f"{settings.rounds} round(s)",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix="sio-bench-") as tmp:
        for round_no in range(settings.rounds):
            for key in keys:
                run_server(key, settings, results, Path(tmp), round_no)
    for line in machine_info(results):
        print(line)
    print(f"Command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print()
    print_tables(results, settings, loops)
    if args.json:
        cells = [{"server": k, **r} for (k, _, _), r in sorted(results.cells.items())]
        args.json.write_text(json.dumps({"impls": results.impls, "cells": cells}, indent=1))
    if not args.no_plot and plot(results, settings, loops, PLOT):
        print()
        print(f"Plot: {PLOT.relative_to(ROOT)}")
    print()
    print(f"Total run time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
