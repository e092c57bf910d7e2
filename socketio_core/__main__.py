"""Command line: ``python -m socketio_core serve module:sio``, ``check URL``, ``bench URL``.

``serve``:
Imports ``module`` and serves its ``AsyncServer`` attribute (``sio`` in the example) on the
standalone server: HTTP/1.1 long-polling and WebSocket on one port, at ``/socket.io/``.

``check URL``: an Engine.IO v4 / Socket.IO v5 conformance run against any server keeping the
echo contract of the official test suites (``--engineio`` for a plain Engine.IO echo server).
Exit status 0 only if every case passed or was skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import ssl
import sys
from collections.abc import Sequence
from typing import Any

from .aio import AsyncServer
from .aio.check import run_check
from .check import Contract, Verdict, render_table, results_to_json


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
    add_check_parser(sub)
    return parser


def add_check_parser(sub: Any) -> None:
    """The ``check`` subcommand and its flags (the echo contract's names among them)."""
    chk = sub.add_parser("check", help="conformance run against an Engine.IO / Socket.IO server")
    chk.add_argument("url", help="the server's base URL, e.g. http://127.0.0.1:3000")
    chk.add_argument("--path", default="/socket.io/", help="the Engine.IO path")
    chk.add_argument("--engineio", action="store_true", help="a plain Engine.IO echo server")
    chk.add_argument("--namespace", default="/custom", help="a namespace that accepts CONNECT")
    chk.add_argument("--refused-namespace", default="/random", help="a namespace that refuses")
    chk.add_argument("--only", action="append", default=[], metavar="GROUP")
    chk.add_argument("--json", metavar="FILE", help="write the results as JSON")
    chk.add_argument("--echo-event", default="message")
    chk.add_argument("--echo-back-event", default="message-back")
    chk.add_argument("--ack-event", default="message-with-ack")
    chk.add_argument("--auth-event", default="auth")
    chk.add_argument("--connect-timeout", type=float, default=None, metavar="SECONDS")
    chk.add_argument(
        "--max-wait",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="heartbeat and timeout cases waiting longer are skipped",
    )
    chk.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how long to wait for an answer that must come",
    )
    chk.add_argument("--concurrency", type=int, default=8)


def run_check_command(args: argparse.Namespace) -> int:
    """Run ``check``: print the table, write the JSON; 0 only if no case failed."""
    contract = Contract(
        path=args.path,
        echo=args.echo_event,
        echo_back=args.echo_back_event,
        ack=args.ack_event,
        auth=args.auth_event,
        namespace=args.namespace,
        refused=args.refused_namespace,
        engineio=args.engineio,
        connect_timeout=args.connect_timeout,
        max_wait=args.max_wait,
        timeout=args.timeout,
    )
    results = asyncio.run(
        run_check(args.url, contract=contract, only=args.only, concurrency=args.concurrency)
    )
    kind = "Engine.IO v4" if args.engineio else "Engine.IO v4 / Socket.IO v5"
    print(render_table(results, title=f"{kind} conformance of {args.url}{args.path}"))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(results_to_json(results, url=args.url, contract=vars(args)))
    return 1 if any(r.verdict is Verdict.FAIL for r in results) else 0


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
        await server._start_manager()
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
    if args.command == "check":
        return run_check_command(args)
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
