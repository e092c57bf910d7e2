# In the shape of python-socketio's examples/server/aiohttp/fiddle.py with `import socketio_core as socketio`
# (and the port from $PORT). Run: python aiohttp_fiddle.py
import os

from aiohttp import web

import socketio_core as socketio

sio = socketio.AsyncServer(async_mode="aiohttp")
app = web.Application()
sio.attach(app)


async def index(request):
    with open("fiddle.html") as f:
        return web.Response(text=f.read(), content_type="text/html")


@sio.event
async def connect(sid, environ, auth):
    print(f"connected auth={auth} sid={sid}", flush=True)
    await sio.emit("hello", (1, 2, {"hello": "you"}), to=sid)


@sio.event
def disconnect(sid, reason):
    print("disconnected", sid, reason, flush=True)


app.router.add_static("/static", "static")
app.router.add_get("/", index)


if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(os.environ.get("PORT", 5000)))
