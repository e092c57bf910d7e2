"""The chat demo in a real browser: headless Chromium (Debian's), driven by playwright-core.

The demo server runs in this test's loop on 127.0.0.1:0 (without the bot); ``node
tests/node/chat_browser.js URL ARTIFACT_DIR`` opens it as two people and prints one JSON
object with what it saw (see that script). The screenshots land in ``tests/artifacts/``
(``chat.png``, ``chat-bob.png``; git ignores the folder).

Needs ``/usr/bin/chromium`` (``make test`` installs it), Node.js, and the npm packages of
``tests/node`` and ``demo`` (``make setup``). Without them the test skips, except under CI
(``CI`` set), where it fails and says what is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from demo.server import CLIENT_BUILD, Chat, static_files

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "node"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TIMEOUT = 60.0


def _requirements() -> list[str]:
    missing = []
    if shutil.which("node") is None:
        missing.append("the `node` executable is not on PATH")
    if not (NODE_DIR / "node_modules" / "playwright-core").is_dir():
        missing.append("tests/node/node_modules/playwright-core (run `make setup`)")
    if not CLIENT_BUILD.is_file():
        missing.append(f"{CLIENT_BUILD.relative_to(ROOT)} (run `make setup`)")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(
            f"{CHROMIUM} (run `make browser`, or `apt-get update && apt-get install -y chromium`)"
        )
    return missing


@pytest.fixture
def browser_ready() -> None:
    """Skip (fail under CI) when Chromium, Node.js or the npm packages are missing."""
    missing = _requirements()
    if missing:
        message = "the browser test needs: " + "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


async def _drive(url: str) -> tuple[int, dict[str, Any], str]:
    """Run chat_browser.js against ``url``: (exit status, its JSON, its stderr)."""
    node = shutil.which("node")
    assert node is not None
    process = await asyncio.create_subprocess_exec(
        node,
        "chat_browser.js",
        url,
        str(ARTIFACTS),
        CHROMIUM,
        cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    lines = out.decode().strip().splitlines()
    assert lines, f"chat_browser.js printed nothing; stderr:\n{err.decode()}"
    assert process.returncode is not None
    return process.returncode, json.loads(lines[-1]), err.decode()


@pytest.mark.asyncio
@pytest.mark.node
@pytest.mark.usefixtures("browser_ready")
async def test_chat_in_two_browser_pages() -> None:
    chat = Chat()
    screenshot = ARTIFACTS / "chat.png"
    screenshot.unlink(missing_ok=True)
    async with chat.sio.listen("127.0.0.1", 0, static_files=static_files()) as front:
        status, result, stderr = await _drive(f"http://127.0.0.1:{front.port}/")
    assert status == 0 and result["ok"], f"{result.get('error')}\n{stderr}"
    checks = result["checks"]

    # A message typed on one page appears on the other, and the sender sees it delivered.
    message = checks["message"]
    assert message["received"] is True
    assert (message["from"], message["room"]) == ("Alice", "lobby")
    assert message["echoed_to_sender"] == 0
    assert message["ticks"] == "delivered to 1 of 1"

    # A room message does not reach a page outside the room.
    isolation = checks["isolation"]
    assert isolation["bob_rooms"] == ["lobby"]
    assert isolation["lobby_after_on_bob"] == 1
    assert isolation["secret_on_bob"] == 0
    assert isolation["secret_ticks"] == "sent (nobody else is here)"

    # An image arrives intact (same bytes, and the browser decodes it).
    image = checks["image"]
    assert image["received_sha256"] == image["sent_sha256"]
    assert image["received_bytes"] == image["sent_bytes"]
    assert image["natural_size"] == [32, 32]
    assert image["ticks"] == "delivered to 1 of 1"

    # A direct message by sid, and "everyone but me" (skip_sid).
    assert checks["direct"] == {"kind": "direct", "ticks": "delivered to 1 of 1"}
    assert checks["others"] == {
        "on_alice": 1,
        "on_bob_as_received": 0,
        "ticks": "delivered to 1 of 1",
    }
    assert checks["page_errors"] == []
    assert screenshot.stat().st_size > 10_000
