# A Flask application in the shape of python-socketio's examples/server/wsgi/app.py
# (Server(async_mode=None, cors_allowed_origins=[...]), instrument(), WSGIApp around
# app.wsgi_app, a background thread, @sio.event handlers using emit/rooms/disconnect, and
# app.run(threaded=True)), written for these tests with `import socketio_core as socketio`.
# Run: python wsgi_app.py, or gunicorn --threads 100 -b 127.0.0.1:$PORT wsgi_app:app
import os

from flask import Flask, render_template

import socketio_core as socketio

async_mode = None
instrument = True

sio = socketio.Server(async_mode=async_mode,
                      cors_allowed_origins=['http://localhost:5000'])
if instrument:
    sio.instrument(auth={'username': 'admin', 'password': 'test-only'})

app = Flask(__name__)
app.wsgi_app = socketio.WSGIApp(sio, app.wsgi_app)
ticker = None


def tick_forever():
    """Server-generated events, every 10 seconds."""
    n = 0
    while True:
        sio.sleep(10)
        n += 1
        sio.emit('reply', {'text': f'tick {n}'})


@app.route('/')
def index():
    global ticker
    if ticker is None:
        ticker = sio.start_background_task(tick_forever)
    return render_template('index.html')


@sio.event
def connect(sid, environ):
    sio.emit('reply', {'text': 'welcome'}, room=sid)


@sio.event
def echo(sid, payload):
    sio.emit('reply', {'text': payload['text']}, room=sid)


@sio.event
def shout(sid, payload):
    sio.emit('reply', {'text': payload['text'].upper()})


@sio.event
def join(sid, payload):
    sio.enter_room(sid, payload['room'])
    sio.emit('reply', {'text': 'joined ' + payload['room']}, room=sid)


@sio.event
def leave(sid, payload):
    sio.leave_room(sid, payload['room'])
    sio.emit('reply', {'text': 'left ' + payload['room']}, room=sid)


@sio.event
def room_say(sid, payload):
    sio.emit('reply', {'text': payload['text']}, room=payload['room'])


@sio.event
def close(sid, payload):
    sio.emit('reply', {'text': 'closing ' + payload['room']}, room=payload['room'])
    sio.close_room(payload['room'])


@sio.event
def bye(sid):
    sio.disconnect(sid)


@sio.event
def disconnect(sid, reason):
    print('gone:', sid, reason, flush=True)


if __name__ == '__main__':
    if sio.async_mode == 'threading':
        app.run(threaded=True, port=int(os.environ.get('PORT', '5000')))
    else:
        print('unexpected async_mode', sio.async_mode)
