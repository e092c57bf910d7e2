"""Hostile and malformed input to the Socket.IO server (socketio_core.aio.dispatch).

Spec: a malformed packet means "the receiver MUST close the connection", and "If the server
does not receive a CONNECT packet first, then it MUST close the connection immediately".
Each case sends one bad input, checks that the Engine.IO session is closed (the WebSocket
closes after the Engine.IO close packet), that every bit of state the client had is freed,
and that a well-behaved client connected all along is still served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from socketio_core.aio import AsyncServer

# ``serve`` (conftest.py): ``harness = await serve(sio)``; conftest cannot be imported.
Serve = Callable[[AsyncServer], Awaitable[Any]]

PLACEHOLDER = '{"_placeholder":true,"num":%s}'


async def check_closed_and_still_serving(
    serve: Serve, bad: list[str | bytes], *, connect_first: bool = True, **options: Any
) -> AsyncServer:
    """Send ``bad`` from one client; it must be dropped while another client is served."""
    sio = AsyncServer(**options)
    handled: list[Any] = []

    @sio.on("*")
    def any_event(event: Any, sid: str, *args: Any) -> str:
        handled.append((event, args))
        return "ok"

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any]) -> None:
        handled.append(("connect", sid))

    h = await serve(sio)
    good, good_sid = await h.connected()
    victim = await h.client()
    if connect_first:
        await victim.connect()
    handled.clear()
    for message in bad:
        if isinstance(message, bytes):
            await victim.send_binary(message)
        else:
            await victim.send(message)
    await victim.expect_closed()
    await h.until(lambda: list(sio.eio.sessions) == [good.handshake["sid"]])
    await h.until(lambda: sio.local_sids() == [good_sid])
    assert sio.manager.registry.sockets("/") == [good_sid]
    assert handled == []
    # The other client is served as before.
    await good.send('421["still",1]')
    await good.expect('431["ok"]')
    return sio


@pytest.mark.asyncio
async def test_numeric_event_name_is_allowed(serve: Serve) -> None:
    sio = AsyncServer()
    seen: list[Any] = []

    @sio.on("*")
    def any_event(event: Any, sid: str, *args: Any) -> int:
        seen.append(event)
        return 1

    h = await serve(sio)
    client, _ = await h.connected()
    await client.send("421[1]")
    await client.send("422[2.5,true]")
    await client.expect("431[1]", "432[1]")
    assert seen == [1, 2.5]


@pytest.mark.parametrize(
    "packet",
    [
        '42[{"toString":1}]',
        "42[null]",
        "42[true]",
        '42[["x"]]',
        "42[]",
        '42{"a":1}',
        '42"x"',
        "42[{}]",
    ],
)
@pytest.mark.asyncio
async def test_bad_event_names_and_payloads(serve: Serve, packet: str) -> None:
    await check_closed_and_still_serving(serve, [packet])


@pytest.mark.parametrize(
    "event",
    [
        "connect",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
        "error",
        "connect_error",
    ],
)
@pytest.mark.asyncio
async def test_reserved_event_names(serve: Serve, event: str) -> None:
    # check_closed_and_still_serving asserts the connect (and "*") handlers never ran.
    await check_closed_and_still_serving(serve, [f'42["{event}"]'])


@pytest.mark.parametrize("num", ["-1", "1", "2", '"0"', "0.5", "true", "null"])
@pytest.mark.asyncio
async def test_bad_placeholder_num(serve: Serve, num: str) -> None:
    await check_closed_and_still_serving(serve, ['451-["up",' + PLACEHOLDER % num + "]"])


@pytest.mark.asyncio
async def test_too_many_attachments(serve: Serve) -> None:
    placeholders = ",".join(PLACEHOLDER % i for i in range(11))
    await check_closed_and_still_serving(serve, [f'4511-["up",{placeholders}]'])


@pytest.mark.asyncio
async def test_attachment_limit_is_configurable(serve: Serve) -> None:
    placeholders = ",".join(PLACEHOLDER % i for i in range(3))
    await check_closed_and_still_serving(serve, [f'453-["up",{placeholders}]'], max_attachments=2)


@pytest.mark.asyncio
async def test_attachment_bytes_over_the_limit(serve: Serve) -> None:
    two = PLACEHOLDER % 0 + "," + PLACEHOLDER % 1
    await check_closed_and_still_serving(
        serve, [f'452-["up",{two}]', b"x" * 60, b"y" * 60], max_attachment_bytes=100
    )


@pytest.mark.asyncio
async def test_attachments_within_the_limit_are_fine(serve: Serve) -> None:
    sio = AsyncServer(max_attachment_bytes=100)
    sio.on("up", lambda sid, a, b: len(a) + len(b))
    h = await serve(sio)
    client, _ = await h.connected()
    two = PLACEHOLDER % 0 + "," + PLACEHOLDER % 1
    await client.send(f'452-1["up",{two}]')
    await client.send_binary(b"x" * 50)
    await client.send_binary(b"y" * 50)
    await client.expect("431[100]")


@pytest.mark.asyncio
async def test_text_during_binary_reassembly(serve: Serve) -> None:
    two = PLACEHOLDER % 0 + "," + PLACEHOLDER % 1
    await check_closed_and_still_serving(serve, [f'452-["up",{two}]', b"x", '42["x"]'])


@pytest.mark.asyncio
async def test_binary_without_a_binary_packet(serve: Serve) -> None:
    await check_closed_and_still_serving(serve, [b"\x00\x01"])


@pytest.mark.asyncio
async def test_binary_before_connect(serve: Serve) -> None:
    await check_closed_and_still_serving(serve, [b"\x00\x01"], connect_first=False)


@pytest.mark.parametrize(
    "packet", ['42["x"]', "41", '431["x"]', '451-["x",{"_placeholder":true,"num":0}]']
)
@pytest.mark.asyncio
async def test_any_packet_before_connect(serve: Serve, packet: str) -> None:
    await check_closed_and_still_serving(serve, [packet], connect_first=False)


@pytest.mark.parametrize(
    "packet",
    [
        "42[{}",  # JSON cut short
        "4",  # no Socket.IO packet type
        "47[]",  # unknown type
        '44{"message":"clients only"}',  # CONNECT_ERROR from a client
        "40/admin,garbage",
        "40[]",  # CONNECT payload not an object
        "41{}",  # DISCONNECT takes no payload
        "43[]",  # ACK without an id
        "43",  # ACK without a payload
        "42[NaN]",
        "45-[]",  # binary type without attachment count
        "450-[]",
        "42x[]",
    ],
)
@pytest.mark.asyncio
async def test_malformed_packets(serve: Serve, packet: str) -> None:
    await check_closed_and_still_serving(serve, [packet])


@pytest.mark.asyncio
async def test_engineio_level_garbage_before_connect(serve: Serve) -> None:
    await check_closed_and_still_serving(serve, ["40/admin,garbage"], connect_first=False)


@pytest.mark.asyncio
async def test_event_for_a_namespace_not_joined_is_dropped(serve: Serve) -> None:
    sio = AsyncServer()
    seen: list[str] = []
    sio.on("x", seen.append, namespace="/admin")
    h = await serve(sio)
    client, _ = await h.connected()
    await client.send('42/admin,["x"]')
    await client.send('42/admin,1["x"]')
    await client.send('43/admin,1["ack"]')
    await client.barrier()
    assert seen == []
    assert sio.connection_count == 1
    sid = await client.connect("/admin")
    await client.send('42/admin,["x"]')
    await client.barrier()
    assert seen == [sid]


@pytest.mark.asyncio
async def test_event_after_leaving_a_namespace_is_dropped(serve: Serve) -> None:
    sio = AsyncServer()
    seen: list[str] = []
    sio.on("x", seen.append)
    h = await serve(sio)
    client, _ = await h.connected()
    await client.send("41")
    await client.send('42["x"]')
    await client.barrier()
    assert seen == []
    assert sio.local_sids() == []
