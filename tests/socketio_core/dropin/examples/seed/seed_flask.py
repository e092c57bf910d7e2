# The seed's 方式2: part of a Flask application, run by gunicorn
#   gunicorn --threads 100 -b 127.0.0.1:PORT seed_flask:app
# or by Flask's own (werkzeug) server: python seed_flask.py
import os

from wsgi import app  # a Flask, Django, etc. application
import socketio_core as socketio

from seed_events import install

# create a Socket.IO server
sio = socketio.Server()

app = socketio.WSGIApp(sio, app)

install(sio)

if __name__ == '__main__':
    from werkzeug.serving import run_simple

    run_simple('127.0.0.1', int(os.environ['PORT']), app, threaded=True)
