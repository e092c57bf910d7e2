"""What the Admin UI instrumentation (``sio.instrument()``) costs: fan-out with and without it.

Run from the repository root::

    .venv/bin/python benchmarks/admin_cost.py            # ~2 minutes
    .venv/bin/python benchmarks/admin_cost.py --rounds 3

Our server (``benchmarks/sio_servers/ours_standalone.py``, asyncio loop) runs in four states,
one after the other, each as a fresh subprocess:

* **not instrumented**: ``instrument()`` never called (the hooks test one ``None``);
* **development, no UI**: instrumented, nobody on ``/admin`` (per-socket events not queued);
* **development, UI connected**: one admin client (``benchmarks/admin_ui_client.py``, our
  client on ``/admin``) receives ``event_sent`` for every delivery, plus the rest;
* **production, UI connected**: the same client, but only ``server_stats`` are sent.

In each, ``benchmarks/sio_load.js`` runs the **fanout** scenario of ``socketio_bench.py``
(1,000 clients in a room; ``fanout(n)`` emits ``tick`` n times to the room; every delivery is
checked): deliveries/s over the busy spans, latency of one emit to its last delivery, and the
server's CPU per delivery. The best of ``--rounds`` runs is kept per state. The admin client
prints how many events of each kind it received (checked: the UI state gets ``event_sent``
events, production gets none).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import (
    START_TIMEOUT,
    fmt_ms,
    fmt_rate,
    machine_lines,
    node_env,
    raise_fd_limit,
    read_line,
    stop_server,
    wait_ready,
)
from socketio_bench import PING_INTERVAL, SERVERS_DIR, Server, Settings, better, cpu_per_op, ok
from socketio_bench import run_load as run_fanout

ROOT = Path(__file__).resolve().parent.parent
UI_CLIENT = ROOT / "benchmarks" / "admin_ui_client.py"
STATES = {
    "not instrumented": ("none", False),
    "development, no UI": ("development", False),
    "development, UI connected": ("development", True),
    "production, UI connected": ("production", True),
}


def start(admin: str, workdir: Path) -> Server:
    """Our server with ``instrument(mode=admin)`` (or none); returns once it answers."""
    stderr_path = workdir / f"ours-{admin}.stderr"
    command = [
        sys.executable,
        str(SERVERS_DIR / "ours_standalone.py"),
        str(PING_INTERVAL),
        "asyncio",
        admin,
    ]
    with open(stderr_path, "ab") as stderr:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, cwd=ROOT)
    try:
        info = json.loads(read_line(proc, START_TIMEOUT))
        server = Server(f"ours/{admin}", proc, int(info["port"]), str(info["impl"]), stderr_path)
        wait_ready(server.port, "/socket.io/", server.key)
    except BaseException:
        stop_server(proc)
        raise
    return server


def start_ui(port: int) -> subprocess.Popen[bytes]:
    """The stand-in admin UI, logged in; returns once it got ``config``."""
    proc = subprocess.Popen(
        [sys.executable, str(UI_CLIENT), f"http://127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env=node_env(),
    )
    try:
        assert json.loads(read_line(proc, START_TIMEOUT)) == {"ready": True}
    except BaseException:
        stop_server(proc)
        raise
    return proc


def stop_ui(proc: subprocess.Popen[bytes]) -> dict[str, int]:
    """Stop the admin client; what it received, by event."""
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    lines = out.decode().strip().splitlines()
    return dict(json.loads(lines[-1])) if lines else {}


def measure(state: str, settings: Settings, workdir: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """One run of one state: the fan-out result and the admin client's counts."""
    admin, with_ui = STATES[state]
    server = start(admin, workdir)
    ui = None
    try:
        ui = start_ui(server.port) if with_ui else None
        result = run_fanout(server, settings, "fanout", settings.receivers)
    finally:
        counts = stop_ui(ui) if ui is not None else {}
        stop_server(server.proc)
    return result, counts


def row(state: str, result: dict[str, Any], counts: dict[str, int], base: dict[str, Any]) -> str:
    if not ok(result):
        return f"| {state} | **FAIL** {result['firstErrors'][:1]} | | | | |"
    cpu = cpu_per_op(result)
    base_cpu = cpu_per_op(base)
    relative = f"{result['rate'] / base['rate']:.2f}" if ok(base) and base["rate"] else "-"
    cpu_rel = f"{cpu / base_cpu:.2f}" if cpu and base_cpu else "-"
    ui = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "-"
    return (
        f"| {state} | {fmt_rate(result['rate'])} ({relative}) | "
        f"{fmt_ms(result['p50'])} / {fmt_ms(result['p99'])} | "
        f"{cpu * 1e6:.2f} us ({cpu_rel}) | {ui} |"
        if cpu
        else f"| {state} | {fmt_rate(result['rate'])} ({relative}) | - | - | {ui} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="runs per state; best kept")
    args = parser.parse_args()
    raise_fd_limit(4096)
    settings = Settings(
        (1,),
        (1,),
        warmup=1.0,
        duration=3.0,
        size=32,
        receivers=1000,
        ticks=20,
        triggers=5,
        latency_triggers=20,
        connect_sessions=0,
        idle_sessions=0,
        rounds=args.rounds,
    )
    best: dict[str, tuple[dict[str, Any], dict[str, int]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for state in STATES:
                result, counts = measure(state, settings, Path(tmp))
                old = best.get(state)
                if old is None or better(result, old[0]):
                    best[state] = (result, counts)
                print(f"{state}: {fmt_rate(result['rate'])} ok={ok(result)}", file=sys.stderr)
    for line in machine_lines(["bcrypt"]):
        print(line)
    print()
    print(
        "| state | fan-out deliveries/s (vs not instrumented) | 1 emit to 1,000: p50 / p99 ms "
        "| server CPU per delivery (vs) | admin client received |"
    )
    print("|---|---|---|---|---|")
    base = best["not instrumented"][0]
    for state, (result, counts) in best.items():
        print(row(state, result, counts, base))
    ui_dev = best["development, UI connected"][1]
    ui_prod = best["production, UI connected"][1]
    assert ui_dev.get("event_sent", 0) > 0, "development UI got no event_sent"
    assert not set(ui_prod) - {"session", "config", "server_stats"}, ui_prod


if __name__ == "__main__":
    main()
