"""What the benchmark scripts share: server subprocesses, Node, git, and number formatting.

The scripts run as ``python benchmarks/NAME.py``, so this folder is on ``sys.path`` and they
import this module as ``harness``.
"""

from __future__ import annotations

import datetime
import http.client
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "tests" / "node" / "node_modules"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
LIBRARY = ("websocket", "engineio_core", "socketio_core")


def node_env() -> dict[str, str]:
    """The environment for node: resolve the npm packages from tests/node."""
    return {**os.environ, "NODE_PATH": str(NODE_MODULES)}


def wait_ready(port: int, path: str, name: str) -> None:
    """Do one polling handshake on ``path``, retrying for a few seconds until it works."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", f"{path}?EIO=4&transport=polling")
            body = conn.getresponse().read()
            conn.close()
            if body.startswith(b'0{"sid"'):
                return
            raise RuntimeError(f"{name}: bad handshake {body[:80]!r}")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def fmt_us(seconds: float | None, unit: str = "") -> str:
    """A per-operation CPU cost in microseconds."""
    return "-" if seconds is None else f"{seconds * 1e6:,.0f} us{unit}"


def git_revision() -> str:
    """The commit benchmarked, and whether the library's working tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", *LIBRARY], check=False, cwd=ROOT
        ).returncode
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"{head}" + (" + uncommitted changes in the library" if dirty else "")


def node_binary() -> str:
    """The node executable."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not on PATH")
    return node


def read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The first line a server prints, within ``timeout`` seconds."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or (proc.poll() is not None and not sel.select(0)):
                raise RuntimeError(f"server did not start (exit code {proc.poll()})")
            if sel.select(min(left, 0.5)):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    raise RuntimeError(f"server exited (code {proc.wait()})")
                buf += chunk
    return buf.split(b"\n", 1)[0].decode()


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT; always reaps the process."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def fmt_cpu(value: float | None) -> str:
    """Share of one core, as a percentage."""
    return "-" if value is None else f"{100 * value:.0f}%"


def fmt_ms(ms: float | None) -> str:
    """Milliseconds with sensible precision."""
    if ms is None:
        return "-"
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def fmt_ratio(value: float | None) -> str:
    """A ratio cell."""
    return "-" if value is None else f"{value:.2f}x"


def fmt_rate(rate: float) -> str:
    """A rate, short."""
    if rate >= 1e4:
        return f"{rate / 1e3:.1f} k/s"
    if rate >= 1e3:
        return f"{rate / 1e3:.2f} k/s"
    return f"{rate:.0f} /s"


def machine_lines(dists: Sequence[str]) -> list[str]:
    """Date, machine, versions (of ``dists`` and Node) and the commit, one line each."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            match = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            model = match.group(1) if match else "?"
    except OSError:
        pass
    node = subprocess.run([node_binary(), "--version"], check=False, capture_output=True, text=True)

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return [
        f"Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"Machine: nproc={os.cpu_count()}, CPU {model!r}, {platform.platform()}",
        f"Python {platform.python_version()}, Node {node.stdout.strip()}; "
        + ", ".join(f"{d} {version(d)}" for d in dists),
        f"Code: {git_revision()}",
    ]


def raise_fd_limit(needed: int) -> None:
    """Raise RLIMIT_NOFILE (inherited by servers and load generators) to ``needed``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard == resource.RLIM_INFINITY else min(hard, max(soft, needed))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise SystemExit(f"RLIMIT_NOFILE is {soft}: {needed} are needed")


#: One bar chart panel: title, the x labels, and one value list per series (same order).
Panel = tuple[str, list[str], dict[str, list[float]]]


def bar_chart(
    panels: Sequence[Panel],
    series: Sequence[tuple[str, str, str]],
    ratios: Sequence[float],
    title: str,
    path: Path,
) -> bool:
    """Draw grouped bar panels side by side into a PNG; False when matplotlib is missing.

    ``series`` holds (key, label, colour) for each bar of a group, keyed into the panels.
    """
    try:
        import matplotlib  # noqa: PLC0415 (optional: only for the plot)

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return False
    fig, axes = plt.subplots(
        1, len(panels), figsize=(17, 4.8), gridspec_kw={"width_ratios": list(ratios)}
    )
    width = 0.8 / len(series)
    for ax, (panel_title, labels, values) in zip(axes, panels, strict=True):
        for i, (key, label, color) in enumerate(series):
            xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(labels))]
            ax.bar(xs, values[key], width, label=label, color=color)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_title(panel_title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(
        f"{title}, loopback, {os.cpu_count()} CPUs, {datetime.datetime.now(datetime.UTC):%Y-%m-%d}",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
