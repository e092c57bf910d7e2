"""Frames through a whole protocol object: ours against picows, bytes in, messages out.

Also printed at the end of ``benchmarks/frames.py``. Run from the repository root::

    .venv/bin/python benchmarks/frames_protocol.py            # about 30 seconds
    .venv/bin/python benchmarks/frames_protocol.py --quick    # under 10 seconds

What is measured: a server-side protocol object is fed a receive buffer of masked client
frames (binary, 16 B to 1 KiB payloads, back to back, in 64 KiB reads as a socket would hand
them over) and gives every message to the application:

* **ours**: ``websocket.protocol.Protocol(Role.SERVER)``: ``receive_data(chunk, now)`` then
  ``events_received()`` (a list of ``Message`` events). The row uses whatever
  ``websocket.frames`` picked at import (the C speedup when built); ``ours (py)`` empties the
  seam (the pure-Python reference).
* **picows**: ``picows.WSProtocol`` (Cython), server side, after its upgrade handshake: each
  chunk is copied into ``get_buffer()`` and announced with ``buffer_updated()``, and its
  ``WSListener.on_ws_frame`` callback takes each frame's payload as ``bytes`` (what a message
  event carries in ours). The transport below it is a stub that swallows writes.

Every batch checks its frame count. Rates are frames per second (best of several
time-bounded batches); the ratio is ours / picows (above 1: ours is faster).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from frames import measure, pure_python

from websocket.events import Message
from websocket.frames import Opcode, serialize_frame
from websocket.protocol import Protocol, Role

SIZES = (16, 125, 1024)
KEY = bytes.fromhex("37fa213d")
READ = 65536


def chunks_of(size: int, count: int) -> list[bytes]:
    payload = (bytes(range(256)) * (size // 256 + 1))[:size]
    header, data = serialize_frame(Opcode.BINARY, payload, mask_key=KEY)
    wire = (header + data) * count
    return [wire[i : i + READ] for i in range(0, len(wire), READ)]


def ours(chunks: list[bytes], count: int) -> Callable[[], object]:
    def run() -> object:
        proto = Protocol(Role.SERVER, now=0.0, ping_interval=None)
        got = 0
        for chunk in chunks:
            proto.receive_data(chunk, 0.0)
            for event in proto.events_received():
                if type(event) is Message:
                    got += 1
        assert got == count, got
        return got

    return run


class _StubTransport(asyncio.Transport):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return self._sock
        if name in ("peername", "sockname"):
            return ("127.0.0.1", 0)
        return default

    def write(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


def picows_factory(loop: asyncio.AbstractEventLoop) -> Callable[[list[bytes], int], Any] | None:
    try:
        import picows  # noqa: PLC0415
        from picows.picows import WSProtocol  # noqa: PLC0415
    except ImportError:
        return None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    logger = logging.getLogger("bench.picows")
    logger.setLevel(logging.WARNING)

    class Listener(picows.WSListener):  # type: ignore[misc]
        got = 0

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            frame.get_payload_as_bytes()
            Listener.got += 1

    upgrade = (
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )

    def feed(proto: Any, data: bytes) -> None:
        view = 0
        while view < len(data):
            buf = proto.get_buffer(-1)
            n = min(len(buf), len(data) - view)
            buf[:n] = data[view : view + n]
            proto.buffer_updated(n)
            view += n

    def make(chunks: list[bytes], count: int) -> Callable[[], object]:
        def run() -> object:
            proto = WSProtocol(
                None, "/", False, lambda request: Listener(), logger, True, None,
                False, 10, 10, picows.WSAutoPingStrategy.PING_WHEN_IDLE, True,
                1 << 22, None, 1 << 17,
            )  # fmt: skip
            proto.connection_made(_StubTransport(sock))
            feed(proto, upgrade)
            Listener.got = 0
            for chunk in chunks:
                feed(proto, chunk)
            assert Listener.got == count, Listener.got
            return count

        return run

    return make


async def main_async(quick: bool) -> None:
    budget, repeat = (0.1, 3) if quick else (0.5, 5)
    make_picows = picows_factory(asyncio.get_running_loop())
    print("| size | ours | ours (py) | picows | ours/picows |")
    print("|---|---|---|---|---|")
    for size in SIZES:
        count = max(2, min(4000, (1 << 20) // (size + 14)))
        chunks = chunks_of(size, count)
        cells: dict[str, float] = {}
        runners: dict[str, Callable[[], object]] = {
            "ours": ours(chunks, count),
            "ours (py)": pure_python(ours(chunks, count)),
        }
        if make_picows is not None:
            runners["picows"] = make_picows(chunks, count)
        for name, run in runners.items():
            run()
            cells[name] = count / measure(run, budget, repeat)
        pic = cells.get("picows")
        theirs = f"{pic / 1e6:.2f} M/s | {cells['ours'] / pic:.2f}x |" if pic else "absent | - |"
        print(
            f"| {size} B | {cells['ours'] / 1e6:.2f} M/s | {cells['ours (py)'] / 1e6:.2f} M/s | "
            + theirs
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run")
    args = parser.parse_args()
    started = time.perf_counter()
    asyncio.run(main_async(args.quick))
    print(f"\nTotal run time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
