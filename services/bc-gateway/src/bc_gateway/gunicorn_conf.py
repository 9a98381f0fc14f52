"""Gunicorn settings for bc-gateway (see ``mlconnector.serving``)."""

from mlconnector.serving import gunicorn_config

globals().update(gunicorn_config("bc-gateway", default_port=8081))
