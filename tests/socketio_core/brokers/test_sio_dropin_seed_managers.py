"""The seed tutorial's manager snippets with ``import socketio_core as socketio``:
``socketio.Server(client_manager=socketio.RedisManager(url))`` and ``KombuManager(url)``,
each as a script served by two gunicorn processes on the suite's real brokers; a room spans
both. Also python-socketio's write-only emitters, from a plain script.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dropin"))

from example_kit import EXAMPLES, TIMEOUT, env, program, seed_scenario

import socketio_core as socketio

GUNICORN = ["{gunicorn}", "--threads", "20", "-b", "127.0.0.1:{port}", "--no-control-socket"]


@pytest.mark.asyncio
@pytest.mark.parametrize("manager", ["redis", "kombu"])
async def test_seed_manager_snippets(
    manager: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    broker = request.getfixturevalue("redis_broker" if manager == "redis" else "amqp_broker")
    extra = {"MANAGER": manager, "BROKER_URL": broker.url}
    command = [*GUNICORN, "seed_managers:app"]
    seed = EXAMPLES / "seed"
    with (
        program(command, seed, tmp_path, **extra) as one,
        program(command, seed, tmp_path, **extra) as two,
    ):
        await wait_for_cluster(one.url, two.url)
        await seed_scenario(one.url, two.url, ["websocket"])
        await seed_scenario(one.url, two.url, ["polling"])


async def wait_for_cluster(url_a: str, url_b: str) -> None:
    """Until a message from a client of server A reaches a client of server B (both managers
    subscribed), bounded: the managers start with their server's first client."""
    a, b = socketio.AsyncClient(reconnection=False), socketio.AsyncClient(reconnection=False)
    got: asyncio.Queue[Any] = asyncio.Queue()
    b.on("my reply", got.put_nowait)
    b.on("rooms", lambda rooms: None)
    await a.connect(url_a)
    await b.connect(url_b)
    try:
        await b.emit("chat")
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while got.empty():
            assert asyncio.get_running_loop().time() < deadline, "the cluster never formed"
            await a.emit("my message", "ping")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(got.get(), 0.5)
                return
    finally:
        await a.disconnect()
        await b.disconnect()


EMITTER = """
import os, socketio_core as socketio
kind = os.environ['MANAGER']
if kind == 'redis':
    mgr = socketio.RedisManager(os.environ['BROKER_URL'], write_only=True)
else:
    mgr = socketio.KombuManager(os.environ['BROKER_URL'], write_only=True)
mgr.emit('news', {'title': 'from a script'}, room='chat_users')
mgr.close()
print('sent')
"""


@pytest.mark.asyncio
@pytest.mark.parametrize("manager", ["redis", "kombu"])
async def test_write_only_emitter_script(
    manager: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    broker = request.getfixturevalue("redis_broker" if manager == "redis" else "amqp_broker")
    extra = {"MANAGER": manager, "BROKER_URL": broker.url}
    with program([*GUNICORN, "seed_managers:app"], EXAMPLES / "seed", tmp_path, **extra) as one:
        await wait_for_cluster(one.url, one.url)
        client = socketio.AsyncClient(reconnection=False)
        news: asyncio.Queue[Any] = asyncio.Queue()
        client.on("news", news.put_nowait)
        client.on("rooms", lambda rooms: None)
        await client.connect(one.url)
        try:
            await client.emit("chat")
            result = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-c", EMITTER],
                env=env(**extra),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert result.stdout.strip() == "sent", result.stderr
            assert await asyncio.wait_for(news.get(), TIMEOUT) == {"title": "from a script"}
        finally:
            await client.disconnect()
