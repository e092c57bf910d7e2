# python-socketio's django_socketio/wsgi.py with `import socketio_core as socketio`.
import os

from django.core.wsgi import get_wsgi_application
from socketio_app.views import sio

import socketio_core as socketio

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_socketio.settings")

django_app = get_wsgi_application()
application = socketio.WSGIApp(sio, django_app)
