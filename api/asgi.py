"""ASGI entry point for servers started by import string (``uvicorn api.asgi:app``)."""

from api.app import create_app

app = create_app()
