"""Gunicorn settings for reconciler (see ``mlconnector.serving``)."""

from mlconnector.serving import gunicorn_config

globals().update(gunicorn_config("reconciler", default_port=8083))
