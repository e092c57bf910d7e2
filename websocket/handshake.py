"""The WebSocket opening handshake (RFC 6455 section 4) on h11, sans I/O.

Theory of operation
-------------------
h11 parses and serializes HTTP/1.1; this module adds the WebSocket rules on top. Both sides are
driven like h11 itself: feed bytes with ``receive_data`` / ``receive_eof``, pull events with
``next_event`` (None means "need more data"), and write what ``data_to_send`` returns.

Server::

    ServerHandshake ──next_event()──> Request ──accept()──> Accepted   (101 queued)
                    │                         ├─accept()──> HandshakeFailed (error queued)
                    │                         └─reject()──> (any non-101 response queued)
                    └─next_event()──> HandshakeFailed   (malformed HTTP, 431, EOF; error queued)

Client::

    ClientHandshake (request queued) ──next_event()──> Accepted | HandshakeFailed

After :class:`Accepted`, ``trailing_data`` holds the bytes that came after the HTTP head (the
peer's first frames may share a TCP segment with it); they belong to
:class:`websocket.protocol.Protocol`.

Rules this file keeps
---------------------
* Input methods never raise on bad peer input. A server that refuses a request has already queued
  the error response (status from the :exc:`InvalidHandshake`, ``Connection: close``, a short text
  body) when it reports :class:`HandshakeFailed`; a client reports :class:`HandshakeFailed` and
  the I/O layer closes the connection (section 4.1, "_Fail the WebSocket Connection_").
* Limits: ``max_header_bytes`` bounds the head (h11's ``max_incomplete_event_size`` while it is
  incomplete, our own check once complete, whatever the read boundaries) and
  ``max_header_count`` the number of header lines; both fail with 431. A request with both
  Content-Length and Transfer-Encoding is refused with 400 (RFC 9112 section 6.1). A client
  reads at most ``max_body`` bytes of a refusal's body.
* Header names are lowercase in :class:`Request` / :class:`Response` (h11 does that on input; we
  do it for what we send, which keeps the usual capitalization on the wire). Lookups are
  case-insensitive.
"""

from __future__ import annotations

import base64
import enum
import logging
import secrets
from collections.abc import Callable, Sequence

import h11

from .deflate import DeflateOptions, PerMessageDeflate, client_accept, client_offer
from .exceptions import (
    InvalidHandshake,
    InvalidStatus,
    InvalidUpgrade,
    InvalidVersion,
    LocalProtocolError,
    NegotiationError,
    TooManyHeaders,
)
from .headers import build_subprotocols, parse_connection, parse_subprotocols, parse_upgrade
from .http11 import (
    GUID,
    Accepted,
    HandshakeFailed,
    Headers,
    Request,
    Response,
    UpgradePolicy,
    accept_key,
    check_request_head,
    decode_headers,
    header_values,
    log_head,
    lower_headers,
    reason_phrase,
)

__all__ = [
    "GUID",
    "Accepted",
    "ClientHandshake",
    "HandshakeFailed",
    "Request",
    "Response",
    "ServerHandshake",
    "accept_key",
]

logger = logging.getLogger(__name__)


class _State(enum.Enum):
    """Where a handshake stands."""

    RECEIVING = "receiving"  # waiting for the peer's head
    REQUEST_RECEIVED = "request received"  # server: Request reported, accept/reject pending
    READING_BODY = "reading body"  # client: reading the body of a refusal
    DONE = "done"


class _Side:
    """What both sides share: the h11 connection, byte accounting, head limits, output."""

    def __init__(
        self, role: type[h11.CLIENT] | type[h11.SERVER], max_count: int, max_bytes: int
    ) -> None:
        self._h11 = h11.Connection(role, max_incomplete_event_size=max_bytes)
        self._max_count = max_count
        self._max_bytes = max_bytes
        self._received = 0
        self._eof = False
        self._out: list[bytes] = []
        self._state = _State.RECEIVING
        self.debug = logger.isEnabledFor(logging.DEBUG)

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the transport.

        Raises:
            LocalProtocolError: called after :meth:`receive_eof`.
        """
        if self._eof:
            raise LocalProtocolError("receive_data() after receive_eof()")
        if data:
            self._received += len(data)
            self._h11.receive_data(data)

    def receive_eof(self) -> None:
        """The transport reached end of file."""
        if not self._eof:
            self._eof = True
            self._h11.receive_data(b"")

    def data_to_send(self) -> bytes:
        """Return and forget the bytes to write."""
        out = b"".join(self._out)
        self._out.clear()
        return out

    @property
    def done(self) -> bool:
        """Whether the handshake is over (accepted, refused or failed)."""
        return self._state is _State.DONE

    def _check_head(self, headers: Headers) -> None:
        """Raise TooManyHeaders if the head just parsed is over a limit."""
        if len(headers) > self._max_count:
            raise TooManyHeaders(f"more than {self._max_count} headers")
        size = self._received - len(self._h11.trailing_data[0])
        if size > self._max_bytes:
            raise TooManyHeaders(f"HTTP head of {size} bytes, over {self._max_bytes}")

    @staticmethod
    def _http_error(exc: h11.RemoteProtocolError, what: str) -> InvalidHandshake:
        """Turn an h11 parse error into the matching InvalidHandshake."""
        if exc.error_status_hint == 431:
            return TooManyHeaders(f"HTTP head over the size limit: {exc}")
        return InvalidHandshake(f"malformed HTTP {what}: {exc}", exc.error_status_hint)

    def _send(self, build: Callable[[], list[h11.Event]]) -> None:
        """Serialize the h11 events ``build`` makes (h11 validates them) into the output."""
        try:
            for event in build():
                data = self._h11.send(event)
                if data:
                    self._out.append(data)
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(f"cannot send this HTTP message: {exc}") from exc


class ServerHandshake(_Side):
    """The server side of the opening handshake (RFC 6455 section 4.2).

    Args:
        subprotocols: supported subprotocols, most preferred first.
        select_subprotocol: overrides ``subprotocols``: called with the request and the client's
            offers, returns the one to use (it must be one of the offers) or None.
        deflate: permessage-deflate settings, or None to decline all extensions.
        check_origin: called with the ``Origin`` header (None if absent); False refuses with 403.
        max_header_count: most header lines accepted (431 beyond).
        max_header_bytes: largest request head accepted in bytes (431 beyond).
        server_header: the ``Server`` header value, or None to send none.
    """

    def __init__(
        self,
        *,
        subprotocols: Sequence[str] = (),
        select_subprotocol: Callable[[Request, Sequence[str]], str | None] | None = None,
        deflate: DeflateOptions | None = DeflateOptions(),  # noqa: B008 (frozen, immutable)
        check_origin: Callable[[str | None], bool] | None = None,
        max_header_count: int = 100,
        max_header_bytes: int = 16384,
        server_header: str | None = "socketio-stack",
    ) -> None:
        super().__init__(h11.SERVER, max_header_count, max_header_bytes)
        self.subprotocols = tuple(subprotocols)
        self.select_subprotocol = select_subprotocol
        self.deflate = deflate
        self.check_origin = check_origin
        self.server_header = server_header
        self.request: Request | None = None

    @property
    def trailing_data(self) -> bytes:
        """Bytes received after the request head (empty until the head is complete)."""
        if self.request is None:
            return b""
        return self._h11.trailing_data[0]

    def next_event(self) -> Request | HandshakeFailed | None:
        """Return the request once its head is complete, a failure, or None for more data.

        Never raises on bad input: a :class:`HandshakeFailed` comes with its error response
        already queued (except after a clean EOF before any byte, when nobody is listening).
        """
        if self._state is not _State.RECEIVING:
            return None
        try:
            event = self._h11.next_event()
        except h11.RemoteProtocolError as exc:
            return self._fail(self._http_error(exc, "request"))
        if event is h11.NEED_DATA:
            return None
        if isinstance(event, h11.ConnectionClosed):
            self._state = _State.DONE
            logger.debug("! connection closed before a request")
            return HandshakeFailed(InvalidHandshake("connection closed before a request"))
        # In its IDLE state h11 yields nothing but Request, NEED_DATA or ConnectionClosed.
        assert isinstance(event, h11.Request)
        headers = decode_headers(event.headers)
        problem = check_request_head(
            event.headers,
            self._received - len(self._h11.trailing_data[0]),
            max_header_count=self._max_count,
            max_header_bytes=self._max_bytes,
        )
        if problem is not None:
            status, why = problem
            return self._fail(TooManyHeaders(why) if status == 431 else InvalidHandshake(why))
        request = Request(
            method=event.method.decode("ascii"),
            target=event.target.decode("latin-1"),
            headers=headers,
            http_version=event.http_version.decode("ascii"),
        )
        if self.debug:
            log_head(
                logger,
                "<",
                f"{request.method} {request.target} HTTP/{request.http_version}",
                headers,
            )
        self.request = request
        self._state = _State.REQUEST_RECEIVED
        return request

    def accept(
        self, request: Request, *, extra_headers: Sequence[tuple[str, str]] = ()
    ) -> Accepted | HandshakeFailed:
        """Validate a WebSocket request (section 4.2.1) and queue the 101 or the refusal.

        Args:
            request: the request :meth:`next_event` returned.
            extra_headers: more headers for the 101 response.

        Returns:
            :class:`Accepted`, or :class:`HandshakeFailed` with the error response queued.

        Raises:
            LocalProtocolError: no request is pending, ``request`` is not it, the
                ``select_subprotocol`` hook chose a subprotocol the client did not offer, or an
                extra header cannot be sent.
        """
        if self._state is not _State.REQUEST_RECEIVED or request is not self.request:
            raise LocalProtocolError("accept() needs the request next_event() returned")
        try:
            subprotocol, compressor, headers = self._validate(request)
        except InvalidHandshake as exc:
            return self._fail(exc)
        headers += extra_headers
        reason = b"Switching Protocols"
        self._send(
            lambda: [h11.InformationalResponse(status_code=101, headers=headers, reason=reason)]
        )
        self._state = _State.DONE
        if self.debug:
            log_head(logger, ">", "HTTP/1.1 101 Switching Protocols", headers)
        response = Response(101, lower_headers(headers))
        return Accepted(request, response, subprotocol, compressor)

    def _validate(
        self, request: Request
    ) -> tuple[str | None, PerMessageDeflate | None, list[tuple[str, str]]]:
        """Check a request per section 4.2.1; return subprotocol, compressor, 101 headers."""
        policy = UpgradePolicy(
            self.subprotocols,
            self.select_subprotocol,
            self.deflate,
            self.check_origin,
            self.server_header,
        )
        negotiated = policy.negotiate(request)
        self._check_no_body()
        return negotiated

    def _check_no_body(self) -> None:
        """Let h11 see the end of the request, which must come without a body."""
        try:
            event = self._h11.next_event()
        except h11.RemoteProtocolError as exc:
            raise self._http_error(exc, "request") from exc
        if not isinstance(event, h11.EndOfMessage):
            raise InvalidHandshake("a WebSocket handshake request has no body")

    def reject(
        self, status: int, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
    ) -> None:
        """Queue a complete non-101 response, then ``Connection: close``.

        This refuses a WebSocket request, or answers a plain HTTP request.

        Args:
            status: the status code, 200 to 599.
            headers: extra headers; Content-Length is added (a given one must match the body),
                and Server if configured.
            body: the body.

        Raises:
            LocalProtocolError: no request is pending, the status is out of range, or the
                headers carry Transfer-Encoding, a wrong Content-Length, or cannot be sent.
        """
        if self._state is not _State.REQUEST_RECEIVED:
            raise LocalProtocolError("reject() needs a request from next_event()")
        if not 200 <= status <= 599:
            raise LocalProtocolError(f"reject() takes a final status (200-599), not {status}")
        self._respond(status, list(headers), body)
        logger.info("! refused HTTP request with %d", status)

    def _respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Queue a final response with Content-Length and Connection: close."""
        names = {name.lower() for name, _ in headers}
        lengths = header_values(lower_headers(headers), "content-length")
        if "transfer-encoding" in names or lengths not in ([], [str(len(body))]):
            raise LocalProtocolError("reject() sets Content-Length; Transfer-Encoding is refused")
        if not lengths:
            headers.append(("Content-Length", str(len(body))))
        if "connection" not in names:
            headers.append(("Connection", "close"))
        if self.server_header is not None and "server" not in names:
            headers.append(("Server", self.server_header))
        self._send(
            lambda: [
                h11.Response(status_code=status, headers=headers, reason=reason_phrase(status)),
                h11.Data(data=body),
                h11.EndOfMessage(),
            ]
        )
        self._state = _State.DONE
        if self.debug:
            log_head(logger, ">", f"HTTP/1.1 {status} {reason_phrase(status).decode()}", headers)

    def _fail(self, error: InvalidHandshake) -> HandshakeFailed:
        """Queue the error response for ``error`` and report it."""
        logger.info("! refused WebSocket handshake (%d): %s", error.status, error)
        headers = [("Content-Type", "text/plain; charset=utf-8")]
        if isinstance(error, InvalidVersion):
            headers.append(("Sec-WebSocket-Version", "13"))  # section 4.4
        elif error.status == 405:
            headers.append(("Allow", "GET"))
        body = f"Failed to open a WebSocket connection: {error}.\n".encode()
        self._respond(error.status, headers, body)
        return HandshakeFailed(error)


class ClientHandshake(_Side):
    """The client side of the opening handshake (RFC 6455 section 4.1); the request is queued.

    Args:
        host: the Host header value, with the port when it is not the scheme's default.
        resource: the request target (path and query).
        origin: the Origin header value, or None to send none.
        subprotocols: subprotocols to offer, most preferred first.
        deflate: permessage-deflate to offer, or None to offer no extension.
        extra_headers: more request headers.
        key_source: returns ``n`` random bytes; the key is 16 of them (section 4.1 item 7).
        max_header_count: most response header lines accepted.
        max_header_bytes: largest response head accepted in bytes.
        max_body: most bytes of a refusal's body kept for :exc:`InvalidStatus`.
    """

    def __init__(
        self,
        *,
        host: str,
        resource: str = "/",
        origin: str | None = None,
        subprotocols: Sequence[str] = (),
        deflate: DeflateOptions | None = DeflateOptions(),  # noqa: B008 (frozen, immutable)
        extra_headers: Sequence[tuple[str, str]] = (),
        key_source: Callable[[int], bytes] = secrets.token_bytes,
        max_header_count: int = 100,
        max_header_bytes: int = 16384,
        max_body: int = 65536,
    ) -> None:
        super().__init__(h11.CLIENT, max_header_count, max_header_bytes)
        self.subprotocols = tuple(subprotocols)
        self.deflate = deflate
        self.max_body = max_body
        self.key = base64.b64encode(key_source(16)).decode("ascii")
        headers = [
            ("Host", host),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", self.key),
            ("Sec-WebSocket-Version", "13"),
        ]
        if origin is not None:
            headers.append(("Origin", origin))
        if subprotocols:
            headers.append(("Sec-WebSocket-Protocol", build_subprotocols(subprotocols)))
        if deflate is not None:
            headers.append(("Sec-WebSocket-Extensions", client_offer(deflate)))
        headers += extra_headers
        self.request = Request("GET", resource, lower_headers(headers))
        self._send(
            lambda: [
                h11.Request(method="GET", target=resource, headers=headers),
                h11.EndOfMessage(),
            ]
        )
        if self.debug:
            log_head(logger, ">", f"GET {resource} HTTP/1.1", headers)
        self._status = 0
        self._headers: Headers = ()
        self._body = bytearray()

    @property
    def trailing_data(self) -> bytes:
        """Bytes received after the 101 response head (the server's first frames)."""
        if self._state is not _State.DONE:
            return b""
        return self._h11.trailing_data[0]

    def next_event(self) -> Accepted | HandshakeFailed | None:
        """Return the outcome once the response is in, or None for more data.

        Never raises on bad input; a failure is reported as :class:`HandshakeFailed`.
        """
        while self._state is not _State.DONE:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                if self._state is _State.READING_BODY:
                    return self._refused()  # e.g. EOF before Content-Length bytes
                if self._eof:
                    return self._fail(
                        InvalidHandshake(f"connection closed before a response: {exc}")
                    )
                return self._fail(self._http_error(exc, "response"))
            if event is h11.NEED_DATA:
                return None
            if isinstance(event, h11.InformationalResponse):
                if event.status_code == 101:
                    return self._switched(decode_headers(event.headers))
                continue  # section 4.1 concerns 101 only; other 1xx are interim answers
            if isinstance(event, h11.Response):
                self._status = event.status_code
                self._headers = decode_headers(event.headers)
                try:
                    self._check_head(self._headers)
                except TooManyHeaders as exc:
                    return self._fail(exc)
                self._state = _State.READING_BODY
            elif isinstance(event, h11.Data):
                self._body += event.data[: self.max_body - len(self._body)]
                if len(self._body) >= self.max_body:
                    return self._refused()
            else:
                # h11 reports EOF before a response as an error, so only this is left.
                assert isinstance(event, h11.EndOfMessage)
                return self._refused()
        return None

    def _switched(self, headers: Headers) -> Accepted | HandshakeFailed:
        """Validate a 101 response (section 4.1, the client's checks)."""
        if self.debug:
            log_head(logger, "<", "HTTP/1.1 101", headers)
        response = Response(101, headers)
        try:
            self._check_head(headers)
            subprotocol, compressor = self._validate(response)
        except InvalidHandshake as exc:
            return self._fail(exc)
        self._state = _State.DONE
        logger.debug("= WebSocket handshake accepted")
        return Accepted(self.request, response, subprotocol, compressor)

    def _validate(self, response: Response) -> tuple[str | None, PerMessageDeflate | None]:
        """Section 4.1: the checks a client MUST make on the server's handshake."""
        # Item 2: "If the response lacks an |Upgrade| header field or the |Upgrade| header field
        # contains a value that is not an ASCII case-insensitive match for the value
        # "websocket", the client MUST _Fail the WebSocket Connection_."
        if parse_upgrade(response.header_values("upgrade")) != ["websocket"]:
            raise InvalidUpgrade("Upgrade header is not websocket")
        # Item 3: Connection must include the token "Upgrade".
        if "upgrade" not in parse_connection(response.header_values("connection")):
            raise InvalidUpgrade("Connection header does not contain upgrade")
        # Item 4: Sec-WebSocket-Accept must be base64(sha1(key + GUID)).
        if response.header_values("sec-websocket-accept") != [accept_key(self.key)]:
            raise InvalidUpgrade("Sec-WebSocket-Accept does not match the key")
        # Item 5: an extension "not present in the client's handshake" fails the connection.
        extensions = response.header_values("sec-websocket-extensions")
        compressor = None
        if self.deflate is not None:
            compressor = client_accept(extensions, self.deflate)
        elif extensions:
            raise NegotiationError("server accepted an extension we did not offer")
        # Item 6: a subprotocol "not present in the client's handshake" fails the connection.
        subprotocols = parse_subprotocols(response.header_values("sec-websocket-protocol"))
        if len(subprotocols) > 1:
            raise NegotiationError("server chose more than one subprotocol")
        subprotocol = subprotocols[0] if subprotocols else None
        if subprotocol is not None and subprotocol not in self.subprotocols:
            raise NegotiationError(f"server chose subprotocol {subprotocol!r} we did not offer")
        return subprotocol, compressor

    def _refused(self) -> HandshakeFailed:
        """Report a non-101 response with what was read of its body."""
        if self.debug:
            logger.debug("< HTTP/1.1 %d (%d bytes of body)", self._status, len(self._body))
        error = InvalidStatus(self._status, list(self._headers), bytes(self._body))
        return self._fail(error)

    def _fail(self, error: InvalidHandshake) -> HandshakeFailed:
        """Finish with a failure."""
        self._state = _State.DONE
        logger.info("! WebSocket handshake failed: %s", error)
        return HandshakeFailed(error)
