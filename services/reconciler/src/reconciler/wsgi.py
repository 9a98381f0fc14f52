"""WSGI entry point: ``gunicorn -c python:reconciler.gunicorn_conf reconciler.wsgi:app``."""

from reconciler.api import create_app

app = create_app()
