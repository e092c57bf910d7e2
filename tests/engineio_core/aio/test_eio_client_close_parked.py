"""A client close packet while a GET is parked (issue 9, item 7), against Node as the oracle.

Node's engine.io answers the parked GET with a noop (``6``) and closes the session, so that a
later GET gets 400. The same raw HTTP exchange runs against tests/node/eio_server.js and
against our standalone server, and must give the same answers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest
from eio_kit import RawHTTP, running, until
from test_eio_client import node_server, skip_without_node


async def close_while_parked(
    port: int, is_parked: Callable[[str], Awaitable[None]]
) -> tuple[str, int]:
    """Handshake, park a GET, POST a close packet: the parked answer and a later GET's status."""
    conn = await RawHTTP.open(port)
    opened = await conn.request("GET", "/engine.io/?EIO=4&transport=polling")
    sid = json.loads(opened.text[1:])["sid"]
    target = f"/engine.io/?EIO=4&transport=polling&sid={sid}"
    parked = asyncio.create_task(conn.request("GET", target))
    await is_parked(sid)
    assert not parked.done()
    poster = await RawHTTP.open(port)
    assert (await poster.request("POST", target, b"1")).text == "ok"
    answer = (await asyncio.wait_for(parked, 5)).text
    later = await poster.request("GET", target)
    conn.close()
    poster.close()
    return answer, later.status


@pytest.mark.asyncio
@skip_without_node
async def test_node_and_we_answer_the_parked_get_with_a_noop() -> None:
    async def node_parked(sid: str) -> None:
        # Node tells nothing about a parked GET: give the request time to reach it.
        await asyncio.sleep(0.1)

    async with node_server(pingInterval=10_000, pingTimeout=10_000) as node:
        theirs = await close_while_parked(node.port, node_parked)
    async with running(ping_interval=10, ping_timeout=10) as (eio, front, _):

        async def our_parked(sid: str) -> None:
            await until(lambda: eio.sessions[sid].responder is not None)

        ours = await close_while_parked(front.port, our_parked)
        await until(lambda: not eio.sessions)
    assert theirs == ours == ("6", 400)
