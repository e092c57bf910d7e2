"""The chat demo's tests: make ``demo`` importable however pytest was started.

``demo/`` is an application at the repository root, not an installed package: ``python -m
pytest`` finds it through the working directory, ``pytest`` (the script) does not.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
