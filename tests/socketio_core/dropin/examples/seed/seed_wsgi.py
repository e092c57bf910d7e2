# The seed's 方式1: a Socket.IO server as a WSGI application, run by gunicorn
#   gunicorn --threads 100 -b 127.0.0.1:PORT seed_wsgi:app
import socketio_core as socketio

from seed_events import install

# create a Socket.IO servers
sio = socketio.Server()

# 打包成WSGI应用，可以使用WSGI服务器托管运行
app = socketio.WSGIApp(sio)  # Flask  Django

install(sio)
