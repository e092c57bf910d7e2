"""Engine.IO v4 cases: handshake, payload encoding, heartbeat, upgrade, close.

Each case cites the section of engine.io-protocol-v4.md it checks. In Socket.IO mode the
"echo" of a message is the contract's ``message`` -> ``message-back`` event, after a CONNECT
to the main namespace; for a plain Engine.IO server it is the message itself.
"""

from __future__ import annotations

import asyncio
import time

from websocket.check import frame

from ...check import EIO_SPEC, CaseFailed, CaseLenient, CaseSkipped
from .session import Ctx, case, skip_if_slow
from .transport import Closed, HttpResponse, WsLink

__all__: list[str] = []

S = EIO_SPEC


# ------------------------------------------------------------------------- handshake


@case("handshake.polling", "polling handshake: open packet with every key", f"{S} Handshake")
async def polling_handshake(ctx: Ctx) -> None:
    info = await ctx.open_polling()
    if "websocket" not in info.upgrades:
        raise CaseFailed(f"upgrades {info.upgrades!r} does not offer websocket")


@case("handshake.websocket", "WebSocket-only handshake: open packet first", f"{S} Handshake")
async def websocket_handshake(ctx: Ctx) -> None:
    _link, info = await ctx.open_websocket()
    if info.upgrades:
        raise CaseFailed(f"a WebSocket session offers upgrades {info.upgrades!r}")


async def _expect_400(
    ctx: Ctx, method: str, query: str, body: bytes = b"", also: tuple[int, ...] = ()
) -> None:
    r = await ctx.probe.http(method, query, body)
    if r.status != 400 and r.status not in also:
        raise CaseFailed(f"{method} ?{query} answered HTTP {r.status}, expected 400")


@case("handshake.bad-eio", "EIO=3 is refused with 400", f"{S} Query parameters")
async def bad_eio(ctx: Ctx) -> None:
    await _expect_400(ctx, "GET", "EIO=3&transport=polling")


@case("handshake.no-eio", "missing EIO is refused with 400", f"{S} Query parameters")
async def no_eio(ctx: Ctx) -> None:
    await _expect_400(ctx, "GET", "transport=polling")


@case("handshake.no-transport", "missing transport is refused with 400", f"{S} Query parameters")
async def no_transport(ctx: Ctx) -> None:
    await _expect_400(ctx, "GET", "EIO=4")


@case("handshake.bad-transport", "unknown transport is refused with 400", f"{S} Query parameters")
async def bad_transport(ctx: Ctx) -> None:
    await _expect_400(ctx, "GET", "EIO=4&transport=carrier-pigeon")


@case("handshake.unknown-sid-get", "GET with an unknown sid: 400", f"{S} Receiving data")
async def unknown_sid_get(ctx: Ctx) -> None:
    await _expect_400(ctx, "GET", "EIO=4&transport=polling&sid=no-such-sid")


@case("handshake.unknown-sid-post", "POST with an unknown sid: 400", f"{S} Sending data")
async def unknown_sid_post(ctx: Ctx) -> None:
    await _expect_400(ctx, "POST", "EIO=4&transport=polling&sid=no-such-sid", b"4hello")


@case("handshake.bad-method", "a PUT handshake is refused (400 or 405)", f"{S} Handshake")
async def bad_method(ctx: Ctx) -> None:
    # "To establish a connection, the client MUST send an HTTP GET request" (the spec names
    # no status for other methods: 400, as Node, or 405 pass).
    await _expect_400(ctx, "PUT", "EIO=4&transport=polling", b"4hello", also=(405,))


@case("handshake.post-no-sid", "a POST handshake is refused with 400", f"{S} Handshake")
async def post_no_sid(ctx: Ctx) -> None:
    await _expect_400(ctx, "POST", "EIO=4&transport=polling", b"4hello")


# --------------------------------------------------------------------------- payload


@case("payload.post-ok", "a POST is answered 200 with the body 'ok'", f"{S} Sending data")
async def payload_post_ok(ctx: Ctx) -> None:
    # "To indicate success, the server MUST return an HTTP 200 response, with the string
    # `ok` in the response body."
    info = await ctx.open_polling()
    r = await ctx.post(info.sid, ["0" if ctx.socketio else "hello"])
    if r.status != 200 or r.body != b"ok":
        raise CaseFailed(f"POST answered HTTP {r.status} {r.body[:40]!r}, expected 200 b'ok'")


@case("payload.text", "a text message over polling is echoed", f"{S} Packet encoding")
async def payload_text(ctx: Ctx) -> None:
    info, _ = await ctx.ready_polling()
    await ctx.post_ok(info.sid, ctx.echo_request("héllo"))
    await ctx.poll_until(info.sid, lambda m: ctx.echoed(m, "héllo"))


@case("payload.binary", "a binary message over polling (b<base64>)", f"{S} Packet encoding")
async def payload_binary(ctx: Ctx) -> None:
    info, _ = await ctx.ready_polling()
    data = bytes([1, 2, 3, 4, 255])
    await ctx.post_ok(info.sid, ctx.echo_request(data))
    await ctx.poll_until(info.sid, lambda m: ctx.echoed(m, data))


@case("payload.several", "several packets in one payload, order kept", f"{S} Packet encoding")
async def payload_several(ctx: Ctx) -> None:
    info, _ = await ctx.ready_polling()
    words = ["one", "two", "three"]
    await ctx.post_ok(info.sid, [m for w in words for m in ctx.echo_request(w)])
    got = await ctx.poll_until(info.sid, lambda m: all(ctx.echoed(m, w) for w in words))
    order = [w for x in got for w in words if ctx.echoed([x], w)]
    if order != words:
        raise CaseFailed(f"echoes came in the order {order}")


@case("payload.ws-text", "a text message over WebSocket is echoed", f"{S} WebSocket")
async def payload_ws_text(ctx: Ctx) -> None:
    link, _ = await ctx.ready_websocket()
    ctx.ws_send(link, ctx.echo_request("hello ✓"))
    await ctx.ws_until(link, lambda m: ctx.echoed(m, "hello ✓"))


@case("payload.ws-binary", "a binary message over WebSocket, sent as is", f"{S} WebSocket")
async def payload_ws_binary(ctx: Ctx) -> None:
    link, _ = await ctx.ready_websocket()
    data = bytes(range(256))
    ctx.ws_send(link, ctx.echo_request(data))
    await ctx.ws_until(link, lambda m: ctx.echoed(m, data))


@case("payload.max", "a POST over maxPayload is refused", f"{S} Handshake (maxPayload)")
async def payload_max(ctx: Ctx) -> None:
    info = await ctx.open_polling()
    if info.max_payload > 16 * 2**20:
        raise CaseSkipped(f"maxPayload {info.max_payload} is over 16 MiB")
    try:
        r = await ctx.probe.http(
            "POST",
            f"EIO=4&transport=polling&sid={info.sid}",
            b"4" + b"x" * info.max_payload,
            timeout=ctx.timeout + 3,
        )
    except CaseFailed:
        raise CaseFailed(f"a POST of {info.max_payload + 1} bytes was never answered") from None
    if r.status == 200:
        # The spec gives maxPayload to the client; refusing more is Node's and our reading.
        raise CaseLenient(f"a payload of {info.max_payload + 1} bytes was accepted")


# ------------------------------------------------------------------------- heartbeat


@case("heartbeat.interval", "a ping comes every pingInterval (polling)", f"{S} Heartbeat")
async def heartbeat_interval(ctx: Ctx) -> None:
    info, _ = await ctx.ready_polling()
    skip_if_slow(ctx, 2 * info.ping_interval, "twice pingInterval")
    stamps: list[float] = []
    deadline = time.monotonic() + 2 * info.ping_interval + 2 * ctx.timeout
    while len(stamps) < 2:
        packets = await ctx.poll(info.sid, max(0.1, deadline - time.monotonic()))
        if any(p.type == 2 for p in packets):
            stamps.append(time.monotonic())
            await ctx.post_ok(info.sid, "3")
    gap = stamps[1] - stamps[0]
    # Measured between two pings (a pong answered in between): about pingInterval.
    if not info.ping_interval * 0.5 <= gap <= info.ping_interval + ctx.timeout:
        raise CaseFailed(f"pings {gap:.3f} s apart, pingInterval is {info.ping_interval:g} s")


@case("heartbeat.timeout", "no pong: the session closes after pingTimeout", f"{S} Heartbeat")
async def heartbeat_timeout(ctx: Ctx) -> None:
    info = await ctx.open_polling()
    total = info.ping_interval + info.ping_timeout
    skip_if_slow(ctx, total, "pingInterval + pingTimeout")
    deadline = time.monotonic() + total + ctx.timeout
    while time.monotonic() < deadline:
        r = await ctx.get(info.sid, max(0.1, deadline - time.monotonic()))
        if r.status == 400:
            return
        if r.status == 200 and r.body.startswith(b"1"):
            return
    raise CaseFailed(f"session still open {total + ctx.timeout:g} s after the handshake")


@case("heartbeat.websocket", "WebSocket: ping, then close without pong", f"{S} Heartbeat")
async def heartbeat_websocket(ctx: Ctx) -> None:
    link, info = await ctx.open_websocket()
    total = info.ping_interval + info.ping_timeout
    skip_if_slow(ctx, total, "pingInterval + pingTimeout")
    item = await link.recv(info.ping_interval + ctx.timeout)
    if item != "2":
        raise CaseFailed(f"expected a ping '2', got {item!r}")
    item = await link.recv(info.ping_timeout + ctx.timeout)
    if not isinstance(item, Closed) and item != "1":
        raise CaseFailed(f"expected the session to close, got {item!r}")


# --------------------------------------------------------------------------- upgrade


async def _upgrade(ctx: Ctx, *, park: bool) -> tuple[str, WsLink, HttpResponse | None]:
    info, _ = await ctx.ready_polling()
    parked = asyncio.ensure_future(ctx.get(info.sid)) if park else None
    if parked is not None:
        await asyncio.sleep(0.05)  # let the GET reach the server first
    link = await ctx.probe.open_ws(f"EIO=4&transport=websocket&sid={info.sid}")
    link.send("2probe")
    answer = await link.recv()
    if answer != "3probe":
        raise CaseFailed(f"expected '3probe' in answer to '2probe', got {answer!r}")
    noop = await parked if parked is not None else None
    while noop is not None and noop.status == 200 and noop.body == b"2":
        # A heartbeat ping raced the probe into the parked GET: answer it, park again.
        await ctx.post(info.sid, "3")
        noop = await ctx.get(info.sid)
    link.send("5")
    return info.sid, link, noop


@case("upgrade.probe", "probe, pong probe, upgrade, then traffic on WebSocket", f"{S} Upgrade")
async def upgrade_probe(ctx: Ctx) -> None:
    _sid, link, _ = await _upgrade(ctx, park=False)
    ctx.ws_send(link, ctx.echo_request("upgraded"))
    await ctx.ws_until(link, lambda m: ctx.echoed(m, "upgraded"))


@case("upgrade.noop", "a parked GET is answered with noop (6)", f"{S} Upgrade")
async def upgrade_noop(ctx: Ctx) -> None:
    _, _, noop = await _upgrade(ctx, park=True)
    assert noop is not None
    if noop.status != 200 or b"6" not in noop.body.split(b"\x1e"):
        raise CaseFailed(f"the parked GET got HTTP {noop.status} {noop.body[:40]!r}")


@case("upgrade.stale-http", "polling requests after the upgrade get 400", f"{S} Upgrade")
async def upgrade_stale_http(ctx: Ctx) -> None:
    sid, _link, _ = await _upgrade(ctx, park=False)
    await asyncio.sleep(0.05)
    r = await ctx.get(sid, ctx.timeout)
    if r.status != 400:
        raise CaseFailed(f"GET after the upgrade answered HTTP {r.status}, expected 400")


@case("upgrade.stale-ws", "a second WebSocket for the session is closed", f"{S} WebSocket")
async def upgrade_stale_ws(ctx: Ctx) -> None:
    sid, _, _ = await _upgrade(ctx, park=False)
    await asyncio.sleep(0.05)
    second = await ctx.probe.websocket(f"EIO=4&transport=websocket&sid={sid}")
    if isinstance(second, HttpResponse):
        return  # refused at the handshake: closed before it opened
    second.send("2probe")
    if not await second.wait_closed(ctx.timeout):
        raise CaseFailed("the second WebSocket of the session stayed open")


# ----------------------------------------------------------------------------- close


async def _closed(ctx: Ctx, sid: str) -> None:
    deadline = time.monotonic() + ctx.timeout
    while time.monotonic() < deadline:
        r = await ctx.get(sid, ctx.timeout)
        if r.status == 400:
            return
        await asyncio.sleep(0.05)
    raise CaseFailed("the session still answers GET with 200")


@case("close.polling", "a close packet ends the session", f"{S} Protocol (close)")
async def close_polling(ctx: Ctx) -> None:
    info = await ctx.open_polling()
    await ctx.post(info.sid, "1")
    await _closed(ctx, info.sid)


@case("close.parked", "close while a GET is parked: the GET returns", f"{S} Receiving data")
async def close_parked(ctx: Ctx) -> None:
    info, _ = await ctx.ready_polling()
    parked = asyncio.ensure_future(ctx.get(info.sid))
    await asyncio.sleep(0.05)
    await ctx.post(info.sid, "1")
    try:
        r = await parked
        while r.status == 200 and r.body == b"2":  # a heartbeat ping, not the answer
            r = await ctx.get(info.sid)
    except CaseFailed:
        await _closed(ctx, info.sid)
        raise CaseLenient("the parked GET was left hanging after the close") from None
    if r.status not in (200, 400):
        raise CaseFailed(f"the parked GET got HTTP {r.status}")
    await _closed(ctx, info.sid)


@case(
    "close.websocket",
    "closing the WebSocket ends the session (close frame answered)",
    f"{S} WebSocket; rfc6455 5.5.1",
)
async def close_websocket(ctx: Ctx) -> None:
    info, _ = await ctx.ready_polling()
    link = await ctx.probe.open_ws(f"EIO=4&transport=websocket&sid={info.sid}")
    link.send("2probe")
    if await link.recv() != "3probe":
        raise CaseFailed("no '3probe' in answer to '2probe'")
    link.send("5")
    link.send_raw(frame(8, b"\x03\xe8"), b"<close frame 1000>")
    if not await link.wait_closed(ctx.timeout):
        raise CaseFailed("no close frame in answer to ours")
    await _closed(ctx, info.sid)


@case("close.duplicate-get", "two parked GETs: one gets 400, session closed", f"{S} Receiving data")
async def close_duplicate_get(ctx: Ctx) -> None:
    # "a client MUST NOT have more than one active GET request. Should it happen, the server
    # MUST return an HTTP 400 error status and close the session."
    info, _ = await ctx.ready_polling()
    if info.ping_interval <= ctx.contract.max_wait:
        # Right after a ping, so that no heartbeat answers a GET in the meantime.
        while True:
            packets = await ctx.poll(info.sid, info.ping_interval + ctx.timeout)
            if any(p.type == 2 for p in packets):
                await ctx.post(info.sid, "3")
                break
    gets = [asyncio.ensure_future(ctx.get(info.sid)) for _ in range(2)]
    done, _ = await asyncio.wait(gets, timeout=ctx.timeout)
    answers = [g.result() for g in done if g.exception() is None]
    if not any(r.status == 400 for r in answers):
        shown = [(r.status, r.body[:20]) for r in answers]
        for g in gets:
            g.cancel()
        raise CaseFailed(f"no 400 for the second GET (answers so far: {shown})")
    await asyncio.gather(*gets, return_exceptions=True)
    await _closed(ctx, info.sid)
