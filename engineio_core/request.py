"""What both front doors (standalone server, ASGI app) know of an HTTP request, sans I/O.

:class:`HTTPRequest` is built by a front door from its own request representation (h11 events
or an ASGI scope) and handed to the server. This module also holds the per-request policy
that does not depend on a session: CORS (:func:`cors_headers`, :func:`origin_allowed`) and HTTP
compression of polling responses (:func:`compress_body`).
"""

from __future__ import annotations

import gzip
import urllib.parse
import zlib
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "HTTPRequest",
    "compress_body",
    "cors_headers",
    "origin_allowed",
    "parse_query",
]


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    """One HTTP request (a polling request or a WebSocket upgrade), as the server sees it.

    Attributes:
        method: ``GET``, ``POST``, ``OPTIONS``...
        path: the path, percent-decoded.
        query_string: the raw query string, without ``?``.
        headers: (name, value) pairs, names lowercased, in arrival order.
        client: the peer's (host, port) as the socket reports it, or None.
        scheme: ``http``, ``https``, ``ws`` or ``wss``.
        root_path: the ASGI root path, if any.
    """

    method: str
    path: str
    query_string: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    client: tuple[str, int] | None = None
    scheme: str = "http"
    root_path: str = ""
    query: dict[str, str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "query", parse_query(self.query_string))

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def environ(self) -> dict[str, Any]:
        """A WSGI-style environ, for code ported from python-engineio / python-socketio."""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.method,
            "PATH_INFO": self.path,
            "QUERY_STRING": self.query_string,
            "SCRIPT_NAME": self.root_path,
            "REMOTE_ADDR": self.client[0] if self.client else "",
            "REMOTE_PORT": str(self.client[1]) if self.client else "",
            "wsgi.url_scheme": self.scheme,
            "engineio.request": self,
        }
        for name, value in self.headers:
            key = "HTTP_" + name.upper().replace("-", "_")
            if name == "content-type":
                key = "CONTENT_TYPE"
            elif name == "content-length":
                key = "CONTENT_LENGTH"
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ


def parse_query(query_string: str) -> dict[str, str]:
    """The query parameters, the first value of each name counting (blank values kept).

    The same result as ``urllib.parse.parse_qsl(query_string, keep_blank_values=True)``;
    a query without ``%`` or ``+`` (an Engine.IO client's) takes a shorter way there.
    """
    query: dict[str, str] = {}
    if "%" in query_string or "+" in query_string:
        for name, value in urllib.parse.parse_qsl(query_string, keep_blank_values=True):
            query.setdefault(name, value)
        return query
    for part in query_string.split("&"):
        if part:
            name, _, value = part.partition("=")
            query.setdefault(name, value)
    return query


def origin_allowed(request: HTTPRequest, allowed: str | Collection[str] | None) -> bool:
    """Whether the request's ``Origin`` may use the server.

    Args:
        request: the request.
        allowed: ``"*"`` for any origin, a collection of origins, or None for the same
            origin only (the Origin's host must be the request's Host, with the same scheme
            family: http/ws or https/wss).

    A request without an Origin header (not from a browser) is always allowed.
    """
    origin = request.header("origin")
    if origin is None or allowed == "*":
        return True
    if allowed is None:
        host = request.header("host")
        if host is None:
            return False
        secure = request.scheme in ("https", "wss")
        expected = f"{'https' if secure else 'http'}://{host}"
        return origin.lower() == expected.lower()
    if isinstance(allowed, str):
        return origin == allowed
    return origin in allowed


def cors_headers(
    request: HTTPRequest, allowed: str | Collection[str] | None, *, credentials: bool
) -> list[tuple[str, str]]:
    """The CORS response headers for an allowed request (empty without an Origin)."""
    origin = request.header("origin")
    if origin is None or not origin_allowed(request, allowed):
        return []
    headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    if credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if request.method == "OPTIONS":
        headers.append(("Access-Control-Allow-Methods", "OPTIONS, GET, POST"))
        wanted = request.header("access-control-request-headers")
        if wanted:
            headers.append(("Access-Control-Allow-Headers", wanted))
    return headers


def compress_body(request: HTTPRequest, body: bytes, *, threshold: int) -> tuple[bytes, str | None]:
    """Compress a polling response body as the client accepts, if it is big enough.

    Returns:
        The body to send and the Content-Encoding to announce (None: uncompressed).
    """
    if len(body) < threshold:
        return body, None
    accepted = {
        token.split(";")[0].strip().lower()
        for token in (request.header("accept-encoding") or "").split(",")
    }
    if "gzip" in accepted:
        return gzip.compress(body, compresslevel=6, mtime=0), "gzip"
    if "deflate" in accepted:
        return zlib.compress(body, 6), "deflate"
    return body, None
