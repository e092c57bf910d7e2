"""``python -m socketio_core check URL``: Engine.IO v4 / Socket.IO v5 conformance of any server.

Usable from a test suite as well::

    from socketio_core.aio.check import assert_conformant, run_check

    def test_my_server_is_conformant(my_server_url):
        assert_conformant(my_server_url)          # raises AssertionError with the table

    async def test_async(my_server_url):
        results = await run_check(my_server_url, only=["connect", "event"])

The server needs only the echo contract of :class:`socketio_core.check.Contract`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from ...check import CaseFailed, CaseLenient, CaseSkipped, Contract, Result, Verdict, render_table
from . import cases_eio, cases_sio
from .session import CASES, CaseDef, Ctx

__all__ = ["CASES", "GROUPS", "assert_conformant", "check", "run_case", "run_check"]

logger = logging.getLogger(__name__)

_LOADED = (cases_eio, cases_sio)  # importing them registers their cases
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(c.group for c in CASES))


async def run_case(url: str, case: CaseDef, contract: Contract) -> Result:
    """Run one case; never raises on anything the server does.

    Args:
        url: the server's base URL (``http://host:port``).
        case: the case.
        contract: the echo contract and timeouts.

    Returns:
        The result, with the transcript of a failure.
    """
    ctx = Ctx(url, contract)
    start = time.monotonic()
    verdict, reason = Verdict.PASS, ""
    if case.socketio and contract.engineio:
        return Result(case.id, case.title, case.section, Verdict.SKIPPED, "plain Engine.IO server")
    # A generous bound: a case that never returns is the kit's bug, reported as a failure.
    limit = 2 * contract.max_wait + 4 * contract.timeout + 5
    try:
        await asyncio.wait_for(case.fn(ctx), limit)
    except CaseFailed as exc:
        verdict, reason = Verdict.FAIL, str(exc)
    except CaseLenient as exc:
        verdict, reason = Verdict.NON_STRICT, str(exc)
    except CaseSkipped as exc:
        verdict, reason = Verdict.SKIPPED, str(exc)
    except TimeoutError:
        verdict, reason = Verdict.FAIL, f"the case did not finish in {limit:g} s"
    except (OSError, ValueError) as exc:
        verdict, reason = Verdict.FAIL, f"{type(exc).__name__}: {exc}"
    finally:
        await ctx.aclose()
    keep = verdict in (Verdict.FAIL, Verdict.NON_STRICT)
    transcript = tuple(ctx.probe.transcript) if keep else ()
    return Result(
        case.id, case.title, case.section, verdict, reason, transcript, time.monotonic() - start
    )


async def run_check(
    url: str,
    *,
    contract: Contract | None = None,
    only: Sequence[str] = (),
    concurrency: int = 8,
) -> list[Result]:
    """Run the conformance cases against a server.

    Args:
        url: the server's base URL, ``http://host:port`` (the path is ``contract.path``).
        contract: the echo contract, timeouts and mode (the official suites' by default).
        only: group names, or case ids, to run (all when empty).
        concurrency: cases run at the same time.

    Returns:
        The results, in case order.
    """
    contract = contract or Contract()
    chosen = [
        c
        for c in CASES
        if (not only or c.group in only or c.id in only) and not (c.socketio and contract.engineio)
    ]
    limit = asyncio.Semaphore(concurrency)

    async def one(case: CaseDef) -> Result:
        async with limit:
            return await run_case(url, case, contract)

    return list(await asyncio.gather(*(one(c) for c in chosen)))


def check(url: str, **kwargs: object) -> list[Result]:
    """:func:`run_check` from synchronous code (a plain pytest test): the results."""
    return asyncio.run(run_check(url, **kwargs))  # type: ignore[arg-type]


def assert_conformant(url: str, *, strict: bool = False, **kwargs: object) -> list[Result]:
    """Run the check; raise ``AssertionError`` with the table if any case failed.

    Args:
        url: the server's base URL.
        strict: non-strict verdicts fail too.
        **kwargs: passed to :func:`run_check`.

    Returns:
        The results, when none failed.
    """
    results = check(url, **kwargs)
    bad = {Verdict.FAIL, Verdict.NON_STRICT} if strict else {Verdict.FAIL}
    if any(r.verdict in bad for r in results):
        raise AssertionError(render_table(results, title=f"conformance of {url}"))
    return results
