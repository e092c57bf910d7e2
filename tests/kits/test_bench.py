"""``python -m socketio_core bench`` against the benchmarks' servers (ours and Node's), with
tiny loads: every scenario completes with its counters consistent and no error. Throughput
is measured in docs/kits.md, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from socketio_core.aio.bench import Bench

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.asyncio
@pytest.mark.parametrize("server", ["ours", "node"])
async def test_every_scenario(bench_servers: dict[str, tuple[str, int]], server: str) -> None:
    if server not in bench_servers:
        pytest.skip("node is not available")
    url, pid = bench_servers[server]
    bench = Bench(url, server_pid=pid)
    echo = await bench.echo_websocket(3, warmup=0.1, duration=0.4, size=32)
    assert echo.errors == 0 and echo.operations > 0
    assert echo.p50_ms is not None and echo.p99_ms is not None and echo.p50_ms <= echo.p99_ms
    assert echo.server_cpu is not None and echo.bench_cpu is not None
    polling = await bench.echo_polling(2, warmup=0.1, duration=0.4, size=32)
    assert polling.errors == 0 and polling.operations > 0, polling.notes
    fanout = await bench.fanout(20, ticks=10, triggers=3)
    assert fanout.errors == 0
    assert fanout.operations == 20 * 10 * 3  # every delivery, in order
    connect = await bench.connect(50, inflight=10)
    assert connect.errors == 0 and connect.operations == 50
    idle = await bench.idle(50, inflight=10, settle=0.1)
    assert idle.kb_per_connection is not None


def test_command_line_json(bench_servers: dict[str, tuple[str, int]], tmp_path: Path) -> None:
    url, _ = bench_servers["ours"]
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "socketio_core", "bench", url, "--scenario", "echo", "-c", "2",
           "--warmup", "0.1", "--duration", "0.3", "--json", str(out)]  # fmt: skip
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "echo      websocket" in done.stdout
    (result,) = json.loads(out.read_text())["results"]
    assert result["scenario"] == "echo" and result["n"] == 2 and result["errors"] == 0
