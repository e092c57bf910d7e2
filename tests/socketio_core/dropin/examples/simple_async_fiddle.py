# In the shape of python-socketio's examples/simple-client/async/fiddle_client.py with `import socketio_core
# as socketio` (the URL from $SERVER_URL). Run: python simple_async_fiddle.py
import asyncio
import os

import socketio_core as socketio


async def main():
    async with socketio.AsyncSimpleClient() as sio:
        await sio.connect(
            os.environ.get("SERVER_URL", "http://localhost:5000"), auth={"token": "my-token"}
        )
        print(await sio.receive())


if __name__ == "__main__":
    asyncio.run(main())
