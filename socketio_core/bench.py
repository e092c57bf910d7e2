"""The arithmetic side of ``python -m socketio_core bench``: samples, results, and the table.

The load itself (sockets, timers) is :mod:`socketio_core.aio.bench`. Here: percentiles, one
scenario's :class:`BenchResult`, CPU accounting from ``/proc`` text, and the final table.

The bench contract (the same as ``benchmarks/sio_load.js``): ``echo(data)`` is acknowledged
with ``data``; ``join()`` enters the room ``"room"`` and acks ``true``; ``fanout(n)`` emits
``tick`` with ``0 .. n-1`` to the room, then acks ``n``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["BenchResult", "cpu_seconds", "percentile", "render_bench", "rss_kb"]


def percentile(samples: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``samples`` by nearest rank, or None if there are none."""
    if not samples:
        return None
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def cpu_seconds(stat: str, clk_tck: int = 100) -> float:
    """User + system CPU seconds from the text of ``/proc/<pid>/stat``."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / clk_tck


def rss_kb(status: str) -> int:
    """VmRSS in KB from the text of ``/proc/<pid>/status`` (0 if absent)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class BenchResult:
    """One scenario's outcome.

    Attributes:
        scenario: ``echo``, ``fanout``, ``connect`` or ``idle``.
        transport: ``websocket`` or ``polling``.
        n: clients (echo), receivers (fanout) or sessions (connect, idle).
        operations: acks, deliveries or connects counted in the measured window.
        seconds: the measured window.
        rate: operations per second.
        p50_ms: median latency in milliseconds (None when not measured).
        p99_ms: 99th percentile latency in milliseconds.
        errors: protocol errors, mismatched acks, gaps, timeouts.
        server_cpu: the server's CPU use over the window, in % of one core (with a pid).
        bench_cpu: this process's CPU use over the window, in % of one core.
        kb_per_connection: idle memory per connection (idle scenario, with a pid).
        notes: anything else worth printing.
    """

    scenario: str
    transport: str
    n: int
    operations: int = 0
    seconds: float = 0.0
    rate: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    server_cpu: float | None = None
    bench_cpu: float | None = None
    kb_per_connection: float | None = None
    notes: list[str] = field(default_factory=list)

    def finish(self, latencies: Sequence[float]) -> BenchResult:
        """Fill rate and percentiles from the counters and latency samples (seconds)."""
        self.rate = self.operations / self.seconds if self.seconds > 0 else 0.0
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        self.p50_ms = None if p50 is None else p50 * 1000
        self.p99_ms = None if p99 is None else p99 * 1000
        return self


def _rate(value: float) -> str:
    return f"{value / 1000:.2f} k/s" if value >= 1000 else f"{value:.0f} /s"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render_bench(results: Sequence[BenchResult], *, title: str = "") -> str:
    """The final table of a bench run (plain text, aligned)."""
    head = ["scenario", "transport", "n", "rate", "p50 ms", "p99 ms", "errors", "server CPU",
            "bench CPU", "KB/conn"]  # fmt: skip
    rows = [head]
    for r in results:
        rows.append(
            [
                r.scenario,
                r.transport,
                f"{r.n:,}",
                "-" if r.scenario == "idle" else _rate(r.rate),
                _ms(r.p50_ms),
                _ms(r.p99_ms),
                str(r.errors),
                "-" if r.server_cpu is None else f"{r.server_cpu:.0f}%",
                "-" if r.bench_cpu is None else f"{r.bench_cpu:.0f}%",
                "-" if r.kb_per_connection is None else f"{r.kb_per_connection:.1f}",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [title] if title else []
    for i, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(w) if j < 2 else cell.rjust(w)
                for j, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    for r in results:
        lines.extend(f"note ({r.scenario} {r.transport}): {note}" for note in r.notes)
    return "\n".join(lines)


def results_json(results: Sequence[BenchResult], **extra: Any) -> str:
    """The results as a JSON document."""
    return json.dumps({**extra, "results": [asdict(r) for r in results]}, indent=1)
