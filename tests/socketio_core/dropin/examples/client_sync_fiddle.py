# In the shape of python-socketio's examples/client/sync/fiddle_client.py with `import socketio_core as
# socketio` (the URL from $SERVER_URL). Run: python client_sync_fiddle.py
import os

import socketio_core as socketio

sio = socketio.Client()


@sio.event
def connect():
    print("connected to server", flush=True)


@sio.event
def disconnect(reason):
    print("disconnected from server, reason:", reason, flush=True)


@sio.event
def hello(a, b, c):
    print(a, b, c, flush=True)


if __name__ == "__main__":
    sio.connect(os.environ.get("SERVER_URL", "http://localhost:5000"), auth={"token": "my-token"})
    sio.wait()
