"""Loading the demo dataset: people and products, then every product story's supply chain,
endorsements and aftermath, in one transaction; loading again changes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from registry.context import RegistryContext
from registry.db import transaction
from registry.demo import aohan, pingyin, shan
from registry.demo.ids import demo_id
from registry.demo.people import create_people
from registry.demo.summary import demo_summary
from registry.demo.writer import DemoWriter
from registry.errors import ConfigurationError
from registry.models import Organization
from registry.settings import Mode


def _write_stories(session: Session, ctx: RegistryContext) -> None:
    """Every record and endorsement of the three stories, in the demo's order: the chains,
    then the endorsements, then the revocation and the recall."""
    w = DemoWriter(session, ctx)
    aohan.record_chains(w)
    shan.record_chains(w)
    pingyin.record_chains(w)
    aohan.endorse(w)
    revoked = shan.endorse(w)
    pingyin.endorse(w)
    shan.revoke(w, revoked)
    pingyin.recall(w)


def load_demo(factory: sessionmaker[Session], ctx: RegistryContext) -> dict[str, Any]:
    """Load the demo dataset unless it is there already; return the summary."""
    if ctx.settings.mode is not Mode.DEVELOPMENT:
        raise ConfigurationError(
            "the demo dataset (with its published passwords) loads only in development mode"
        )
    with transaction(factory) as session:
        if session.get(Organization, demo_id("org:aohan-coop")) is None:
            create_people(session, ctx)
            _write_stories(session, ctx)
        return demo_summary(session, ctx)
