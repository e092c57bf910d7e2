# In the shape of python-socketio's examples/simple-client/sync/fiddle_client.py with `import socketio_core
# as socketio` (the URL from $SERVER_URL). Run: python simple_sync_fiddle.py
import os

import socketio_core as socketio


def main():
    with socketio.SimpleClient() as sio:
        sio.connect(
            os.environ.get("SERVER_URL", "http://localhost:5000"), auth={"token": "my-token"}
        )
        print(sio.receive())


if __name__ == "__main__":
    main()
