"""Run the snippets of ``docs/tutorial.md`` for real.

Markers (the doc's "How the snippets are checked" explains them to readers): a ```python block
is preceded by one HTML comment line,

* ``<!-- test: NAME -->``: runnable, checked below by the test that calls ``snippet("NAME")``
  (or ``load`` / ``program``); :data:`CHECKED` lists the names and must match the doc;
* ``<!-- test: NAME after BASE -->``: runnable, run after snippet ``BASE`` in the same module
  namespace (the tutorial's fragments continue each other);
* ``<!-- not run: REASON -->``: shown only.

Snippets run in one of two ways. :func:`load` executes a snippet's chain in a fresh module
namespace (``__name__`` is not ``"__main__"``, so its main block does not run) and the test
serves its ``sio`` on 127.0.0.1 port 0. :func:`program` writes the chain to a file and runs it
as a program (or through ``python -m hypercorn``) with ``HOST=127.0.0.1`` and ``PORT=0``; the
port the kernel picked is read from the server's log line. Clients are our ``AsyncClient``
(recording every event) and, for the client snippets, the snippet itself. Nothing sleeps: a
client that must *not* get an event is checked by emitting a marker to everyone afterwards and
seeing the marker come first, since a connection delivers events in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import re
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from socketio_core.aio import AsyncClient, AsyncServer

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "tutorial.md"
BROKERS = ROOT / "tests" / "socketio_core" / "brokers"
TIMEOUT = 10.0

BLOCK = re.compile(r"^```python\n(.*?)^```\n", re.M | re.S)
TEST_MARK = re.compile(r"<!-- test: ([\w-]+)(?: after ([\w-]+))? -->")
SKIP_MARK = re.compile(r"<!-- not run: (\S.*?) -->")

#: Every runnable snippet of the doc has a check here, and nothing else.
CHECKED = {
    "ws-uri",
    "ws-echo",
    "accept-key",
    "handshake",
    "server-asgi",
    "server-asgi-other",
    "server-standalone",
    "handlers",
    "emit-all",
    "emit-sid",
    "enter-room",
    "leave-room",
    "rooms",
    "emit-room",
    "skip-sid",
    "send",
    "client",
    "async-client",
    "redis",
    "rabbitmq",
}


@dataclass(frozen=True)
class Snippet:
    name: str
    base: str | None
    source: str
    line: int  # the line of the doc where the code starts


def parse(text: str) -> tuple[dict[str, Snippet], list[str]]:
    """The runnable snippets by name, and the reasons given for the others."""
    snippets: dict[str, Snippet] = {}
    skipped: list[str] = []
    for match in BLOCK.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        line = text.count("\n", 0, match.start(1)) + 1
        if (mark := TEST_MARK.fullmatch(before)) is not None:
            name, base = mark.groups()
            assert name not in snippets, f"docs/tutorial.md:{line}: {name} marked twice"
            snippets[name] = Snippet(name, base, match.group(1), line)
        elif (skip := SKIP_MARK.fullmatch(before)) is not None:
            skipped.append(skip.group(1))
        else:
            raise AssertionError(f"docs/tutorial.md:{line}: a python block with no marker")
    return snippets, skipped


SNIPPETS, SKIPPED = parse(DOC.read_text(encoding="utf-8"))


def snippet(name: str) -> Snippet:
    assert name in CHECKED, f"{name} is not listed in CHECKED"
    return SNIPPETS[name]


def chain(name: str) -> list[Snippet]:
    """The snippet and the snippets it continues, first one first."""
    found = [snippet(name)]
    while found[0].base is not None:
        found.insert(0, snippet(found[0].base))
    return found


def load(name: str) -> dict[str, Any]:
    """Execute a snippet (after its bases) as a module that is not ``__main__``."""
    namespace: dict[str, Any] = {"__name__": "tutorial_" + name.replace("-", "_")}
    for part in chain(name):
        # Pad so that tracebacks point at the doc's own line numbers.
        code = compile("\n" * (part.line - 1) + part.source, str(DOC), "exec")
        exec(code, namespace)
    return namespace


def write(name: str, directory: Path) -> Path:
    """Write a snippet's chain as a module file; returns its path."""
    path = directory / ("tutorial_" + name.replace("-", "_") + ".py")
    path.write_text("\n".join(part.source for part in chain(name)), encoding="utf-8")
    return path


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "HOST": "127.0.0.1", "PORT": "0", **extra}


async def run_to_end(*args: str, cwd: Path, **extra: str) -> tuple[int, str]:
    """Run a program to its end; its exit code and its output (stdout and stderr)."""
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=env(**extra),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode().replace("\r\n", "\n")


@contextlib.asynccontextmanager
async def program(*args: str, cwd: Path, port_pattern: str) -> AsyncIterator[str]:
    """Start a server program on 127.0.0.1 port 0; yields its URL once it listens."""
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:

        async def port() -> int:
            assert proc.stdout is not None
            while line := (await proc.stdout.readline()).decode():
                seen.append(line)
                if (match := re.search(port_pattern, line)) is not None:
                    return int(match.group(1))
            raise AssertionError("the server exited:\n" + "".join(seen))

        number = await asyncio.wait_for(port(), TIMEOUT)
        yield f"http://127.0.0.1:{number}"
    finally:
        if proc.returncode is None:
            proc.terminate()  # the process we started, by its id
        try:
            await asyncio.wait_for(proc.communicate(), TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()


@contextlib.asynccontextmanager
async def serving(sio: AsyncServer) -> AsyncIterator[str]:
    """Serve ``sio`` in this process on 127.0.0.1 port 0; yields its URL."""
    async with sio.listen("127.0.0.1", 0) as front:
        try:
            yield f"http://127.0.0.1:{front.port}"
        finally:
            await sio.shutdown()


class Peer:
    """An :class:`AsyncClient` that records every server event it gets, in order."""

    def __init__(self) -> None:
        self.client = AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.client.on("*", self._record)

    async def _record(self, event: str, *args: Any) -> None:
        self.events.put_nowait((event, *args))

    @property
    def sid(self) -> str:
        sid = self.client.sid
        assert sid is not None
        return sid

    async def next(self) -> tuple[Any, ...]:
        return await asyncio.wait_for(self.events.get(), TIMEOUT)

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.client.call(event, data, timeout=TIMEOUT)


@contextlib.asynccontextmanager
async def peers(*urls: str) -> AsyncIterator[list[Peer]]:
    """One connected :class:`Peer` per URL; disconnected at the end."""
    connected: list[Peer] = []
    try:
        for url in urls:
            peer = Peer()
            await peer.client.connect(url, wait_timeout=TIMEOUT)
            connected.append(peer)
        yield connected
    finally:
        for peer in connected:
            await peer.client.disconnect()


async def marker(sio: AsyncServer, *clients: Peer) -> None:
    """Emit ``marker`` to everyone, then check it is the next event of each of ``clients``."""
    await sio.emit("marker")
    for peer in clients:
        assert await peer.next() == ("marker",)


# ------------------------------------------------------------------------------ the markers


def test_every_runnable_snippet_is_checked() -> None:
    assert set(SNIPPETS) == CHECKED
    for item in SNIPPETS.values():
        assert item.base is None or item.base in SNIPPETS, item
    assert SKIPPED, "the wss:// snippet says why it is not run"


def test_the_doc_lists_every_snippet_in_its_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## How the snippets are checked")[0]
    for name in CHECKED:
        assert f"`{name}`" in table, name


# ------------------------------------------------------------------------ WebSocket layer


def test_ws_uri() -> None:
    load("ws-uri")  # the snippet asserts what parse_uri returns


@pytest.mark.asyncio
async def test_ws_echo(tmp_path: Path) -> None:
    code, out = await run_to_end(sys.executable, str(write("ws-echo", tmp_path)), cwd=tmp_path)
    assert (code, out) == (0, "hello\nb'\\x00\\x01'\n")


def test_accept_key(capsys: pytest.CaptureFixture[str]) -> None:
    load("accept-key")
    assert capsys.readouterr().out == "fFBooB7FAkLlXgRSz0BT3v4hq5s=\n"


@pytest.mark.asyncio
async def test_handshake(tmp_path: Path) -> None:
    code, out = await run_to_end(sys.executable, str(write("handshake", tmp_path)), cwd=tmp_path)
    assert code == 0, out
    assert out.startswith("HTTP/1.1 101 Switching Protocols\n")
    assert "\nSec-WebSocket-Accept: fFBooB7FAkLlXgRSz0BT3v4hq5s=\n" in out
    # The doc shows the output verbatim.
    assert "It prints:\n\n```http\n" + out.rstrip("\n") + "\n```" in DOC.read_text()


# ---------------------------------------------------------------------- creating the server

UVICORN_PORT = r"Uvicorn running on http://127\.0\.0\.1:(\d+)"
HYPERCORN_PORT = r"Running on http://127\.0\.0\.1:(\d+)"
STANDALONE_PORT = r"listening on \[\('127\.0\.0\.1', (\d+)\)\]"


async def _connects(url: str) -> None:
    async with peers(url) as (peer,):
        assert peer.client.connected
        assert peer.sid


@pytest.mark.asyncio
async def test_server_asgi_under_uvicorn(tmp_path: Path) -> None:
    path = write("server-asgi", tmp_path)  # python server.py: its main block runs uvicorn
    async with program(sys.executable, str(path), cwd=tmp_path, port_pattern=UVICORN_PORT) as url:
        await _connects(url)


@pytest.mark.asyncio
async def test_server_asgi_other_under_hypercorn(tmp_path: Path) -> None:
    module = write("server-asgi-other", tmp_path).stem
    args = (sys.executable, "-m", "hypercorn", f"{module}:app", "--bind", "127.0.0.1:0")
    async with program(*args, cwd=tmp_path, port_pattern=HYPERCORN_PORT) as url:
        with await asyncio.to_thread(urllib.request.urlopen, url + "/", timeout=TIMEOUT) as resp:
            assert resp.read() == b"Hello from the web app"  # the other app
        await _connects(url)  # and Socket.IO at /socket.io/


@pytest.mark.asyncio
async def test_server_standalone(tmp_path: Path) -> None:
    path = write("server-standalone", tmp_path)
    async with program(
        sys.executable, str(path), cwd=tmp_path, port_pattern=STANDALONE_PORT
    ) as url:
        await _connects(url)


# ----------------------------------------------------------------------------- handlers


@pytest.mark.asyncio
async def test_handlers(capsys: pytest.CaptureFixture[str]) -> None:
    ns = load("handlers")
    sio: AsyncServer = ns["sio"]
    gone = asyncio.Event()

    def on_disconnect(sid: str) -> None:  # the snippet's handler, then tell the test
        ns["on_disconnect"](sid)
        gone.set()

    sio.on("disconnect", on_disconnect)
    async with serving(sio) as url:
        async with peers(url) as (peer,):
            sid = peer.sid
            # call: the ack comes once the handler has run
            assert await peer.call("my custom event", {"answer": 42}) is None
        await asyncio.wait_for(gone.wait(), TIMEOUT)
    assert capsys.readouterr().out.splitlines() == [
        f"connect {sid} 127.0.0.1",
        f"my custom event {sid} {{'answer': 42}}",
        f"disconnect {sid}",
    ]


# ------------------------------------------------------------------------------- emitting

FOOBAR = ("my event", {"data": "foobar"})


@pytest.mark.asyncio
async def test_emit_all() -> None:
    sio: AsyncServer = load("emit-all")["sio"]
    async with serving(sio) as url, peers(url, url, url) as (a, b, c):
        await a.call("broadcast", "go")
        for peer in (a, b, c):
            assert await peer.next() == FOOBAR


@pytest.mark.asyncio
async def test_emit_sid() -> None:
    sio: AsyncServer = load("emit-sid")["sio"]
    async with serving(sio) as url, peers(url, url, url) as (a, b, c):
        await a.call("private", c.sid)
        assert await c.next() == FOOBAR
        await marker(sio, a, b, c)  # a and b got nothing before the marker


@pytest.mark.asyncio
async def test_enter_room() -> None:
    sio: AsyncServer = load("enter-room")["sio"]
    async with serving(sio) as url, peers(url) as (a,):
        assert sio.rooms(a.sid) == [a.sid]  # the sid's own room, from the start
        await a.call("chat")
        assert sorted(sio.rooms(a.sid)) == sorted([a.sid, "chat_users"])


@pytest.mark.asyncio
async def test_leave_room() -> None:
    sio: AsyncServer = load("leave-room")["sio"]
    async with serving(sio) as url, peers(url) as (a,):
        await a.call("chat")
        await a.call("exit_chat")
        assert sio.rooms(a.sid) == [a.sid]


@pytest.mark.asyncio
async def test_rooms() -> None:
    sio: AsyncServer = load("rooms")["sio"]
    async with serving(sio) as url, peers(url) as (a,):
        assert await a.call("my rooms") == [a.sid]
        await a.call("chat")
        assert sorted(await a.call("my rooms")) == sorted([a.sid, "chat_users"])
        await a.call("exit_chat")
        assert await a.call("my rooms") == [a.sid]


@pytest.mark.asyncio
async def test_emit_room() -> None:
    sio: AsyncServer = load("emit-room")["sio"]
    async with serving(sio) as url, peers(url, url, url) as (a, b, c):
        await a.call("chat")
        await b.call("chat")
        await a.call("my message", "hi room")
        assert await a.next() == ("my reply", "hi room")
        assert await b.next() == ("my reply", "hi room")
        await marker(sio, c)  # c is not in chat_users


@pytest.mark.asyncio
async def test_skip_sid() -> None:
    sio: AsyncServer = load("skip-sid")["sio"]
    async with serving(sio) as url, peers(url, url, url) as (a, b, c):
        await a.call("chat")
        await b.call("chat")
        await a.call("my message", "hi others")
        assert await b.next() == ("my reply", "hi others")
        await marker(sio, a, c)  # not the sender, not outside the room


@pytest.mark.asyncio
async def test_send() -> None:
    sio: AsyncServer = load("send")["sio"]
    message = ("message", {"data": "foobar"})
    async with serving(sio) as url, peers(url, url, url) as (a, b, c):
        await a.call("notify", b.sid)
        assert await a.next() == message
        assert await b.next() == message
        assert await b.next() == message  # the broadcast, then the one to b
        assert await c.next() == message
        await marker(sio, a, b, c)


# ------------------------------------------------------------------------------ clients


def greeter() -> tuple[AsyncServer, list[Any]]:
    """A server that sends ``event`` to each client, waits for the ack (the client's handler
    has run), then disconnects it: the client's ``wait()`` returns."""
    sio = AsyncServer()
    acks: list[Any] = []

    async def greet(sid: str) -> None:
        acks.append(await sio.call("event", {"data": "foobar"}, to=sid, timeout=TIMEOUT))
        await sio.disconnect(sid)

    @sio.event
    def connect(sid: str, environ: dict[str, Any]) -> None:
        sio.start_background_task(greet, sid)

    return sio, acks


@pytest.mark.asyncio
async def test_client(tmp_path: Path) -> None:
    sio, acks = greeter()
    async with serving(sio) as url:
        path = write("client", tmp_path)
        code, out = await run_to_end(sys.executable, str(path), cwd=tmp_path, URL=url)
    assert (code, out) == (0, "connected\nevent {'data': 'foobar'}\n")
    assert acks == [None]


@pytest.mark.asyncio
async def test_async_client(capsys: pytest.CaptureFixture[str]) -> None:
    ns = load("async-client")
    sio, acks = greeter()
    async with serving(sio) as url:
        await asyncio.wait_for(ns["main"](url), TIMEOUT)
    assert capsys.readouterr().out == "connected\nevent {'data': 'foobar'}\n"
    assert acks == [None]


# ------------------------------------------------------------------------- message queues


def _cluster_kit() -> Any:
    """``tests/socketio_core/brokers/cluster_kit.py``: private brokers on loopback ports."""
    if str(BROKERS) not in sys.path:
        sys.path.insert(0, str(BROKERS))
    return importlib.import_module("cluster_kit")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    broker = _cluster_kit().RedisBroker(tmp_path_factory.mktemp("redis"))
    broker.start()
    try:
        yield broker.url
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def amqp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    broker = _cluster_kit().AmqpBroker(tmp_path_factory.mktemp("rabbitmq"))
    try:
        broker.start()
        yield broker.url
    finally:
        broker.stop()


async def _check_two_servers(name: str) -> None:
    """Two servers from the snippet share a broker: emits reach the other server's client."""
    one: AsyncServer = load(name)["sio"]
    two: AsyncServer = load(name)["sio"]
    assert one.manager is not two.manager
    try:
        for sio in (one, two):
            await sio.manager.start()
        await _emit_across(one, two)
    finally:
        for sio in (one, two):
            await sio.manager.stop()  # idempotent: serving() has stopped them already


async def _emit_across(one: AsyncServer, two: AsyncServer) -> None:
    async with (
        serving(one) as url_one,
        serving(two) as url_two,
        peers(url_one, url_two) as (a, b),
    ):
        await one.emit("my event", {"data": "foobar"})  # to every client of the cluster
        assert await a.next() == FOOBAR
        assert await b.next() == FOOBAR
        await one.emit("direct", "for b", to=b.sid)  # a sid of the other process
        assert await b.next() == ("direct", "for b")
        await one.enter_room(b.sid, "chat_users")  # a room change, across processes
        await one.emit("my reply", "hi room", room="chat_users")
        assert await b.next() == ("my reply", "hi room")
        await marker(one, a)  # a got none of the targeted emits


@pytest.mark.asyncio
async def test_redis(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    await _check_two_servers("redis")


@pytest.mark.asyncio
async def test_rabbitmq(amqp_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMQP_URL", amqp_url)
    await _check_two_servers("rabbitmq")
