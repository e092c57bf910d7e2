"""``python -m socketio_core serve module:sio --workers N``: N processes behind one port.

Theory of operation
-------------------
The supervisor (this process) reserves the port (binds a socket with ``SO_REUSEPORT``, never
listens on it, so the kernel gives it no connection), then starts N worker processes, each
``python -m socketio_core serve module:sio --worker`` on the same port: each imports the
module, builds its own ``AsyncServer``, listens with ``SO_REUSEPORT`` and says so on a pipe
of its own (``--ready-fd``; its stdout and stderr are the supervisor's), and the kernel
spreads the incoming TCP connections over the workers (Linux hashes each connection's
addresses and ports; there is no affinity between the requests of a session).

So the HTTP requests of one long-polling session reach any worker, which is what the pub/sub
managers' request forwarding is for: the server must use a manager with
``forward_requests=True`` (e.g. ``AsyncRedisManager(url, forward_requests=True)``; Redis is
then the only extra moving part). A WebSocket-only deployment would not need it, but a server
that offers polling and has no forwarding is refused here, before any worker starts, because
every other polling request would be answered ``400 Session ID unknown``.

A worker that exits is started again after ``restart_delay`` (its clients reconnect to the
others meanwhile), and again with a doubling delay while it fails to start (the broker being
down, say): the others keep serving. At boot, a worker that does not start stops them all.
SIGTERM or SIGINT to the supervisor stops every worker (SIGTERM, which each worker answers by
closing its sessions, then SIGKILL after ``grace`` seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence

from .server import AsyncServer

__all__ = ["check_workers", "reserve_port", "supervise"]

logger = logging.getLogger(__name__)

#: The longest wait between two tries to start a worker that keeps failing.
MAX_RESTART_DELAY = 30.0


def check_workers(server: AsyncServer) -> None:
    """Refuse a server that cannot run as several workers behind one port.

    Raises:
        SystemExit: no ``SO_REUSEPORT`` on this OS, or polling without request forwarding.
    """
    if not hasattr(socket, "SO_REUSEPORT"):
        raise SystemExit("error: --workers needs SO_REUSEPORT (Linux, the BSDs)")
    polling = any(t.value == "polling" for t in server.eio.transports)
    if polling and server.manager.remote_sessions is None:
        raise SystemExit(
            "error: --workers needs a manager that forwards requests between processes, "
            "e.g. AsyncRedisManager(url, forward_requests=True) (or transports=['websocket'])"
        )


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind (without listening) a ``SO_REUSEPORT`` socket: holds the port, picks one for 0."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


async def _start_worker(
    argv: Sequence[str], ready_timeout: float
) -> asyncio.subprocess.Process | None:
    """Start one worker and wait until it serves; None (logged) if it does not."""
    # The worker says it serves on a pipe of its own (--ready-fd); its stdout and stderr are
    # ours, so that the application's output is never held in a pipe nobody reads (a worker
    # printing 64 KiB into one would block for good).
    read_fd, write_fd = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "socketio_core", *argv, "--ready-fd", str(write_fd),
            pass_fds=(write_fd,),
        )  # fmt: skip
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    line = await _read_ready_line(read_fd, ready_timeout)
    if not line:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        logger.warning("! a worker did not start (exit %s)", proc.returncode)
        return None
    return proc


async def _restart(
    argv: Sequence[str], ready_timeout: float, delay: float, stop: asyncio.Event
) -> asyncio.subprocess.Process | None:
    """Start a worker again after ``delay``, backing off while it fails; None once stopping."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)  # no restart storm; a stop cuts it short
        if stop.is_set():
            return None
        proc = await _start_worker(argv, ready_timeout)
        if proc is not None:
            return proc
        delay = min(2 * delay, MAX_RESTART_DELAY)
        logger.warning("! next try to start the worker in %.0f s", delay)


async def _read_ready_line(fd: int, timeout: float) -> bytes:
    """The first line written on the pipe ``fd`` (closed here), or b"" at EOF or timeout."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=4096)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    try:
        return await asyncio.wait_for(reader.readline(), timeout)
    except (TimeoutError, ValueError):  # ValueError: a line over the limit
        return b""
    finally:
        transport.close()


async def _stop(procs: Sequence[asyncio.subprocess.Process | None], grace: float) -> None:
    running = [proc for proc in procs if proc is not None]
    for proc in running:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
    for proc in running:
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def supervise(
    worker_argv: Sequence[str],
    count: int,
    *,
    banner: str,
    ready_timeout: float = 30.0,
    restart_delay: float = 1.0,
    grace: float = 10.0,
) -> None:
    """Run ``count`` workers until SIGTERM / SIGINT; restart a worker that exits.

    Args:
        worker_argv: the arguments of ``python -m socketio_core`` for one worker.
        count: how many workers.
        banner: printed once every worker serves.
        ready_timeout: how long a worker may take to print that it serves.
        restart_delay: the wait before a worker that exited is started again; doubled after
            each failed start, up to ``MAX_RESTART_DELAY``, while the other workers serve.
        grace: how long the workers have to stop before SIGKILL.
    """
    if count < 1:
        raise SystemExit("error: --workers must be >= 1")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    procs = list(
        await asyncio.gather(*(_start_worker(worker_argv, ready_timeout) for _ in range(count)))
    )
    if None in procs:  # at boot, a worker that cannot start is an error: stop the others
        await _stop(procs, grace)
        raise SystemExit("error: a worker did not start (its output is above)")
    print(banner, flush=True)
    try:
        while not stop.is_set():
            waits = {
                asyncio.ensure_future(p.wait()): i for i, p in enumerate(procs) if p is not None
            }
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait([*waits, stopping], return_when=asyncio.FIRST_COMPLETED)
            for task in [*waits, stopping]:
                task.cancel()
            if stop.is_set():
                break
            for task in done:
                if task in waits:
                    index = waits[task]
                    exited = procs[index]
                    assert exited is not None
                    logger.warning("! worker %d exited with %s", index, exited.returncode)
                    procs[index] = None
                    procs[index] = await _restart(worker_argv, ready_timeout, restart_delay, stop)
    finally:
        await _stop(procs, grace)
