"""The one JSON encoder and decoder of Socket.IO payloads, with an optional accelerator.

Theory of operation
-------------------
Every payload of the default parser goes through :func:`dumps` and :func:`loads`. What they
must do is what ``JSON.stringify`` / ``JSON.parse`` do on the other end:

* compact output (``,`` and ``:`` without spaces), non-ASCII written as is (UTF-8 on the wire,
  as ``JSON.stringify`` does), ``NaN`` / ``Infinity`` refused (``JSON.parse`` rejects them),
  integers written exactly, however big (a JavaScript peer rounds above 2**53, its business);
* strict input: no ``NaN`` / ``Infinity`` / ``-Infinity``, no number that overflows to an
  infinite float (``1e999``), nothing after the value but whitespace.

The stdlib :mod:`json` is the reference (:func:`stdlib_dumps`, :func:`stdlib_loads`). Two
things make it cheap per packet: one ``c_make_encoder`` and one scanner built once (the
``JSONEncoder.encode`` / ``JSONDecoder.decode`` wrappers build or look them up per call),
with the wrappers kept as the reference path for anything unusual (a value the fast path
refuses, whitespace around a document).

When ``orjson`` is installed (the ``fast`` extra), :func:`dumps` tries it first and falls
back to the stdlib for every value it cannot write exactly like the reference: integers
beyond 64 bits, non-``str`` dict keys, lone surrogates, subclasses of the JSON types (all
refused by orjson, then handled or refused by the stdlib as today), and any output that holds
``null``, since orjson writes ``NaN`` and infinities as ``null`` (the stdlib then refuses them,
or writes the same text). Floats are the one textual difference: orjson writes ``1e-7`` where
the stdlib writes ``1e-07`` (the same number on every JSON reader). Values the stdlib cannot
write but orjson can, ``uuid.UUID`` and ``enum.Enum`` members that are not ``int``/``str``
subclasses, are written by orjson (``datetime`` and dataclasses go through the stdlib and are
refused there, as without orjson). Decoding always uses the stdlib scanner: for Socket.IO's
small payloads it is as fast as ``orjson.loads``, and orjson reads integers beyond 64 bits as
floats.

Choosing: the environment variable ``SOCKETIO_CORE_JSON`` (``stdlib`` or ``orjson``; unset:
orjson when installed), read once at import; :func:`use` switches at run time (the tests run
both codecs).
"""

from __future__ import annotations

import importlib
import json
import json.encoder
import json.scanner
import math
import os
from collections.abc import Callable
from typing import Any, Final

from .exceptions import MissingDependency

__all__ = ["dumps", "loads", "name", "stdlib_dumps", "stdlib_loads", "use"]


def _reject_constant(name: str) -> Any:
    """json ``parse_constant`` hook: NaN and Infinity are not JSON."""
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    """json ``parse_float`` hook: ``1e999`` would become infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _no_default(value: Any) -> Any:
    """The encoder's ``default`` hook: only the JSON types are written."""
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# The reference: the stdlib's documented classes, built once.
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)

# The same encoder and scanner without the per-call wrappers (None without the C module).
# No circular-reference markers: a cycle ends in RecursionError, which callers catch.
# (``c_make_encoder`` is what ``JSONEncoder.iterencode`` calls; it is not in the type stubs.)
_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE: Final[Callable[[Any, int], Any] | None] = (
    None
    if _make_encoder is None
    else _make_encoder(
        None, _no_default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
)
_make_scanner: Any = json.scanner.make_scanner
_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = _make_scanner(_DECODER)


def stdlib_dumps(data: Any) -> str:
    """Write ``data`` as compact JSON with the stdlib (the reference).

    Args:
        data: a JSON-like value (dicts, lists, tuples, str, int, float, bool, None).

    Returns:
        The JSON text.

    Raises:
        TypeError: a value is not a JSON type.
        ValueError: a float is NaN or infinite.
        RecursionError: the value is nested too deeply (or holds a cycle).
    """
    if _C_ENCODE is not None:
        return "".join(_C_ENCODE(data, 0))
    return _ENCODER.encode(data)


def stdlib_loads(text: str) -> Any:
    """Read one JSON document strictly with the stdlib (the reference).

    Args:
        text: the JSON text.

    Returns:
        The value.

    Raises:
        ValueError: the text is not one strict JSON document.
        RecursionError: it is nested too deeply.
    """
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:
        end = -1  # leading whitespace, or not JSON at all: the reference path decides
    if end == len(text):
        return value
    return _DECODER.decode(text)


def _orjson_dumps_factory() -> Callable[[Any], str]:
    """Build the orjson-first :func:`dumps`, or name the extra that installs orjson."""
    try:
        orjson: Any = importlib.import_module("orjson")
    except ImportError as exc:
        raise MissingDependency("orjson", "fast") from exc
    encode = orjson.dumps
    # Subclasses, datetimes and dataclasses go to ``default`` (which refuses them), so the
    # stdlib writes or refuses them exactly as without orjson.
    options = (
        orjson.OPT_PASSTHROUGH_SUBCLASS
        | orjson.OPT_PASSTHROUGH_DATETIME
        | orjson.OPT_PASSTHROUGH_DATACLASS
    )

    def orjson_dumps(data: Any) -> str:
        try:
            raw = encode(data, None, options)
        except TypeError:  # orjson.JSONEncodeError: the stdlib writes it, or says why not
            return stdlib_dumps(data)
        if b"null" in raw:  # None, or NaN / infinity written as null: the stdlib decides
            return stdlib_dumps(data)
        text: str = raw.decode()
        return text

    return orjson_dumps


_CODECS: Final[dict[str, Callable[[], Callable[[Any], str]]]] = {
    "stdlib": lambda: stdlib_dumps,
    "orjson": _orjson_dumps_factory,
}

#: The encoder in use; see :func:`use`.
dumps: Callable[[Any], str] = stdlib_dumps
#: The decoder (always the stdlib scanner; see the module docstring).
loads: Callable[[str], Any] = stdlib_loads
_name = "stdlib"


def use(codec: str | None = None) -> str:
    """Choose the encoder for every packet from now on.

    Args:
        codec: ``"stdlib"``, ``"orjson"``, or None for orjson when installed, else the stdlib.

    Returns:
        The name of the codec now in use.

    Raises:
        MissingDependency: ``"orjson"`` without orjson installed.
        ValueError: an unknown name.
    """
    global dumps, _name
    if codec is None:
        try:
            dumps, _name = _orjson_dumps_factory(), "orjson"
        except MissingDependency:
            dumps, _name = stdlib_dumps, "stdlib"
        return _name
    factory = _CODECS.get(codec)
    if factory is None:
        raise ValueError(f"unknown JSON codec {codec!r}: one of {sorted(_CODECS)}")
    dumps, _name = factory(), codec
    return _name


def name() -> str:
    """The name of the encoder in use (``"stdlib"`` or ``"orjson"``)."""
    return _name


use(os.environ.get("SOCKETIO_CORE_JSON") or None)
