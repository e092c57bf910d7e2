# In the shape of python-socketio's examples/client/async/fiddle_client.py with `import socketio_core as
# socketio` (the URL from $SERVER_URL). Run: python client_async_fiddle.py
import asyncio
import os

import socketio_core as socketio

sio = socketio.AsyncClient()


@sio.event
async def connect():
    print("connected to server", flush=True)


@sio.event
async def disconnect(reason):
    print("disconnected from server, reason:", reason, flush=True)


@sio.event
def hello(a, b, c):
    print(a, b, c, flush=True)


async def start_server():
    await sio.connect(
        os.environ.get("SERVER_URL", "http://localhost:5000"), auth={"token": "my-token"}
    )
    await sio.wait()


if __name__ == "__main__":
    asyncio.run(start_server())
