# The seed's "中间件" snippets: a Server with a Redis or RabbitMQ (KombuManager) manager,
# served by gunicorn: MANAGER=redis|kombu BROKER_URL=... gunicorn --threads 100 seed_managers:app
import os

import socketio_core as socketio

from seed_events import install

if os.environ['MANAGER'] == 'redis':
    mgr = socketio.RedisManager(os.environ['BROKER_URL'])
else:
    mgr = socketio.KombuManager(os.environ['BROKER_URL'])
sio = socketio.Server(client_manager=mgr)
app = socketio.WSGIApp(sio)

install(sio)
