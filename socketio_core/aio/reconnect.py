"""The reconnection loop of the asyncio client: wait, try, report, until it works or gives up.

The schedule is :func:`socketio_core.client_events.backoff_delay`, a pure function; this
module only sleeps between attempts. It reports each step as a tuple for the client's
dispatcher (the ``reconnect*`` events): ``("reconnect_attempt", n)`` before waiting,
``("reconnect", n)`` or ``("reconnect_error", exc)`` after trying, ``("reconnect_failed",)``
once ``attempts`` are used up. Cancelling :meth:`Reconnector.run` stops it at once; the
attempt in progress must clean up after itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..client_events import backoff_delay
from ..exceptions import ConnectFailed

__all__ = ["Reconnector"]

logger = logging.getLogger(__name__)


@dataclass
class Reconnector:
    """Settings of the reconnection loop (python-socketio's ``reconnection_*`` names).

    Attributes:
        attempts: the most attempts (0: no limit).
        delay: the first delay, in seconds.
        delay_max: the longest delay.
        randomization_factor: jitter, 0 to 1.
        random: the random source, ``() -> [0, 1)``.
    """

    attempts: int
    delay: float
    delay_max: float
    randomization_factor: float
    random: Callable[[], float]

    def delay_for(self, attempt: int) -> float:
        """The wait before attempt ``attempt`` (1 for the first)."""
        return backoff_delay(
            attempt,
            delay=self.delay,
            delay_max=self.delay_max,
            randomization_factor=self.randomization_factor,
            random=self.random(),
        )

    async def run(
        self, attempt_once: Callable[[], Awaitable[bool]], report: Callable[[Any], None]
    ) -> bool:
        """Try until an attempt succeeds.

        Args:
            attempt_once: one attempt: True on success, False when there is nothing left to
                reconnect; raises :exc:`ConnectFailed` on failure.
            report: takes each ``reconnect*`` event tuple.

        Returns:
            True once reconnected; False when out of attempts or of things to reconnect.
        """
        attempt = 0
        while True:
            attempt += 1
            if self.attempts and attempt > self.attempts:
                logger.info("= giving up reconnecting after %d attempts", attempt - 1)
                report(("reconnect_failed",))
                return False
            delay = self.delay_for(attempt)
            report(("reconnect_attempt", attempt))
            logger.info("= reconnection attempt %d in %.2f s", attempt, delay)
            await asyncio.sleep(delay)
            try:
                if not await attempt_once():
                    return False
            except ConnectFailed as exc:
                logger.info("! reconnection attempt %d failed: %s", attempt, exc)
                report(("reconnect_error", exc))
                continue
            report(("reconnect", attempt))
            return True
