"""Make the shared helpers (eio_kit.py) importable by the test modules of this folder; the
``http_parser`` fixture."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engineio_core.aio.standalone import StandaloneServer

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(params=["fast path", "h11 only"])
def http_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run a test module twice: with the standalone door's polling fast path on (the default)
    and with every request parsed by h11 (``fast_path=False``), the reference."""
    fast = request.param == "fast path"
    defaults = StandaloneServer.__init__.__kwdefaults__
    assert defaults is not None and "fast_path" in defaults
    monkeypatch.setitem(defaults, "fast_path", fast)
    return fast
