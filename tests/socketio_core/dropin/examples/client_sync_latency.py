# In the shape of python-socketio's examples/client/sync/latency_client.py with `import socketio_core as
# socketio` (the URL from $SERVER_URL). Run: python client_sync_latency.py
import os
import time

import socketio_core as socketio

sio = socketio.Client(logger=True, engineio_logger=True)
start_timer = None


def send_ping():
    global start_timer
    start_timer = time.time()
    sio.emit("ping_from_client")


@sio.event
def connect():
    print("connected to server", flush=True)
    send_ping()


@sio.event
def pong_from_server():
    latency = time.time() - start_timer
    print(f"latency is {latency * 1000:.2f} ms", flush=True)
    sio.sleep(1)
    if sio.connected:
        send_ping()


if __name__ == "__main__":
    sio.connect(os.environ.get("SERVER_URL", "http://localhost:5000"))
    sio.wait()
