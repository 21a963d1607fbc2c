"""The WSGI entry point: `gunicorn -c gunicorn.conf.py wsgi:app`."""

from sungrow_server import create_app

app = create_app()
