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
import contextlib
import importlib
import logging
import signal
import ssl
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from .aio import AsyncServer
from .aio.bench import Bench
from .aio.check import run_check
from .aio.workers import check_workers, reserve_port, supervise
from .bench import BenchResult, render_bench, results_json
from .check import Contract, Verdict, render_table, results_to_json
from .exceptions import MissingDependency


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
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="N processes behind the port (SO_REUSEPORT); needs request forwarding "
        "(AsyncRedisManager(url, forward_requests=True)): see docs/scaling.md",
    )
    serve.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)  # a worker's ready pipe
    add_check_parser(sub)
    add_bench_parser(sub)
    return parser


def add_bench_parser(sub: Any) -> None:
    """The ``bench`` subcommand: load against a server keeping the bench contract."""
    b = sub.add_parser("bench", help="load generator: echo+ack, fan-out, connect rate, memory")
    b.add_argument("url", help="the server's base URL, e.g. http://127.0.0.1:5000")
    b.add_argument("--path", default="/socket.io/")
    b.add_argument(
        "--scenario",
        action="append",
        choices=["echo", "polling", "fanout", "connect", "idle"],
        help="repeatable; default: echo, polling, fanout, connect (and idle with --server-pid)",
    )
    b.add_argument(
        "-c",
        "--clients",
        type=int,
        action="append",
        metavar="C",
        help="echo concurrency, repeatable (default 1, 10, 100)",
    )
    b.add_argument("--receivers", type=int, default=1000, help="fan-out receivers")
    b.add_argument("--ticks", type=int, default=100, help="emits per fan-out trigger")
    b.add_argument("--triggers", type=int, default=10, help="fan-out triggers")
    b.add_argument("--sessions", type=int, default=2000, help="connect / idle sessions")
    b.add_argument("--inflight", type=int, default=100, help="connects in flight")
    b.add_argument("--warmup", type=float, default=1.0, metavar="SECONDS")
    b.add_argument("--duration", type=float, default=5.0, metavar="SECONDS")
    b.add_argument("--size", type=int, default=64, help="echo payload characters")
    b.add_argument("--settle", type=float, default=2.0, metavar="SECONDS")
    b.add_argument("--server-pid", type=int, help="the server's pid: its CPU use and memory")
    b.add_argument("--json", metavar="FILE", help="write the results as JSON")
    b.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    b.add_argument(
        "--loop",
        choices=["auto", "asyncio", "uvloop"],
        default="auto",
        help="the bench's event loop; auto: uvloop when installed (the [uvloop] extra)",
    )


async def run_bench(args: argparse.Namespace) -> list[BenchResult]:
    """Run the chosen scenarios, one after the other."""
    bench = Bench(
        args.url,
        path=args.path,
        server_pid=args.server_pid,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    chosen = args.scenario or ["echo", "polling", "fanout", "connect"] + (
        ["idle"] if args.server_pid else []
    )
    results: list[BenchResult] = []
    for scenario in chosen:
        if scenario in ("echo", "polling"):
            for c in args.clients or [1, 10, 100]:
                run = bench.echo_websocket if scenario == "echo" else bench.echo_polling
                results.append(
                    await run(c, warmup=args.warmup, duration=args.duration, size=args.size)
                )
        elif scenario == "fanout":
            results.append(
                await bench.fanout(args.receivers, ticks=args.ticks, triggers=args.triggers)
            )
        elif scenario == "connect":
            results.append(await bench.connect(args.sessions, inflight=args.inflight))
        else:
            results.append(
                await bench.idle(args.sessions, inflight=args.inflight, settle=args.settle)
            )
    return results


def run_bench_command(args: argparse.Namespace) -> int:
    """Run ``bench``: print the table, write the JSON; 1 if any scenario had errors."""
    factory = None
    if args.loop != "asyncio":
        try:
            import uvloop  # noqa: PLC0415 (optional: the [uvloop] extra)

            factory = uvloop.new_event_loop
        except ImportError:
            if args.loop == "uvloop":
                raise MissingDependency("uvloop", "uvloop") from None
    with asyncio.Runner(loop_factory=factory) as runner:
        results = runner.run(run_bench(args))
    loop_name = "uvloop" if factory is not None else "asyncio"
    print(render_bench(results, title=f"Socket.IO bench of {args.url}{args.path} ({loop_name})"))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(results_json(results, url=args.url, settings=vars(args)))
    return 1 if any(r.errors for r in results) else 0


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
        args.host, args.port, socketio_path=args.socketio_path, ssl=context, reuse_port=args.worker
    ) as front:
        scheme = "https" if context else "http"
        host = args.host if ":" not in args.host else f"[{args.host}]"
        banner = (
            f"Socket.IO server on {scheme}://{host}:{front.port}/ "
            f"(path /{args.socketio_path.strip('/')}/)"
        )
        if args.ready_fd is None:
            print(banner, flush=True)
        else:  # a worker of --workers: tell the supervisor only (socketio_core.aio.workers)
            with open(args.ready_fd, "w", encoding="utf-8") as ready:
                ready.write(banner + "\n")
        await serve_until_sigterm(front.serve_forever())


async def serve_until_sigterm(serving: Coroutine[Any, Any, None]) -> None:
    """Run ``serving`` until it ends or SIGTERM arrives (then cancel it: the front door and
    the server shut down, closing every session, as on Ctrl-C); how ``--workers`` stops its
    workers, and how container runtimes stop a process."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(serving)
    no_handlers = (NotImplementedError, RuntimeError, ValueError)  # Windows, not the main thread
    with contextlib.suppress(*no_handlers):
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # we were cancelled ourselves (Ctrl-C): not SIGTERM
    finally:
        with contextlib.suppress(*no_handlers):
            loop.remove_signal_handler(signal.SIGTERM)


async def run_workers(args: argparse.Namespace) -> None:
    """``serve --workers N``: N worker processes on one port (socketio_core.aio.workers)."""
    check_workers(load_server(args.server))
    reserved = reserve_port(args.host, args.port)
    port = reserved.getsockname()[1]
    argv = ["serve", args.server, "--host", args.host, "--port", str(port), "--worker"]
    argv += ["--socketio-path", args.socketio_path]
    if args.certfile:
        argv += ["--certfile", args.certfile] + (
            ["--keyfile", args.keyfile] if args.keyfile else []
        )
    argv += ["-v"] * args.verbose
    scheme = "https" if args.certfile else "http"
    host = args.host if ":" not in args.host else f"[{args.host}]"
    banner = (
        f"Socket.IO server on {scheme}://{host}:{port}/ "
        f"(path /{args.socketio_path.strip('/')}/, {args.workers} workers)"
    )
    try:
        await supervise(argv, args.workers, banner=banner)
    finally:
        reserved.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m socketio_core``."""
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(message)s")
    if args.command == "check":
        return run_check_command(args)
    if args.command == "bench":
        return run_bench_command(args)
    try:
        if args.workers > 1:
            asyncio.run(run_workers(args))
        else:
            asyncio.run(run(args))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
