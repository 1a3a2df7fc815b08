"""What the registry publishes about itself, as logged records: the witness policy in force
and the releases of the scripts its consumer page runs (docs/verification.md).

Both are appended at start-up, before workers fork, and only when what is configured (the
policy text) or on disk (a script's bytes) is not what the log already says: a restart
with nothing changed logs nothing, a change is itself visible in the log. Each record is
signed by the registry key; an auditor compares what the server serves with them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.context import RegistryContext
from registry.crypto.dsse import sign_envelope
from registry.crypto.jcs import canonicalize
from registry.db import transaction
from registry.errors import ConfigurationError, InvalidInput
from registry.log.policy_text import NONE, format_policy, parse_policy
from registry.models import Record
from registry.records import ingest as record_service
from registry.records.schema import RECORD_PAYLOAD_TYPE, Kind
from registry.transparency import log as log_service
from registry.transparency.witnessing import configured_witnesses

__all__ = [
    "ConfiguredPolicy",
    "configured_policy",
    "log_witness_policy",
    "logged_script_releases",
    "publish_script_releases",
    "publish_witness_policy",
    "script_sha256",
]


@dataclass(frozen=True)
class ConfiguredPolicy:
    """The witness policy the settings ask for: tlog-policy text and the freshness window."""

    text: str
    max_age_seconds: int


def configured_policy(ctx: RegistryContext) -> ConfiguredPolicy:
    """``REGISTRY_WITNESS_POLICY`` (a tlog-policy file), or one generated from the log key and
    ``REGISTRY_WITNESSES``: ``log <vkey>``, a ``witness`` line per witness (named by its key
    name; no URL, so a witness moving to another address is not a policy change) and a
    quorum of one witness, or of a majority of them;
    ``quorum none`` without witnesses. ``ConfigurationError`` for a policy that does not
    parse or does not list this log's key."""
    settings = ctx.settings
    log_vkey = log_service.log_vkey(ctx)
    if settings.witness_policy:
        path = Path(settings.witness_policy)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"REGISTRY_WITNESS_POLICY {path}: {exc}") from None
        try:
            policy = parse_policy(text)
        except InvalidInput as exc:
            raise ConfigurationError(f"REGISTRY_WITNESS_POLICY {path}: {exc.detail}") from None
        if policy.logs and not any(log.verifier.to_vkey() == log_vkey for log in policy.logs):
            raise ConfigurationError(
                f"REGISTRY_WITNESS_POLICY {path} lists logs, but not this log's key {log_vkey}"
            )
    else:
        witnesses = configured_witnesses(settings)
        # No URLs: which keys count is the policy; where a witness listens (a demo witness
        # takes a free port at each start) is configuration, and must not log a new policy.
        lines = [(w.name, w.verifier.to_vkey(), None) for w in witnesses]
        groups: list[tuple[str, str, list[str]]]
        if not witnesses:
            quorum, groups = NONE, []
        elif len(witnesses) == 1:
            quorum, groups = witnesses[0].name, []
        else:
            majority = str(len(witnesses) // 2 + 1)
            quorum, groups = "witnesses", [("witnesses", majority, [w.name for w in witnesses])]
        try:
            text = format_policy([(log_vkey, None)], lines, quorum, groups)
        except InvalidInput as exc:
            raise ConfigurationError(f"REGISTRY_WITNESSES: {exc.detail}") from None
    return ConfiguredPolicy(text, settings.witness_max_age_seconds)


def _append(session: Session, ctx: RegistryContext, document: dict[str, object]) -> int:
    envelope = sign_envelope(RECORD_PAYLOAD_TYPE, canonicalize(document), [ctx.registry_signer])
    return record_service.submit(session, ctx, envelope, None).index


def publish_witness_policy(factory: sessionmaker[Session], ctx: RegistryContext) -> int | None:
    """Log the configured witness policy unless the newest ``witness_policy`` record already
    says the same; the new record's index, or None."""
    with transaction(factory) as session:
        log_service.lock_log(session)
        return log_witness_policy(session, ctx)


def log_witness_policy(session: Session, ctx: RegistryContext) -> int | None:
    """``publish_witness_policy`` in the caller's transaction (which holds the log lock): the
    rename of the log logs the policy naming the new log key in the rename's transaction."""
    wanted = configured_policy(ctx)
    latest = session.scalars(
        select(Record.payload)
        .where(Record.kind == Kind.WITNESS_POLICY.value)
        .order_by(Record.log_index.desc())
        .limit(1)
    ).first()
    if latest is not None:
        logged = json.loads(latest)
        if (logged["policy"], logged["max_age_seconds"]) == (wanted.text, wanted.max_age_seconds):
            return None
    return _append(
        session,
        ctx,
        {
            "kind": Kind.WITNESS_POLICY.value,
            "time": ctx.clock().isoformat(timespec="seconds"),
            "policy": wanted.text,
            "max_age_seconds": wanted.max_age_seconds,
        },
    )


def script_sha256(body: bytes) -> str:
    """The lowercase hex SHA-256 of a script's exact bytes, as a release names it."""
    return hashlib.sha256(body).hexdigest()


def logged_script_releases(session: Session) -> dict[tuple[str, str], int]:
    """Every logged script release: (name, sha256 hex) -> log index."""
    releases: dict[tuple[str, str], int] = {}
    for index, payload in session.execute(
        select(Record.log_index, Record.payload)
        .where(Record.kind == Kind.SCRIPT_RELEASE.value)
        .order_by(Record.log_index)
    ):
        if payload is not None:
            signed = json.loads(payload)
            releases.setdefault((signed["name"], signed["sha256"]), index)
    return releases


def publish_script_releases(
    factory: sessionmaker[Session], ctx: RegistryContext, scripts: Mapping[str, bytes]
) -> list[int]:
    """Log a ``script_release`` for each script (name -> the bytes served) whose hash is not
    logged under its name yet; the new records' indices."""
    with transaction(factory) as session:
        log_service.lock_log(session)
        known = logged_script_releases(session)
        added = []
        for name in sorted(scripts):
            body = scripts[name]
            digest = script_sha256(body)
            if (name, digest) in known:
                continue
            added.append(
                _append(
                    session,
                    ctx,
                    {
                        "kind": Kind.SCRIPT_RELEASE.value,
                        "time": ctx.clock().isoformat(timespec="seconds"),
                        "name": name,
                        "sha256": digest,
                        "size": len(body),
                    },
                )
            )
        return added
