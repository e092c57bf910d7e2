"""Shared settings and helpers of the fuzz suite (tests/fuzz).

Every decoder that reads bytes from the network or from a broker is fed random and mutated
input by hypothesis. Two properties hold for each: it raises nothing but its own layer's
protocol error (or, for an input method, nothing at all), and it allocates no more than its
stated limit plus a small constant, measured with tracemalloc around each call.

Runs are bounded and deterministic by default (``derandomize``: the same examples on every
run, as CI needs). For a longer, random local run set ``FUZZ_EXAMPLES``, e.g.
``FUZZ_EXAMPLES=20000 pytest tests/fuzz``.
"""

from __future__ import annotations

import itertools
import os
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

_EXAMPLES = os.environ.get("FUZZ_EXAMPLES")

#: The settings of every fuzz test.
FUZZ = settings(
    max_examples=int(_EXAMPLES) if _EXAMPLES else 150,
    derandomize=not _EXAMPLES,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Allocation slack on top of each decoder's stated limit: interpreter noise, small objects.
SLACK = 256 * 1024


@contextmanager
def allocation_bound(limit: int) -> Iterator[None]:
    """Assert that the block's traced peak allocation stays within ``limit + SLACK`` bytes."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        yield
        peak = tracemalloc.get_traced_memory()[1]
        assert peak - before <= limit + SLACK, f"allocated {peak - before} bytes, limit {limit}"
    finally:
        if started:
            tracemalloc.stop()


def mutate(data: bytes, draw: st.DrawFn) -> bytes:
    """A few random edits of ``data``: flipped, inserted, deleted bytes, a truncation."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        if not out:
            break
        i = draw(st.integers(0, len(out) - 1))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "byte"]))
        if kind == "flip":
            out[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            out[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del out[i]
        elif kind == "truncate":
            del out[i:]
        else:
            out[i] = draw(st.integers(0, 255))
    return bytes(out)


def splits(data: bytes, draw: st.DrawFn) -> list[bytes]:
    """``data`` cut at random points: the TCP read boundaries."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=6)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]
