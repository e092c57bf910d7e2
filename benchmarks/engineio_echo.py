"""Benchmark Engine.IO echo and upgrade: our server against python-engineio and Node engine.io.

Run from the repository root::

    .venv/bin/python benchmarks/engineio_echo.py            # about 4.5 minutes
    .venv/bin/python benchmarks/engineio_echo.py --quick    # about 35 seconds

Three echo servers, each started as its own subprocess on a free loopback port, one after the
other (``benchmarks/eio_servers/``):

* **ours**: ``engineio_core.aio.AsyncServer`` on its standalone front door (h11 +
  ``websocket.aio``), default asyncio loop;
* **python-engineio**: ``engineio.AsyncServer(async_mode="asgi")`` under uvicorn with its
  defaults (``loop``, ``http`` and ``ws`` all ``"auto"``; the script prints what they resolved
  to: without uvloop and httptools installed that is the asyncio loop, h11 and the websockets
  sans-I/O implementation);
* **Node**: engine.io 6.6 ``attach``-ed to a Node ``http`` server.

Each handler echoes every message back; the ping interval is 300 s so that no heartbeat falls
in a measurement. Every server is driven by the same load generator, ``benchmarks/eio_load.js``:
Node with ``ws`` and ``http``, speaking raw Engine.IO v4 (see its header), one process per
measurement. What is measured:

* **websocket** / **polling** echo: C concurrent clients (1, 10, 100) each do closed-loop echo
  (send ``4<payload>``, wait for the same packet back, repeat) for a fixed time after a
  warm-up; messages/s over all clients and p50/p99 of the round trip. Polling keeps one GET
  parked per client and sends each message in its own POST, over a keep-alive agent.
* **upgrade**: sequential sessions from the handshake GET to ``5`` sent over the WebSocket,
  with the probe done and the parked GET released, as engine.io-client does it.

Every echo is checked (each payload carries the client id and a sequence number): a
mismatch, an HTTP error or a timeout fails the cell, so a broken server cannot look fast.
Ratios are ours / theirs for messages/s and theirs / ours for upgrade times, so above 1 always
means ours is better. With ``--rounds`` above 1, each server runs that many times and each cell
keeps its best run (highest messages/s; lowest upgrade p50).

The load generator and the server share the machine. The CPU table says how much of a core
each used during the measured window, and how much everything else on the machine used
("other"): a noisy neighbour shows there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import (
    NODE_MODULES,
    START_TIMEOUT,
    fmt_cpu,
    fmt_ms,
    fmt_rate,
    fmt_ratio,
    fmt_us,
    machine_lines,
    node_binary,
    node_env,
    read_line,
    stop_server,
    wait_ready,
)

ROOT = Path(__file__).resolve().parent.parent
SERVERS_DIR = ROOT / "benchmarks" / "eio_servers"
LOAD_JS = ROOT / "benchmarks" / "eio_load.js"
PING_INTERVAL = 300.0  # seconds: no heartbeat during a measurement
NAMES = ("ours", "python-engineio", "node")
LABELS = {"ours": "ours", "python-engineio": "python-engineio", "node": "Node engine.io"}


@dataclass
class Settings:
    """What one run measures."""

    concurrency: tuple[int, ...]
    warmup: float
    duration: float
    sessions: int
    size: int
    rounds: int
    step_timeout: float = 10.0


@dataclass
class Server:
    """A running server subprocess."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    impl: str
    stderr_path: Path


@dataclass
class Results:
    """Best result per (server, cell); cell is (mode, concurrency)."""

    cells: dict[tuple[str, str, int], dict[str, Any]] = field(default_factory=dict)
    impls: dict[str, str] = field(default_factory=dict)

    def offer(self, name: str, result: dict[str, Any]) -> None:
        key = (name, result["mode"], result["concurrency"])
        old = self.cells.get(key)
        if old is None or better(result, old):
            self.cells[key] = result


def ok(result: dict[str, Any] | None) -> bool:
    """Whether a measurement is valid: something was echoed and nothing went wrong."""
    return (
        result is not None
        and result["errors"] == 0
        and result["mismatches"] == 0
        and result["messages"] > 0
    )


def better(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether ``new`` should replace ``old`` as the kept run of a cell."""
    if ok(new) != ok(old):
        return ok(new)
    if new["mode"] == "upgrade":
        return (new["p50"] or float("inf")) < (old["p50"] or float("inf"))
    return bool(new["rate"] > old["rate"])


# ------------------------------------------------------------------------ processes


def server_command(name: str) -> list[str]:
    """The command line that starts one server."""
    ping = str(PING_INTERVAL)
    if name == "ours":
        return [sys.executable, str(SERVERS_DIR / "ours_standalone.py"), ping]
    if name == "python-engineio":
        return [sys.executable, str(SERVERS_DIR / "pyengineio_uvicorn.py"), ping]
    if name == "node":
        return [node_binary(), str(SERVERS_DIR / "node_engineio.js"), ping]
    raise ValueError(name)


def start_server(name: str, workdir: Path) -> Server:
    """Start one server; returns once it answers an Engine.IO handshake."""
    stderr_path = workdir / f"{name}.stderr"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            server_command(name),
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=node_env(),
            cwd=ROOT,
        )
    try:
        line = read_line(proc, START_TIMEOUT)
        info = json.loads(line)
        server = Server(name, proc, int(info["port"]), str(info["impl"]), stderr_path)
        wait_ready(server.port, "/engine.io/", server.name)
    except BaseException:
        stop_server(proc)
        raise
    return server


def run_load(server: Server, settings: Settings, mode: str, concurrency: int) -> dict[str, Any]:
    """One load generator run against ``server``; returns its JSON result."""
    options: dict[str, Any] = {
        "port": server.port,
        "mode": mode,
        "concurrency": concurrency,
        "warmup": settings.warmup,
        "duration": settings.duration,
        "size": settings.size,
        "sessions": settings.sessions,
        "timeout": settings.step_timeout,
        "serverPid": server.proc.pid,
        "clkTck": os.sysconf("SC_CLK_TCK"),
    }
    if mode == "upgrade":
        # Sessions are sequential: bound the count (sessions) and the time (duration).
        options["duration"] = max(settings.duration * 3, 10.0)
    limit = options["warmup"] + options["duration"] + 3 * settings.step_timeout + 40
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
        return failed(mode, concurrency, f"load generator killed after {limit:.0f} s")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = out.decode().strip().splitlines()
    if not lines:
        return failed(mode, concurrency, f"no output; stderr: {err.decode()[-300:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    if server.proc.poll() is not None:
        result["errors"] += 1
        result["firstErrors"].append(f"server exited with {server.proc.returncode}")
    return result


def failed(mode: str, concurrency: int, why: str) -> dict[str, Any]:
    """A result standing for a run that produced none."""
    return {
        "mode": mode,
        "concurrency": concurrency,
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


def cell(result: dict[str, Any] | None) -> str:
    """One table cell: rate and p50/p99, or why it failed."""
    if result is None:
        return "not run"
    if not ok(result):
        return f"**FAIL** ({result['errors']} errors, {result['mismatches']} mismatches)"
    lat = f"p50 {fmt_ms(result['p50'])} / p99 {fmt_ms(result['p99'])} ms"
    if result["mode"] == "upgrade":
        return f"{lat} (n={result['messages']})"
    return f"{fmt_rate(result['rate'])}, {lat}"


def ratio(ours: dict[str, Any] | None, theirs: dict[str, Any] | None) -> float | None:
    """ours/theirs for rates, theirs/ours for upgrade p50: above 1 means ours is better."""
    if not (ok(ours) and ok(theirs)):
        return None
    assert ours is not None and theirs is not None
    if ours["mode"] == "upgrade":
        return float(theirs["p50"] / ours["p50"])
    return float(ours["rate"] / theirs["rate"])


def cpu_per_message(result: dict[str, Any] | None) -> float | None:
    """Server CPU seconds per echoed message (per session for upgrades)."""
    if not ok(result) or result is None or not result["serverCpu"] or not result["rate"]:
        return None
    return float(result["serverCpu"] / result["rate"])


def cpu_ratio(ours: dict[str, Any] | None, theirs: dict[str, Any] | None) -> float | None:
    """theirs/ours server CPU per message: above 1 means ours does the work more cheaply."""
    a, b = cpu_per_message(ours), cpu_per_message(theirs)
    return None if a is None or b is None else b / a


def cells_in_order(settings: Settings) -> list[tuple[str, int]]:
    """The (mode, concurrency) cells, in table order."""
    cells = [(mode, c) for mode in ("websocket", "polling") for c in settings.concurrency]
    return [*cells, ("upgrade", 1)]


def print_tables(results: Results, settings: Settings, names: tuple[str, ...]) -> None:
    """The results table, the CPU table, failures and the target."""
    get = results.cells.get
    others = [n for n in names if n != "ours"]
    header = ["transport", "C", *(LABELS[n] for n in names)]
    header += [f"ours/{LABELS[n]}" for n in others if "ours" in names]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for mode, c in cells_in_order(settings):
        row = [mode, str(c) if mode != "upgrade" else "1 (seq.)"]
        row += [cell(get((n, mode, c))) for n in names]
        if "ours" in names:
            row += [fmt_ratio(ratio(get(("ours", mode, c)), get((n, mode, c)))) for n in others]
        print("| " + " | ".join(row) + " |")
    print()
    print(
        "CPU during the measured window, in % of one core: server / load generator (everything"
        " else on the machine); then server CPU time per echoed message."
    )
    print()
    header = ["transport", "C", *(LABELS[n] for n in names)]
    header += [f"CPU/msg {LABELS[n]}/ours" for n in others if "ours" in names]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for mode, c in cells_in_order(settings):
        row = [mode, str(c) if mode != "upgrade" else "1 (seq.)"]
        for n in names:
            r = get((n, mode, c))
            row.append(
                "-"
                if r is None
                else f"{fmt_cpu(r['serverCpu'])} / {fmt_cpu(r['lgCpu'])} "
                f"({fmt_cpu(r['otherCpu'])}), {fmt_us(cpu_per_message(r), '/msg')}"
            )
        if "ours" in names:
            row += [fmt_ratio(cpu_ratio(get(("ours", mode, c)), get((n, mode, c)))) for n in others]
        print("| " + " | ".join(row) + " |")
    problems = [
        (name, mode, c, r) for (name, mode, c), r in sorted(results.cells.items()) if not ok(r)
    ]
    if problems:
        print()
        print("Failures:")
        for name, mode, c, r in problems:
            print(f"- {name} {mode} C={c}: {'; '.join(r['firstErrors'][:3])}")
    if "ours" in names and "python-engineio" in names:
        print()
        print("Target: websocket echo >= 2x python-engineio")
        for c in settings.concurrency:
            value = ratio(get(("ours", "websocket", c)), get(("python-engineio", "websocket", c)))
            verdict = "n/a" if value is None else "met" if value >= 2 else "NOT met"
            cpu = cpu_ratio(get(("ours", "websocket", c)), get(("python-engineio", "websocket", c)))
            print(
                f"- C={c}: {fmt_ratio(value)} in messages/s: {verdict} "
                f"(server CPU per message: {fmt_ratio(cpu)})"
            )


def machine_info(results: Results) -> list[str]:
    """Lines describing the machine, the versions and the servers."""
    dists = ("python-engineio", "uvicorn", "h11", "websockets", "uvloop", "httptools")
    lines = machine_lines(dists)
    lines += [f"Server {LABELS[n]}: {impl}" for n, impl in results.impls.items()]
    return lines


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="C=1,10, short runs, one round")
    parser.add_argument("--duration", type=float, help="measured seconds per cell")
    parser.add_argument("--rounds", type=int, help="runs per server; each cell keeps its best")
    parser.add_argument("--size", type=int, default=64, help="payload characters (64)")
    parser.add_argument("--servers", default=",".join(NAMES), help="comma-separated subset")
    args = parser.parse_args()
    if args.quick:
        settings = Settings(
            (1, 10), warmup=0.5, duration=1.5, sessions=20, size=args.size, rounds=1
        )
    else:
        settings = Settings(
            (1, 10, 100), warmup=1.0, duration=3.0, sessions=50, size=args.size, rounds=3
        )
    if args.duration:
        settings.duration = args.duration
    if args.rounds:
        settings.rounds = args.rounds
    names = tuple(n for n in NAMES if n in args.servers.split(","))
    if not NODE_MODULES.joinpath("ws").is_dir():
        raise SystemExit(f"{NODE_MODULES} has no ws: run npm install in tests/node")

    started = time.perf_counter()
    results = Results()
    print(
        f"Engine.IO echo: payload {settings.size} characters, C={settings.concurrency}, "
        f"{settings.warmup} s warm-up + {settings.duration} s per cell, "
        f"{settings.sessions} upgrade sessions, {settings.rounds} round(s)",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix="eio-bench-") as tmp:
        for round_no in range(settings.rounds):
            for name in names:
                server = start_server(name, Path(tmp))
                try:
                    results.impls[name] = server.impl
                    for mode, c in cells_in_order(settings):
                        result = run_load(server, settings, mode, c)
                        results.offer(name, result)
                        print(
                            f"  round {round_no + 1} {name:16} {mode:9} C={c:<3} {cell(result)}",
                            file=sys.stderr,
                        )
                finally:
                    stop_server(server.proc)
                log = server.stderr_path.read_text(errors="replace").strip()
                if log:
                    print(f"  {name} stderr (tail): {log[-500:]}", file=sys.stderr)
    for line in machine_info(results):
        print(line)
    print(f"Command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print()
    print_tables(results, settings, names)
    print()
    print(f"Total run time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
