"""``python -m app.cli``: the same as the ``registry`` command."""

from app.cli import app

app()
