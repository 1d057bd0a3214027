"""Ghostwriter's HTTP layer over the serving core: routes, request parsing, OpenAPI, metrics and
the app factory (`from api import create_app`)."""

from api.app import create_app

__all__ = ["create_app"]
