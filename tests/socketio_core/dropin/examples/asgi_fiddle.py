#!/usr/bin/env python
# In the shape of python-socketio's examples/server/asgi/fiddle.py with `import socketio_core as socketio`
# (and the port from $PORT). Run: python asgi_fiddle.py, or uvicorn asgi_fiddle:app
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
async def connect(sid, environ, auth):
    print(f"connected auth={auth} sid={sid}", flush=True)
    await sio.emit("hello", (1, 2, {"hello": "you"}), to=sid)


@sio.event
def disconnect(sid, reason):
    print("disconnected", sid, reason, flush=True)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", 5000)))
