# In the shape of python-socketio's examples/server/asgi/fastapi-fiddle.py shape, with
# `import socketio_core as socketio`. Run: uvicorn fastapi_fiddle:combined_asgi_app
from fastapi import FastAPI
from fastapi.responses import FileResponse

import socketio_core as socketio

app = FastAPI()


@app.get('/')
async def index():
    return FileResponse('fiddle.html')


sio = socketio.AsyncServer(async_mode='asgi')
combined_asgi_app = socketio.ASGIApp(sio, app)


@sio.event
async def connect(sid, environ, auth):
    print(f'connected auth={auth} sid={sid}', flush=True)
    await sio.emit('hello', (1, 2, {'hello': 'you'}), to=sid)


@sio.event
def disconnect(sid, reason):
    print('disconnected', sid, reason, flush=True)
