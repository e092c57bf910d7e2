"""The official Socket.IO Admin UI in a real browser, against the chat demo's server.

The demo server runs in this test's loop on 127.0.0.1:0, instrumented (``sio.instrument``) with
a login whose password is given as an scrypt hash, and serving the UI's built files from
``demo/node_modules/@socket.io/admin-ui`` at ``/admin/``. Two chat users (our ``AsyncClient``)
join ``lobby``; ``node tests/node/admin_browser.js`` then logs into the UI in headless Chromium,
checks the sockets and rooms it lists, makes one user join ``vip`` and disconnects the other
(see that script). The screenshots land in ``tests/artifacts/`` (``admin-ui.png``,
``admin-ui-socket.png``). Requirements and skipping: as ``test_chat_browser.py``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from typing import Any

import pytest

from demo.server import ADMIN_UI, Chat, admin_ui_files, static_files
from socketio_core.admin import hash_password
from socketio_core.aio.client import AsyncClient

from .test_chat_browser import ARTIFACTS, CHROMIUM, NODE_DIR, TIMEOUT, browser_ready

__all__ = ["browser_ready"]  # the fixture, shared with the chat's browser test

PASSWORD = "correct horse battery"


async def _drive(*args: str) -> tuple[int, dict[str, Any], str]:
    node = shutil.which("node")
    assert node is not None
    process = await asyncio.create_subprocess_exec(
        node,
        "admin_browser.js",
        *args,
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
    assert lines, f"admin_browser.js printed nothing; stderr:\n{err.decode()}"
    assert process.returncode is not None
    return process.returncode, json.loads(lines[-1]), err.decode()


async def _chat_user(url: str, name: str) -> tuple[AsyncClient, str, asyncio.Event]:
    client = AsyncClient(reconnection=False)
    gone = asyncio.Event()
    client.on("disconnect", lambda *args: gone.set())
    await client.connect(url, transports=["websocket"], wait_timeout=TIMEOUT)
    ack = await client.call("join", {"name": name, "room": "lobby"}, timeout=TIMEOUT)
    assert ack["ok"], ack
    return client, client.namespaces["/"], gone


@pytest.mark.asyncio
@pytest.mark.node
@pytest.mark.usefixtures("browser_ready")
async def test_admin_ui_in_the_browser() -> None:
    if not (ADMIN_UI / "index.html").is_file():
        pytest.skip("demo/node_modules/@socket.io/admin-ui is missing (run `make setup`)")
    chat = Chat()
    hashed = hash_password(PASSWORD)
    admin = chat.sio.instrument(auth={"username": "admin", "password": hashed})
    for name in ("admin-ui.png", "admin-ui-socket.png"):
        (ARTIFACTS / name).unlink(missing_ok=True)
    files = {**static_files(), **admin_ui_files()}
    async with chat.sio.listen("127.0.0.1", 0, static_files=files) as front:
        url = f"http://127.0.0.1:{front.port}/"
        alice, alice_sid, _ = await _chat_user(url, "Alice")
        bob, bob_sid, bob_gone = await _chat_user(url, "Bob")
        status, result, stderr = await _drive(url, "admin", PASSWORD, alice_sid, bob_sid, "lobby")
        assert status == 0 and result["ok"], f"{result.get('error')}\n{stderr}"
        # The UI's actions reached the server.
        assert "vip" in chat.sio.rooms(alice_sid)
        await asyncio.wait_for(bob_gone.wait(), TIMEOUT)
        assert alice.connected and not bob.connected
        await alice.disconnect()
    await admin.shutdown()

    checks = result["checks"]
    assert checks["wrong_password"] == "Invalid credentials"  # the UI capitalizes
    assert checks["login"] == "connected"
    assert any(alice_sid in row for row in checks["sockets"])
    assert any(bob_sid in row for row in checks["sockets"])
    assert any(row.startswith("lobby") for row in checks["rooms"])
    assert any("vip" in row for row in checks["join"])
    assert checks["drop"] == "gone"
    assert checks["page_errors"] == []
    assert (ARTIFACTS / "admin-ui.png").stat().st_size > 10_000
