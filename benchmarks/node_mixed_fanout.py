"""Benchmark fan-out through Redis in a mixed Node + Python cluster on Node's adapter protocol.

Run from the repository root::

    .venv/bin/python benchmarks/node_mixed_fanout.py            # 1,000 clients
    .venv/bin/python benchmarks/node_mixed_fanout.py --quick    # 200 clients

One private ``redis-server``; in the same run, one after the other, three clusters of three
servers that all speak ``@socket.io/redis-adapter`` 8.x (classic ``createAdapter``), each on a
``key`` of its own:

* **node x3**: three Node socket.io 4.8 servers (``benchmarks/redis_servers/node_server.js``);
* **node -> 2 python**: a Node server (which emits) and two of ours
  (``benchmarks/redis_servers/ours.py`` with ``wire="node"``);
* **python -> node + python**: one of ours emits, to a Node server and another of ours.

The load generator and the measures are ``benchmarks/redis_fanout.py``'s
(``benchmarks/redis_servers/fanout_load.js``): the receivers are spread round-robin over the
three servers and join ``"room"``; a trigger on the first server loops ``emit("tick", i)`` to
the room, a third of the deliveries local and the rest through Redis. Deliveries/s over
``--triggers`` x ``--ticks`` broadcasts; latency p50/p99 from the trigger to the last delivery
to the last client over ``--latency-triggers`` broadcasts of one tick. Every delivery is
checked (each client gets each tick once, in order); a failing run prints **FAIL**.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from redis_fanout import (
    LOAD_JS,
    NODE_MODULES,
    ROOT,
    SERVERS,
    START_TIMEOUT,
    Settings,
    best,
    fmt_rate,
    machine,
    parse_settings,
    read_line,
    round_status,
    start_redis,
    stop,
)

CLUSTERS = {
    "node x3": ["node", "node", "node"],
    "node -> 2 python": ["node", "python", "python"],
    "python -> node + python": ["python", "node", "python"],
}


def command(kind: str, url: str, key: str, peers: int, loop: str) -> list[str]:
    if kind == "node":
        return ["node", str(SERVERS / "node_server.js"), url, key, str(peers)]
    return [sys.executable, str(SERVERS / "ours.py"), url, key, str(peers), loop, "node"]


def run_cluster(
    name: str, url: str, key: str, redis_pid: int, s: Settings, workdir: Path
) -> dict[str, Any]:
    """Start one cluster's servers, run the load generator, stop them."""
    procs: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    try:
        for i, kind in enumerate(CLUSTERS[name]):
            with (workdir / f"{key}-{i}.log").open("ab") as log:
                procs.append(
                    subprocess.Popen(
                        command(kind, url, key, len(CLUSTERS[name]) - 1, s.loop),
                        stdout=subprocess.PIPE,
                        stderr=log,
                        start_new_session=True,
                        cwd=ROOT,
                        env=env,
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
        result["impl_detail"] = sorted({info["impl"] for info in infos})
        if not result["ok"]:
            result["stderr"] = done.stderr.decode()[-2000:]
        return result
    finally:
        for proc in procs:
            stop(proc)


def report(
    results: dict[str, dict[str, Any]], s: Settings, runs: dict[str, list[dict[str, Any]]]
) -> str:
    out = [
        f"3 servers, {s.receivers} clients (round-robin), one room, Node's classic Redis "
        f"adapter protocol; latency: {s.latency_triggers} broadcasts of 1 tick; throughput: "
        f"{s.triggers} x {s.ticks} broadcasts; best of {s.rounds}",
        "",
        "| cluster (emitting server first) | deliveries/s | p50 emit->last client "
        "| p99 emit->last client | servers+redis CPU | us CPU/delivery | load gen CPU "
        "| other CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        if not r.get("ok"):
            out.append(f"| {name} | **FAIL** | | | | | | |")
            continue
        out.append(
            f"| {name} | {fmt_rate(r['rate'])} | {r['p50']:.1f} ms | {r['p99']:.1f} ms | "
            f"{r['serverCpu']:.2f} | {r['serverCpu'] / r['rate'] * 1e6:.1f} | {r['lgCpu']:.2f} | "
            f"{r['otherCpu']:.2f} |"
        )
    rounds = "; ".join(
        f"{name} {', '.join(fmt_rate(r['rate']) for r in items if r.get('ok'))}"
        for name, items in runs.items()
    )
    out += ["", f"Rounds: {rounds}."]
    return "\n".join(out)


def main() -> None:
    args, s = parse_settings(__doc__.split("\n", 1)[0])
    if shutil.which("node") is None or not (NODE_MODULES / "@socket.io" / "redis-adapter").is_dir():
        raise SystemExit("needs node and @socket.io/redis-adapter in tests/node/node_modules")
    started = datetime.datetime.now(datetime.UTC)
    print(f"# {started:%Y-%m-%d %H:%M} UTC; {machine()}", flush=True)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CLUSTERS}
    with tempfile.TemporaryDirectory(prefix="node-mixed-") as tmp:
        workdir = Path(tmp)
        redis, port = start_redis(workdir)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            for round_ in range(s.rounds):
                for i, name in enumerate(CLUSTERS):
                    t0 = time.monotonic()
                    result = run_cluster(name, url, f"bench{round_}-{i}", redis.pid, s, workdir)
                    runs[name].append(result)
                    status = round_status(result)
                    print(f"  round {round_ + 1} {name}: {status} ({time.monotonic() - t0:.0f} s)")
        finally:
            stop(redis)
    results = {name: best(items) for name, items in runs.items()}
    for name, r in results.items():
        print(f"# {name}: {'; '.join(r.get('impl_detail') or [])}")
    print()
    print(report(results, s, runs))
    if args.json:
        args.json.write_text(json.dumps({"settings": s.__dict__, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
