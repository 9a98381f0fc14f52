"""WSGI entry point: ``gunicorn -c python:stripe_gateway.gunicorn_conf stripe_gateway.wsgi:app``."""

from stripe_gateway import create_app

app = create_app()
