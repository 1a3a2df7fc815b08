"""Shared by the publishing tests: revoking a demo endorsement as its authority's official,
and waiting for the published files to say something."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.context import RegistryContext
from registry.db import transaction
from registry.endorsements import decisions
from registry.endorsements.published import get_endorsement
from registry.models import Account, Role


def revoke_code(factory: sessionmaker[Session], ctx: RegistryContext, code: str) -> float:
    """Revoke ``code`` as an official of its authority; returns the monotonic time of the
    commit."""
    with transaction(factory) as session:
        endorsement = get_endorsement(session, code)
        official = session.scalars(
            select(Account).where(
                Account.role == Role.OFFICIAL,
                Account.organization_id == endorsement.authority_id,
            )
        ).first()
        assert official is not None, f"no official of {code}'s authority in the demo"
        decisions.revoke(session, ctx, code, official, "测试撤销 revoked by the publishing tests")
    return time.monotonic()


def wait_for(what: str, check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``check`` every 10 ms until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.01)


def published_document(root: Path, code: str) -> dict[str, Any] | None:
    """The published verification document of ``code``, if written."""
    try:
        return dict(json.loads((root / "e" / code / "verify.json").read_bytes()))
    except FileNotFoundError:
        return None


def published_status(root: Path, code: str) -> str | None:
    """The status the published page of ``code`` shows (its ``data-status``)."""
    try:
        page = (root / "e" / code / "index.html").read_text()
    except FileNotFoundError:
        return None
    marker = 'data-status="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]
