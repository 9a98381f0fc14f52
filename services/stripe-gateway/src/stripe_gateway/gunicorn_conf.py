"""Gunicorn settings for stripe-gateway (see ``mlconnector.serving``)."""

from mlconnector.serving import gunicorn_config

globals().update(gunicorn_config("stripe-gateway", default_port=8082))
