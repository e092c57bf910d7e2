"""``python -m socketio_core check`` against real servers.

* Node socket.io 4.8 and engine.io 6.6, configured as the official suites expect: every case
  passes (they are the reference the cases are written against);
* ours: every case passes;
* python-socketio under uvicorn: the run completes and reports exactly the deviations listed in
  docs/kits.md (each checked against the spec there).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from socketio_core.aio.check import CASES, GROUPS, assert_conformant, check
from socketio_core.check import Contract, Result, Verdict, render_table

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = Contract(connect_timeout=1.0, timeout=3.0)

#: python-socketio 5.x's deviations (docs/kits.md gives the spec line of each).
PYSIO_FAIL = {
    "handshake.no-transport",
    "payload.post-ok",
    "payload.max",
    "connect.refused",
    "robustness.sio-payload",
    "robustness.sio-name",
    "robustness.sio-placeholder",
    "robustness.sio-first",
}
PYSIO_LENIENT = {
    "robustness.eio-poll",
    "robustness.sio-type",
    "robustness.sio-json",
    "robustness.sio-attachments",
    "robustness.sio-text-in-binary",
    "robustness.sio-stray-binary",
}


def verdicts(results: list[Result], verdict: Verdict) -> set[str]:
    return {r.case for r in results if r.verdict is verdict}


def test_every_case_cites_a_spec_section() -> None:
    assert len(CASES) >= 55
    assert set(GROUPS) == {
        "handshake", "payload", "heartbeat", "upgrade", "close", "connect", "event", "ack",
        "binary", "disconnect", "robustness",
    }  # fmt: skip
    for case in CASES:
        assert case.section.startswith(
            ("engine.io-protocol-v4 ", "socket.io-protocol-v5 ", "rfc6455 ")
        )


def test_node_socketio_passes_every_case(node_sio_url: str) -> None:
    results = assert_conformant(node_sio_url, contract=CONTRACT)
    assert verdicts(results, Verdict.PASS) == {c.id for c in CASES}


def test_node_engineio_passes_every_engineio_case(node_eio_url: str) -> None:
    contract = Contract(path="/engine.io/", engineio=True, timeout=3.0)
    results = assert_conformant(node_eio_url, contract=contract)
    assert verdicts(results, Verdict.PASS) == {c.id for c in CASES if not c.socketio}


def test_ours_passes_every_case(ours_sio_url: str) -> None:
    results = assert_conformant(ours_sio_url, contract=CONTRACT, strict=True)
    assert verdicts(results, Verdict.PASS) == {c.id for c in CASES}


def test_python_socketio_deviations_are_reported(pysio_url: str) -> None:
    results = check(pysio_url, contract=Contract(timeout=3.0))
    table = render_table(results)
    assert verdicts(results, Verdict.FAIL) == PYSIO_FAIL, table
    assert verdicts(results, Verdict.NON_STRICT) == PYSIO_LENIENT, table
    # connect.timeout: python-socketio has no connect timeout; skipped, not failed, unless asked.
    assert verdicts(results, Verdict.SKIPPED) == {"connect.timeout"}, table
    with pytest.raises(AssertionError, match=r"FAIL connect\.refused"):
        assert_conformant(pysio_url, contract=Contract(timeout=3.0), only=["connect"])


def test_command_line_exit_status_and_json(
    pysio_url: str, ours_sio_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "results.json"
    cmd = [sys.executable, "-m", "socketio_core", "check", "--only", "connect", "--json", str(out)]
    bad = subprocess.run(
        [*cmd, pysio_url], check=False, capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert bad.returncode == 1
    assert "FAIL connect.refused" in bad.stdout
    assert "44/random," in bad.stdout  # the exact bytes of the failure
    doc = json.loads(out.read_text())
    assert doc["summary"]["fail"] == 1
    good = subprocess.run(
        [*cmd, "--connect-timeout", "1", ours_sio_url],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert good.returncode == 0, good.stdout
    assert "7 pass, 0 non-strict, 0 fail, 0 skipped" in good.stdout
