"""A small world for the endorsement tests, and the checks a viewer's phone makes.

``build_world`` starts the app on empty tables (SQLite and PostgreSQL, via the shared ``db``
and ``settings`` fixtures) and registers, directly through the services (no passwords, so no
slow password hashing):

- ``gov``: 敖汉旗人民政府, jurisdiction 150430, with two officials ``head`` and ``deputy``;
  ``approvals_required`` is a parameter (1 by default, 2 for the threshold test);
- ``far_gov``: 单县人民政府, jurisdiction 371722, with one official ``far_head``;
- ``coop``: a millet cooperative in Aohan Banner (150430), product ``millet``;
- ``far_coop``: an egg cooperative in Shan County (371722), product ``eggs``;
- ``mill``: a processor in Chifeng (150402), products ``hulled`` and ``packaged``;
- ``lab``: a testing lab in Chifeng (150402).

Every account has a custodial key and an API token. Supply-chain records are signed with the
custodial key of the party that did the step and go through the one ingestion path
(``records.sign_and_submit``), like the demo loader's; the endorsement workflow itself is
driven through the HTTP API with bearer tokens.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from app.factory import create_app
from registry.accounts import accounts as account_service
from registry.catalog import products as product_service
from registry.context import RegistryContext
from registry.crypto.dsse import Envelope, sign_envelope, verify_signature
from registry.crypto.jcs import canonicalize
from registry.crypto.keys import Signer, load_public_key
from registry.db import transaction
from registry.endorsements import decisions as endorsement_service
from registry.endorsements import requests as endorsement_requests
from registry.log.merkle import leaf_hash, verify_inclusion
from registry.log.note import open_checkpoint, parse_vkey
from registry.models import Account, Batch, Endorsement, Organization, OrgKind, Role
from registry.records import custodial
from registry.records import ingest as record_service
from registry.records import keys as key_service
from registry.records.schema import RECORD_PAYLOAD_TYPE
from registry.settings import Settings

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://guarantee-registry.org/problems/"
BEIJING = timezone(timedelta(hours=8))
CLAIMS = ["origin_verified", "lab_tested", "certified", "personally_vouched"]
PRECONDITIONS = ["origin", "lab_test", "certificate", "no_recall", "chain_verifies"]
AOHAN = {"region": "150430", "lat": "42.29", "lon": "119.92", "name": "敖汉旗四家子镇"}
SHANXIAN = {"region": "371722", "lat": "34.79", "lon": "116.09", "name": "单县终兴镇"}


def moment(days: float = 0, hours: float = 0) -> datetime:
    """Now plus an offset, in Beijing time, to the second."""
    now = datetime.now(UTC).replace(microsecond=0)
    return (now + timedelta(days=days, hours=hours)).astimezone(BEIJING)


def stamp(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


def stream(start: datetime | None = None, hours: float = 3, title: str = "") -> dict[str, Any]:
    """A Taobao Live stream starting at ``start`` (default: an hour ago)."""
    start = start or moment(hours=-1)
    return {
        "platform": "taobao_live",
        "room": "https://m.tb.cn/live/aohan-millet-test",
        "title": title or "旗长带你尝敖汉新米 The banner head's Aohan new-millet live",
        "start": stamp(start),
        "end": stamp(start + timedelta(hours=hours)),
        "hosts": [{"name": "小米姐姐 Xiaomi Jiejie", "role": "streamer"}],
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(
    response: httpx.Response,
    status: int,
    *,
    slug: str | None = None,
    rule: str | None = None,
    what: str = "",
) -> dict[str, Any]:
    """Assert an RFC 9457 problem of ``status`` (naming ``slug`` / ``rule``); return it."""
    where = f"{what or 'request'} ({response.request.method} {response.request.url.path})"
    assert response.status_code == status, (
        f"{where}: expected {status}, got {response.status_code}: {response.text[:800]}"
    )
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith(PROBLEM_JSON), (
        f"{where}: a {status} must be {PROBLEM_JSON}, got {content_type!r}"
    )
    body: dict[str, Any] = response.json()
    assert body.get("status") == status and body.get("detail"), (
        f"{where}: the problem body lacks status/detail: {body}"
    )
    if slug is not None:
        assert body.get("type") == PROBLEM_BASE + slug, (
            f"{where}: expected problem type {slug!r}, got {body.get('type')!r}"
        )
    if rule is not None:
        assert body.get("rule") == rule, (
            f"{where}: expected the refusal to name rule {rule!r}, got {body.get('rule')!r}: "
            f"{body.get('detail')}"
        )
    return body


def expect(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    """Assert a successful status and return the JSON body."""
    assert response.status_code == status, (
        f"{what}: expected {status}, got {response.status_code}: {response.text[:800]}"
    )
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Party:
    """One organization with one account (its API token and custodial key)."""

    name: str
    kind: OrgKind
    org_id: uuid.UUID
    account_id: uuid.UUID
    username: str
    token: str = ""
    products: dict[str, uuid.UUID] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)

    def ref(self, product: str, lot: str) -> str:
        """A batch as records name it: ``"<product id>:<lot>"``."""
        return f"{self.products[product]}:{lot}"


@dataclass(frozen=True)
class OrgSpec:
    name: str
    kind: OrgKind
    name_zh: str
    name_en: str
    region: str
    jurisdiction: str | None = None
    role: Role = Role.CLERK
    products: tuple[str, ...] = ()
    # Further officials of the same authority (username suffix), e.g. ("deputy",).
    colleagues: tuple[str, ...] = ()


ORGS = [
    OrgSpec(
        "head",
        OrgKind.AUTHORITY,
        "敖汉旗人民政府",
        "Aohan Banner People's Government",
        "150430",
        "150430",
        Role.OFFICIAL,
        colleagues=("deputy",),
    ),
    OrgSpec(
        "far_head",
        OrgKind.AUTHORITY,
        "单县人民政府",
        "Shan County People's Government",
        "371722",
        "371722",
        Role.OFFICIAL,
    ),
    OrgSpec(
        "coop",
        OrgKind.COOPERATIVE,
        "敖汉旗金谷小米种植专业合作社",
        "Aohan Golden Millet Growers' Cooperative",
        "150430",
        products=("millet",),
    ),
    OrgSpec(
        "far_coop",
        OrgKind.COOPERATIVE,
        "单县绿源蛋鸡养殖专业合作社",
        "Shan County Lvyuan Layer Farmers' Cooperative",
        "371722",
        products=("eggs",),
    ),
    OrgSpec(
        "mill",
        OrgKind.PROCESSOR,
        "赤峰谷丰米业有限公司",
        "Chifeng Gufeng Millet Mill Co.",
        "150402",
        products=("hulled", "packaged"),
    ),
    OrgSpec("lab", OrgKind.LAB, "赤峰谷检检测技术有限公司", "Chifeng Gujian Testing Co.", "150402"),
    OrgSpec(
        "carrier",
        OrgKind.CARRIER,
        "蒙东冷链物流有限公司",
        "Mengdong Cold-Chain Logistics Co.",
        "150404",
    ),
]
PRODUCT_NAMES = {
    "millet": ("敖汉小米（谷子原粮）", "Aohan millet (unhulled)", "grain"),
    "eggs": ("单县无抗鸡蛋", "Shan County antibiotic-free eggs", "eggs"),
    "hulled": ("敖汉小米（脱壳）", "Aohan millet (hulled)", "grain"),
    "packaged": ("敖汉小米 2.5kg 袋装", "Aohan millet, 2.5 kg bag", "grain"),
}


@dataclass
class World:
    client: TestClient
    app: FastAPI
    parties: dict[str, Party]

    def __getattr__(self, name: str) -> Party:
        parties = self.__dict__.get("parties", {})
        if name in parties:
            return parties[name]  # type: ignore[no-any-return]
        raise AttributeError(name)

    @property
    def ctx(self) -> RegistryContext:
        ctx: RegistryContext = self.app.state.ctx
        return ctx

    def set_clock(self, clock: Callable[[], datetime]) -> None:
        """Replace the registry's clock (status is computed against it)."""
        self.app.state.ctx.clock = clock

    # --- supply-chain records (custodial signing, the one ingestion path) -----------------

    def record(self, who: Party, draft: dict[str, Any]) -> str:
        """Sign ``draft`` with ``who``'s custodial key and accept it; return its digest."""
        with transaction(self.app.state.session_factory) as session:
            account = session.get(Account, who.account_id)
            assert account is not None
            accepted = record_service.sign_and_submit(session, self.ctx, account, draft)
            return accepted.digest

    def harvest(
        self,
        who: Party,
        product: str,
        lot: str,
        *,
        days_ago: float = 20,
        quantity: str = "1000",
        best_before: str | None = None,
        place: dict[str, str] | None = None,
    ) -> str:
        batch = who.ref(product, lot)
        draft: dict[str, Any] = {
            "kind": "harvest",
            "time": stamp(moment(days=-days_ago)),
            "batches": [batch],
            "quantity": quantity,
            "unit": "kg",
            "harvest_date": moment(days=-days_ago).date().isoformat(),
            "best_before": best_before or moment(days=365).date().isoformat(),
            "place": place or AOHAN,
        }
        self.record(who, draft)
        return batch

    def certify(self, who: Party, batch: str, *, days_ago: float = 19) -> None:
        self.record(
            who,
            {
                "kind": "certificate",
                "time": stamp(moment(days=-days_ago)),
                "batches": [batch],
                "certificate_number": f"HG-{batch[-6:]}",
                "promise": "不使用禁用农药兽药、停用兽药和非法添加物，常规农药兽药残留不超标。",
                "basis": ["self_test", "quality_control"],
            },
        )

    def holder(self, batch: str) -> Party:
        """The party holding the batch now (its producer until another receives it)."""
        product_id, _, lot = batch.partition(":")
        with transaction(self.app.state.session_factory) as session:
            row = session.scalars(
                select(Batch).where(Batch.product_id == uuid.UUID(product_id), Batch.lot == lot)
            ).one()
            holder = row.holder_org_id
        return next(p for p in self.parties.values() if p.org_id == holder)

    def assign(self, batch: str, task: str, to: Party, *, days_ago: float = 16) -> None:
        """The batch's holder hands it to ``to`` for ``task`` (an assignment record)."""
        self.record(
            self.holder(batch),
            {
                "kind": "assignment",
                "time": stamp(moment(days=-days_ago)),
                "batches": [batch],
                "task": task,
                "to": {"org": str(to.org_id), "name": to.username},
            },
        )

    def deliver(self, batch: str, to: Party, *, days_ago: float = 13) -> None:
        """The holder assigns the carrier, which ships the batch to ``to``, which receives it."""
        carrier = self.parties["carrier"]
        self.assign(batch, "carriage", carrier, days_ago=days_ago)
        self.record(
            carrier,
            {
                "kind": "shipping",
                "time": stamp(moment(days=-days_ago)),
                "batches": [batch],
                "to": {"org": str(to.org_id), "name": to.username},
            },
        )
        self.record(
            to,
            {
                "kind": "receiving",
                "time": stamp(moment(days=-days_ago)),
                "batches": [batch],
                "source": {"org": str(carrier.org_id), "name": carrier.username},
            },
        )

    def inspect(self, batch: str, *, days_ago: float = 15, verdict: str = "pass") -> None:
        """The holder asks the lab, which inspects the batch."""
        value = "0.003" if verdict == "pass" else "0.5"
        self.assign(batch, "inspection", self.parties["lab"], days_ago=days_ago)
        self.record(
            self.parties["lab"],
            {
                "kind": "inspection",
                "time": stamp(moment(days=-days_ago)),
                "batches": [batch],
                "report_number": f"GJ-{batch[-6:]}-{verdict}",
                "verdict": verdict,
                "results": [
                    {
                        "substance": "毒死蜱 chlorpyrifos",
                        "value": value,
                        "limit": "0.1",
                        "unit": "mg/kg",
                        "method": "GB 23200.113-2018",
                        "verdict": verdict,
                    }
                ],
            },
        )

    def process(
        self, inputs: list[tuple[str, str]], outputs: list[tuple[str, str, str]], days_ago: float
    ) -> None:
        """The mill turns input batches into output batches (ref, quantity, unit); an input
        it does not hold yet is delivered to it first."""
        mill = self.parties["mill"]
        for batch, _ in inputs:
            if self.holder(batch) != mill:
                self.deliver(batch, mill, days_ago=days_ago)
        self.record(
            self.parties["mill"],
            {
                "kind": "processing",
                "time": stamp(moment(days=-days_ago)),
                "process": "脱壳、抛光、包装 hulling, polishing, packing",
                "inputs": [{"batch": b, "quantity": q} for b, q in inputs],
                "outputs": [
                    {
                        "batch": b,
                        "quantity": q,
                        "unit": u,
                        "best_before": moment(days=300).date().isoformat(),
                    }
                    for b, q, u in outputs
                ],
            },
        )

    def good_millet(self, lot: str, **harvest: Any) -> str:
        """A raw millet batch with every precondition met: harvest, 合格证, passing test."""
        batch = self.harvest(self.parties["coop"], "millet", lot, **harvest)
        self.certify(self.parties["coop"], batch)
        self.inspect(batch)
        return batch

    def packaged_millet(self, lot: str) -> tuple[str, str, str]:
        """Raw millet → (mill) hulled millet → (mill) 2.5 kg bags, certified by the mill.

        The lab tested only the raw batch: the ancestor's test covers the bags. Returns the
        (raw, hulled, packaged) batch refs.
        """
        raw = self.good_millet(f"R{lot}")
        mill = self.parties["mill"]
        hulled = mill.ref("hulled", f"H{lot}")
        packaged = mill.ref("packaged", f"P{lot}")
        self.process([(raw, "1000")], [(hulled, "800", "kg")], days_ago=12)
        self.process([(hulled, "800")], [(packaged, "320", "bag")], days_ago=10)
        self.certify(mill, packaged, days_ago=9)
        return raw, hulled, packaged

    def code_of(self, batch: str) -> str:
        product, _, lot = batch.partition(":")
        with transaction(self.app.state.session_factory) as session:
            found = session.scalars(
                select(Batch).where(Batch.product_id == uuid.UUID(product), Batch.lot == lot)
            ).one()
            return found.code

    def endorsement_count(self) -> int:
        with transaction(self.app.state.session_factory) as session:
            return int(session.scalar(select(func.count()).select_from(Endorsement)) or 0)

    # --- hand-made envelopes (what a client-held key could post) -------------------------

    def signer(self, who: Party) -> Signer:
        """``who``'s custodial signing key, as a client would hold it."""
        with transaction(self.app.state.session_factory) as session:
            account = session.get(Account, who.account_id)
            assert account is not None
            return custodial.custodial_signer(session, self.ctx, account)

    def endorsement_document(self, request_id: str, **overrides: Any) -> dict[str, Any]:
        """The endorsement record the registry would sign for a pending request (nothing is
        written: the session is rolled back)."""
        factory = self.app.state.session_factory
        with factory() as session:
            request = endorsement_requests.get_request(session, uuid.UUID(request_id))
            authority = session.get(Organization, request.authority_id)
            assert authority is not None
            document = endorsement_service.endorsement_document(
                session, self.ctx, request, authority
            )
            session.rollback()
        return {**document, **overrides}

    def post_envelope(
        self, who: Party, document: dict[str, Any], *signers: Signer
    ) -> httpx.Response:
        envelope = sign_envelope(RECORD_PAYLOAD_TYPE, canonicalize(document), list(signers))
        return self.client.post("/api/v1/records", json=envelope.to_json(), headers=who.headers)

    def custodial(self, who: Party, draft: dict[str, Any]) -> httpx.Response:
        return self.client.post("/api/v1/records/custodial", json=draft, headers=who.headers)

    def request_status(self, request_id: str) -> str:
        with transaction(self.app.state.session_factory) as session:
            request = endorsement_requests.get_request(session, uuid.UUID(request_id))
            return request.status.value

    # --- the endorsement workflow, over HTTP ------------------------------------------

    def request(
        self,
        who: Party,
        batches: list[str],
        official: str,
        *,
        stream_doc: dict[str, Any] | None = None,
        quantity: str = "100",
        **extra: Any,
    ) -> httpx.Response:
        body = {
            "batches": [self.code_of(b) for b in batches],
            "official": official,
            "stream": stream_doc or stream(),
            "claims": CLAIMS,
            "quantity": quantity,
            **extra,
        }
        return self.client.post("/api/v1/endorsement-requests", json=body, headers=who.headers)

    def requested(self, who: Party, batches: list[str], official: str, **extra: Any) -> str:
        """Request an endorsement, insist on 201 ``pending``; return the request id."""
        body = expect(
            self.request(who, batches, official, **extra),
            201,
            f"{who.name} requesting an endorsement from {official}",
        )
        assert body["status"] == "pending", f"a new request must be pending: {body}"
        return str(body["id"])

    def review(self, who: Party, request_id: str) -> httpx.Response:
        return self.client.get(
            f"/api/v1/endorsement-requests/{request_id}/review", headers=who.headers
        )

    def approve(self, who: Party, request_id: str) -> httpx.Response:
        return self.client.post(
            f"/api/v1/endorsement-requests/{request_id}/approve", headers=who.headers
        )

    def approved(self, who: Party, request_id: str) -> str:
        """Approve, insist on ``approved`` with a code; return the code."""
        body = expect(self.approve(who, request_id), 200, f"{who.name} approving {request_id}")
        assert body["status"] == "approved" and body["code"], (
            f"an approved request must say so and carry the endorsement code: {body}"
        )
        return str(body["code"])

    def producer(self, batch: str) -> Party:
        """The party whose product the batch is."""
        product = uuid.UUID(batch.partition(":")[0])
        return next(p for p in self.parties.values() if product in p.products.values())

    def endorse(self, batch: str, official: str = "head", **extra: Any) -> str:
        """The batch's producer requests, ``official`` approves; return the code."""
        officer = self.parties[official]
        request_id = self.requested(self.producer(batch), [batch], officer.username, **extra)
        return self.approved(officer, request_id)

    def revoke(self, who: Party, code: str, reason: str) -> httpx.Response:
        return self.client.post(
            f"/api/v1/endorsements/{code}/revoke", json={"reason": reason}, headers=who.headers
        )

    def verify(self, code: str) -> dict[str, Any]:
        return expect(self.client.get(f"/api/v1/verify/{code}"), 200, f"verifying {code}")

    def status(self, code: str) -> str:
        return str(self.verify(code)["status"])


def _party(session: Any, ctx: RegistryContext, spec: OrgSpec, username: str, org: Any) -> Party:
    account = account_service.create_account(
        session,
        organization=org,
        username=username,
        role=spec.role,
        name_zh=f"{spec.name_zh}·{username}",
        name_en=f"{spec.name_en}, {username}",
        title_zh="旗长" if username == "head" else "",
        title_en="Head of Aohan Banner" if username == "head" else "",
    )
    key_service.create_custodial_key(session, ctx, account)
    _, token = account_service.issue_token(session, account, "endorsement tests")
    return Party(username, spec.kind, org.id, account.id, username.replace("_", "-"), token)


@contextlib.contextmanager
def build_world(settings: Settings, db: Engine, approvals_required: int = 1) -> Iterator[World]:
    with TestClient(create_app(settings, db)) as client:
        app = client.app
        assert isinstance(app, FastAPI)
        ctx: RegistryContext = app.state.ctx
        parties: dict[str, Party] = {}
        with transaction(app.state.session_factory) as session:
            for spec in ORGS:
                org = account_service.create_organization(
                    session,
                    kind=spec.kind,
                    name_zh=spec.name_zh,
                    name_en=spec.name_en,
                    region_code=spec.region,
                    jurisdiction=spec.jurisdiction,
                    approvals_required=approvals_required if spec.name == "head" else 1,
                )
                for username in (spec.name, *spec.colleagues):
                    parties[username] = _party(session, ctx, spec, username.replace("_", "-"), org)
                    parties[username].name = username
                for product in spec.products:
                    account = session.get(Account, parties[spec.name].account_id)
                    assert account is not None
                    name_zh, name_en, category = PRODUCT_NAMES[product]
                    parties[spec.name].products[product] = product_service.create_product(
                        session, account, name_zh=name_zh, name_en=name_en, category=category
                    ).id
        yield World(client, app, parties)


# --- what a viewer's phone checks, without trusting the server ---------------------------------


KEY_RECORDS = frozenset({"key_registration", "key_rotation", "key_revocation"})


def assert_verifies_offline(
    document: dict[str, Any],
    vkey_text: str | None = None,
    *,
    registry_key_listed: bool = True,
) -> None:
    """The client-side checks of a verification document.

    Each chain entry's DSSE signatures verify against the keys listed in ``keys``; each leaf
    commits to its payload's SHA-256 and signatures; each inclusion proof leads to the root
    of ``checkpoint``; the checkpoint note is signed by the log key ``log.vkey``.

    ``registry_key_listed=False`` tolerates a key record's signature by a key missing from
    ``keys`` (the registry's countersignature; see ``test_registry_key_is_listed``), as
    long as the entry's other signatures verify.
    """
    code = document.get("code")
    verifier = parse_vkey(document["log"]["vkey"])
    if vkey_text is not None:
        assert document["log"]["vkey"] == vkey_text.strip(), (
            f"{code}: the verify document's log vkey differs from /log/vkey"
        )
    checkpoint, _ = open_checkpoint(document["checkpoint"]["note"], [verifier])
    root = base64.b64decode(document["checkpoint"]["root"])
    assert checkpoint.size == document["checkpoint"]["size"], (
        f"{code}: the signed checkpoint size {checkpoint.size} differs from the document's "
        f"{document['checkpoint']['size']}"
    )
    assert checkpoint.root_hash == root, f"{code}: the signed checkpoint root differs"
    assert checkpoint.origin == document["log"]["origin"], f"{code}: checkpoint origin differs"

    public_keys = {
        k["key_id"]: load_public_key(base64.b64decode(k["public_key"])) for k in document["keys"]
    }
    assert document["chain"], f"{code}: the verify document has an empty chain"
    for entry in document["chain"]:
        where = f"{code}: chain entry {entry['index']} ({entry['kind']})"
        envelope = Envelope.from_json(entry["envelope"])
        listed = [s.keyid for s in envelope.signatures if s.keyid in public_keys]
        missing = [s.keyid for s in envelope.signatures if s.keyid not in public_keys]
        tolerated = not registry_key_listed and entry["kind"] in KEY_RECORDS
        assert listed and (not missing or tolerated), (
            f"{where} is signed by keys absent from 'keys': {missing}"
        )
        for keyid in listed:  # raises VerificationError if a signature does not verify
            verify_signature(envelope, keyid, public_keys[keyid])
        leaf = base64.b64decode(entry["leaf"])
        committed = json.loads(leaf)
        assert committed["payload_sha256"] == hashlib.sha256(envelope.payload).hexdigest(), (
            f"{where}: the leaf does not commit to the payload shown"
        )
        assert committed["signatures"] == entry["envelope"]["signatures"], (
            f"{where}: the leaf does not commit to the signatures shown"
        )
        proof = [base64.b64decode(h) for h in entry["inclusion_proof"]]
        verify_inclusion(leaf_hash(leaf), entry["index"], checkpoint.size, proof, root)
        assert entry["verified"] is True and entry["problem"] is None, (
            f"{where}: the server says it does not verify: {entry['problem']}"
        )


def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    """Poll ``check`` until it returns a truthy value; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s (last: {result!r})")
        time.sleep(0.05)
