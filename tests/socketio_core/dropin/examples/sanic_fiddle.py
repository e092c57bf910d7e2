# In the shape of python-socketio's examples/server/sanic/fiddle.py with `import socketio_core as socketio`
# (and the port from $PORT). Run: python sanic_fiddle.py
import os

from sanic import Sanic
from sanic.response import html

import socketio_core as socketio

sio = socketio.AsyncServer(async_mode="sanic")
app = Sanic(__name__.replace(".", "_").replace("__main__", "fiddle"))
sio.attach(app)


@app.route("/")
def index(request):
    with open("fiddle.html") as f:
        return html(f.read())


@sio.event
async def connect(sid, environ, auth):
    print(f"connected auth={auth} sid={sid}", flush=True)
    await sio.emit("hello", (1, 2, {"hello": "you"}), to=sid)


@sio.event
def disconnect(sid, reason):
    print("disconnected", sid, reason, flush=True)


app.static("/static", "./static")


if __name__ == "__main__":
    app.run(
        host="127.0.0.1",
        port=int(os.environ.get("PORT", 5000)),
        single_process=True,
        access_log=False,
    )
