"""Command line: ``python -m socketio_core serve module:sio --host H --port P``.

Imports ``module`` and serves its ``AsyncServer`` attribute (``sio`` in the example) on the
standalone server: HTTP/1.1 long-polling and WebSocket on one port, at ``/socket.io/``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import ssl
import sys
from collections.abc import Sequence

from .aio import AsyncServer


def load_server(spec: str) -> AsyncServer:
    """Import ``module:attribute`` and return the AsyncServer it names.

    Raises:
        SystemExit: the spec is malformed, or does not name an AsyncServer.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise SystemExit(f"error: expected module:attribute, got {spec!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")  # like `python -m`, the current directory is importable
    module = importlib.import_module(module_name)
    server = getattr(module, attribute, None)
    if not isinstance(server, AsyncServer):
        raise SystemExit(f"error: {spec} is not a socketio_core.aio.AsyncServer")
    return server


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m socketio_core",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="-v for INFO logs, -vv for DEBUG"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve an AsyncServer on the standalone server")
    serve.add_argument("server", metavar="module:attribute")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--socketio-path", default="socket.io")
    serve.add_argument("--certfile", help="PEM certificate chain, to serve https / wss")
    serve.add_argument("--keyfile", help="PEM private key for --certfile")
    return parser


async def run(args: argparse.Namespace) -> None:
    """Serve until interrupted."""
    server = load_server(args.server)
    context = None
    if args.certfile:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.certfile, args.keyfile)
    async with server.listen(
        args.host, args.port, socketio_path=args.socketio_path, ssl=context
    ) as front:
        scheme = "https" if context else "http"
        host = args.host if ":" not in args.host else f"[{args.host}]"
        print(
            f"Socket.IO server on {scheme}://{host}:{front.port}/ "
            f"(path /{args.socketio_path.strip('/')}/)",
            flush=True,
        )
        await front.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m socketio_core``."""
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
