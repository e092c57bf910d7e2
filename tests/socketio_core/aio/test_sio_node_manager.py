"""Building the managers of Node's wire (``AsyncRedisManager(wire=...)``): the codec seam.

Their behaviour against Node servers is tested end to end in
``tests/socketio_core/brokers/test_sio_node_wire.py`` (real redis-server, real npm packages).
"""

from __future__ import annotations

import pytest

from socketio_core.aio.node_manager import NodeRedisManager
from socketio_core.aio.node_sharded import ShardedNodeRedisManager
from socketio_core.aio.redis_link import RedisLink
from socketio_core.aio.redis_manager import AsyncRedisManager
from socketio_core.emitter import Emitter

pytest.importorskip("redis")


def test_the_wire_picks_the_class() -> None:
    ours = AsyncRedisManager("redis://127.0.0.1:1/0")
    assert type(ours) is AsyncRedisManager
    node = AsyncRedisManager("redis://127.0.0.1:1/0", wire="node", key="app")
    assert type(node) is NodeRedisManager
    assert node.key == "app"
    assert len(node.uid) == 6  # as Node's uid2(6)
    sharded = AsyncRedisManager("redis://127.0.0.1:1/0", wire="node-sharded")
    assert type(sharded) is ShardedNodeRedisManager
    assert sharded.subscription_mode == "dynamic"
    assert len(sharded.uid) == 16  # as socket.io-adapter's randomId()
    assert isinstance(sharded, RedisLink)


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="wire format"):
        AsyncRedisManager("redis://127.0.0.1:1/0", wire="kafka")
    with pytest.raises(ValueError, match="subscription mode"):
        AsyncRedisManager("redis://127.0.0.1:1/0", wire="node-sharded", subscription_mode="x")
    for wire in ("node", "node-sharded"):  # Node's sids do not name their owner
        with pytest.raises(ValueError, match="forward_requests needs wire='ours'"):
            AsyncRedisManager("redis://127.0.0.1:1/0", wire=wire, forward_requests=True)


def test_our_wire_forwards_requests_when_asked() -> None:
    plain = AsyncRedisManager("redis://127.0.0.1:1/0")
    assert plain.remote_sessions is None
    forwarding = AsyncRedisManager("redis://127.0.0.1:1/0", forward_requests=True)
    assert forwarding.remote_sessions is not None


def test_the_drop_in_names_take_the_wire() -> None:
    import socketio_core  # noqa: PLC0415 (its lazy top-level names)

    node = socketio_core.AsyncRedisManager("redis://127.0.0.1:1/0", wire="node")
    assert type(node) is NodeRedisManager
    sharded = socketio_core.RedisManager("redis://127.0.0.1:1/0", wire="node-sharded")
    assert type(sharded) is ShardedNodeRedisManager
    assert type(socketio_core.RedisManager("redis://127.0.0.1:1/0")) is AsyncRedisManager
    emitter = socketio_core.RedisManager(
        "redis://127.0.0.1:1/0", write_only=True, wire="node", key="app"
    )
    try:
        assert isinstance(emitter, Emitter)
        assert (emitter.wire, emitter.key) == ("node", "app")
    finally:
        emitter.close()
    with pytest.raises(ValueError, match="wire format"):
        socketio_core.RedisManager("redis://127.0.0.1:1/0", write_only=True, wire="kafka")
