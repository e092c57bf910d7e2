"""Benchmark the frame codec against wsproto's and websockets' frame code.

Run from the repository root::

    .venv/bin/python benchmarks/frames.py            # about 1.5 minutes
    .venv/bin/python benchmarks/frames.py --quick    # under 20 seconds

What is measured, for payloads of 16 B, 125 B, 1 KiB, 64 KiB and 1 MiB, masked and unmasked:

* **parse**: turn a buffer holding many binary frames back to back (a receive buffer) into
  frame objects. Each library takes its shortest public path from received bytes to frames:
  ours calls ``parse_frame`` on the buffer in place (it keeps no buffer of its own); wsproto
  feeds a ``FrameDecoder`` and calls ``process_buffer()`` until it returns None; websockets
  feeds a ``StreamReader`` and drives ``Frame.parse`` from one generator, as its
  ``Protocol.parse`` does. The ``ours`` row uses whatever ``websocket.frames`` picked at import
  (the C speedup ``websocket._speedups`` when it is built); the ``ours (py)`` row runs the same
  code with the seam emptied, i.e. the pure-Python reference. The ``ours+rx`` row adds what our
  protocol layer does around the codec (``buf += data`` into a ``bytearray``, parse,
  ``del buf[:pos]``).
* **serialize**: one binary frame from a payload. Masked frames draw a fresh key from
  ``os.urandom(4)`` (wsproto does the same, websockets uses ``secrets.token_bytes(4)``). Ours
  returns ``(header, payload)`` for ``writelines``; the ``ours+join`` row joins them.
* **protocol** (last table, from ``frames_protocol.py``): masked client frames of 16 B to
  1 KiB through a whole server-side protocol object, bytes in and message events out: our
  ``websocket.protocol.Protocol`` against picows's ``WSProtocol`` (Cython).
* **mask**: raw masking throughput of ours ``apply_mask`` (C, and pure Python as ``ours (py)``),
  websockets' pure-Python ``utils.apply_mask`` and C ``speedups.apply_mask``, wsproto's
  ``XorMaskerSimple``, and a plain ``bytes`` copy of the same size as the ceiling.

Set ``WEBSOCKET_NO_SPEEDUPS=1`` to make every ``ours`` row pure Python.

Every cell is the best of several time-bounded batches (like ``timeit``). MB/s counts payload
bytes (1 MB = 10**6 bytes). Ratios are ours / theirs: above 1 means ours is faster.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import websockets
import websockets.frames as ws_frames
import websockets.utils as ws_utils
import wsproto
from websockets.streams import StreamReader
from wsproto import frame_protocol as wp

from websocket import frames as our_frames
from websocket.frames import Opcode, apply_mask, parse_frame, serialize_frame

try:
    from websockets import speedups as ws_speedups
except ImportError:  # pragma: no cover - the C extension is optional
    ws_speedups = None

SIZES = (16, 125, 1024, 65536, 1 << 20)
KEY = bytes.fromhex("37fa213d")
MAX_SIZE = 1 << 22
BINARY = Opcode.BINARY
urandom = os.urandom


def size_label(n: int) -> str:
    """Human label of a payload size."""
    if n >= 1 << 20:
        return f"{n >> 20} MiB"
    if n >= 1024:
        return f"{n >> 10} KiB"
    return f"{n} B"


def frames_per_batch(size: int) -> int:
    """How many frames one batch handles: enough to amortise the timer, bounded in memory."""
    return max(2, min(2000, (1 << 19) // (size + 14)))


def payload_of(size: int) -> bytes:
    """A deterministic, non-trivial payload."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def wire_of(size: int, count: int, masked: bool) -> bytes:
    """``count`` binary frames back to back, masked with KEY when ``masked``."""
    header, data = serialize_frame(BINARY, payload_of(size), mask_key=KEY if masked else None)
    return (header + data) * count


def measure(func: Callable[[], object], budget: float, repeat: int) -> float:
    """Best time of one call of ``func``, out of ``repeat`` rounds sharing ``budget`` seconds."""
    timer = time.perf_counter
    best = float("inf")
    gc_was_enabled = gc.isenabled()
    gc.disable()  # like timeit: the collector's pauses are noise here
    per_round = budget / repeat
    for _ in range(repeat):
        start = timer()
        while True:
            t0 = timer()
            func()
            t1 = timer()
            best = min(best, t1 - t0)
            if t1 - start >= per_round:
                break
    if gc_was_enabled:
        gc.enable()
    return best


# --------------------------------------------------------------------------- parse


def pure_python(func: Callable[[], object]) -> Callable[[], object]:
    """``func`` with the speedup seam of websocket.frames emptied: the pure-Python reference."""

    def run() -> object:
        saved = our_frames._c_apply_mask, our_frames._c_unmask_at, our_frames._c_simple_frames
        our_frames._c_apply_mask = our_frames._c_unmask_at = our_frames._c_simple_frames = None
        try:
            return func()
        finally:
            our_frames._c_apply_mask, our_frames._c_unmask_at, our_frames._c_simple_frames = saved

    return run


def ours_parse(wire: bytes | bytearray, masked: bool, count: int) -> Callable[[], object]:
    """parse_frame over a receive buffer, in place."""
    buf = bytearray(wire)

    def run() -> object:
        pos = 0
        frames = []
        append = frames.append
        while True:
            parsed = parse_frame(buf, pos, max_size=MAX_SIZE, mask_required=masked)
            if parsed is None:
                break
            frame, pos = parsed
            append(frame)
        assert len(frames) == count
        return frames

    return run


def ours_rx_parse(wire: bytes, masked: bool, count: int) -> Callable[[], object]:
    """What websocket.protocol does around the codec: append, parse, discard."""

    def run() -> object:
        buf = bytearray()
        buf += wire
        pos = 0
        frames = []
        append = frames.append
        while True:
            parsed = parse_frame(buf, pos, max_size=MAX_SIZE, mask_required=masked)
            if parsed is None:
                break
            frame, pos = parsed
            append(frame)
        del buf[:pos]
        assert len(frames) == count
        return frames

    return run


def wsproto_parse(wire: bytes, masked: bool, count: int) -> Callable[[], object]:
    """wsproto FrameDecoder: receive_bytes, then process_buffer until None."""

    def run() -> object:
        decoder = wp.FrameDecoder(client=not masked)
        decoder.receive_bytes(wire)
        frames = []
        append = frames.append
        process = decoder.process_buffer
        while (frame := process()) is not None:
            append(frame)
        assert len(frames) == count
        return frames

    return run


def websockets_parse(wire: bytes, masked: bool, count: int) -> Callable[[], object]:
    """websockets Frame.parse driven by one generator over a StreamReader."""
    parse = ws_frames.Frame.parse

    def run() -> object:
        reader = StreamReader()
        read_exact = reader.read_exact
        frames: list[ws_frames.Frame] = []
        append = frames.append

        def parser():  # type: ignore[no-untyped-def]
            while True:
                frame = yield from parse(read_exact, mask=masked, max_size=MAX_SIZE, extensions=[])
                append(frame)

        gen = parser()
        next(gen)
        reader.feed_data(wire)
        next(gen)
        assert len(frames) == count
        return frames

    return run


# ----------------------------------------------------------------------- serialize


def ours_serialize(payload: bytes, masked: bool, count: int) -> Callable[[], object]:
    """serialize_frame: (header, payload) for writelines."""
    if masked:

        def run() -> object:
            out = None
            for _ in range(count):
                out = serialize_frame(BINARY, payload, mask_key=urandom(4))
            return out

    else:

        def run() -> object:
            out = None
            for _ in range(count):
                out = serialize_frame(BINARY, payload)
            return out

    return run


def ours_join_serialize(payload: bytes, masked: bool, count: int) -> Callable[[], object]:
    """serialize_frame, then header + payload as one bytes object."""

    def run() -> object:
        out = None
        for _ in range(count):
            header, data = serialize_frame(BINARY, payload, mask_key=urandom(4) if masked else None)
            out = header + data
        return out

    return run


def wsproto_serialize(payload: bytes, masked: bool, count: int) -> Callable[[], object]:
    """wsproto FrameProtocol.send_data (a client masks)."""
    proto = wp.FrameProtocol(client=masked, extensions=[])

    def run() -> object:
        out = None
        send = proto.send_data
        for _ in range(count):
            out = send(payload)
        return out

    return run


def websockets_serialize(payload: bytes, masked: bool, count: int) -> Callable[[], object]:
    """websockets Frame(...).serialize(mask=...)."""
    frame_cls = ws_frames.Frame
    opcode = ws_frames.Opcode.BINARY

    def run() -> object:
        out = None
        for _ in range(count):
            out = frame_cls(opcode, payload).serialize(mask=masked)
        return out

    return run


# ---------------------------------------------------------------------------- mask


def mask_funcs() -> dict[str, Callable[[bytes], object]]:
    """The masking implementations, each as a one-argument callable."""
    funcs: dict[str, Callable[[bytes], object]] = {"ours": lambda data: apply_mask(data, KEY)}
    if our_frames._c_apply_mask is not None:
        # The same call; main() empties the seam around each batch of this one.
        funcs["ours (py)"] = lambda data: apply_mask(data, KEY)
    funcs["websockets (py)"] = lambda data: ws_utils.apply_mask(data, KEY)
    if ws_speedups is not None:
        c_mask = ws_speedups.apply_mask
        funcs["websockets (C)"] = lambda data: c_mask(data, KEY)
    funcs["wsproto"] = lambda data: wp.XorMaskerSimple(KEY).process(bytearray(data))
    return funcs


def copy_ceiling(size: int, count: int) -> Callable[[], object]:
    """A plain bytes copy of ``size`` bytes out of a bytearray: the ceiling."""
    view = memoryview(bytearray(payload_of(size)))

    def run() -> object:
        out = None
        for _ in range(count):
            out = bytes(view)
        return out

    return run


# --------------------------------------------------------------------------- main


def rate(seconds: float, count: int, size: int) -> tuple[float, float]:
    """(frames per second, MB per second) of ``count`` frames of ``size`` bytes."""
    fps = count / seconds
    return fps, fps * size / 1e6


def fmt_rate(fps: float, mbps: float) -> str:
    """Frames/s and MB/s in a compact cell."""
    if fps >= 1e6:
        f = f"{fps / 1e6:.2f} M/s"
    elif fps >= 1e3:
        f = f"{fps / 1e3:.1f} k/s"
    else:
        f = f"{fps:.0f} /s"
    return f"{f}, {mbps:,.0f} MB/s"


def main() -> None:
    """Run every benchmark and print markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (under 20 s)")
    args = parser.parse_args()
    budget, repeat = (0.08, 3) if args.quick else (0.55, 5)

    started = time.perf_counter()
    speedups_active = ws_speedups is not None and ws_frames.apply_mask is getattr(
        ws_speedups, "apply_mask", None
    )
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    print(f"# WebSocket frame codec benchmark ({datetime.date.today().isoformat()})")
    print()
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, {cpu}"
    print(f"- Python {platform.python_version()} on {machine}")
    print(f"- wsproto {wsproto.__version__}, websockets {websockets.__version__}")
    print(f"- websockets C speedups for masking: {'active' if speedups_active else 'NOT active'}")
    ours_c = our_frames._c_apply_mask is not None
    print(f"- our C speedups (websocket._speedups): {'active' if ours_c else 'NOT active'}")
    print(f"- mode: {'--quick' if args.quick else 'full'} (budget {budget} s x {repeat} per cell)")
    print()
    print("| op | size | mask | ours | wsproto | websockets | ours/wsproto | ours/websockets |")
    print("|---|---|---|---|---|---|---|---|")
    ceilings: dict[int, float] = {}
    results: dict[tuple[str, str, int, bool], float] = {}
    for op in ("parse", "serialize"):
        for size in SIZES:
            count = frames_per_batch(size)
            for masked in (True, False):
                if op == "parse":
                    wire = wire_of(size, count, masked)
                    contenders = {
                        "ours": ours_parse(wire, masked, count),
                        "ours (py)": pure_python(ours_parse(wire, masked, count)),
                        "ours+rx": ours_rx_parse(wire, masked, count),
                        "wsproto": wsproto_parse(wire, masked, count),
                        "websockets": websockets_parse(wire, masked, count),
                    }
                else:
                    payload = payload_of(size)
                    contenders = {
                        "ours": ours_serialize(payload, masked, count),
                        "ours (py)": pure_python(ours_serialize(payload, masked, count)),
                        "ours+join": ours_join_serialize(payload, masked, count),
                        "wsproto": wsproto_serialize(payload, masked, count),
                        "websockets": websockets_serialize(payload, masked, count),
                    }
                fps = {}
                cells = {}
                for name, func in contenders.items():
                    func()  # warm up, and check the result
                    seconds = measure(func, budget, repeat)
                    fps[name], mbps = rate(seconds, count, size)
                    results[op, name, size, masked] = mbps
                    cells[name] = fmt_rate(fps[name], mbps)
                for ours in [n for n in contenders if n.startswith("ours")]:
                    print(
                        f"| {op} | {size_label(size)} | {'yes' if masked else 'no'} | "
                        f"{ours}: {cells[ours]} | {cells['wsproto']} | {cells['websockets']} | "
                        f"{fps[ours] / fps['wsproto']:.2f}x | "
                        f"{fps[ours] / fps['websockets']:.2f}x |"
                    )
                sys.stdout.flush()

    print()
    print("| mask | size | " + " | ".join([*mask_funcs(), "bytes copy"]) + " |")
    print("|---|---|" + "---|" * (len(mask_funcs()) + 1))
    for size in SIZES:
        count = frames_per_batch(size)
        data = payload_of(size)
        cells_m = []
        for name, func in mask_funcs().items():

            def run(
                func: Callable[[bytes], object] = func, data: bytes = data, count: int = count
            ) -> object:
                out = None
                for _ in range(count):
                    out = func(data)
                return out

            batch = pure_python(run) if name == "ours (py)" else run
            seconds = measure(batch, budget / 2, repeat)
            cells_m.append(f"{rate(seconds, count, size)[1]:,.0f} MB/s")
        seconds = measure(copy_ceiling(size, count), budget / 2, repeat)
        ceilings[size] = rate(seconds, count, size)[1]
        cells_m.append(f"{ceilings[size]:,.0f} MB/s")
        print(f"| mask | {size_label(size)} | " + " | ".join(cells_m) + " |")

    print()
    for who in ("ours", "ours (py)") if ours_c else ("ours",):
        print_targets(who, results, ceilings)
    print()
    print("Frames through a whole protocol object (masked client frames, bytes in, messages out;")
    print("see benchmarks/frames_protocol.py), ours against picows:")
    print()
    import asyncio  # noqa: PLC0415

    import frames_protocol  # noqa: PLC0415

    asyncio.run(frames_protocol.main_async(args.quick))
    print()
    print(f"Total run time: {time.perf_counter() - started:.1f} s")


def print_targets(
    who: str, results: dict[tuple[str, str, int, bool], float], ceilings: dict[int, float]
) -> None:
    """Which of the issue's targets the ``who`` rows meet."""
    print()
    print(f"Targets ({who}):")
    for size in SIZES[:3]:
        for op, masked in (("parse", True), ("serialize", False)):
            ours = results[op, who, size, masked]
            r1 = ours / results[op, "wsproto", size, masked]
            r2 = ours / results[op, "websockets", size, masked]
            ok = "met" if r1 >= 4 and r2 >= 1.5 else "NOT met"
            print(
                f"- {op} {'masked' if masked else 'unmasked'} {size_label(size)}: "
                f"{r1:.2f}x wsproto (>= 4), {r2:.2f}x websockets (>= 1.5): {ok}"
            )
    for size in SIZES[3:]:
        for op in ("parse", "serialize"):
            ours = results[op, who, size, False]
            ok = "met" if ours >= ceilings[size] / 2 else "NOT met"
            print(
                f"- {op} unmasked {size_label(size)}: {ours:,.0f} MB/s vs bytes copy "
                f"{ceilings[size]:,.0f} MB/s (>= half): {ok}"
            )
            ours = results[op, who, size, True]
            ok = "met" if ours >= 400 else "NOT met"
            print(f"- {op} masked {size_label(size)}: {ours:,.0f} MB/s (>= 400): {ok}")


if __name__ == "__main__":
    main()
