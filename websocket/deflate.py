"""The permessage-deflate extension (RFC 7692), sans I/O.

Theory of operation
-------------------
Negotiation happens once, in the opening handshake (RFC 7692 section 5):

* the client sends :func:`client_offer` in ``Sec-WebSocket-Extensions``;
* the server runs :func:`server_negotiate` over the client's header, which walks the offers in
  order, declines the ones it cannot honour, and returns the answer to send with the
  :class:`PerMessageDeflate` instance for the connection;
* the client checks that answer strictly with :func:`client_accept`, which returns its own
  instance.

:class:`PerMessageDeflate` then compresses and inflates message payloads for
:class:`websocket.protocol.Protocol`; it satisfies
:class:`~websocket.protocol.MessageCompressor`.
Each side has a *local* window and context-takeover setting (for what it compresses) and a
*remote* one (for what it inflates); ``is_server`` decides which of the negotiated ``server_*`` and
``client_*`` parameters are which.

Rules this file keeps
---------------------
* Each fragment is compressed with ``Z_SYNC_FLUSH``; the final fragment drops the trailing
  ``00 00 ff ff`` (section 7.2.1), and the receiver puts it back before inflating the final
  fragment (section 7.2.2).
* Context takeover (one LZ77 window shared across messages) is on by default in both directions.
  A ``*_no_context_takeover`` parameter resets the matching compressor or decompressor after
  every message (section 7.1.1).
* Inflating is bounded: ``decompress(data, max_size + 1)``; more output, or input left over, means
  :exc:`PayloadTooBig` (close code 1009) before the output is ever held in full.
* Corrupt deflate data is a :exc:`RemoteProtocolError` (close code 1002).
* Messages under ``min_size`` bytes go uncompressed: RSV1 is per message (section 6), so this
  costs nothing to the peer.

Eight-bit windows
-----------------
RFC 7692 allows window bits 8 to 15, but zlib cannot *compress* with an 8-bit window: since
zlib 1.2.9 it silently uses 9, and Python's ``zlib.compressobj(wbits=-8)`` raises. So:

* :class:`DeflateOptions` takes 9 to 15 only, because the same options may configure our own
  compressor;
* a server declines an offer that asks for ``server_max_window_bits=8`` and walks on to the next
  offer; a client fails the handshake when told ``client_max_window_bits=8``;
* a peer that promises an 8-bit window (``client_max_window_bits=8`` in an offer,
  ``server_max_window_bits=8`` in an answer) is accepted, and we inflate with a 9-bit window in
  case the peer's zlib used 9 anyway: a larger window always inflates a smaller one's output.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from .exceptions import LocalProtocolError, NegotiationError, PayloadTooBig, RemoteProtocolError
from .headers import Extension, ExtensionParam, build_extensions, parse_extensions

__all__ = [
    "DEFAULT_COMPRESS_LEVEL",
    "DEFAULT_MIN_SIZE",
    "EXTENSION_NAME",
    "DeflateOptions",
    "PerMessageDeflate",
    "client_accept",
    "client_offer",
    "server_negotiate",
]

logger = logging.getLogger(__name__)

EXTENSION_NAME: Final = "permessage-deflate"
DEFAULT_COMPRESS_LEVEL: Final = 6  # what zlib's Z_DEFAULT_COMPRESSION means
DEFAULT_MIN_SIZE: Final = 32

# RFC 7692 section 7.2.1: the four octets a sync flush ends with.
_TAIL: Final = b"\x00\x00\xff\xff"
# Section 7.2.3.4: after a BFINAL block, "the header bits with BFINAL set to 0 and BTYPE set
# to 00, and 5 padding bits of 0" complete what the tail turns into an empty stored block.
_EMPTY_BLOCK: Final = b"\x00"
_PADDING: Final = (b"", _EMPTY_BLOCK)
# RFC 7692 section 7.1.2.1: "a decimal integer value without leading zeros between 8 to 15".
_WINDOW_BITS_VALUES: Final = {str(bits): bits for bits in range(8, 16)}
_PARAM_NAMES: Final = frozenset(
    {
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
    }
)
_MIN_LOCAL_BITS: Final = 9  # see "Eight-bit windows" above


@dataclass(frozen=True)
class DeflateOptions:
    """What this endpoint is willing to negotiate for permessage-deflate.

    On a client these become the offer; on a server they bound what is accepted.

    Attributes:
        server_no_context_takeover: client: ask the server to reset its compressor after every
            message; server: always do so.
        client_no_context_takeover: client: reset our compressor after every message (and say
            so); server: ask the client to do so.
        server_max_window_bits: largest window the server compresses with (9 to 15), or None
            for no limit (15).
        client_max_window_bits: largest window the client compresses with (9 to 15). On a client
            None offers the bare parameter, letting the server choose; on a server None imposes
            no limit.
        compress_level: zlib compression level, 0 to 9 (or -1 for zlib's default).
        min_size: messages shorter than this many bytes are sent uncompressed.
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int | None = None
    client_max_window_bits: int | None = None
    compress_level: int = DEFAULT_COMPRESS_LEVEL
    min_size: int = DEFAULT_MIN_SIZE

    def __post_init__(self) -> None:
        for name in ("server_max_window_bits", "client_max_window_bits"):
            bits = getattr(self, name)
            if bits is not None and not _MIN_LOCAL_BITS <= bits <= 15:
                # RFC 7692 allows 8, but zlib cannot compress with an 8-bit window.
                raise LocalProtocolError(f"{name} must be between 9 and 15, not {bits}")
        if not -1 <= self.compress_level <= 9:
            raise LocalProtocolError(
                f"compress_level must be between -1 and 9, not {self.compress_level}"
            )
        if self.min_size < 0:
            raise LocalProtocolError(f"min_size must not be negative, not {self.min_size}")


class PerMessageDeflate:
    """A negotiated permessage-deflate instance for one connection.

    Args:
        is_server: whether this end is the server; decides which parameters are local.
        server_no_context_takeover: the server resets its compressor after each message.
        client_no_context_takeover: the client resets its compressor after each message.
        server_max_window_bits: the server's compression window (8 to 15).
        client_max_window_bits: the client's compression window (8 to 15).
        compress_level: zlib compression level for our compressor.
        min_size: messages shorter than this many bytes are sent uncompressed.

    Raises:
        LocalProtocolError: a parameter is out of range, or the local window is 8 bits.
    """

    def __init__(
        self,
        *,
        is_server: bool,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int = 15,
        client_max_window_bits: int = 15,
        compress_level: int = DEFAULT_COMPRESS_LEVEL,
        min_size: int = DEFAULT_MIN_SIZE,
    ) -> None:
        for bits in (server_max_window_bits, client_max_window_bits):
            if not 8 <= bits <= 15:
                raise LocalProtocolError(f"window bits must be between 8 and 15, not {bits}")
        self.is_server = is_server
        self.server_no_context_takeover = server_no_context_takeover
        self.client_no_context_takeover = client_no_context_takeover
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits = client_max_window_bits
        self.compress_level = compress_level
        self.min_size = min_size
        if is_server:
            self.local_no_context_takeover = server_no_context_takeover
            self.remote_no_context_takeover = client_no_context_takeover
            local_bits, remote_bits = server_max_window_bits, client_max_window_bits
        else:
            self.local_no_context_takeover = client_no_context_takeover
            self.remote_no_context_takeover = server_no_context_takeover
            local_bits, remote_bits = client_max_window_bits, server_max_window_bits
        if local_bits < _MIN_LOCAL_BITS:
            raise LocalProtocolError("zlib cannot compress with an 8-bit window")
        self.local_max_window_bits = local_bits
        self.remote_max_window_bits = remote_bits
        # Inflate with at least 9 bits: a zlib peer told to use 8 really uses 9.
        self._inflate_bits = max(remote_bits, _MIN_LOCAL_BITS)
        self._encoder = self._new_encoder()
        self._decoder = self._new_decoder()

    def __repr__(self) -> str:
        return (
            f"PerMessageDeflate(is_server={self.is_server}, "
            f"server_no_context_takeover={self.server_no_context_takeover}, "
            f"client_no_context_takeover={self.client_no_context_takeover}, "
            f"server_max_window_bits={self.server_max_window_bits}, "
            f"client_max_window_bits={self.client_max_window_bits})"
        )

    def _new_encoder(self) -> zlib._Compress:
        return zlib.compressobj(self.compress_level, zlib.DEFLATED, -self.local_max_window_bits)

    def _new_decoder(self) -> zlib._Decompress:
        return zlib.decompressobj(-self._inflate_bits)

    def should_compress(self, size: int) -> bool:
        """Whether a message of ``size`` bytes is worth compressing (``size >= min_size``)."""
        return size >= self.min_size

    def encode(self, data: bytes, *, fin: bool) -> bytes:
        """Compress one fragment of an outgoing message.

        Args:
            data: the fragment's uncompressed payload.
            fin: whether this is the message's final fragment.

        Returns:
            The compressed payload to put in the frame.
        """
        encoder = self._encoder
        out = encoder.compress(data) + encoder.flush(zlib.Z_SYNC_FLUSH)
        if fin:
            # RFC 7692 section 7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the
            # tail end." A sync flush after compress() always ends with them.
            assert out.endswith(_TAIL)
            out = out[:-4]
            if self.local_no_context_takeover:
                # Section 7.1.1: the next message starts from an empty LZ77 window.
                self._encoder = self._new_encoder()
        return out

    def decode(self, data: bytes, *, fin: bool, max_size: int) -> bytes:
        """Inflate one fragment of an incoming compressed message.

        Args:
            data: the fragment's payload as received.
            fin: whether this is the message's final fragment.
            max_size: the most bytes this fragment may inflate to.

        Returns:
            The inflated bytes.

        Raises:
            PayloadTooBig: the fragment inflates to more than ``max_size`` bytes.
            RemoteProtocolError: the data is not valid deflate data.
        """
        if fin:
            # RFC 7692 section 7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end
            # of the payload of the message."
            data += _TAIL
        decoder = self._decoder
        try:
            # Ask for one byte more than allowed: getting it proves the limit is exceeded,
            # without ever inflating the rest (no zip bombs).
            out = decoder.decompress(data, max(max_size, 0) + 1)
        except zlib.error as exc:
            raise RemoteProtocolError(f"invalid compressed data: {exc}") from exc
        if len(out) > max_size or decoder.unconsumed_tail:
            raise PayloadTooBig(f"compressed message inflates to over {max_size} bytes")
        if decoder.eof:
            # The peer ended its deflate stream with a BFINAL block (section 7.2.3.4), which
            # may be followed by the 0x00 header of an empty stored block, then our tail.
            if decoder.unused_data not in ((_TAIL, _EMPTY_BLOCK + _TAIL) if fin else _PADDING):
                raise RemoteProtocolError("data after the final deflate block")
            if fin:
                self._decoder = self._new_decoder()
        elif fin and self.remote_no_context_takeover:
            # Section 7.1.1: the peer starts each message from an empty window.
            self._decoder = self._new_decoder()
        return out


@dataclass(frozen=True, slots=True)
class _Params:
    """The permessage-deflate parameters of one offer or answer, validated."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int | None = None
    # True: the bare ``client_max_window_bits`` (offers only, section 7.1.2.2).
    client_max_window_bits: int | bool | None = None


def _parse_params(params: Sequence[ExtensionParam], *, offer: bool) -> _Params:
    """Validate parameters per RFC 7692 section 7; raise NegotiationError on any problem."""
    seen: set[str] = set()
    values: dict[str, int | bool] = {}
    for name, value in params:
        # Section 7: "a server MUST decline an offer" / "a client MUST _Fail_" for unknown
        # parameters, duplicated parameters and invalid values.
        if name not in _PARAM_NAMES:
            raise NegotiationError(f"unknown permessage-deflate parameter {name!r}")
        if name in seen:
            raise NegotiationError(f"duplicate permessage-deflate parameter {name!r}")
        seen.add(name)
        if name.endswith("_no_context_takeover"):
            if value is not None:
                raise NegotiationError(f"{name} takes no value, got {value!r}")
            values[name] = True
        elif value is None:
            # Section 7.1.2.2: only an offer may carry client_max_window_bits without a value.
            if not (offer and name == "client_max_window_bits"):
                raise NegotiationError(f"{name} needs a value")
            values[name] = True
        elif value in _WINDOW_BITS_VALUES:
            values[name] = _WINDOW_BITS_VALUES[value]
        else:
            raise NegotiationError(f"invalid value {value!r} for {name}")
    server_bits = values.get("server_max_window_bits")
    assert server_bits is None or not isinstance(server_bits, bool)
    return _Params(
        server_no_context_takeover=bool(values.get("server_no_context_takeover", False)),
        client_no_context_takeover=bool(values.get("client_no_context_takeover", False)),
        server_max_window_bits=server_bits,
        client_max_window_bits=values.get("client_max_window_bits"),
    )


def client_offer(options: DeflateOptions) -> str:
    """Build the ``Sec-WebSocket-Extensions`` value a client sends (RFC 7692 section 5).

    Args:
        options: what the client asks for.

    Returns:
        One ``permessage-deflate`` offer, e.g. ``permessage-deflate; client_max_window_bits``.
    """
    params: list[ExtensionParam] = []
    if options.server_no_context_takeover:
        params.append(("server_no_context_takeover", None))
    if options.client_no_context_takeover:
        params.append(("client_no_context_takeover", None))
    if options.server_max_window_bits is not None:
        params.append(("server_max_window_bits", str(options.server_max_window_bits)))
    if options.client_max_window_bits is None:
        # Section 7.1.2.2: the bare parameter lets the server pick our window.
        params.append(("client_max_window_bits", None))
    else:
        params.append(("client_max_window_bits", str(options.client_max_window_bits)))
    return build_extensions([Extension(EXTENSION_NAME, tuple(params))])


def client_accept(
    header_values: Sequence[str], options: DeflateOptions
) -> PerMessageDeflate | None:
    """Check the server's ``Sec-WebSocket-Extensions`` answer against the offer of ``options``.

    Args:
        header_values: every value of the response header (empty if absent).
        options: what the client offered (:func:`client_offer` of the same options).

    Returns:
        The client's :class:`PerMessageDeflate`, or None if the server accepted no extension.

    Raises:
        NegotiationError: the answer is malformed, names an extension we did not offer, repeats
            permessage-deflate, or carries a parameter the offer does not allow.
    """
    extensions = parse_extensions(header_values)
    if not extensions:
        return None
    for extension in extensions:
        if extension.name != EXTENSION_NAME:
            # RFC 6455 section 4.1: an extension "not present in the client's handshake" fails it.
            raise NegotiationError(f"server accepted extension {extension.name!r} we did not offer")
    if len(extensions) > 1:
        raise NegotiationError("server accepted permessage-deflate more than once")
    params = _parse_params(extensions[0].params, offer=False)

    # RFC 7692 section 7.1.1.1: a server accepting server_no_context_takeover includes it.
    if options.server_no_context_takeover and not params.server_no_context_takeover:
        raise NegotiationError("server did not agree to server_no_context_takeover")
    server_bits = params.server_max_window_bits
    # Section 7.1.2.1: the answer has "the same or smaller value as the offer".
    if options.server_max_window_bits is not None and (
        server_bits is None or server_bits > options.server_max_window_bits
    ):
        raise NegotiationError(
            f"server_max_window_bits={server_bits} exceeds {options.server_max_window_bits}"
        )
    client_bits = params.client_max_window_bits
    assert not isinstance(client_bits, bool)  # offer=False never yields the bare parameter
    if client_bits is None:
        client_bits = options.client_max_window_bits or 15
    elif (
        options.client_max_window_bits is not None and client_bits > options.client_max_window_bits
    ):
        raise NegotiationError(
            f"client_max_window_bits={client_bits} exceeds {options.client_max_window_bits}"
        )
    if client_bits < _MIN_LOCAL_BITS:
        raise NegotiationError("client_max_window_bits=8 is not supported (zlib uses 9)")
    compressor = PerMessageDeflate(
        is_server=False,
        server_no_context_takeover=params.server_no_context_takeover,
        client_no_context_takeover=(
            params.client_no_context_takeover or options.client_no_context_takeover
        ),
        server_max_window_bits=server_bits or 15,
        client_max_window_bits=client_bits,
        compress_level=options.compress_level,
        min_size=options.min_size,
    )
    logger.debug("= permessage-deflate accepted: %r", compressor)
    return compressor


def _answer_offer(
    params: _Params, options: DeflateOptions
) -> tuple[tuple[ExtensionParam, ...], PerMessageDeflate] | None:
    """Answer one valid offer with the response parameters and instance, or None to decline."""
    answer: list[ExtensionParam] = []
    server_nct = params.server_no_context_takeover or options.server_no_context_takeover
    if server_nct:
        # RFC 7692 section 7.1.1.1: honour the request by saying so (or impose it ourselves).
        answer.append(("server_no_context_takeover", None))
    client_nct = params.client_no_context_takeover or options.client_no_context_takeover
    if client_nct:
        # Section 7.1.1.2: a server may ask for it even when the client did not offer it.
        answer.append(("client_no_context_takeover", None))
    server_bits = options.server_max_window_bits
    if params.server_max_window_bits is not None:
        # Section 7.1.2.1: answer with "the same or smaller value as the offer".
        server_bits = min(server_bits or 15, params.server_max_window_bits)
        if server_bits < _MIN_LOCAL_BITS:
            return None  # zlib cannot honour an 8-bit window: decline this offer.
    if server_bits is not None:
        answer.append(("server_max_window_bits", str(server_bits)))
    offered = params.client_max_window_bits
    client_bits = options.client_max_window_bits
    if offered is None:
        if client_bits is not None:
            # Section 7.1.2.2: without the parameter in the offer we may not limit the client.
            return None
    elif offered is not True:
        assert not isinstance(offered, bool)
        # The client will use at most ``offered`` anyway; saying so sizes our inflater.
        client_bits = min(offered, client_bits or 15)
    if client_bits is not None:
        answer.append(("client_max_window_bits", str(client_bits)))
    compressor = PerMessageDeflate(
        is_server=True,
        server_no_context_takeover=server_nct,
        client_no_context_takeover=client_nct,
        server_max_window_bits=server_bits or 15,
        client_max_window_bits=client_bits or 15,
        compress_level=options.compress_level,
        min_size=options.min_size,
    )
    return tuple(answer), compressor


def server_negotiate(
    header_values: Sequence[str], options: DeflateOptions
) -> tuple[str, PerMessageDeflate] | None:
    """Pick the first acceptable permessage-deflate offer of a client (RFC 7692 section 5).

    Offers are tried in the client's order of preference. Offers with unknown, duplicate or
    invalid parameters, or asking for what the server cannot do, are declined (section 5);
    other extensions are ignored.

    Args:
        header_values: every value of the request's ``Sec-WebSocket-Extensions`` header.
        options: what the server is willing to agree to.

    Returns:
        The response header value and the server's :class:`PerMessageDeflate`, or None when no
        offer is acceptable.

    Raises:
        NegotiationError: the header is syntactically malformed (answer 400).
    """
    for extension in parse_extensions(header_values):
        if extension.name != EXTENSION_NAME:
            continue
        try:
            params = _parse_params(extension.params, offer=True)
        except NegotiationError as exc:
            logger.debug("! declining permessage-deflate offer: %s", exc)
            continue
        answered = _answer_offer(params, options)
        if answered is None:
            logger.debug("! declining permessage-deflate offer: %r", extension.params)
            continue
        response_params, compressor = answered
        answer = build_extensions([Extension(EXTENSION_NAME, response_params)])
        logger.debug("= permessage-deflate accepted: %r", compressor)
        return answer, compressor
    return None
