"""WSGI entry point for uWSGI (`module = api.wsgi:app`): the app, with settings from GHOST_*.

uWSGI imports this in each worker after the fork (lazy-apps), so each worker starts loading its
models at once: every worker is ready without first taking a request of its own.
"""

from api import service
from api.app import create_app

app = create_app()
app.extensions[service.EXTENSION].registry.start_loading()
