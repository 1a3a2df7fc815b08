"""Bring a registry to life: migrate, create the operator and the server keys, and log the
registry key's self-registration as leaf 0 (the root every other key hangs from)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.accounts.operator import OPERATOR_NAME_EN, OPERATOR_NAME_ZH, OPERATOR_REGION
from registry.context import RegistryContext
from registry.crypto.dsse import sign_envelope
from registry.crypto.jcs import canonicalize
from registry.crypto.keys import Signer, open_private_key, seal_private_key
from registry.db import transaction
from registry.errors import ConfigurationError, VerificationError
from registry.models import Organization, OrgKind, ServerKey, SigningKey, utcnow
from registry.records import ingest as record_service
from registry.records.schema import RECORD_PAYLOAD_TYPE, Kind
from registry.settings import Settings
from registry.transparency import log as log_service

REGISTRY_KEY = "registry"
LOG_KEY = "log"


def _server_signer(session: Session, name: str, master_key: bytes) -> Signer:
    row = session.get(ServerKey, name)
    if row is None:
        signer = Signer.generate()
        row = ServerKey(
            name=name,
            public_key=signer.public_key_raw,
            sealed_private_key=seal_private_key(signer.private_raw(), master_key, f"server:{name}"),
        )
        session.add(row)
        session.flush()
        return signer
    return Signer.from_raw(open_private_key(row.sealed_private_key, master_key, f"server:{name}"))


def operator(session: Session) -> Organization:
    """The operator's own organization (kind ``operator``), created on first use: admins'
    accounts and the registry's custodial records belong to it."""
    org = session.scalars(select(Organization).where(Organization.kind == OrgKind.OPERATOR)).first()
    if org is None:
        org = Organization(
            id=uuid.uuid4(),
            kind=OrgKind.OPERATOR,
            name_zh=OPERATOR_NAME_ZH,
            name_en=OPERATOR_NAME_EN,
            region_code=OPERATOR_REGION,
        )
        session.add(org)
        session.flush()
    return org


def holds_sealed_keys(session: Session) -> bool:
    """Whether the database holds a private key sealed under a master key (a server key, or
    a custodial signing key): then only that master key will do."""
    if session.scalars(select(ServerKey.name).limit(1)).first() is not None:
        return True
    custodial = select(SigningKey.key_id).where(SigningKey.sealed_private_key.is_not(None))
    return session.scalars(custodial.limit(1)).first() is not None


def master_key_for(session: Session, settings: Settings) -> bytes:
    """The master key for this database: the configured one, or in development a new one
    only while the database holds no sealed key. A key that does not open the registry's
    own sealed key is refused before anything is written with it (``ConfigurationError``)."""
    if not holds_sealed_keys(session):
        return settings.master_key_bytes()
    master_key = settings.configured_master_key()
    if master_key is None:
        raise settings.missing_master_key()
    for row in session.scalars(select(ServerKey).order_by(ServerKey.name)):
        try:
            open_private_key(row.sealed_private_key, master_key, f"server:{row.name}")
        except VerificationError:
            raise ConfigurationError(
                f"the configured master key does not open this database's sealed keys "
                f"(server key {row.name!r}): it is another registry's key; set the "
                "REGISTRY_MASTER_KEY (or master.key) this database was created with"
            ) from None
    return master_key


def bootstrap(factory: sessionmaker[Session], settings: Settings) -> RegistryContext:
    """Idempotent: safe to run at every start (before workers fork)."""
    with factory() as session:
        master_key = master_key_for(session, settings)
    with transaction(factory) as session:
        log_service.ensure_log_state(session)
    with transaction(factory) as session:
        log_service.lock_log(session)
        origin = log_service.establish_origin(
            session, settings.log_origin or None, settings.new_log_origin
        )
        ctx = RegistryContext(
            settings=settings,
            master_key=master_key,
            registry_signer=_server_signer(session, REGISTRY_KEY, master_key),
            log_signer=_server_signer(session, LOG_KEY, master_key),
            log_origin=origin,
        )
        if session.get(SigningKey, ctx.registry_signer.key_id) is None:
            _log_genesis(session, ctx, operator(session))
    return ctx


def _log_genesis(session: Session, ctx: RegistryContext, org: Organization) -> None:
    import base64

    signer = ctx.registry_signer
    document = {
        "kind": Kind.KEY_REGISTRATION.value,
        "time": utcnow().isoformat(timespec="seconds"),
        "key": {
            "algorithm": "ed25519",
            "id": signer.key_id,
            "public_key": base64.b64encode(signer.public_key_raw).decode(),
        },
        "holder": {
            "account": None,
            "role": "registry",
            "name_zh": OPERATOR_NAME_ZH,
            "name_en": OPERATOR_NAME_EN,
        },
        "organization": {
            "id": str(org.id),
            "kind": org.kind.value,
            "name_zh": org.name_zh,
            "name_en": org.name_en,
            "region": org.region_code,
        },
    }
    envelope = sign_envelope(RECORD_PAYLOAD_TYPE, canonicalize(document), [signer])
    record_service.submit(session, ctx, envelope, None)
