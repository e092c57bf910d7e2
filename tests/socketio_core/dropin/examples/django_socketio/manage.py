#!/usr/bin/env python
"""python-socketio's examples/server/wsgi/django_socketio/manage.py (Django's own)."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_socketio.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
