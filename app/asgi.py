"""ASGI entry point for servers started by import string (``uvicorn app.asgi:app``)."""

from app.factory import create_app

app = create_app()
