# A Django view module in the shape of python-socketio's django_socketio/socketio_app/views.py
# (a module-level Server(async_mode=None), a view starting a background task, @sio.event
# handlers using emit/rooms/disconnect), written for these tests with
# `import socketio_core as socketio`.
import os

from django.http import HttpResponse

import socketio_core as socketio

async_mode = None
here = os.path.dirname(os.path.realpath(__file__))
sio = socketio.Server(async_mode=async_mode)
ticker = None


def index(request):
    global ticker
    if ticker is None:
        ticker = sio.start_background_task(tick_forever)
    with open(os.path.join(here, 'static/index.html')) as page:
        return HttpResponse(page.read())


def tick_forever():
    """Server-generated events, every 10 seconds."""
    n = 0
    while True:
        sio.sleep(10)
        n += 1
        sio.emit('reply', {'text': f'tick {n}'})


@sio.event
def connect(sid, environ):
    sio.emit('reply', {'text': 'welcome'}, room=sid)


@sio.event
def echo(sid, payload):
    sio.emit('reply', {'text': payload['text']}, room=sid)


@sio.event
def join(sid, payload):
    sio.enter_room(sid, payload['room'])
    sio.emit('reply', {'text': 'joined ' + payload['room']}, room=sid)


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
