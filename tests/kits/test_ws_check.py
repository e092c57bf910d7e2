"""``python -m websocket check`` against real echo servers: ours and ``websockets``'."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from websocket.aio.check import run_check
from websocket.check import Result, Verdict
from websocket.check_cases import CASES, GROUPS

ROOT = Path(__file__).resolve().parents[2]


def verdicts(results: list[Result], verdict: Verdict) -> set[str]:
    return {r.case for r in results if r.verdict is verdict}


def test_cases_cover_every_group_and_cite_a_section() -> None:
    assert GROUPS == (
        "framing", "ping", "reserved", "fragment", "utf8", "close", "limits", "deflate",
        "handshake",
    )  # fmt: skip
    assert len({c.id for c in CASES}) == len(CASES) >= 80
    assert all(c.section for c in CASES)


@pytest.mark.asyncio
async def test_ours_has_no_strict_failure(ours_ws_url: str) -> None:
    results = await run_check(ours_ws_url)
    assert verdicts(results, Verdict.PASS) == {c.id for c in CASES}


@pytest.mark.asyncio
async def test_websockets_library_is_lenient_where_expected(websockets_ws_url: str) -> None:
    results = await run_check(websockets_ws_url)
    assert not verdicts(results, Verdict.FAIL)
    # It accepts a non-minimal length encoding, and validates UTF-8 only at the end of a
    # fragmented message (RFC 6455 section 8.1 allows both readings).
    assert verdicts(results, Verdict.NON_STRICT) == {"framing.10", "utf8.8"}


def test_command_line(ours_ws_url: str) -> None:
    cmd = [sys.executable, "-m", "websocket", "check", "--only", "close", ours_ws_url]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stdout
    assert "20 pass, 0 non-strict, 0 fail, 0 skipped (20 cases)" in done.stdout
