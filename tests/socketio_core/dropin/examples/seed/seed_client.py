# The seed's client ("Python客户端"), with the server's URL from $SERVER_URL.
import os

import socketio_core as socketio

sio = socketio.Client()

@sio.on('connect')
def on_connect():
    print('connect', flush=True)

@sio.on('event')
def on_event(data):
    print('event', data, flush=True)

sio.connect(os.environ['SERVER_URL'])
sio.wait()
