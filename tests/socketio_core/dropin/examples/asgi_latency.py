#!/usr/bin/env python
# In the shape of python-socketio's examples/server/asgi/latency.py with `import socketio_core as socketio`
# (and the port from $PORT). Run: python asgi_latency.py
import os

import uvicorn

import socketio_core as socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(
    sio,
    static_files={
        "/": "fiddle.html",
        "/static": "static",
    },
)


@sio.event
async def ping_from_client(sid):
    await sio.emit("pong_from_server", room=sid)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", 5000)))
