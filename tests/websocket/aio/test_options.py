"""websocket.aio.options: validation, and that each limit reaches the connection."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from websocket.aio import ConnectionOptions, connect, serve
from websocket.exceptions import ConnectionClosedError


def test_defaults_and_protocol_kwargs() -> None:
    options = ConnectionOptions()
    assert options.max_size == 2**20
    assert options.max_queue == 32
    assert options.protocol_kwargs() == {
        "max_size": 2**20,
        "max_fragments": 4096,
        "max_buffered": None,
        "close_timeout": 10.0,
        "ping_interval": 20.0,
        "ping_timeout": 20.0,
    }
    assert "max_queue" not in options.protocol_kwargs()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_size": 0},
        {"max_fragments": 0},
        {"max_queue": 0},
        {"max_buffered": 0},
        {"close_timeout": 0},
        {"close_timeout": -1.0},
    ],
)
def test_invalid_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ConnectionOptions(**kwargs)


def test_frozen() -> None:
    options = ConnectionOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.max_size = 1  # type: ignore[misc]


@pytest.mark.asyncio
async def test_client_max_size_gives_1009(kit: Any) -> None:
    async with serve(kit.echo, "127.0.0.1", 0) as server:
        options = ConnectionOptions(max_size=100)
        async with connect(kit.uri(server), options=options) as ws:
            await ws.send(b"x" * 100)
            assert await asyncio.wait_for(ws.recv(), 5) == b"x" * 100
            await ws.send(b"x" * 101)
            with pytest.raises(ConnectionClosedError) as info:
                await asyncio.wait_for(ws.recv(), 5)
            assert info.value.code == 1009


@pytest.mark.asyncio
async def test_server_max_fragments_gives_1009(kit: Any) -> None:
    options = ConnectionOptions(max_fragments=3)
    async with (
        serve(kit.echo, "127.0.0.1", 0, options=options) as server,
        connect(kit.uri(server)) as ws,
    ):
        await ws.send(["a", "b", "c"])
        assert await asyncio.wait_for(ws.recv(), 5) == "abc"
        await ws.send(["a", "b", "c", "d"])
        with pytest.raises(ConnectionClosedError) as info:
            await asyncio.wait_for(ws.recv(), 5)
        assert info.value.code == 1009
