"""Where our Socket.IO server spends its time per message: one socketio_bench cell under cProfile.

Run from the repository root::

    .venv/bin/python benchmarks/profile_server.py                        # echo+ack WebSocket C=100
    .venv/bin/python benchmarks/profile_server.py --mode polling --n 10  # polling echo C=10
    .venv/bin/python benchmarks/profile_server.py --mode fanout --n 1000  # fan-out to 1,000

The server (``benchmarks/sio_servers/ours_standalone.py``, asyncio) runs in its own process
with ``cProfile`` on from the start of its event loop (after its imports), timing CPU
(``time.process_time``, so that other processes on the machine do not count);
``benchmarks/sio_load.js`` drives the cell exactly as in ``socketio_bench.py``; at SIGTERM
the loop ends and the profile is written. The
report divides each function's *self* time by the number of operations the load generator
counted (acks, or deliveries for fan-out), so the figures read as microseconds per operation,
grouped by layer (``websocket``, ``engineio_core``, ``socketio_core``, ``asyncio`` and the
event loop, ``h11``, the JSON codec, and C calls such as socket writes), then the top
functions. cProfile's own overhead inflates every figure (about 1.5-2x for Python-level calls,
much less for C calls), so read the *shares*; socketio_bench.py gives the real CPU per
operation. The operations counted are those of the measured window; the profile also holds
the warm-up (0.2 s), connecting the clients and, for fan-out, the latency triggers, so the
per-operation figures are a little high, evenly across functions.
"""

from __future__ import annotations

import argparse
import json
import pstats
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import START_TIMEOUT, read_line, stop_server, wait_ready
from socketio_bench import SERVERS_DIR, Server, Settings, run_load

ROOT = Path(__file__).resolve().parent.parent
# The server with the profiler on around its event loop only (imports done before).
RUNNER = """
import asyncio, cProfile, sys, time
sys.path.insert(0, sys.argv[1])
import ours_standalone
profiler = cProfile.Profile(time.process_time)
profiler.enable()
asyncio.run(ours_standalone.main(300.0))
profiler.disable()
profiler.dump_stats(sys.argv[2])
"""

LAYERS = (
    ("/websocket/", "websocket"),
    ("/engineio_core/", "engineio_core"),
    ("/socketio_core/", "socketio_core"),
    ("/h11/", "h11"),
    ("/json/", "json"),
    ("/asyncio/", "asyncio"),
    ("selector_events", "asyncio"),
)


def layer(filename: str, name: str) -> str:
    """The layer a profiled function belongs to."""
    if filename == "~":  # a C function: where it is called from does not show here
        if "socket" in name or "send" in name or "recv" in name:
            return "socket calls"
        if "select" in name or "epoll" in name or "poll" in name:
            return "select"
        return "other C calls"
    for marker, title in LAYERS:
        if marker in filename:
            return title
    return "other Python"


def report(path: Path, operations: int, top: int) -> None:
    """Print the profile per operation: by layer, then the top functions by self time."""
    stats = pstats.Stats(str(path))
    raw = stats.stats  # type: ignore[attr-defined]
    by_layer: dict[str, float] = {}
    rows = []
    total = 0.0
    for (filename, line, name), (_, calls, self_time, _, _) in raw.items():
        total += self_time
        group = layer(filename, name)
        by_layer[group] = by_layer.get(group, 0.0) + self_time
        short = re.sub(r".*/(site-packages|python3\.\d+)/", "", filename)
        short = short.removeprefix(str(ROOT) + "/")
        rows.append((self_time, calls, f"{short}:{line}({name})", group))
    per = 1e6 / operations
    print(f"{operations:,} operations; profiled self time {total * per:.1f} us per operation")
    print()
    print("| layer | us per op (self) | share |")
    print("|---|---|---|")
    for group, spent in sorted(by_layer.items(), key=lambda item: -item[1]):
        print(f"| {group} | {spent * per:.1f} | {100 * spent / total:.0f}% |")
    print()
    print("| function | layer | calls per op | us per op (self) |")
    print("|---|---|---|---|")
    for self_time, calls, where, group in sorted(rows, reverse=True)[:top]:
        print(f"| `{where}` | {group} | {calls / operations:.2f} | {self_time * per:.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("websocket", "polling", "fanout"), default="websocket")
    parser.add_argument("--n", type=int, default=100, help="clients (fan-out: receivers)")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds")
    parser.add_argument("--size", type=int, default=64, help="payload characters")
    parser.add_argument("--top", type=int, default=25, help="functions listed")
    args = parser.parse_args()
    settings = Settings(
        (args.n,), (args.n,), warmup=0.2, duration=args.duration, size=args.size,
        receivers=(args.n,), ticks=20, triggers=5, latency_triggers=5, connect_sessions=0,
        idle_sessions=0, rounds=1,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="sio-profile-") as tmp:
        out = Path(tmp) / "server.prof"
        command = [sys.executable, "-c", RUNNER, str(SERVERS_DIR), str(out)]
        stderr_path = Path(tmp) / "server.stderr"
        with open(stderr_path, "wb") as stderr:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr)
        try:
            info = json.loads(read_line(proc, START_TIMEOUT))
            server = Server("ours/asyncio", proc, int(info["port"]), info["impl"], stderr_path)
            wait_ready(server.port, "/socket.io/", server.key)
            result = run_load(server, settings, args.mode, args.n)
        finally:
            stop_server(proc)
        if result["errors"] or result["mismatches"] or not result["messages"]:
            print(f"FAIL: {result['firstErrors'][:3]}", file=sys.stderr)
            return 1
        if not out.exists():
            print("the server wrote no profile (killed?)", file=sys.stderr)
            return 1
        print(f"Command: {' '.join([Path(sys.executable).name, *sys.argv])}")
        print(f"Cell: {args.mode} n={args.n}, payload {args.size} characters, {args.duration} s")
        report(out, int(result["messages"]), args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
