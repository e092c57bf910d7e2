"""The optional C accelerator ``websocket._speedups`` against the pure-Python reference.

``websocket.frames`` picks the C functions up through one seam (``_c_apply_mask``,
``_c_unmask_at`` and ``_c_simple_frames``); patching them to None gives the reference. The C
tests skip when the extension was not built (no C compiler when the package was installed); the
seam tests run either way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from websocket import frames
from websocket.frames import Opcode, apply_mask, parse_frame, serialize_frame

speedups: ModuleType | None
try:
    from websocket import _speedups as speedups
except ImportError:  # pragma: no cover - depends on the build
    speedups = None

needs_c = pytest.mark.skipif(
    speedups is None,
    reason="websocket._speedups was not built (no C compiler at install time)",
)

needs_c_simple_frames = pytest.mark.skipif(
    not hasattr(speedups, "simple_frames"),
    reason="websocket._speedups predates simple_frames: rebuild it (setup.py build_ext --inplace)",
)

KEYS = [bytes.fromhex(k) for k in ("37fa213d", "00000000", "ffffffff", "01020304")]
LENGTHS = [*range(65), 1000, 65536 + 3, 1 << 20]
ROOT = Path(__file__).resolve().parents[2]


def naive_mask(data: bytes, key: bytes) -> bytes:
    """The definition in RFC 6455 section 5.3, byte by byte."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def payload_of(n: int) -> bytes:
    """Deterministic payload bytes that are not periodic in 4."""
    return (bytes(range(251)) * (n // 251 + 1))[:n]


@pytest.fixture
def reference(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Switch websocket.frames to the pure-Python reference for one test."""
    monkeypatch.setattr(frames, "_c_apply_mask", None)
    monkeypatch.setattr(frames, "_c_unmask_at", None)
    monkeypatch.setattr(frames, "_c_simple_frames", None)
    yield


@pytest.fixture
def c_seam(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Put the C functions in the seam for one test, even under WEBSOCKET_NO_SPEEDUPS."""
    assert speedups is not None
    monkeypatch.setattr(frames, "_c_apply_mask", speedups.apply_mask)
    monkeypatch.setattr(frames, "_c_unmask_at", speedups.unmask_at)
    # An extension built before simple_frames existed: its fast path stays the reference.
    monkeypatch.setattr(frames, "_c_simple_frames", getattr(speedups, "simple_frames", None))
    yield


def reference_mask(data: bytes | bytearray | memoryview, key: bytes) -> bytes:
    """The pure-Python apply_mask, whatever the seam holds."""
    saved = frames._c_apply_mask
    frames._c_apply_mask = None
    try:
        return apply_mask(data, key)
    finally:
        frames._c_apply_mask = saved


# ------------------------------------------------------------------------- apply_mask


@needs_c
@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_c_apply_mask_equals_reference(length: int, wrap: Callable[[bytes], object]) -> None:
    assert speedups is not None
    data = payload_of(length)
    for key in KEYS:
        expected = reference_mask(data, key)
        got = speedups.apply_mask(wrap(data), key)
        assert type(got) is bytes
        assert got == expected
        # Any buffer works as the key too.
        assert speedups.apply_mask(wrap(data), bytearray(key)) == expected
    if length <= 64:
        assert expected == naive_mask(data, key)


@needs_c
def test_c_apply_mask_offset_views() -> None:
    # Unaligned starts: views into a bytearray at every offset modulo 8.
    assert speedups is not None
    raw = bytearray(payload_of(200))
    for offset in range(9):
        view = memoryview(raw)[offset:]
        assert speedups.apply_mask(view, KEYS[0]) == naive_mask(bytes(view), KEYS[0])


@needs_c
def test_c_apply_mask_non_contiguous_view() -> None:
    # The reference accepts a strided memoryview (int.from_bytes copies it); so does C.
    assert speedups is not None
    data = payload_of(101)
    view = memoryview(data)[::3]
    assert speedups.apply_mask(view, KEYS[0]) == naive_mask(data[::3], KEYS[0])
    assert speedups.apply_mask(view, KEYS[0]) == reference_mask(view, KEYS[0])


@needs_c
def test_c_apply_mask_bad_arguments() -> None:
    assert speedups is not None
    for bad in (b"", b"abc", b"abcde"):
        with pytest.raises(ValueError, match="4 bytes"):
            speedups.apply_mask(b"data", bad)
    # As in the reference, empty data never looks at the mask.
    assert speedups.apply_mask(b"", b"abc") == b""
    assert speedups.apply_mask(bytearray(), b"abcd") == b""
    with pytest.raises(TypeError):
        speedups.apply_mask("text", b"abcd")
    with pytest.raises(TypeError):
        speedups.apply_mask(b"data", "abcd")
    with pytest.raises(TypeError):
        speedups.apply_mask(b"data")
    with pytest.raises(TypeError):
        speedups.apply_mask(b"data", b"abcd", b"")


@needs_c
def test_public_apply_mask_uses_c(c_seam: None) -> None:
    assert apply_mask(b"Hello", KEYS[0]) == bytes.fromhex("7f9f4d5158")
    with pytest.raises(ValueError, match="4 bytes"):
        apply_mask(b"data", b"abc")


# -------------------------------------------------------------------------- unmask_at


@needs_c
@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("wrap", [bytes, bytearray])
def test_c_unmask_at_equals_reference(length: int, wrap: Callable[[bytes], bytes]) -> None:
    assert speedups is not None
    data = payload_of(length)
    for key_pos in (0, 1, 7):
        buf = wrap(b"\xaa" * key_pos + KEYS[0] + data + b"\xbb" * 5)
        assert speedups.unmask_at(buf, key_pos, length) == reference_mask(data, KEYS[0])


@needs_c
def test_c_unmask_at_bounds() -> None:
    assert speedups is not None
    buf = bytearray(KEYS[0] + b"abcdef")
    assert speedups.unmask_at(buf, 0, 6) == naive_mask(b"abcdef", KEYS[0])
    assert speedups.unmask_at(buf, 6, 0) == b""
    for key_pos, length in ((0, 7), (1, 6), (7, 0), (-1, 1), (0, -1), (0, sys.maxsize)):
        with pytest.raises(ValueError, match="outside the buffer"):
            speedups.unmask_at(buf, key_pos, length)
    with pytest.raises(OverflowError):
        speedups.unmask_at(buf, 1 << 70, 0)
    with pytest.raises(OverflowError):
        speedups.unmask_at(buf, 0, 1 << 70)
    with pytest.raises(TypeError):
        speedups.unmask_at(buf, "0", 1)
    with pytest.raises(TypeError):
        speedups.unmask_at("text", 0, 0)
    with pytest.raises(TypeError):
        speedups.unmask_at(buf, 0)


# ---------------------------------------------------------------- frames, both paths

FRAME_LENGTHS = [0, 1, 5, 16, 125, 126, 256, 257, 1024, 8192, 8193, 65535, 65536, 70001]


def roundtrip_all() -> list[tuple[object, ...]]:
    """Serialize and parse frames of every length branch; the results, for comparison."""
    out: list[tuple[object, ...]] = []
    for length in FRAME_LENGTHS:
        payload = payload_of(length)
        for key in (None, KEYS[0]):
            header, data = serialize_frame(Opcode.BINARY, payload, mask_key=key)
            for buf in (b"xy" + header + data, bytearray(b"xy" + header + data)):
                parsed = parse_frame(buf, 2, max_size=1 << 20, mask_required=key is not None)
                assert parsed is not None
                frame, end = parsed
                assert frame.payload == payload
                assert type(frame.payload) is bytes
                assert end == len(buf)
                out.append((header, data, frame))
            wire = header + data
            # One byte short (of the payload, or of the header when it is empty): not yet.
            assert (
                parse_frame(wire[:-1], 0, max_size=1 << 20, mask_required=key is not None) is None
            )
    return out


def test_frames_reference_path(reference: None) -> None:
    assert frames._c_unmask_at is None
    roundtrip_all()


@needs_c
def test_frames_c_path_equals_reference(c_seam: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with_c = roundtrip_all()
    monkeypatch.setattr(frames, "_c_apply_mask", None)
    monkeypatch.setattr(frames, "_c_unmask_at", None)
    assert roundtrip_all() == with_c


@pytest.mark.parametrize("value", ["1", ""])
def test_env_var_forces_reference(value: str) -> None:
    code = (
        "import websocket.frames as f\n"
        "from websocket.frames import Opcode, parse_frame, serialize_frame\n"
        "h, d = serialize_frame(Opcode.TEXT, b'Hello', mask_key=bytes.fromhex('37fa213d'))\n"
        "assert h + d == bytes.fromhex('818537fa213d7f9f4d5158'), h + d\n"
        "frame, end = parse_frame(bytearray(h + d), 0, max_size=125, mask_required=True)\n"
        "assert frame.payload == b'Hello' and end == 11\n"
        "print(f._c_apply_mask is None, f._c_unmask_at is None)\n"
    )
    env = {**os.environ, "WEBSOCKET_NO_SPEEDUPS": value}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    if value:
        assert result.stdout.split() == ["True", "True"]
    else:
        # An empty value does not disable the speedup: the seam holds C iff it was built.
        built = str(speedups is None)
        assert result.stdout.split() == [built, built]


SIMPLE_FRAMES_WIRES = [
    b"",
    b"\x82",
    b"\x82\x00",
    b"\x82\x02ab\x81\x03abc\x89\x00\x82\x01z",
    b"\x81\x02\xff\xfe\x82\x01z",  # invalid UTF-8: stop before it
    b"\x82\x7e\x00\x05hello",  # non-minimal 16-bit length: stop
    b"\x82\x7e\x00\x80" + b"x" * 128 + b"\x82\x7f" + (70000).to_bytes(8, "big"),
    b"\x02\x01a\x80\x01b",  # a fragment: stop
    b"\xc2\x01a",  # RSV1: stop
    b"\x82\x05abc",  # partial payload: stop
]


@needs_c_simple_frames
@pytest.mark.parametrize("mask_required", [False, True])
@pytest.mark.parametrize("wire", SIMPLE_FRAMES_WIRES)
def test_c_simple_frames_equals_reference(wire: bytes, mask_required: bool) -> None:
    assert speedups is not None
    if mask_required:  # the same frames, masked with KEYS[0]
        wire = _masked_copy(wire)
    for pos in range(len(wire) + 1):
        for max_size in (0, 3, 200, 1 << 20):
            buf = bytearray(wire)
            saved = frames._c_simple_frames
            frames._c_simple_frames = None
            try:
                expected = frames.simple_frames(buf, pos, mask_required, max_size)
            finally:
                frames._c_simple_frames = saved
            assert speedups.simple_frames(buf, pos, mask_required, max_size) == expected


def _masked_copy(wire: bytes) -> bytes:
    """Re-encode the whole frames of ``wire`` masked (the rest is copied as it is)."""
    out = bytearray()
    pos = 0
    while True:
        try:
            parsed = parse_frame(wire, pos, max_size=1 << 22, mask_required=False)
        except Exception:
            parsed = None
        if parsed is None:
            return bytes(out + wire[pos:])
        frame, end = parsed
        b0 = wire[pos]
        header, payload = serialize_frame(
            Opcode(b0 & 0x0F), frame.payload, fin=bool(b0 & 0x80), mask_key=KEYS[0]
        )
        out += bytes((b0,)) + header[1:] + payload
        pos = end


@needs_c_simple_frames
def test_c_simple_frames_bad_arguments() -> None:
    assert speedups is not None
    with pytest.raises(TypeError):
        speedups.simple_frames(bytearray(), 0, True)
    with pytest.raises(ValueError):
        speedups.simple_frames(bytearray(b"ab"), 3, True, 10)
    with pytest.raises(ValueError):
        speedups.simple_frames(bytearray(b"ab"), -1, True, 10)
