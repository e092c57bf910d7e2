"""``import socketio_core as socketio``: python-socketio's names, exceptions and options."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import socketio as python_socketio

import socketio_core as socketio
from socketio_core import exceptions
from socketio_core.aio.aiopika_manager import AsyncAioPikaManager
from socketio_core.aio.redis_manager import AsyncRedisManager
from socketio_core.options import JsonModuleParser
from socketio_core.packet import Packet

ROOT = Path(__file__).resolve().parents[3]


def test_every_public_name_of_python_socketio_is_here() -> None:
    missing = [
        name
        for name in python_socketio.__all__
        if name not in ("KafkaManager", "ZmqManager") and not hasattr(socketio, name)
    ]
    assert missing == []


def test_the_sans_io_core_imports_without_asyncio() -> None:
    code = (
        "import sys, socketio_core, socketio_core.packet, socketio_core.client_session\n"
        "print('asyncio' in sys.modules)\n"
        "socketio_core.AsyncServer\n"
        "print('asyncio' in sys.modules)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    assert out == ["False", "True"]


def test_python_socketio_exception_names() -> None:
    assert exceptions.ConnectionRefusedError is exceptions.ConnectionRefused
    assert exceptions.TimeoutError is exceptions.AckTimeout
    assert exceptions.ConnectionError is exceptions.ConnectFailed
    assert exceptions.BadNamespaceError is exceptions.NotConnected
    assert issubclass(exceptions.DisconnectedError, exceptions.SocketIOError)
    refusal = exceptions.ConnectionRefusedError("Not authorized", {"retry": False})
    assert refusal.error_args == {"message": "Not authorized", "data": {"retry": False}}


def test_reason_constants_are_python_socketios() -> None:
    theirs = python_socketio.AsyncServer.reason
    for name in ("SERVER_DISCONNECT", "CLIENT_DISCONNECT", "PING_TIMEOUT", "TRANSPORT_CLOSE"):
        assert getattr(socketio.AsyncServer.reason, name) == getattr(theirs, name)
    assert socketio.Client.reason.TRANSPORT_ERROR == python_socketio.Client.reason.TRANSPORT_ERROR


@pytest.mark.parametrize("mode", ["asgi", "aiohttp", "sanic", "tornado", None])
def test_async_modes_are_accepted(mode: str | None) -> None:
    sio = socketio.AsyncServer(async_mode=mode)
    assert sio.async_mode == (mode or "asgi")


@pytest.mark.parametrize("mode", ["eventlet", "gevent", "gevent_uwsgi"])
def test_eventlet_and_gevent_fail_naming_the_asyncio_way(mode: str) -> None:
    with pytest.raises(ValueError, match=r"sio.serve\(host, port\)"):
        socketio.AsyncServer(async_mode=mode)
    with pytest.raises(ValueError, match="asyncio only"):
        socketio.Server(async_mode=mode)


def test_threading_is_for_the_blocking_server_only() -> None:
    with pytest.raises(ValueError, match="'threading'"):
        socketio.AsyncServer(async_mode="threading")


def test_unknown_options_name_the_option_and_the_class() -> None:
    with pytest.raises(TypeError, match=r"AsyncServer\(\) .* 'bogus'"):
        socketio.AsyncServer(bogus=1)
    with pytest.raises(TypeError, match=r"AsyncClient\(\) .* 'bogus'"):
        socketio.AsyncClient(bogus=1)
    with pytest.raises(TypeError, match=r"Client\(\) .* 'bogus'"):
        socketio.Client(bogus=1)


def test_python_socketio_server_options() -> None:
    sio = socketio.AsyncServer(
        async_mode="asgi",
        logger=False,
        engineio_logger=False,
        json=json,
        ping_interval=(10, 5),
        ping_timeout=20,
        monitor_clients=True,
        cors_allowed_origins="*",
        async_handlers=True,
        always_connect=False,
        max_http_buffer_size=5000,
    )
    assert sio.eio.session_config.ping_interval == 10
    assert sio.eio.session_config.ping_timeout == 25  # python-engineio: the grace is added
    assert sio.eio.max_http_buffer_size == 5000


def test_python_socketio_client_options_are_accepted_at_construction() -> None:
    for cls in (socketio.AsyncClient, socketio.Client):
        client = cls(
            logger=False,
            engineio_logger=False,
            json=json,
            handle_sigint=False,
            http_session=None,
            ssl_verify=False,
            websocket_extra_options=None,
            request_timeout=3,
        )
        assert client is not None

    class Module:
        dumps = staticmethod(json.dumps)
        loads = staticmethod(json.loads)

    assert isinstance(socketio.AsyncClient(json=Module).parser, JsonModuleParser)
    assert isinstance(socketio.AsyncServer(json=Module).parser, JsonModuleParser)


def test_logger_option_takes_a_logger(caplog: pytest.LogCaptureFixture) -> None:
    mine = logging.getLogger("test.app.logger")
    package = logging.getLogger("socketio_core")
    level = package.level
    socketio.AsyncServer(logger=mine)
    with caplog.at_level(logging.INFO, logger="test.app.logger"):
        logging.getLogger("socketio_core.probe").info("hello from the package")
    assert [r.name for r in caplog.records if r.getMessage() == "hello from the package"]
    handlers = logging.getLogger("socketio_core").handlers
    for handler in list(handlers):
        if getattr(handler, "target", None) is mine:
            handlers.remove(handler)
    package.setLevel(level)


def test_json_module_makes_payloads_ready() -> None:
    class Money:
        def __init__(self, cents: int) -> None:
            self.cents = cents

    class Module:
        @staticmethod
        def dumps(value: object, **_: object) -> str:
            return json.dumps(value, default=lambda o: {"cents": o.cents})

        loads = staticmethod(json.loads)

    parser = JsonModuleParser(Module)
    packet = Packet.event(["price", {"total": Money(250)}, b"\x01"])
    assert parser.encode(packet) == [
        '51-["price",{"total":{"cents":250}},{"_placeholder":true,"num":0}]',
        b"\x01",
    ]
    with pytest.raises(TypeError, match="dumps"):
        socketio.AsyncServer(json=object())


def test_manager_names() -> None:
    assert isinstance(socketio.RedisManager("redis://127.0.0.1:1/0"), AsyncRedisManager)
    kombu = socketio.KombuManager("amqp://")
    assert isinstance(kombu, AsyncAioPikaManager)
    assert kombu.url == "amqp://guest:guest@localhost:5672//"
    assert socketio.KombuManager("pyamqp://u:p@h:1//").url == "amqp://u:p@h:1//"
    with pytest.raises(ValueError, match="RedisManager"):
        socketio.KombuManager("redis://localhost")
    assert socketio.AsyncManager is socketio.Manager


def test_unused_client_options_say_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="socketio_core.options"):
        socketio.AsyncClient(http_session=object(), websocket_extra_options={"x": 1})
    messages = [r.getMessage() for r in caplog.records]
    assert any("http_session" in m for m in messages)
    assert any("websocket_extra_options" in m for m in messages)


def test_attach_refuses_other_applications() -> None:
    with pytest.raises(TypeError, match="ASGIApp"):
        socketio.AsyncServer().attach(object())
