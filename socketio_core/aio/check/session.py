"""What every conformance case works with: the registry, and an Engine.IO session helper.

A case is an ``async`` function of a :class:`Ctx`; it returns normally to pass, raises
:exc:`~socketio_core.check.CaseFailed` to fail and :exc:`~socketio_core.check.CaseSkipped` to
be skipped. :class:`Ctx` opens polling and WebSocket sessions through a
:class:`~socketio_core.aio.check.transport.Probe` (so every byte lands in the transcript) and
speaks the echo contract in both modes: plain Engine.IO (a message comes back as it was) and
Socket.IO (``message`` comes back as ``message-back``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engineio_core.exceptions import EngineIOError
from engineio_core.packet import Packet as EioPacket
from engineio_core.packet import PacketType as EioType
from engineio_core.payload import decode_payload, encode_payload

from ...check import CaseFailed, CaseSkipped, Contract, decode_sio, find_event
from ...packet import Packet, encode_packet
from .transport import Closed, HttpResponse, Probe, WsLink

__all__ = ["CASES", "CaseDef", "Ctx", "ServerInfo", "case"]

CaseFn = Callable[["Ctx"], Awaitable[None]]


@dataclass(frozen=True)
class CaseDef:
    """A registered case: id (``group.name``), title, spec section, the function, its mode."""

    id: str
    title: str
    section: str
    fn: CaseFn
    socketio: bool  # needs a Socket.IO server (skipped with --engineio)

    @property
    def group(self) -> str:
        """The group name."""
        return self.id.split(".")[0]


CASES: list[CaseDef] = []


def case(
    id: str, title: str, section: str, *, socketio: bool = False
) -> Callable[[CaseFn], CaseFn]:
    """Register a case function."""

    def register(fn: CaseFn) -> CaseFn:
        CASES.append(CaseDef(id, title, section, fn, socketio))
        return fn

    return register


@dataclass(frozen=True)
class ServerInfo:
    """What the server said in its open packet (spec "Handshake")."""

    sid: str
    upgrades: list[str]
    ping_interval: float  # seconds
    ping_timeout: float
    max_payload: int


def parse_open(text: str) -> ServerInfo:
    """Check an open packet ``0{...}`` and read it (spec "Handshake": the table of keys)."""
    if not text.startswith("0"):
        raise CaseFailed(f"expected an open packet 0{{...}}, got {text[:80]!r}")
    try:
        info = json.loads(text[1:])
    except ValueError:
        raise CaseFailed(f"the open packet is not JSON: {text[:80]!r}") from None
    if not isinstance(info, dict):
        raise CaseFailed("the open packet's payload is not an object")
    checks: list[tuple[str, type | tuple[type, ...]]] = [
        ("sid", str),
        ("upgrades", list),
        ("pingInterval", (int, float)),
        ("pingTimeout", (int, float)),
        ("maxPayload", (int, float)),
    ]
    for key, kind in checks:
        if not isinstance(info.get(key), kind) or isinstance(info.get(key), bool):
            raise CaseFailed(f"open packet: {key!r} missing or not a {kind}: {info.get(key)!r}")
    return ServerInfo(
        info["sid"],
        list(info["upgrades"]),
        info["pingInterval"] / 1000,
        info["pingTimeout"] / 1000,
        int(info["maxPayload"]),
    )


class Ctx:
    """One case's connection to the server under test.

    Args:
        url: the server's base URL.
        contract: the echo contract and the timeouts.
    """

    def __init__(self, url: str, contract: Contract) -> None:
        self.contract = contract
        self.probe = Probe(url, contract.path, contract.timeout)
        self.timeout = contract.timeout

    @property
    def socketio(self) -> bool:
        """Whether the server speaks Socket.IO (not plain Engine.IO)."""
        return not self.contract.engineio

    # ------------------------------------------------------------------ polling

    async def open_polling(self) -> ServerInfo:
        """Open a polling session (spec "Handshake")."""
        r = await self.probe.http("GET", "EIO=4&transport=polling")
        if r.status != 200:
            raise CaseFailed(f"polling handshake answered HTTP {r.status}")
        return parse_open(r.text)

    def _packets(self, r: HttpResponse, max_payload: int = 1 << 30) -> list[EioPacket]:
        try:
            return decode_payload(r.body, max_payload=max_payload)
        except EngineIOError as exc:
            raise CaseFailed(f"invalid polling payload: {exc}") from None

    async def get(self, sid: str, timeout: float | None = None) -> HttpResponse:
        """One GET of the session (it may park until the server has something)."""
        return await self.probe.http("GET", f"EIO=4&transport=polling&sid={sid}", timeout=timeout)

    async def poll(self, sid: str, timeout: float | None = None) -> list[EioPacket]:
        """One GET that must succeed; its packets."""
        r = await self.get(sid, timeout)
        if r.status != 200:
            raise CaseFailed(f"GET answered HTTP {r.status}, expected 200")
        return self._packets(r)

    async def post(self, sid: str, body: str | bytes | Sequence[str | bytes]) -> HttpResponse:
        """POST a body; a sequence is encoded as message packets (spec "Packet encoding")."""
        if isinstance(body, str):
            raw = body.encode()
        elif isinstance(body, bytes):
            raw = body
        else:
            raw = encode_payload([EioPacket(EioType.MESSAGE, m) for m in body]).encode()
        return await self.probe.http("POST", f"EIO=4&transport=polling&sid={sid}", raw)

    async def post_ok(self, sid: str, body: str | bytes | Sequence[str | bytes]) -> None:
        """POST that must be answered 200 (spec "Sending data"; the body is checked apart)."""
        r = await self.post(sid, body)
        if r.status != 200:
            raise CaseFailed(f"POST answered HTTP {r.status} {r.body[:40]!r}, expected 200")

    async def poll_until(
        self, sid: str, done: Callable[[list[str | bytes]], bool], timeout: float | None = None
    ) -> list[str | bytes]:
        """GET until ``done(messages)``, answering pings; the messages received."""
        messages: list[str | bytes] = []
        deadline = time.monotonic() + (timeout or self.timeout)
        while not done(messages):
            left = deadline - time.monotonic()
            if left <= 0:
                raise CaseFailed(f"expected answer not received in {timeout or self.timeout:g} s")
            for p in await self.poll(sid, left):
                if p.type is EioType.MESSAGE:
                    messages.append(p.data)
                elif p.type is EioType.PING:
                    await self.post_ok(sid, "3")
                elif p.type is EioType.CLOSE:
                    raise CaseFailed("the server closed the session")
        return messages

    async def ready_polling(self) -> tuple[ServerInfo, list[str | bytes]]:
        """A polling session, connected to the main namespace in Socket.IO mode."""
        info = await self.open_polling()
        if not self.socketio:
            return info, []
        await self.post_ok(info.sid, ["0"])
        got = await self.poll_until(info.sid, lambda m: any(_is_connect(x, "/") for x in m))
        return info, got

    # ---------------------------------------------------------------- websocket

    async def open_websocket(self, query: str = "") -> tuple[WsLink, ServerInfo]:
        """A WebSocket-only session (spec "Handshake"); its open packet read."""
        link = await self.probe.open_ws("EIO=4&transport=websocket" + query)
        first = await link.recv()
        if not isinstance(first, str):
            raise CaseFailed(f"expected the open packet as text, got {first!r}")
        return link, parse_open(first)

    async def ws_until(
        self, link: WsLink, done: Callable[[list[str | bytes]], bool], timeout: float | None = None
    ) -> list[str | bytes]:
        """Read until ``done(messages)`` (Engine.IO message payloads), answering pings."""
        messages: list[str | bytes] = []
        deadline = time.monotonic() + (timeout or self.timeout)
        while not done(messages):
            item = await link.recv(max(0.0, deadline - time.monotonic()))
            if isinstance(item, Closed):
                raise CaseFailed(f"the server closed the WebSocket ({item.code})")
            if isinstance(item, bytes):
                messages.append(item)
            elif item.startswith("4"):
                messages.append(item[1:])
            elif item == "2":
                link.send("3")
            elif item == "1":
                raise CaseFailed("the server closed the session (packet 1)")
        return messages

    def ws_send(self, link: WsLink, messages: Sequence[str | bytes]) -> None:
        """Send Engine.IO messages over WebSocket: text as ``4...``, binary as it is."""
        for m in messages:
            link.send(f"4{m}" if isinstance(m, str) else m)

    async def ready_websocket(self) -> tuple[WsLink, ServerInfo]:
        """A WebSocket session, connected to the main namespace in Socket.IO mode."""
        link, info = await self.open_websocket()
        if self.socketio:
            link.send("40")
            await self.ws_until(link, lambda m: any(_is_connect(x, "/") for x in m))
        return link, info

    # ------------------------------------------------------------ echo contract

    def echo_request(
        self, *args: Any, namespace: str = "/", ack: int | None = None
    ) -> list[str | bytes]:
        """The Engine.IO messages that ask for an echo of ``args``."""
        if not self.socketio:
            return list(args)
        name = self.contract.echo if ack is None else self.contract.ack
        text, buffers = encode_packet(Packet.event([name, *args], namespace=namespace, id=ack))
        return [text, *buffers]

    def echoed(self, messages: list[str | bytes], *args: Any, namespace: str = "/") -> bool:
        """Whether ``messages`` hold the echo of ``args`` (for plain Engine.IO: ``args[0]``)."""
        if not self.socketio:
            return args[0] in messages
        packets = decode_sio(messages)
        if isinstance(packets, str):
            raise CaseFailed(packets)
        return any(
            p.data == [self.contract.echo_back, *args] and p.namespace == namespace
            for p in packets
            if find_event([p], self.contract.echo_back, namespace) is not None
        )

    def acked(self, messages: list[str | bytes], id: int, *args: Any, namespace: str = "/") -> bool:
        """Whether ``messages`` hold the ack ``id`` with ``args``."""
        packets = decode_sio(messages)
        if isinstance(packets, str):
            raise CaseFailed(packets)
        for p in packets:
            if p.id == id and p.type.name in ("ACK", "BINARY_ACK") and p.namespace == namespace:
                if p.data != list(args):
                    raise CaseFailed(f"ack {id} carries {p.data!r}, expected {list(args)!r}")
                return True
        return False

    async def aclose(self) -> None:
        """Drop every connection the case left open."""
        await self.probe.aclose()


def _is_connect(message: str | bytes, namespace: str) -> bool:
    if not isinstance(message, str):
        return False
    prefix = "0" if namespace == "/" else f"0{namespace},"
    return message.startswith(prefix) and (namespace != "/" or message[1:2] in ("", "{"))


def is_connect(message: str | bytes, namespace: str = "/") -> bool:
    """Whether a Socket.IO text (an Engine.IO message's data) is a CONNECT for ``namespace``."""
    return _is_connect(message, namespace)


def skip_if_slow(ctx: Ctx, seconds: float, what: str) -> None:
    """Skip a case that would wait longer than ``--max-wait``."""
    if seconds > ctx.contract.max_wait:
        raise CaseSkipped(f"{what} is {seconds:g} s, over --max-wait {ctx.contract.max_wait:g} s")
