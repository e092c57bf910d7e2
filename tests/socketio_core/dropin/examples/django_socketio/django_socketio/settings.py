# A trimmed copy of python-socketio's django_socketio/settings.py: no admin, no database.
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "django-insecure-test-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["socketio_app"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "django_socketio.urls"
WSGI_APPLICATION = "django_socketio.wsgi.application"
DATABASES = {}
USE_TZ = True
