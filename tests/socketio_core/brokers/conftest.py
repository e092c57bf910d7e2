"""Real brokers for the pub/sub manager tests (the helpers are in ``cluster_kit.py``).

* ``redis_broker`` / ``amqp_broker`` (session scope): a private ``redis-server`` and a private
  RabbitMQ node, each on free loopback ports of its own, with its data in a temp dir; stopped
  at the end of the session. ``scripts/install-brokers.sh`` (run by ``make setup``) installs
  them; without them the tests are skipped, except under ``CI`` where they fail.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cluster_kit import AmqpBroker, RedisBroker


@pytest.fixture(scope="session")
def redis_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisBroker]:
    broker = RedisBroker(tmp_path_factory.mktemp("redis"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def amqp_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AmqpBroker]:
    broker = AmqpBroker(tmp_path_factory.mktemp("rabbitmq"))
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
