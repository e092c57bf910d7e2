"""Command line: ``python -m websocket serve`` (echo server) and ``python -m websocket connect``.

Examples::

    python -m websocket serve --host 127.0.0.1 --port 8765
    python -m websocket serve --port 8765 --max-size 65536 --no-compression
    python -m websocket connect ws://127.0.0.1:8765/
    python -m websocket check ws://127.0.0.1:8765/ [--only utf8] [--strict] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import ssl
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .aio import Connection, ConnectionOptions, connect, serve
from .aio.check import run_check
from .check import Verdict, render_table, results_to_json
from .deflate import DeflateOptions
from .exceptions import ConnectionClosed, WebSocketError

logger = logging.getLogger(__name__)


async def echo(conn: Connection) -> None:
    """Send every message back as it came: text as text, binary as binary."""
    # A peer that closes while echoes are due is ordinary, not a handler failure to log.
    with contextlib.suppress(ConnectionClosed):
        async for message in conn:
            await conn.send(message)


def _stdin_lines(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str]:
    """Lines typed on stdin, then "" at end of file.

    A daemon thread reads them: a thread blocked in ``readline`` must not keep the process
    alive once the connection is over (``asyncio.to_thread`` would, at interpreter exit).
    """
    queue: asyncio.Queue[str] = asyncio.Queue()

    def pump() -> None:
        try:
            for line in iter(sys.stdin.readline, ""):
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, "")
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            return

    threading.Thread(target=pump, name="stdin", daemon=True).start()
    return queue


def _options(args: argparse.Namespace) -> ConnectionOptions:
    return ConnectionOptions(
        max_size=args.max_size,
        max_fragments=args.max_fragments,
        max_buffered=args.max_buffered,
        max_queue=args.max_queue,
        close_timeout=args.close_timeout,
        ping_interval=args.ping_interval or None,
        ping_timeout=args.ping_timeout or None,
    )


async def run_server(args: argparse.Namespace) -> None:
    """Run the echo server until interrupted."""
    ssl_context = None
    if args.certfile:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(args.certfile, args.keyfile)
    compression = None if args.no_compression else DeflateOptions()
    async with serve(
        echo,
        args.host,
        args.port,
        ssl=ssl_context,
        compression=compression,
        max_header_count=args.max_header_count,
        max_header_bytes=args.max_header_bytes,
        handshake_timeout=args.handshake_timeout,
        options=_options(args),
    ) as server:
        scheme = "wss" if ssl_context else "ws"
        for sock in server.sockets:
            host, port = sock.getsockname()[:2]
            host = f"[{host}]" if ":" in host else host
            print(f"echo server listening on {scheme}://{host}:{port}/", flush=True)
        await server.serve_forever()


async def run_client(args: argparse.Namespace) -> None:
    """Send each line typed on stdin; print each message received."""
    compression = None if args.no_compression else DeflateOptions()
    async with connect(args.uri, compression=compression, options=_options(args)) as conn:
        print(f"connected to {args.uri}; type a line to send it, Ctrl-D to close", flush=True)

        async def printer() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for message in conn:
                    shown = message if isinstance(message, str) else f"<binary {message!r}>"
                    print(f"< {shown}", flush=True)

        printing = asyncio.create_task(printer())
        lines = _stdin_lines(asyncio.get_running_loop())
        while True:
            # Wait for a line or for the end of the connection, whichever comes first.
            getting = asyncio.ensure_future(lines.get())
            await asyncio.wait({getting, printing}, return_when=asyncio.FIRST_COMPLETED)
            if not getting.done():
                getting.cancel()
                break
            line = getting.result()
            if not line:
                break
            try:
                await conn.send(line.rstrip("\n"))
            except ConnectionClosed:
                break
        await conn.close()
        await printing
        print(f"closed: {conn.close_code} {conn.close_reason}", flush=True)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser, with a flag for every limit."""
    parser = argparse.ArgumentParser(
        prog="python -m websocket",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v for INFO logs, -vv for DEBUG (every frame)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    srv = sub.add_parser("serve", help="run an echo server")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8765)
    srv.add_argument("--certfile", help="PEM certificate chain, to serve wss://")
    srv.add_argument("--keyfile", help="PEM private key for --certfile")
    srv.add_argument("--max-header-count", type=int, default=100, metavar="N")
    srv.add_argument("--max-header-bytes", type=int, default=16384, metavar="BYTES")
    srv.add_argument("--handshake-timeout", type=float, default=10.0, metavar="SECONDS")
    cli = sub.add_parser("connect", help="an interactive client")
    cli.add_argument("uri")
    for p in (srv, cli):
        p.add_argument(
            "--max-size",
            type=int,
            default=2**20,
            metavar="BYTES",
            help="largest message accepted (default 1 MiB)",
        )
        p.add_argument(
            "--max-fragments", type=int, default=4096, metavar="N", help="most frames per message"
        )
        p.add_argument(
            "--max-buffered",
            type=int,
            default=None,
            metavar="BYTES",
            help="most wire bytes held for an unfinished message",
        )
        p.add_argument(
            "--max-queue",
            type=int,
            default=32,
            metavar="N",
            help="received messages held before reading pauses",
        )
        p.add_argument("--close-timeout", type=float, default=10.0, metavar="SECONDS")
        p.add_argument(
            "--ping-interval",
            type=float,
            default=20.0,
            metavar="SECONDS",
            help="keepalive ping interval, 0 to disable",
        )
        p.add_argument("--ping-timeout", type=float, default=20.0, metavar="SECONDS")
        p.add_argument(
            "--no-compression",
            action="store_true",
            help="refuse permessage-deflate (on by default)",
        )
    add_check_parser(sub)
    return parser


def add_check_parser(sub: Any) -> None:
    """The ``check`` subcommand: RFC 6455 conformance of an echo server."""
    chk = sub.add_parser("check", help="check an echo server against RFC 6455")
    chk.add_argument("uri")
    chk.add_argument("--only", action="append", default=[], metavar="GROUP")
    chk.add_argument("--strict", action="store_true", help="non-strict verdicts fail too")
    chk.add_argument("--json", metavar="FILE", help="write the results as JSON")
    chk.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS")


def run_check_command(args: argparse.Namespace) -> int:
    """Run ``check``; exit status 0 only if no case failed."""
    results = asyncio.run(run_check(args.uri, only=args.only, timeout=args.timeout))
    print(render_table(results, title=f"RFC 6455 conformance of {args.uri}"))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(results_to_json(results))
    bad = {Verdict.FAIL, Verdict.NON_STRICT} if args.strict else {Verdict.FAIL}
    return 1 if any(r.verdict in bad for r in results) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m websocket``."""
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(message)s")
    if args.command == "check":
        return run_check_command(args)
    try:
        asyncio.run(run_server(args) if args.command == "serve" else run_client(args))
    except KeyboardInterrupt:
        return 0
    except (WebSocketError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
