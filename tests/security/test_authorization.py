"""The authorization matrix: every write endpoint of the app (JSON API, public forms, back
office) against every relation of the caller to what it acts on, with the outcome expected.

Relations: the resource's own organization (``own``: the party entitled to act), another
organization of the same kind (``other organization``), an official of another jurisdiction
(``other jurisdiction``), nobody (``anonymous``), the entitled party's revoked API token or
logged-out back-office session (``revoked``), and its expired token or session
(``expired``). A refusal must write nothing: no log entry, no row, no state change. Cells
marked ``n/a`` say why the relation cannot be expressed (a token is always made for the
caller, a public form has no caller, ...).

The write endpoints are enumerated from the app's routes: a new one without a row in
``MATRIX`` fails ``test_every_write_endpoint_has_a_row``. Each cell runs on a fresh resource
(so a success never hides a later refusal), on SQLite and PostgreSQL, in one world per
backend (``matrix``).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text, update

from registry.accounts import accounts as account_service
from registry.accounts import sessions as session_service
from registry.crypto.dsse import sign_envelope
from registry.crypto.jcs import canonicalize
from registry.crypto.keys import Signer
from registry.db import transaction
from registry.models import (
    Account,
    ApiToken,
    Base,
    Endorsement,
    EndorsementRequest,
    KeyStatus,
    LoginSession,
    Organization,
    Role,
    SigningKey,
)
from registry.notifications import subscriptions as webhook_service
from registry.records import keys as key_service
from registry.records.schema import RECORD_PAYLOAD_TYPE
from registry.reports import problems as report_service
from registry.settings import Settings
from tests.endorsements.world import CLAIMS, Party, World, build_world, moment, stamp, stream
from tests.support import empty_tables
from web.office.core import CSRF_FIELD, PRE_COOKIE, SESSION_COOKIE, csrf_token_for

PASSWORD = "matrix-password-0123"


class Rel(StrEnum):
    OWN = "own"
    OTHER_ORG = "other organization"
    OTHER_JURISDICTION = "other jurisdiction"
    ANONYMOUS = "anonymous"
    REVOKED = "revoked"
    EXPIRED = "expired"


LOGIN = "login"  # an office outcome: 303 to the login page, nothing done


@dataclass
class Call:
    """One request, made fresh for one cell: who is entitled (``own``), who is of another
    organization or jurisdiction, and how to check afterwards that a refusal changed
    nothing beyond the table counts (``probe``: a value that must not change)."""

    method: str
    path: str
    own: Party | None
    other_org: Party | None = None
    other_jurisdiction: Party | None = None
    json: Any = None
    form: dict[str, Any] | None = None
    probe: Callable[[], Any] | None = None


Outcome = int | str  # a status code; LOGIN; or "n/a: why"


@dataclass(frozen=True)
class Row:
    setup: Callable[[Matrix], Call]
    expect: dict[Rel, Outcome]


def api(own: int, other_org: Outcome, other_jurisdiction: Outcome) -> dict[Rel, Outcome]:
    """An endpoint behind an API token: no, revoked or expired token → 401."""
    return {
        Rel.OWN: own,
        Rel.OTHER_ORG: other_org,
        Rel.OTHER_JURISDICTION: other_jurisdiction,
        Rel.ANONYMOUS: 401,
        Rel.REVOKED: 401,
        Rel.EXPIRED: 401,
    }


def office(own: int, other_org: Outcome, other_jurisdiction: Outcome) -> dict[Rel, Outcome]:
    """A back-office form behind a session: no, ended or expired session → the login page."""
    return {
        Rel.OWN: own,
        Rel.OTHER_ORG: other_org,
        Rel.OTHER_JURISDICTION: other_jurisdiction,
        Rel.ANONYMOUS: LOGIN,
        Rel.REVOKED: LOGIN,
        Rel.EXPIRED: LOGIN,
    }


SELF = "n/a: acts on the caller's own account or organization only"
PUBLIC = "n/a: public, anonymous by design (no account is involved)"


# --- the world ------------------------------------------------------------------------------


@dataclass
class Matrix:
    world: World
    admin: Party
    counter: Iterator[int] = field(default_factory=lambda: iter(range(1, 10**6)))

    @property
    def app(self) -> FastAPI:
        return self.world.app

    def n(self) -> int:
        return next(self.counter)

    def transaction(self) -> Any:
        return transaction(self.app.state.session_factory)

    # -- credentials ------------------------------------------------------------------

    def token(self, who: Party, *, revoked: bool = False, expired: bool = False) -> str:
        with self.transaction() as session:
            account = session.get(Account, who.account_id)
            assert account is not None
            row, plain = account_service.issue_token(session, account, "matrix")
            if revoked:
                row.revoked_at = datetime.now(UTC)
            if expired:
                row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
            return plain

    def session_cookie(self, who: Party, *, ended: bool = False, expired: bool = False) -> str:
        with self.transaction() as session:
            account = session.get(Account, who.account_id)
            assert account is not None
            started = datetime.now(UTC) - (timedelta(days=1) if expired else timedelta(0))
            _, token = session_service.start_session(session, account, now=started)
        if ended:
            with self.transaction() as session:
                session_service.end_session(session, token)
        return token

    # -- parties and resources -----------------------------------------------------------

    def extra(self, like: Party, *, password: bool = False, key: bool = True) -> Party:
        """A new account in ``like``'s organization (with a custodial key)."""
        n = self.n()
        with self.transaction() as session:
            org = session.get(Organization, like.org_id)
            assert org is not None
            role = Role.OFFICIAL if like.username in ("head", "deputy", "far-head") else Role.CLERK
            account = account_service.create_account(
                session,
                organization=org,
                username=f"{like.username}-extra-{n}",
                role=role,
                name_zh=f"{org.name_zh}·{n}",
                password_hash=self.password_hash if password else None,
            )
            if key:
                key_service.create_custodial_key(session, self.world.ctx, account)
            _, token = account_service.issue_token(session, account, "matrix")
            return Party(
                f"{like.name}-extra-{n}",
                like.kind,
                org.id,
                account.id,
                account.username,
                token,
                dict(like.products),
            )

    @property
    def password_hash(self) -> str:
        cached: str | None = getattr(self, "_password_hash", None)
        if cached is None:
            cached = account_service.hash_password(PASSWORD)
            self._password_hash = cached
        return cached

    def batch(self) -> str:
        """A fresh millet batch of the cooperative with every precondition met."""
        return self.world.good_millet(f"M{self.n()}")

    def request(self) -> str:
        return self.world.requested(self.world.coop, [self.batch()], "head")

    def endorsement(self) -> str:
        return self.world.endorse(self.batch())

    def report(self) -> uuid.UUID:
        code = self.endorsement()
        with self.transaction() as session:
            report = report_service.validate_report(
                "quality_problem", "小米有霉味 the millet smells of mould", None
            )
            return report_service.submit_report(session, code, report, self.world.ctx.clock()).id

    def log_size(self) -> int:
        return int(self.world.client.get("/log/checkpoint").text.splitlines()[1])

    def snapshot(self) -> dict[str, Any]:
        """Every table's row count, the log size, and the states a refusal might flip."""
        counts: dict[str, Any] = {"log": self.log_size()}
        with self.transaction() as session:
            for table in Base.metadata.sorted_tables:
                if table.name == "capture_jobs":
                    # A refused EPCIS capture is kept as a failed job, which its status URL
                    # reports (the capture interface's contract); nothing else may change.
                    continue
                counts[table.name] = session.scalar(select(func.count()).select_from(table))
            counts["revoked tokens"] = session.scalar(
                select(func.count()).where(ApiToken.revoked_at.is_not(None))
            )
            counts["requests"] = sorted(
                (str(r.id), r.status.value) for r in session.scalars(select(EndorsementRequest))
            )
            counts["revoked endorsements"] = session.scalar(
                select(func.count()).where(Endorsement.revocation_index.is_not(None))
            )
            counts["keys"] = sorted(
                (k.key_id, k.status.value) for k in session.scalars(select(SigningKey))
            )
            counts["passwords"] = sorted(
                (a.username, a.password_hash or "") for a in session.scalars(select(Account))
            )
            counts["live sessions"] = session.scalar(
                select(func.count()).where(LoginSession.revoked_at.is_(None))
            )
        return counts


def _admin(session: Any) -> Party:
    from registry.operations import bootstrap

    operator = bootstrap.operator(session)
    admin = account_service.create_account(
        session, organization=operator, username="admin", role=Role.ADMIN, name_zh="管理员"
    )
    _, token = account_service.issue_token(session, admin, "matrix")
    return Party("admin", operator.kind, operator.id, admin.id, "admin", token)


@pytest.fixture(scope="module")
def matrix(
    engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Matrix]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("matrix") / "data",
        database_url=database_url,
        base_url="http://127.0.0.1:8000",
        master_key=base64.b64encode(uuid.uuid4().bytes * 2).decode(),
    )
    empty_tables(engine)
    try:
        with build_world(settings, engine) as world:
            with transaction(world.app.state.session_factory) as session:
                admin = _admin(session)
            yield Matrix(world, admin)
    finally:
        empty_tables(engine)


# --- the rows -------------------------------------------------------------------------------


def _packing(m: Matrix, batch: str) -> dict[str, Any]:
    return {
        "kind": "packing",
        "batches": [batch],
        "package": {"count": 200, "size": "5", "unit": "kg"},
        "packaging": "布袋 cloth bag",
    }


def _signed_packing(m: Matrix) -> dict[str, Any]:
    batch = m.batch()
    head = m.world.client.get(f"/api/v1/batches/{m.world.code_of(batch)}").json()["head"]
    document = {
        **_packing(m, batch),
        "time": stamp(moment(hours=-1)),
        "org": str(m.world.coop.org_id),
        "prev": {batch: head},
    }
    signer = m.world.signer(m.world.coop)
    return sign_envelope(RECORD_PAYLOAD_TYPE, canonicalize(document), [signer]).to_json()


def _key_registration(m: Matrix) -> dict[str, Any]:
    signer = Signer.generate()
    with m.transaction() as session:
        account = session.get(Account, m.world.coop.account_id)
        assert account is not None
        payload = key_service.registration_draft(
            session, m.world.ctx, account, signer.public_key_raw
        )
    return {"envelope": sign_envelope(RECORD_PAYLOAD_TYPE, payload, [signer]).to_json()}


def _custodial_key_id(m: Matrix, who: Party) -> str:
    with m.transaction() as session:
        return str(
            session.scalars(
                select(SigningKey.key_id).where(
                    SigningKey.account_id == who.account_id,
                    SigningKey.status == KeyStatus.ACTIVE,
                )
            ).first()
        )


def _epcis(m: Matrix) -> dict[str, Any]:
    batch = m.world.code_of(m.batch())
    when = moment(hours=-1)
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": stamp(when),
        "epcisBody": {
            "eventList": [
                {
                    "type": "ObjectEvent",
                    "eventID": f"urn:uuid:{uuid.uuid4()}",
                    "eventTime": stamp(when),
                    "eventTimeZoneOffset": "+08:00",
                    "action": "OBSERVE",
                    "bizStep": "holding",
                    "quantityList": [{"epcClass": f"{m.world.ctx.settings.base_url}/b/{batch}"}],
                    "bizLocation": {"id": "urn:epc:id:sgln:0614141.00777.0"},
                    "sensorElementList": [
                        {
                            "sensorMetadata": {"time": stamp(when)},
                            "sensorReport": [{"type": "Temperature", "value": 12.5, "uom": "CEL"}],
                        }
                    ],
                }
            ]
        },
    }


def _request_body(m: Matrix) -> dict[str, Any]:
    return {
        "batches": [m.world.code_of(m.batch())],
        "official": "head",
        "stream": stream(),
        "claims": CLAIMS,
        "quantity": "100",
    }


def _stream_form() -> dict[str, Any]:
    start = datetime.now(UTC).astimezone() - timedelta(hours=1)
    return {
        "official": "head",
        "stream.platform": "taobao_live",
        "stream.room": "https://m.tb.cn/live/matrix",
        "stream.title": "敖汉小米直播 Aohan millet live",
        "stream.start": start.strftime("%Y-%m-%dT%H:%M"),
        "stream.end": (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "quantity": "100",
        "claims": CLAIMS,
    }


def _webhook(m: Matrix) -> uuid.UUID:
    with m.transaction() as session:
        account = session.get(Account, m.world.coop.account_id)
        assert account is not None
        created = webhook_service.create_subscription(
            session,
            m.world.ctx.master_key,
            m.world.ctx.settings.mode,
            account,
            "https://hooks.example.org/registry",
            ["recall"],
        )
        return created.subscription.id


def _invite(m: Matrix) -> str:
    newcomer = m.extra(m.world.coop, key=False)
    with m.transaction() as session:
        admin = session.get(Account, m.admin.account_id)
        account = session.get(Account, newcomer.account_id)
        assert admin is not None and account is not None
        _, token = session_service.create_invite(session, admin, account)
    return token


def _token_id(m: Matrix, who: Party) -> uuid.UUID:
    with m.transaction() as session:
        account = session.get(Account, who.account_id)
        assert account is not None
        row, _ = account_service.issue_token(session, account, "spare")
        return row.id


def _endorsement_revoked(m: Matrix, code: str) -> bool:
    with m.transaction() as session:
        found = session.scalars(select(Endorsement).where(Endorsement.code == code)).one()
        return found.revocation_index is not None


def _r(setup: Callable[[Matrix], Call], expect: dict[Rel, Outcome]) -> Row:
    return Row(setup, expect)


MATRIX: dict[tuple[str, str], Row] = {
    # --- organizations, accounts, tokens (administrators; the caller's own tokens) ---------
    ("POST", "/api/v1/organizations"): _r(
        lambda m: Call(
            "POST",
            "/api/v1/organizations",
            m.admin,
            m.world.coop,
            m.world.far_head,
            json={
                "kind": "cooperative",
                "name_zh": f"新合作社{m.n()}",
                "name_en": "New cooperative",
                "region_code": "150430",
            },
        ),
        api(201, 403, 403),
    ),
    ("POST", "/api/v1/accounts"): _r(
        lambda m: Call(
            "POST",
            "/api/v1/accounts",
            m.admin,
            m.world.coop,
            m.world.far_head,
            json={
                "organization_id": str(m.world.coop.org_id),
                "username": f"clerk-{m.n()}",
                "role": "clerk",
                "name_zh": "新职员",
            },
        ),
        api(201, 403, 403),
    ),
    ("POST", "/api/v1/tokens"): _r(
        lambda m: Call("POST", "/api/v1/tokens", m.world.coop, json={"name": "ci"}),
        {**api(201, SELF, SELF)},
    ),
    ("DELETE", "/api/v1/tokens/{token_id}"): _r(
        lambda m: Call(
            "DELETE",
            f"/api/v1/tokens/{_token_id(m, m.world.coop)}",
            m.world.coop,
            m.world.far_coop,
            m.world.far_head,
        ),
        api(200, 403, 403),
    ),
    # --- keys -----------------------------------------------------------------------------
    ("POST", "/api/v1/keys/drafts"): _r(
        lambda m: Call(
            "POST",
            "/api/v1/keys/drafts",
            m.world.coop,
            m.world.far_coop,
            m.world.far_head,
            json={
                "public_key": base64.b64encode(Signer.generate().public_key_raw).decode(),
                "rotates": _custodial_key_id(m, m.world.coop),
            },
        ),
        # Drafting writes nothing; another's key is "not found" (its existence not told).
        api(200, 404, 404),
    ),
    ("POST", "/api/v1/keys"): _r(
        lambda m: Call(
            "POST",
            "/api/v1/keys",
            m.world.coop,
            m.world.far_coop,
            m.world.far_head,
            json=_key_registration(m),
        ),
        api(201, 403, 403),
    ),
    ("POST", "/api/v1/keys/custodial"): _r(
        lambda m: Call(
            "POST",
            "/api/v1/keys/custodial",
            m.world.coop,
            m.world.far_coop,
            m.world.far_head,
            json={"account_id": str(m.world.coop.account_id)},
        ),
        api(201, 403, 403),
    ),
    ("POST", "/api/v1/keys/{key_id}/revoke"): _r(
        lambda m: (
            lambda holder: Call(
                "POST",
                f"/api/v1/keys/{_custodial_key_id(m, holder)}/revoke",
                holder,
                m.world.far_coop,
                m.world.far_head,
                json={"reason": "离职 left the cooperative"},
            )
        )(m.extra(m.world.coop)),
        api(200, 403, 403),
    ),
    # --- products and records -----------------------------------------------------------
    ("POST", "/api/v1/products"): _r(
        lambda m: Call(
            "POST",
            "/api/v1/products",
            m.world.coop,
            None,
            m.world.far_head,
            json={"name_zh": f"小米{m.n()}", "category": "grain"},
        ),
        # Made for the caller's own organization; an authority makes no products.
        api(201, SELF, 403),
    ),
    ("POST", "/api/v1/records"): _r(
        lambda m: Call(
            "POST",
            "/api/v1/records",
            m.world.coop,
            m.world.far_coop,
            m.world.far_head,
            json=_signed_packing(m),
        ),
        # Another account posting the cooperative's signed record: refused.
        api(201, 403, 403),
    ),
    ("POST", "/api/v1/records/batch"): _r(
        lambda m: Call(
            "POST",
            "/api/v1/records/batch",
            m.world.coop,
            m.world.far_coop,
            m.world.far_head,
            json={"envelopes": [_signed_packing(m)]},
        ),
        api(201, 403, 403),
    ),
    ("POST", "/api/v1/records/custodial"): _r(
        lambda m: Call(
            "POST",
            "/api/v1/records/custodial",
            m.world.coop,
            m.world.far_coop,
            m.world.far_head,
            json=_packing(m, m.batch()),
        ),
        api(201, 403, 403),
    ),
    ("POST", "/api/v1/epcis/capture"): _r(
        lambda m: Call(
            "POST",
            "/api/v1/epcis/capture",
            m.world.coop,
            m.world.far_coop,
            m.world.far_head,
            json=_epcis(m),
        ),
        # Capture answers per event: a refused event makes the whole capture a 422.
        api(201, 422, 422),
    ),
    ("POST", "/api/v1/batches/{batch}/recall"): _r(
        lambda m: Call(
            "POST",
            f"/api/v1/batches/{m.world.code_of(m.batch())}/recall",
            m.world.coop,
            m.world.far_coop,
            m.world.far_head,
            json={"reason": "霉变 mould"},
        ),
        api(201, 403, 403),
    ),
    # --- endorsements -------------------------------------------------------------------
    ("POST", "/api/v1/endorsement-requests"): _r(
        lambda m: Call(
            "POST",
            "/api/v1/endorsement-requests",
            m.world.coop,
            m.world.far_coop,
            m.world.far_head,
            json=_request_body(m),
        ),
        api(201, 403, 403),
    ),
    ("POST", "/api/v1/endorsement-requests/{request_id}/approve"): _r(
        lambda m: Call(
            "POST",
            f"/api/v1/endorsement-requests/{m.request()}/approve",
            m.world.head,
            m.world.coop,
            m.world.far_head,
        ),
        api(200, 403, 403),
    ),
    ("POST", "/api/v1/endorsement-requests/{request_id}/reject"): _r(
        lambda m: Call(
            "POST",
            f"/api/v1/endorsement-requests/{m.request()}/reject",
            m.world.head,
            m.world.coop,
            m.world.far_head,
            json={"reason": "检测报告过期 the lab report is stale"},
        ),
        api(200, 403, 403),
    ),
    ("POST", "/api/v1/endorsements/{code}/revoke"): _r(
        lambda m: (
            lambda code: Call(
                "POST",
                f"/api/v1/endorsements/{code}/revoke",
                m.world.head,
                m.world.coop,
                m.world.far_head,
                json={"reason": "直播取消 stream cancelled"},
                probe=lambda: _endorsement_revoked(m, code),
            )
        )(m.endorsement()),
        api(200, 403, 403),
    ),
    ("POST", "/api/v1/endorsements/{code}/reports"): _r(
        lambda m: Call(
            "POST",
            f"/api/v1/endorsements/{m.endorsement()}/reports",
            m.world.coop,
            json={"category": "quality_problem", "text": "小米有霉味 smells of mould"},
        ),
        # Anonymous by design; a token, good or bad, changes nothing.
        {
            Rel.OWN: PUBLIC,
            Rel.OTHER_ORG: PUBLIC,
            Rel.OTHER_JURISDICTION: PUBLIC,
            Rel.ANONYMOUS: 201,
            Rel.REVOKED: 201,
            Rel.EXPIRED: 201,
        },
    ),
    # --- webhooks -----------------------------------------------------------------------
    ("POST", "/api/v1/webhooks"): _r(
        lambda m: Call(
            "POST",
            "/api/v1/webhooks",
            m.world.coop,
            json={"url": "https://hooks.example.org/registry"},
        ),
        api(201, SELF, SELF),
    ),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): _r(
        lambda m: Call(
            "DELETE",
            f"/api/v1/webhooks/{_webhook(m)}",
            m.world.coop,
            m.world.far_coop,
            m.world.far_head,
        ),
        api(204, 404, 404),
    ),
    # --- the consumer page's report form (public) ------------------------------------------
    ("POST", "/e/{code}/report"): _r(
        lambda m: Call(
            "POST",
            f"/e/{m.endorsement()}/report",
            None,
            form={"category": "quality_problem", "text": "小米有霉味 smells of mould"},
        ),
        {r: PUBLIC for r in Rel} | {Rel.ANONYMOUS: 200},
    ),
    ("POST", "/E/{code}/report"): _r(
        lambda m: Call(
            "POST",
            f"/E/{m.endorsement()}/report",
            None,
            form={"category": "quality_problem", "text": "小米有霉味 smells of mould"},
        ),
        {r: PUBLIC for r in Rel} | {Rel.ANONYMOUS: 200},
    ),
    # --- the back office -----------------------------------------------------------------
    ("POST", "/office/admin/organizations"): _r(
        lambda m: Call(
            "POST",
            "/office/admin/organizations",
            m.admin,
            m.world.coop,
            m.world.far_head,
            form={"kind": "cooperative", "name_zh": f"新合作社{m.n()}", "region_code": "150430"},
        ),
        office(303, 403, 403),
    ),
    ("POST", "/office/admin/accounts"): _r(
        lambda m: Call(
            "POST",
            "/office/admin/accounts",
            m.admin,
            m.world.coop,
            m.world.far_head,
            form={
                "organization": str(m.world.coop.org_id),
                "role": "clerk",
                "username": f"office-clerk-{m.n()}",
                "name_zh": "新职员",
            },
        ),
        office(201, 403, 403),
    ),
    ("POST", "/office/admin/accounts/{account_id}/invite"): _r(
        lambda m: Call(
            "POST",
            f"/office/admin/accounts/{m.extra(m.world.coop, key=False).account_id}/invite",
            m.admin,
            m.world.coop,
            m.world.far_head,
            form={},
        ),
        office(200, 403, 403),
    ),
    ("POST", "/office/login"): _r(
        lambda m: Call(
            "POST",
            "/office/login",
            None,
            form={
                "username": m.extra(m.world.coop, password=True, key=False).username,
                "password": PASSWORD,
            },
        ),
        # Logging in is what an anonymous visitor does; a dead session's cookie neither
        # helps nor hinders.
        {
            Rel.OWN: "n/a: logging in makes the caller someone",
            Rel.OTHER_ORG: "n/a: logging in makes the caller someone",
            Rel.OTHER_JURISDICTION: "n/a: logging in makes the caller someone",
            Rel.ANONYMOUS: 303,
            Rel.REVOKED: 303,
            Rel.EXPIRED: 303,
        },
    ),
    ("POST", "/office/logout"): _r(
        lambda m: Call("POST", "/office/logout", m.world.coop, form={}),
        {
            Rel.OWN: 303,
            Rel.OTHER_ORG: SELF,
            Rel.OTHER_JURISDICTION: SELF,
            Rel.ANONYMOUS: 303,
            Rel.REVOKED: 303,
            Rel.EXPIRED: 303,
        },
    ),
    ("POST", "/office/password"): _r(
        lambda m: Call(
            "POST",
            "/office/password",
            m.extra(m.world.coop, password=True, key=False),
            form={
                "current_password": PASSWORD,
                "new_password": "a-new-password-456",
                "confirm_password": "a-new-password-456",
            },
        ),
        office(303, SELF, SELF),
    ),
    ("POST", "/office/invite/{token}"): _r(
        lambda m: Call(
            "POST",
            f"/office/invite/{_invite(m)}",
            None,
            form={"new_password": "a-new-password-456", "confirm_password": "a-new-password-456"},
        ),
        # The one-time link is the credential, whoever holds it.
        {
            Rel.OWN: "n/a: the invite link is the credential",
            Rel.OTHER_ORG: "n/a: the invite link is the credential",
            Rel.OTHER_JURISDICTION: "n/a: the invite link is the credential",
            Rel.ANONYMOUS: 303,
            Rel.REVOKED: 303,
            Rel.EXPIRED: 303,
        },
    ),
    ("POST", "/office/complaints/{report_id}/answer"): _r(
        lambda m: Call(
            "POST",
            f"/office/complaints/{m.report()}/answer",
            m.world.coop,
            m.world.far_coop,
            m.world.far_head,
            form={"text": "已召回并退款 recalled and refunded"},
        ),
        office(303, 404, 404),
    ),
    ("POST", "/office/products"): _r(
        lambda m: Call(
            "POST",
            "/office/products",
            m.world.coop,
            None,
            m.world.far_head,
            form={"name_zh": f"小米{m.n()}", "category": "grain"},
        ),
        office(303, SELF, 403),
    ),
    ("POST", "/office/records/new/{kind}"): _r(
        lambda m: Call(
            "POST",
            "/office/records/new/packing",
            m.world.coop,
            m.world.far_coop,
            m.world.far_head,
            form={
                "batch": m.world.code_of(m.batch()),
                "package.count": "200",
                "package.size": "5",
                "package.unit": "kg",
                "packaging": "布袋",
            },
        ),
        office(303, 422, 403),
    ),
    ("POST", "/office/requests/new"): _r(
        lambda m: Call(
            "POST",
            "/office/requests/new",
            m.world.coop,
            m.world.far_coop,
            m.world.far_head,
            form={"batches": [m.world.code_of(m.batch())], **_stream_form()},
        ),
        office(303, 422, 403),
    ),
    ("POST", "/office/requests/{request_id}/approve"): _r(
        lambda m: Call(
            "POST",
            f"/office/requests/{m.request()}/approve",
            m.world.head,
            m.world.coop,
            m.world.far_head,
            form={},
        ),
        office(303, 403, 404),
    ),
    ("POST", "/office/requests/{request_id}/reject"): _r(
        lambda m: Call(
            "POST",
            f"/office/requests/{m.request()}/reject",
            m.world.head,
            m.world.coop,
            m.world.far_head,
            form={"reason": "检测报告过期 the lab report is stale"},
        ),
        office(303, 403, 404),
    ),
    ("POST", "/office/endorsements/{code}/revoke"): _r(
        lambda m: (
            lambda code: Call(
                "POST",
                f"/office/endorsements/{code}/revoke",
                m.world.head,
                m.world.coop,
                m.world.far_head,
                form={"reason": "直播取消 stream cancelled"},
                probe=lambda: _endorsement_revoked(m, code),
            )
        )(m.endorsement()),
        office(303, 403, 404),
    ),
}


# --- running a cell -----------------------------------------------------------------------


def write_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(METHOD, path) of every route that takes an unsafe method."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before route contexts: the routes are flat
        contexts: list[Any] = list(app.routes)
    else:
        contexts = list(iter_route_contexts(app.routes))
    found = set()
    for context in contexts:
        route = getattr(context, "original_route", context)
        path = getattr(context, "path", None)
        methods = getattr(route, "methods", None) or set()
        if path is None or not isinstance(route, APIRoute):
            continue
        for method in methods - {"GET", "HEAD", "OPTIONS"}:
            found.add((method, path))
    return found


def _cells() -> list[Any]:
    return [
        pytest.param(key, relation, id=f"{key[0]} {key[1]} [{relation.value}]")
        for key, row in MATRIX.items()
        for relation, outcome in row.expect.items()
        if not (isinstance(outcome, str) and outcome.startswith("n/a"))
    ]


def _actor(call: Call, relation: Rel) -> Party | None:
    if relation is Rel.OTHER_ORG:
        return call.other_org
    if relation is Rel.OTHER_JURISDICTION:
        return call.other_jurisdiction
    return call.own


def _prepare(m: Matrix, call: Call, relation: Rel) -> Callable[[], httpx.Response]:
    """Make the caller's credentials (before the snapshot); return the request to send."""
    actor = _actor(call, relation)
    if relation in (Rel.OTHER_ORG, Rel.OTHER_JURISDICTION):
        assert actor is not None, f"{call.path}: the row names no party for {relation.value}"
    client = TestClient(m.app, raise_server_exceptions=False)
    if call.form is None:  # the JSON API: a bearer token
        headers = {}
        if relation in (Rel.OWN, Rel.OTHER_ORG, Rel.OTHER_JURISDICTION):
            assert actor is not None
            headers["Authorization"] = f"Bearer {actor.token}"
        elif relation is not Rel.ANONYMOUS:
            assert call.own is not None
            dead = m.token(
                call.own, revoked=relation is Rel.REVOKED, expired=relation is Rel.EXPIRED
            )
            headers["Authorization"] = f"Bearer {dead}"
        return lambda: client.request(call.method, call.path, json=call.json, headers=headers)
    # A browser form: a session cookie (or the pre-login cookie) and its CSRF token.
    if relation is Rel.ANONYMOUS:
        name, binding = PRE_COOKIE, uuid.uuid4().hex
    elif relation in (Rel.REVOKED, Rel.EXPIRED):
        who = call.own or m.world.coop
        name = SESSION_COOKIE
        binding = m.session_cookie(
            who, ended=relation is Rel.REVOKED, expired=relation is Rel.EXPIRED
        )
    else:
        assert actor is not None
        name, binding = SESSION_COOKIE, m.session_cookie(actor)
    client.cookies.set(name, binding)
    fake = cast(Request, SimpleNamespace(app=m.app))
    form = {**call.form, CSRF_FIELD: csrf_token_for(fake, binding)}
    return lambda: client.request(call.method, call.path, data=form, follow_redirects=False)


@pytest.mark.parametrize(("key", "relation"), _cells())
def test_matrix(matrix: Matrix, key: tuple[str, str], relation: Rel) -> None:
    row = MATRIX[key]
    expected = row.expect[relation]
    matrix.app.state.report_limiter = None  # each cell its own report budget
    call = row.setup(matrix)
    send = _prepare(matrix, call, relation)
    before = matrix.snapshot()
    probed = call.probe() if call.probe else None
    response = send()
    what = f"{key[0]} {key[1]} as {relation.value}"
    status = response.status_code
    assert status < 500, f"{what}: {status} {response.text[:500]}"
    if expected == LOGIN:
        location = response.headers.get("location", "")
        assert status == 303 and location.startswith("/office/login"), (
            f"{what}: expected a redirect to the login page, got {status} {location!r}"
        )
    else:
        assert status == expected, (
            f"{what}: expected {expected}, got {status}: {response.text[:600]}"
        )
        if status == 303:
            location = response.headers.get("location", "")
            assert key[1] == "/office/logout" or not location.startswith("/office/login"), (
                f"{what}: a success must not send the caller to the login page"
            )
    refused = expected == LOGIN or (isinstance(expected, int) and expected >= 400)
    if refused:
        after = matrix.snapshot()
        changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        assert not changed, f"{what} was refused but changed: {sorted(changed)}"
        if call.probe:
            assert call.probe() == probed, f"{what} was refused but changed its resource"


def test_every_write_endpoint_has_a_row(matrix: Matrix) -> None:
    routes = write_routes(matrix.app)
    assert len(routes) >= 30, f"only {len(routes)} write routes found: {sorted(routes)}"
    missing = sorted(routes - set(MATRIX))
    stale = sorted(set(MATRIX) - routes)
    assert not missing, f"write endpoints without an authorization-matrix row: {missing}"
    assert not stale, f"matrix rows for endpoints that no longer exist: {stale}"
    for key, row in MATRIX.items():
        assert set(row.expect) == set(Rel), f"{key}: the row must name every relation"


def test_a_revoked_token_is_refused_everywhere_at_once(matrix: Matrix) -> None:
    """Revoking a token through the API ends it for every endpoint, immediately."""
    token = matrix.token(matrix.world.coop)
    headers = {"Authorization": f"Bearer {token}"}
    client = matrix.world.client
    me = client.get("/api/v1/accounts/me", headers=headers)
    assert me.status_code == 200, me.text
    listed = client.get("/api/v1/tokens", headers=headers).json()
    mine = [t for t in listed if token.startswith(t["prefix"])]
    assert len(mine) == 1, listed
    revoked = client.delete(f"/api/v1/tokens/{mine[0]['id']}", headers=headers)
    assert revoked.status_code == 200, revoked.text
    for method, path in (("GET", "/api/v1/accounts/me"), ("POST", "/api/v1/tokens")):
        again = client.request(method, path, headers=headers, json={"name": "x"})
        assert again.status_code == 401, f"{method} {path} after revocation: {again.status_code}"
        assert again.headers.get("www-authenticate") == "Bearer"


def test_a_disabled_account_loses_its_tokens_and_sessions(matrix: Matrix) -> None:
    clerk = matrix.extra(matrix.world.coop, key=False)
    cookie = matrix.session_cookie(clerk)
    with matrix.transaction() as session:
        session.execute(
            update(Account)
            .where(Account.id == clerk.account_id)
            .values(disabled_at=datetime.now(UTC))
        )
    api_call = matrix.world.client.get(
        "/api/v1/accounts/me", headers={"Authorization": f"Bearer {clerk.token}"}
    )
    assert api_call.status_code == 401
    browser = TestClient(matrix.app)
    browser.cookies.set(SESSION_COOKIE, cookie)
    page = browser.get("/office/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/office/login")


def test_sql_metacharacters_in_credentials_are_just_wrong(matrix: Matrix) -> None:
    for token in ("' OR '1'='1", 'x" OR 1=1 --', "%", "_" * 40):
        response = matrix.world.client.get(
            "/api/v1/accounts/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, token
    with matrix.transaction() as session:
        assert session.execute(text("SELECT 1")).scalar() == 1


def _office_post(m: Matrix, who: Party, path: str, form: dict[str, Any]) -> httpx.Response:
    client = TestClient(m.app, raise_server_exceptions=False)
    binding = m.session_cookie(who)
    client.cookies.set(SESSION_COOKIE, binding)
    fake = cast(Request, SimpleNamespace(app=m.app))
    data = {**form, CSRF_FIELD: csrf_token_for(fake, binding)}
    return client.post(path, data=data, follow_redirects=False)


def test_office_forms_refuse_digits_that_are_not_ascii(matrix: Matrix) -> None:
    """'²⁰⁰'.isdigit() is true, but int() refuses it: a form error, never a 500."""
    packing = _office_post(
        matrix,
        matrix.world.coop,
        "/office/records/new/packing",
        {
            "batch": matrix.world.code_of(matrix.batch()),
            "package.count": "²⁰⁰",
            "package.size": "5",
            "package.unit": "kg",
        },
    )
    assert packing.status_code == 422, packing.text[:300]
    organization = _office_post(
        matrix,
        matrix.admin,
        "/office/admin/organizations",
        {"kind": "cooperative", "name_zh": "合作社", "region_code": "150430", "gln": "¹" * 13},
    )
    assert organization.status_code == 422, organization.text[:300]
