"""WSGI entry point for uWSGI (`module = api.wsgi:app`): the app, with settings from GHOST_*."""

from api import create_app

app = create_app()
