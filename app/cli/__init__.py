"""The ``registry`` command (its entry point is ``app.cli:app``).

Each module registers its commands on the Typer apps of ``app.cli.base``; importing them here
is what makes the commands exist. Heavy imports stay inside the commands, so ``registry
--help`` and the quick commands start fast.
"""

from __future__ import annotations

from app.cli import admin, audit, bench, check, exports, publish, serve, signing
from app.cli.base import app

__all__ = ["admin", "app", "audit", "bench", "check", "exports", "publish", "serve", "signing"]
