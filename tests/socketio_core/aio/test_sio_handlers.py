"""Tests for handler resolution (socketio_core.aio.handlers), catch-all forms included.

The argument order of each form is the one documented in the module docstring::

    handlers[namespace][event]      handler(sid, ...)
    handlers[namespace]["*"]        handler(event, sid, ...)
    handlers["*"][event]            handler(namespace, sid, ...)
    handlers["*"]["*"]              handler(event, namespace, sid, ...)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from socketio_core.aio import AsyncServer, Namespace
from socketio_core.aio.handlers import HandlerRegistry, fit_server_event, positional_count

# ``serve`` (conftest.py): ``harness = await serve(sio)``; conftest cannot be imported.
Serve = Callable[[AsyncServer], Awaitable[Any]]


def test_positional_count() -> None:
    assert positional_count(lambda a, b: None) == 2
    assert positional_count(lambda a, *b: None) is None
    assert positional_count(lambda a, b=1, *, c: None) == 2
    assert positional_count(print) is None  # no signature for some builtins

    class C:
        def m(self, sid: str) -> None: ...

    assert positional_count(C().m) == 1


def test_fit_server_event() -> None:
    args = ("sid", {"env": 1}, {"auth": 1})
    assert fit_server_event("connect", 3, args) == args
    assert fit_server_event("connect", 2, args) == args[:2]
    assert fit_server_event("connect", None, args) == args
    assert fit_server_event("disconnect", 1, ("sid", "reason")) == ("sid",)
    assert fit_server_event("disconnect", 2, ("sid", "reason")) == ("sid", "reason")
    assert fit_server_event("connect", 3, ("/ns", *args), prefix=1) == ("/ns", *args[:2])


def test_resolution_order_and_arguments() -> None:
    registry = HandlerRegistry()

    def h(*a: Any) -> None: ...

    def h_ns_any(*a: Any) -> None: ...

    def h_any_ev(*a: Any) -> None: ...

    def h_any_any(*a: Any) -> None: ...

    registry.on("ev", h, "/a")
    registry.on("*", h_ns_any, "/a")
    registry.on("ev", h_any_ev, "*")
    registry.on("*", h_any_any, "*")
    assert registry.resolve("ev", "/a", ("sid", 1)) == (h, ("sid", 1))
    assert registry.resolve("other", "/a", ("sid", 1)) == (h_ns_any, ("other", "sid", 1))
    assert registry.resolve("ev", "/b", ("sid", 1)) == (h_any_ev, ("/b", "sid", 1))
    assert registry.resolve("other", "/b", ("sid", 1)) == (
        h_any_any,
        ("other", "/b", "sid", 1),
    )
    # Catch-alls never take the server's own events.
    assert registry.resolve("connect", "/a", ("sid", {}, None)) == (None, ("sid", {}, None))
    assert registry.resolve("disconnect", "/b", ("sid", "r"))[0] is None
    assert registry.known("/a") and registry.known("*") and not registry.known("/b")


def test_registration_checks_signatures() -> None:
    registry = HandlerRegistry()
    with pytest.raises(TypeError):
        registry.on("*", lambda sid: None, "/")  # gets (event, sid, ...)
    with pytest.raises(TypeError):
        registry.on("*", lambda event, sid: None, "*")  # gets (event, namespace, sid, ...)
    with pytest.raises(TypeError):
        registry.on("connect", lambda ns, sid: None, "*")  # (namespace, sid, environ)
    registry.on("connect", lambda ns, sid, environ: None, "*")
    registry.on("disconnect", lambda ns, sid: None, "*")


@pytest.mark.asyncio
async def test_catch_all_handlers_over_the_wire(serve: Serve) -> None:
    sio = AsyncServer()
    calls: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    @sio.on("known")
    def known(sid: str, x: Any) -> str:
        calls.put_nowait(("known", sid, x))
        return "known"

    @sio.on("*")
    def any_event(event: str, sid: str, *args: Any) -> str:
        calls.put_nowait(("*", event, sid, args))
        return "any event"

    @sio.on("ev", namespace="*")
    def any_namespace(namespace: str, sid: str, *args: Any) -> str:
        calls.put_nowait(("ns*", namespace, sid, args))
        return "any namespace"

    @sio.on("*", namespace="*")
    def anything(event: str, namespace: str, sid: str, *args: Any) -> str:
        calls.put_nowait(("**", event, namespace, sid, args))
        return "anything"

    @sio.on("connect", namespace="*")
    def connect(namespace: str, sid: str, environ: dict[str, Any], auth: Any) -> None:
        calls.put_nowait(("connect", namespace, sid, auth))

    @sio.on("disconnect", namespace="*")
    def disconnect(namespace: str, sid: str, reason: str) -> None:
        calls.put_nowait(("disconnect", namespace, sid, reason))

    h = await serve(sio)
    client = await h.client()
    sid = await client.connect(auth={"a": 1})
    assert await calls.get() == ("connect", "/", sid, {"a": 1})
    # The catch-all namespace accepts any namespace.
    other = await client.connect("/dyn")
    assert await calls.get() == ("connect", "/dyn", other, None)

    await client.send('421["known",1]')
    await client.expect('431["known"]')
    assert await calls.get() == ("known", sid, 1)
    await client.send('422["whatever",1,2]')
    await client.expect('432["any event"]')
    assert await calls.get() == ("*", "whatever", sid, (1, 2))
    await client.send('42/dyn,3["ev",3]')
    await client.expect('43/dyn,3["any namespace"]')
    assert await calls.get() == ("ns*", "/dyn", other, (3,))
    await client.send('42/dyn,4["zzz"]')
    await client.expect('43/dyn,4["anything"]')
    assert await calls.get() == ("**", "zzz", "/dyn", other, ())

    await client.send("41/dyn,")
    assert await calls.get() == ("disconnect", "/dyn", other, "client namespace disconnect")


@pytest.mark.asyncio
async def test_numeric_event_names_reach_the_catch_all(serve: Serve) -> None:
    sio = AsyncServer()

    class Main(Namespace):
        def on_ping(self, sid: str) -> str:
            return "pong"

    sio.register_namespace(Main("/"))
    sio.on("*", lambda event, sid, *args: ["caught", event], namespace="/")
    h = await serve(sio)
    client, _ = await h.connected()
    await client.send("421[5]")
    await client.expect('431[["caught",5]]')


@pytest.mark.asyncio
async def test_numeric_event_name_with_a_namespace_class(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    sio = AsyncServer()

    class Main(Namespace):
        def on_ping(self, sid: str) -> str:
            return "pong"

    sio.register_namespace(Main("/"))
    h = await serve(sio)
    client, _ = await h.connected()
    await client.send("421[5]")  # no on_5 method: no handler, no crash
    await client.send('422["ping"]')
    await client.expect('432["pong"]')
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
