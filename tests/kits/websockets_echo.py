"""An echo server built on the ``websockets`` library, for ``websocket check``'s tests.

Prints ``{"port": N}`` once listening on 127.0.0.1; serves until killed.
"""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.server import ServerConnection, serve


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def main() -> None:
    async with serve(echo, "127.0.0.1", 0, max_size=2**21) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(json.dumps({"port": port}), flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
