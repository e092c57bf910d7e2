"""Differential tests of websocket.frames against wsproto's frame code, the oracle.

Hypothesis draws frames (every valid opcode, payload lengths on both sides of the 125/126 and
65535/65536 boundaries, masked or not, FIN or not and RSV1 or not on data frames). Each frame
goes both ways: what we serialize, wsproto's ``FrameDecoder`` decodes to the same frame, and
what wsproto's ``FrameProtocol`` serializes, we parse to the same frame. wsproto draws its
masking key from ``os.urandom``; the tests substitute a drawn key, so both sides use the same
key and the two wires must be identical byte for byte.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import NamedTuple

from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import frame_protocol as wp
from wsproto.extensions import Extension

from websocket.frames import Frame, Opcode, parse_frame, serialize_frame

MAX_SIZE = 1 << 20
DATA_OPCODES = [Opcode.CONT, Opcode.TEXT, Opcode.BINARY]
CONTROL_OPCODES = [Opcode.CLOSE, Opcode.PING, Opcode.PONG]
# Lengths on and around each boundary of the length encoding, plus small random ones.
DATA_LENGTHS = st.one_of(
    st.sampled_from([0, 1, 2, 3, 4, 5, 124, 125, 126, 127, 65535, 65536, 65537]),
    st.integers(0, 300),
    st.integers(65530, 65540),
)
CONTROL_LENGTHS = st.one_of(st.sampled_from([0, 1, 2, 124, 125]), st.integers(0, 125))


class Rsv1Extension(Extension):
    """A stand-in for permessage-deflate: it claims RSV1 and leaves payloads alone."""

    name = "x-rsv1"

    def __init__(self, send_rsv1: bool = False) -> None:
        self.send_rsv1 = send_rsv1
        self.received_rsv: list[wp.RsvBits] = []

    def enabled(self) -> bool:
        return True

    def offer(self) -> bool | str:
        return self.name

    def frame_inbound_header(
        self,
        proto: wp.FrameDecoder | wp.FrameProtocol,
        opcode: wp.Opcode,
        rsv: wp.RsvBits,
        payload_length: int,
    ) -> wp.CloseReason | wp.RsvBits:
        self.received_rsv.append(rsv)
        return wp.RsvBits(True, False, False)

    def frame_outbound(
        self,
        proto: wp.FrameDecoder | wp.FrameProtocol,
        opcode: wp.Opcode,
        rsv: wp.RsvBits,
        data: bytes,
        fin: bool,
    ) -> tuple[wp.RsvBits, bytes]:
        return wp.RsvBits(self.send_rsv1, False, False), data


class Spec(NamedTuple):
    """One frame to put through both codecs."""

    opcode: Opcode
    payload: bytes
    fin: bool
    rsv1: bool
    key: bytes | None


@st.composite
def frame_specs(draw: st.DrawFn) -> Spec:
    """A valid frame; the payload is generated from a drawn seed to keep big ones cheap."""
    if draw(st.booleans()):
        opcode = draw(st.sampled_from(DATA_OPCODES))
        length = draw(DATA_LENGTHS)
        fin = draw(st.booleans())
        rsv1 = draw(st.booleans())
    else:
        opcode = draw(st.sampled_from(CONTROL_OPCODES))
        length = draw(CONTROL_LENGTHS)
        fin, rsv1 = True, False
    payload = random.Random(draw(st.integers(0, 2**32))).randbytes(length)
    key = draw(st.none() | st.binary(min_size=4, max_size=4))
    return Spec(opcode, payload, fin, rsv1, key)


@contextmanager
def wsproto_key(key: bytes) -> Iterator[None]:
    """Make wsproto mask with ``key`` instead of a random one."""
    saved = wp.os
    wp.os = SimpleNamespace(urandom=lambda n: key)  # type: ignore[assignment]
    try:
        yield
    finally:
        wp.os = saved


def wsproto_serialize(spec: Spec) -> bytes:
    """The frame as wsproto's FrameProtocol writes it (a client masks)."""
    proto = wp.FrameProtocol(client=spec.key is not None, extensions=[Rsv1Extension(spec.rsv1)])
    with wsproto_key(spec.key or b"\x00" * 4):
        return bytes(proto._serialize_frame(wp.Opcode(spec.opcode), spec.payload, spec.fin))


def wsproto_decode(wire: bytes, masked: bool) -> list[tuple[Spec, wp.RsvBits]]:
    """Every frame wsproto's FrameDecoder finds in ``wire``, with the RSV bits it saw."""
    extension = Rsv1Extension()
    decoder = wp.FrameDecoder(client=not masked, extensions=[extension])
    decoder.receive_bytes(wire)
    frames = []
    while (frame := decoder.process_buffer()) is not None:
        assert frame.frame_finished  # a whole frame was available
        assert isinstance(frame.payload, bytes)
        spec = Spec(Opcode(frame.opcode), frame.payload, frame.message_finished, False, None)
        frames.append((spec, extension.received_rsv[len(frames)]))
    assert len(decoder.buffer) == 0
    return frames


def ours_serialize(spec: Spec) -> bytes:
    """The frame as we write it."""
    header, data = serialize_frame(
        spec.opcode, spec.payload, fin=spec.fin, rsv1=spec.rsv1, mask_key=spec.key
    )
    return header + data


def expected_frame(spec: Spec) -> Frame:
    """What parse_frame must return for ``spec``."""
    return Frame(spec.opcode, spec.payload, spec.fin, spec.rsv1, False, False)


@settings(max_examples=200, deadline=None)
@given(frame_specs())
def test_ours_to_wsproto(spec: Spec) -> None:
    wire = ours_serialize(spec)
    [(decoded, rsv)] = wsproto_decode(wire, masked=spec.key is not None)
    assert decoded.opcode == spec.opcode
    assert decoded.payload == spec.payload
    assert decoded.fin == spec.fin
    assert rsv == (spec.rsv1, False, False)


@settings(max_examples=200, deadline=None)
@given(frame_specs())
def test_wsproto_to_ours(spec: Spec) -> None:
    wire = wsproto_serialize(spec)
    for buf in (wire, bytearray(b"\x00\x00" + wire)):
        pos = len(buf) - len(wire)
        parsed = parse_frame(
            buf, pos, max_size=MAX_SIZE, mask_required=spec.key is not None, allowed_rsv=0x40
        )
        assert parsed == (expected_frame(spec), len(buf))
        assert parsed is not None
        assert parsed[0].opcode is spec.opcode
        assert type(parsed[0].payload) is bytes
    # Same key, same minimal length encoding: the wires are identical.
    assert wire == ours_serialize(spec)


@settings(max_examples=50, deadline=None)
@given(st.booleans(), st.lists(frame_specs(), min_size=1, max_size=5))
def test_streams_both_ways(masked: bool, specs: list[Spec]) -> None:
    key = b"\x5a\xa5\x0f\xf0" if masked else None
    specs = [spec._replace(key=key) for spec in specs]
    ours = b"".join(ours_serialize(spec) for spec in specs)
    theirs = b"".join(wsproto_serialize(spec) for spec in specs)
    assert ours == theirs
    decoded = wsproto_decode(ours, masked)
    assert [(d.opcode, d.payload, d.fin) for d, _ in decoded] == [
        (s.opcode, s.payload, s.fin) for s in specs
    ]
    assert [rsv.rsv1 for _, rsv in decoded] == [s.rsv1 for s in specs]
    buf = bytearray(theirs)
    pos = 0
    frames = []
    while (parsed := parse_frame(buf, pos, max_size=MAX_SIZE, mask_required=masked,
                                 allowed_rsv=0x40)) is not None:  # fmt: skip
        frame, pos = parsed
        frames.append(frame)
    assert pos == len(buf)
    assert frames == [expected_frame(spec) for spec in specs]
