# python-socketio's examples/server/wsgi/app.py, with `import socketio_core as socketio`
# and the port from $PORT (the tests pick a free one). Run: python wsgi_app.py, or
# gunicorn --threads 100 -b 127.0.0.1:$PORT wsgi_app:app
import os

async_mode = None

instrument = True
admin_login = {
    "username": "admin",
    "password": "python",
}

from flask import Flask, render_template  # noqa: E402

import socketio_core as socketio  # noqa: E402

sio = socketio.Server(
    async_mode=async_mode,
    cors_allowed_origins=None
    if not instrument
    else [
        "http://localhost:5000",
        "https://admin.socket.io",
    ],
)
if instrument:
    sio.instrument(auth=admin_login)

app = Flask(__name__)
app.wsgi_app = socketio.WSGIApp(sio, app.wsgi_app)
app.config["SECRET_KEY"] = "secret!"
thread = None


def background_thread():
    """Example of how to send server generated events to clients."""
    count = 0
    while True:
        sio.sleep(10)
        count += 1
        sio.emit("my_response", {"data": "Server generated event"})


@app.route("/")
def index():
    global thread
    if thread is None:
        thread = sio.start_background_task(background_thread)
    return render_template("index.html")


@sio.event
def my_event(sid, message):
    sio.emit("my_response", {"data": message["data"]}, room=sid)


@sio.event
def my_broadcast_event(sid, message):
    sio.emit("my_response", {"data": message["data"]})


@sio.event
def join(sid, message):
    sio.enter_room(sid, message["room"])
    sio.emit("my_response", {"data": "Entered room: " + message["room"]}, room=sid)


@sio.event
def leave(sid, message):
    sio.leave_room(sid, message["room"])
    sio.emit("my_response", {"data": "Left room: " + message["room"]}, room=sid)


@sio.event
def close_room(sid, message):
    sio.emit(
        "my_response", {"data": "Room " + message["room"] + " is closing."}, room=message["room"]
    )
    sio.close_room(message["room"])


@sio.event
def my_room_event(sid, message):
    sio.emit("my_response", {"data": message["data"]}, room=message["room"])


@sio.event
def disconnect_request(sid):
    sio.disconnect(sid)


@sio.event
def connect(sid, environ):
    sio.emit("my_response", {"data": "Connected", "count": 0}, room=sid)


@sio.event
def disconnect(sid, reason):
    print("Client disconnected, reason:", reason, flush=True)


if __name__ == "__main__":
    if sio.async_mode == "threading":
        # deploy with Werkzeug
        app.run(threaded=True, port=int(os.environ.get("PORT", 5000)))
    else:
        print("Unknown async_mode: " + sio.async_mode)
