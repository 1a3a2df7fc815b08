"""A small world for the API tests.

``world`` starts the app on an empty database (SQLite and PostgreSQL, via the shared ``db``
and ``settings`` fixtures) and registers, through the services in two transactions (so each
test stays fast on PostgreSQL): an administrator of the operator; two cooperatives in Aohan
Banner (150430) and Shan County (371722); a processor, a carrier and a lab; an authority with
jurisdiction 1504 and an official; a token per account and a product per producer. Every
account gets a client-held key registered by proof of possession and countersigned by the
registry: cooperative A's through the two-step API (``POST /api/v1/keys/drafts`` then
``POST /api/v1/keys``), the others through the same service function the API calls.
Cooperative A's clerk, the processor's clerk and the official also get a custodial key.

The helpers build record documents, sign them into DSSE envelope JSON and post them; the
``World.unchanged`` context manager asserts that a refused request wrote nothing.
"""

from __future__ import annotations

import base64
import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from app.factory import create_app
from registry.accounts import accounts
from registry.catalog import products
from registry.crypto.dsse import sign_envelope
from registry.crypto.jcs import canonicalize
from registry.crypto.keys import Signer
from registry.db import transaction
from registry.log.note import Checkpoint
from registry.models import Account, Base, Batch, OrgKind, Record, Role, SigningKey
from registry.operations import bootstrap
from registry.records import keys
from registry.records.schema import RECORD_PAYLOAD_TYPE
from registry.settings import Settings

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://guarantee-registry.org/problems/"
BEIJING = timezone(timedelta(hours=8))

# --- records -------------------------------------------------------------------------------


def at(hours_ago: float = 1.0) -> str:
    """An RFC 3339 time with the +08:00 offset, ``hours_ago`` before now."""
    moment = datetime.now(UTC) - timedelta(hours=hours_ago)
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


def today() -> str:
    return datetime.now(BEIJING).date().isoformat()


def ref(product_id: str, lot: str) -> str:
    """A batch as records name it: ``"<product id>:<lot>"``."""
    return f"{product_id}:{lot}"


def harvest(org: str, batch: str, quantity: str = "1000", unit: str = "kg", **extra: Any) -> dict:
    document = {
        "kind": "harvest",
        "time": at(3),
        "org": org,
        "batches": [batch],
        "prev": {batch: None},
        "quantity": quantity,
        "unit": unit,
        "harvest_date": today(),
        "place": {"region": "150430", "name": "敖汉旗 Aohan Banner"},
    }
    document.update(extra)
    return document


def packing(org: str, batch: str, prev: str, **extra: Any) -> dict:
    document = {
        "kind": "packing",
        "time": at(2.5),
        "org": org,
        "batches": [batch],
        "prev": {batch: prev},
        "package": {"count": 200, "size": "5", "unit": "kg"},
        "packaging": "布袋 cloth bag",
    }
    document.update(extra)
    return document


def certificate(org: str, batch: str, prev: str, **extra: Any) -> dict:
    document = {
        "kind": "certificate",
        "time": at(2.4),
        "org": org,
        "batches": [batch],
        "prev": {batch: prev},
        "certificate_number": "HGZ-150430-0001",
        "promise": "不使用禁限用农药兽药 No banned pesticides or veterinary drugs",
        "basis": ["self_test"],
    }
    document.update(extra)
    return document


def inspection(org: str, batch: str, prev: str, **extra: Any) -> dict:
    document = {
        "kind": "inspection",
        "time": at(2.3),
        "org": org,
        "batches": [batch],
        "prev": {batch: prev},
        "report_number": "LAB-2026-0042",
        "results": [
            {
                "substance": "chlorpyrifos",
                "value": "0.001",
                "limit": "0.1",
                "unit": "mg/kg",
                "method": "GB 23200.113-2018",
                "verdict": "pass",
            }
        ],
        "verdict": "pass",
    }
    document.update(extra)
    return document


def shipping(org: str, batch: str, prev: str, to_org: str, **extra: Any) -> dict:
    document = {
        "kind": "shipping",
        "time": at(2.2),
        "org": org,
        "batches": [batch],
        "prev": {batch: prev},
        "to": {"org": to_org, "name": "赤峰米业 Chifeng Mill"},
        "quantity": "1000",
        "unit": "kg",
        "waybill": "WB-0001",
    }
    document.update(extra)
    return document


def receiving(org: str, batch: str, prev: str, from_org: str, **extra: Any) -> dict:
    document = {
        "kind": "receiving",
        "time": at(2.1),
        "org": org,
        "batches": [batch],
        "prev": {batch: prev},
        "source": {"org": from_org, "name": "敖汉运输 Aohan Logistics"},
        "quantity": "1000",
        "unit": "kg",
        "waybill": "WB-0001",
    }
    document.update(extra)
    return document


def assignment(org: str, batch: str, prev: str, to_org: str, task: str, **extra: Any) -> dict:
    """The holder hands ``batch`` to ``to_org`` for ``task`` (``carriage``, ``inspection``)."""
    document = {
        "kind": "assignment",
        "time": at(2.35),
        "org": org,
        "batches": [batch],
        "prev": {batch: prev},
        "to": {"org": to_org, "name": "委托方 assignee"},
        "task": task,
    }
    document.update(extra)
    return document


def processing(
    org: str, inputs: dict[str, tuple[str, str]], outputs: dict[str, str], unit: str = "kg"
) -> dict:
    """``inputs``: batch → (quantity consumed, prev); ``outputs``: batch → quantity made."""
    batches = [*inputs, *outputs]
    prev: dict[str, str | None] = {b: p for b, (_, p) in inputs.items()}
    prev.update({b: None for b in outputs})
    return {
        "kind": "processing",
        "time": at(2),
        "org": org,
        "batches": batches,
        "prev": prev,
        "inputs": [{"batch": b, "quantity": q} for b, (q, _) in inputs.items()],
        "outputs": [{"batch": b, "quantity": q, "unit": unit} for b, q in outputs.items()],
        "process": "去壳包装 hulling and packaging",
    }


def sign(
    document: dict | bytes, *signers: Signer, payload_type: str = RECORD_PAYLOAD_TYPE
) -> dict[str, Any]:
    """Canonicalize (unless given bytes) and sign into DSSE envelope JSON."""
    payload = document if isinstance(document, bytes) else canonicalize(document)
    return sign_envelope(payload_type, payload, list(signers)).to_json()


def payload_of(envelope: dict[str, Any]) -> bytes:
    return base64.b64decode(envelope["payload"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(
    response: httpx.Response,
    status: int,
    slug: str | None = None,
    *,
    rule: str | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """Assert an RFC 9457 problem of ``status`` naming ``slug``/``rule``/``detail``."""
    what = f"{response.request.method} {response.request.url.path}"
    assert response.status_code == status, (
        f"{what}: expected {status}, got {response.status_code}: {response.text[:600]}"
    )
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith(PROBLEM_JSON), (
        f"{what}: a {status} must be {PROBLEM_JSON}, got {content_type!r}: {response.text[:300]}"
    )
    body: dict[str, Any] = response.json()
    assert body.get("status") == status, f"{what}: problem body has status {body.get('status')}"
    assert isinstance(body.get("detail"), str) and body["detail"], (
        f"{what}: problem body has no detail: {body}"
    )
    if slug is not None:
        assert body.get("type") == PROBLEM_BASE + slug, (
            f"{what}: expected problem type {slug!r}, got {body.get('type')!r}: {body}"
        )
    if rule is not None:
        assert body.get("rule") == rule, (
            f"{what}: expected rule {rule!r}, got {body.get('rule')!r}: {body}"
        )
    if detail is not None:
        assert detail.lower() in body["detail"].lower(), (
            f"{what}: expected detail to mention {detail!r}, got {body['detail']!r}"
        )
    return body


# --- the world -------------------------------------------------------------------------------


@dataclass
class Member:
    """One organization with one account: its token, client-held key and product."""

    name: str
    org_id: str
    account_id: str
    token: str
    signer: Signer | None = None
    custodial_key_id: str | None = None
    product_id: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)

    def batch(self, lot: str) -> str:
        assert self.product_id is not None, f"{self.name} has no product"
        return ref(self.product_id, lot)


@dataclass(frozen=True)
class Snapshot:
    log_size: int
    records: int
    batches: int
    keys: int


@dataclass
class World:
    client: TestClient
    app: FastAPI
    admin: Member
    coop: Member
    coop_b: Member
    processor: Member
    carrier: Member
    lab: Member
    official: Member
    members: dict[str, Member] = field(default_factory=dict)

    # --- reading state ---------------------------------------------------------------

    def checkpoint(self) -> Checkpoint:
        response = self.client.get("/log/checkpoint")
        assert response.status_code == 200, f"/log/checkpoint failed: {response.text}"
        body, _, _ = response.text.partition("\n\n")
        return Checkpoint.parse(body + "\n")

    def log_size(self) -> int:
        return self.checkpoint().size

    def snapshot(self) -> Snapshot:
        with transaction(self.app.state.session_factory) as session:
            records = session.scalar(select(func.count()).select_from(Record))
            batches = session.scalar(select(func.count()).select_from(Batch))
            keys = session.scalar(select(func.count()).select_from(SigningKey))
        return Snapshot(self.log_size(), int(records or 0), int(batches or 0), int(keys or 0))

    @contextlib.contextmanager
    def unchanged(self, what: str = "a refused request") -> Iterator[None]:
        """Assert that the block leaves log, records, batches and keys as they were."""
        before = self.snapshot()
        yield
        after = self.snapshot()
        assert after == before, f"{what} wrote something: before {before}, after {after}"

    def batch(self, batch_ref: str) -> dict[str, Any]:
        """GET the batch named ``"<product>:<lot>"`` (through the product's batch list)."""
        product_id, _, lot = batch_ref.partition(":")
        response = self.client.get("/api/v1/batches", params={"product_id": product_id})
        assert response.status_code == 200, f"listing batches failed: {response.text}"
        found = [b for b in response.json()["items"] if b["lot"] == lot]
        assert found, f"batch {batch_ref} is not listed"
        return found[0]

    def head(self, batch_ref: str) -> str:
        return str(self.batch(batch_ref)["head"])

    def lenient_client(self) -> TestClient:
        """A client on the running app that returns a 500 as a response instead of raising,
        for tests asserting that something is never a 500."""
        return TestClient(self.app, raise_server_exceptions=False)

    # --- writing ---------------------------------------------------------------------

    def post(
        self, member: Member, envelope: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.client.post(
            "/api/v1/records", json=envelope, headers={**member.headers, **(headers or {})}
        )

    def submit(self, member: Member, document: dict[str, Any]) -> dict[str, Any]:
        """Sign with ``member``'s client-held key, post, and insist on 201."""
        assert member.signer is not None, f"{member.name} has no client-held key"
        response = self.post(member, sign(document, member.signer))
        assert response.status_code == 201, (
            f"{member.name} could not post a {document['kind']} record: "
            f"{response.status_code} {response.text[:600]}"
        )
        return dict(response.json())

    def submit_custodial(self, member: Member, draft: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post("/api/v1/records/custodial", json=draft, headers=member.headers)
        assert response.status_code == 201, (
            f"{member.name} could not post a custodial {draft.get('kind')} draft: "
            f"{response.status_code} {response.text[:600]}"
        )
        return dict(response.json())

    def harvested(self, member: Member, lot: str, quantity: str = "1000") -> tuple[str, str]:
        """Harvest a new batch for ``member``'s product; return (batch ref, head digest)."""
        batch = member.batch(lot)
        accepted = self.submit(member, harvest(member.org_id, batch, quantity))
        return batch, str(accepted["digest"])

    def assigned(self, holder: Member, batch: str, head: str, to: Member, task: str) -> str:
        """``holder`` hands ``batch`` to ``to`` for ``task``; return the new head digest."""
        document = assignment(holder.org_id, batch, head, to.org_id, task)
        return str(self.submit(holder, document)["digest"])

    def delivered(self, holder: Member, batch: str, head: str, to: Member) -> str:
        """``holder`` assigns the carrier, which ships ``batch`` to ``to``, which receives
        it; return the new head digest."""
        head = self.assigned(holder, batch, head, self.carrier, "carriage")
        shipped = shipping(self.carrier.org_id, batch, head, to.org_id)
        head = str(self.submit(self.carrier, shipped)["digest"])
        received = receiving(to.org_id, batch, head, self.carrier.org_id)
        return str(self.submit(to, received)["digest"])

    def register_client_key(self, member: Member, rotates: str | None = None) -> Signer:
        """The two-step client-held key registration (or rotation) through the API."""
        signer = Signer.generate()
        body: dict[str, Any] = {"public_key": base64.b64encode(signer.public_key_raw).decode()}
        if rotates is not None:
            body["rotates"] = rotates
        draft = self.client.post("/api/v1/keys/drafts", json=body, headers=member.headers)
        assert draft.status_code == 200, f"key draft for {member.name} failed: {draft.text}"
        drafted = draft.json()
        assert drafted["key_id"] == signer.key_id, "the draft names another key id"
        envelope = sign(
            base64.b64decode(drafted["payload"]), signer, payload_type=drafted["payloadType"]
        )
        registered = self.client.post(
            "/api/v1/keys", json={"envelope": envelope}, headers=member.headers
        )
        assert registered.status_code == 201, (
            f"registering {member.name}'s key failed: {registered.status_code} {registered.text}"
        )
        key = registered.json()
        assert key["key_id"] == signer.key_id and key["status"] == "active", key
        assert key["custodial"] is False, "a client-held key is reported as custodial"
        return signer

    def create_custodial_key(self, member: Member) -> str:
        response = self.client.post("/api/v1/keys/custodial", json={}, headers=member.headers)
        assert response.status_code == 201, (
            f"custodial key for {member.name} failed: {response.status_code} {response.text}"
        )
        assert response.json()["custodial"] is True, "a custodial key is not marked custodial"
        return str(response.json()["key_id"])


ORGANIZATIONS: dict[str, dict[str, Any]] = {
    "coop": {
        "org": {
            "kind": "cooperative",
            "name_zh": "敖汉旗小米合作社",
            "name_en": "Aohan Millet Cooperative",
            "region_code": "150430",
        },
        "role": "clerk",
    },
    "coop_b": {
        "org": {
            "kind": "cooperative",
            "name_zh": "单县蛋鸡合作社",
            "name_en": "Shan County Egg Cooperative",
            "region_code": "371722",
        },
        "role": "clerk",
    },
    "processor": {
        "org": {
            "kind": "processor",
            "name_zh": "赤峰米业",
            "name_en": "Chifeng Mill",
            "region_code": "150402",
        },
        "role": "clerk",
    },
    "carrier": {
        "org": {
            "kind": "carrier",
            "name_zh": "敖汉运输",
            "name_en": "Aohan Logistics",
            "region_code": "150430",
        },
        "role": "clerk",
    },
    "lab": {
        "org": {
            "kind": "lab",
            "name_zh": "赤峰检测中心",
            "name_en": "Chifeng Testing Center",
            "region_code": "150402",
        },
        "role": "clerk",
    },
    "official": {
        "org": {
            "kind": "authority",
            "name_zh": "赤峰市农牧局",
            "name_en": "Chifeng Agriculture Bureau",
            "region_code": "150400",
            "jurisdiction": "1504",
        },
        "role": "official",
    },
}
PRODUCTS = {
    "coop": ("敖汉小米", "Aohan millet"),
    "coop_b": ("单县鸡蛋", "Shan County eggs"),
    "processor": ("袋装小米", "Packaged millet"),
}
CUSTODIAL = ("coop", "processor", "official")


def _members(app: FastAPI) -> tuple[Member, dict[str, Member]]:
    """Administrator, organizations, accounts, tokens and products, in one transaction."""
    members: dict[str, Member] = {}
    with transaction(app.state.session_factory) as session:
        operator = bootstrap.operator(session)
        admin = accounts.create_account(
            session,
            organization=operator,
            username="admin",
            role=Role.ADMIN,
            name_zh="管理员",
            name_en="Administrator",
        )
        _, admin_token = accounts.issue_token(session, admin, "admin")
        for name, spec in ORGANIZATIONS.items():
            org = accounts.create_organization(
                session,
                kind=OrgKind(spec["org"]["kind"]),
                name_zh=spec["org"]["name_zh"],
                name_en=spec["org"]["name_en"],
                region_code=spec["org"]["region_code"],
                jurisdiction=spec["org"].get("jurisdiction"),
            )
            account = accounts.create_account(
                session,
                organization=org,
                username=f"{name.replace('_', '-')}-clerk",
                role=Role(spec["role"]),
                name_zh=f"{org.name_zh}职员",
                name_en=f"{org.name_en} clerk",
            )
            _, token = accounts.issue_token(session, account, f"{name} token")
            member = Member(name, str(org.id), str(account.id), token)
            if name in PRODUCTS:
                name_zh, name_en = PRODUCTS[name]
                member.product_id = str(
                    products.create_product(
                        session, account, name_zh=name_zh, name_en=name_en, category="grain"
                    ).id
                )
            members[name] = member
        return Member("admin", str(operator.id), str(admin.id), admin_token), members


def _service_keys(app: FastAPI, members: dict[str, Member]) -> None:
    """Client-held keys (proof of possession, countersigned) and custodial keys, in one
    transaction through the same service functions the keys API calls."""
    ctx = app.state.ctx
    with transaction(app.state.session_factory) as session:
        for member in members.values():
            account = session.get(Account, uuid.UUID(member.account_id))
            assert account is not None
            if member.signer is None:
                signer = Signer.generate()
                payload = keys.registration_draft(session, ctx, account, signer.public_key_raw)
                envelope = sign_envelope(RECORD_PAYLOAD_TYPE, payload, [signer])
                keys.register_client_key(session, ctx, account, envelope)
                member.signer = signer
            if member.name in CUSTODIAL:
                member.custodial_key_id = keys.create_custodial_key(session, ctx, account).key_id


@contextlib.contextmanager
def build_world(settings: Settings, db: Engine) -> Iterator[World]:
    with TestClient(create_app(settings, db)) as client:
        app = client.app
        assert isinstance(app, FastAPI)
        admin, members = _members(app)
        world = World(client, app, admin, members=members, **members)
        # Cooperative A's key goes through the two-step keys API, as a client would do it.
        world.coop.signer = world.register_client_key(world.coop)
        _service_keys(app, members)
        yield world


@pytest.fixture
def admin_world(settings: Settings, db: Engine) -> Iterator[tuple[TestClient, Member]]:
    """Just the app and an administrator (for building organizations through the API)."""
    with TestClient(create_app(settings, db)) as client:
        app = client.app
        assert isinstance(app, FastAPI)
        with transaction(app.state.session_factory) as session:
            operator = bootstrap.operator(session)
            admin = accounts.create_account(
                session,
                organization=operator,
                username="admin",
                role=Role.ADMIN,
                name_zh="管理员",
            )
            _, token = accounts.issue_token(session, admin, "admin")
            member = Member("admin", str(operator.id), str(admin.id), token)
        yield client, member


SMALL_BODY_LIMIT = 4096


def _delete_all_rows(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def db(engine: Engine) -> Iterator[Engine]:
    """Overrides the shared ``db`` for tests/api with the same contract (an engine on empty
    tables, emptied again after the test) but empties with DELETE on every backend, as the
    shared one does on SQLite: a TRUNCATE of every table costs PostgreSQL 0.1-0.3 s, twice
    per test, which is more than building the whole world."""
    _delete_all_rows(engine)
    yield engine
    _delete_all_rows(engine)


@pytest.fixture
def world(settings: Settings, db: Engine) -> Iterator[World]:
    with build_world(settings, db) as built:
        yield built


@pytest.fixture
def small_world(settings: Settings, db: Engine) -> Iterator[World]:
    """The same world, served with ``max_body_bytes`` = SMALL_BODY_LIMIT."""
    small = settings.model_copy(update={"max_body_bytes": SMALL_BODY_LIMIT})
    with build_world(small, db) as built:
        assert built.app.state.settings.max_body_bytes == SMALL_BODY_LIMIT
        yield built
