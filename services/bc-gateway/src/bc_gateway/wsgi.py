"""The WSGI entry point: ``gunicorn -c python:bc_gateway.gunicorn_conf bc_gateway.wsgi:app``."""

from bc_gateway import create_app

app = create_app()
