"""The HTTP long-polling payload codec (spec "Packet encoding / HTTP long-polling").

Theory of operation
-------------------
A polling request or response body carries one or more packets, each text-encoded by
:func:`engineio_core.packet.encode_packet_text`, joined by the record separator::

    4hello\\x1e2\\x1e4world          4hello\\x1ebAQIDBA==

"The packets are separated by the record separator character: ``\\x1e``" and "Binary payloads
MUST be base64-encoded and prefixed with a ``b`` character". Since v4 there is no length
prefix, so a payload is split on ``\\x1e`` and nothing else.

Rules this file keeps
---------------------
* Sizes are UTF-8 **bytes**, never packet counts: the spec's ``maxPayload`` is "the maximum
  number of bytes per chunk". A POST of a hundred tiny packets is fine; one of a megabyte is
  not. (python-engineio caps decoding at 16 packets; we do not.)
* :func:`decode_payload` checks the size before decoding anything and rejects malformed bodies
  with :exc:`DecodeError` (empty body, empty record, bad UTF-8, bad packet), oversized ones
  with :exc:`PayloadTooLarge`.
* :func:`encode_payload` refuses a text packet containing ``\\x1e``: the spec notes the format
  "assumes the record separator is not used in the data", and such a packet would be split
  in two by the receiver.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from .exceptions import DecodeError, LocalProtocolError, PayloadTooLarge
from .packet import Packet, decode_packet_text, encode_packet_text

__all__ = ["SEPARATOR", "decode_payload", "encode_payload", "encode_payload_within"]

SEPARATOR: Final = "\x1e"


def _encode_one(packet: Packet) -> str:
    """Text-encode one packet, refusing data that contains the separator."""
    if isinstance(packet.data, str) and SEPARATOR in packet.data:
        raise LocalProtocolError("a text packet sent over polling cannot contain '\\x1e'")
    return encode_packet_text(packet)


def encode_payload(packets: Iterable[Packet]) -> str:
    """Encode packets as one polling payload.

    Args:
        packets: the packets, at least one.

    Returns:
        The payload text; the body is its UTF-8 encoding.

    Raises:
        LocalProtocolError: no packet, or a text packet containing ``\\x1e``.
    """
    records = [_encode_one(packet) for packet in packets]
    if not records:
        raise LocalProtocolError("a payload holds at least one packet")
    return SEPARATOR.join(records)


def encode_payload_within(packets: Sequence[Packet], max_payload: int) -> tuple[bytes, int]:
    """Encode the longest prefix of ``packets`` whose payload fits in ``max_payload`` bytes.

    The first packet is always taken, even if it alone is over the budget: a packet is never
    split, and leaving it behind would stall the session forever.

    Args:
        packets: the packets waiting to be sent, at least one.
        max_payload: the byte budget for the body.

    Returns:
        The UTF-8 body and how many packets it holds.

    Raises:
        LocalProtocolError: no packet, or a text packet containing ``\\x1e``.
    """
    if not packets:
        raise LocalProtocolError("a payload holds at least one packet")
    chunks: list[bytes] = []
    size = 0
    for packet in packets:
        chunk = _encode_one(packet).encode()
        added = len(chunk) + (1 if chunks else 0)
        if chunks and size + added > max_payload:
            break
        chunks.append(chunk)
        size += added
    return SEPARATOR.encode().join(chunks), len(chunks)


def decode_payload(body: bytes | str, *, max_payload: int) -> list[Packet]:
    """Decode a polling payload (a POST body, or a GET response on the client side).

    Args:
        body: the payload, as received bytes or already-decoded text.
        max_payload: the largest accepted size, in UTF-8 bytes.

    Returns:
        The packets, in order.

    Raises:
        PayloadTooLarge: the body is over ``max_payload`` bytes.
        DecodeError: the body is empty, not UTF-8, or holds a malformed packet.
    """
    if isinstance(body, str):
        # Cheap bound first: a str of n code points has between n and 4n UTF-8 bytes.
        size = len(body) if len(body) * 4 <= max_payload else len(body.encode("utf-8", "replace"))
        if size > max_payload:
            raise PayloadTooLarge(f"payload of {size} bytes is over {max_payload}")
        text = body
    else:
        if len(body) > max_payload:
            raise PayloadTooLarge(f"payload of {len(body)} bytes is over {max_payload}")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            # "The character encoding is UTF-8 for plain text and for base64-encoded binary".
            raise DecodeError("payload is not valid UTF-8") from exc
    if not text:
        raise DecodeError("empty payload")
    return [decode_packet_text(record) for record in text.split(SEPARATOR)]
