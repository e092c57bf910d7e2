"""Does ``python -m socketio_core bench`` keep up? Each scenario run back to back with Node's
load generator (``benchmarks/sio_load.js``) and with the bench, against one running server.

Usage: ``python benchmarks/bench_vs_sio_load.py PORT SERVER_PID LABEL``, with a server of
``benchmarks/sio_servers/`` listening on PORT (e.g. ``node node_socketio.js 300``). Prints a
Markdown table (docs/kits.md has one run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "NODE_PATH": str(ROOT / "tests/node/node_modules"), "PYTHONPATH": str(ROOT)}


def node(port: int, pid: int, opts: dict[str, Any]) -> dict[str, Any]:
    """One sio_load.js run; its JSON result (rate NaN if it failed)."""
    args = json.dumps({"port": port, "serverPid": pid, **opts})
    cmd = ["node", str(ROOT / "benchmarks/sio_load.js"), args]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, env=ENV, timeout=300)
    try:
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    except (IndexError, ValueError):
        print("sio_load.js failed:", done.stderr[-300:], file=sys.stderr)
        return {"rate": float("nan")}


def bench(port: int, pid: int, args: list[str]) -> dict[str, Any]:
    """One bench run; its first result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        cmd = [sys.executable, "-m", "socketio_core", "bench", f"http://127.0.0.1:{port}",
               "--server-pid", str(pid), "--json", str(out), "--no-progress", *args]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True, env=ENV, timeout=300, cwd=ROOT)
        return dict(json.loads(out.read_text())["results"][0])


def main() -> None:
    port, pid, label = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    timing = {"duration": 5, "warmup": 1}
    flags = ["--duration", "5", "--warmup", "1"]
    plan: list[tuple[str, dict[str, Any], list[str]]] = []
    for c in (1, 10, 100):
        plan.append((f"echo websocket C={c}", {"mode": "websocket", "concurrency": c, **timing},
                     ["--scenario", "echo", "-c", str(c), *flags]))  # fmt: skip
    for c in (1, 10):
        plan.append((f"echo polling C={c}", {"mode": "polling", "concurrency": c, **timing},
                     ["--scenario", "polling", "-c", str(c), *flags]))  # fmt: skip
    plan.append(("fan-out 1,000 clients",
                 {"mode": "fanout", "receivers": 1000, "ticks": 100, "triggers": 10},
                 ["--scenario", "fanout", "--receivers", "1000", "--ticks", "100",
                  "--triggers", "10"]))  # fmt: skip
    plan.append(("connects 2,000", {"mode": "connect", "sessions": 2000, "inflight": 100},
                 ["--scenario", "connect", "--sessions", "2000", "--inflight", "100"]))  # fmt: skip
    print(f"| scenario ({label}) | sio_load.js | server CPU | its CPU | bench | server CPU "
          "| bench CPU | bench / sio_load.js |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name, node_opts, bench_args in plan:
        n = node(port, pid, node_opts)
        b = bench(port, pid, bench_args)
        print(
            f"| {name} | {n['rate']:,.0f}/s | {100 * (n.get('serverCpu') or 0):.0f}% "
            f"| {100 * (n.get('lgCpu') or 0):.0f}% | {b['rate']:,.0f}/s "
            f"| {b['server_cpu'] or 0:.0f}% | {b['bench_cpu'] or 0:.0f}% "
            f"| {b['rate'] / n['rate']:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
