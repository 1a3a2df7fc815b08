"""Races against a real server process (``registry serve --workers 2``), on SQLite and
PostgreSQL, with real threads released together by a barrier:

- an endorsement approval racing a recall of its batch (or of the batch's raw ancestor),
  many times at once: never a ``valid`` endorsement of a recalled batch;
- two officials deciding at once: approving the same request, approving and rejecting it,
  revoking the same endorsement, approving one request while revoking another endorsement
  of the same batch: exactly one decision each, and the log agrees with the API;
- at the end, ``registry audit`` verifies the whole log from the outside.

The world is built in-process (``tests/endorsements/world.py``, through the services and the
API) on the database the server then serves, with the same master key.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.accounts import accounts
from registry.db import make_engine, transaction, upgrade
from registry.models import Role
from registry.operations import bootstrap
from registry.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.endorsements.world import Party, build_world
from tests.support import cli, drop_database, free_port, registry_env, running_registry

PAIRS = 12  # approval-vs-recall races, all released at once


@dataclass
class Race:
    """What the races act on, prepared before the server starts."""

    recall_pairs: list[dict[str, str]]  # request id, batch code to recall, covered code
    double_approve: str  # a request both officials approve
    approve_or_reject: str  # a request one approves while the other rejects
    double_revoke: str  # an endorsement both officials revoke
    approve_while_revoking: tuple[str, str]  # (request id, endorsement code), same batch
    parties: dict[str, Party]
    admin_token: str


@dataclass
class Served:
    base: str
    env: dict[str, str]
    race: Race
    tmp: Path

    def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.race.parties[name].token}"}

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.race.admin_token}"}


def _prepare(settings: Settings, database_url: str) -> Race:
    engine = make_engine(database_url)
    try:
        with build_world(settings, engine) as world:
            pairs = []
            for i in range(PAIRS):
                if i % 2:
                    raw, _, bags = world.packaged_millet(f"RACE{i}")
                    covered, recalled = bags, raw  # the recall reaches it through lineage
                else:
                    covered = recalled = world.good_millet(f"RACE{i}")
                request_id = world.requested(world.producer(covered), [covered], "head")
                pairs.append(
                    {
                        "request": request_id,
                        "recall": world.code_of(recalled),
                        "covered": world.code_of(covered),
                    }
                )
            double_approve = world.requested(world.coop, [world.good_millet("TWICE")], "head")
            approve_or_reject = world.requested(world.coop, [world.good_millet("EITHER")], "head")
            double_revoke = world.endorse(world.good_millet("REVOKE2"))
            shared = world.good_millet("SHARED")
            revoking = world.endorse(shared)
            approving = world.requested(world.coop, [shared], "head")
            with transaction(world.app.state.session_factory) as session:
                admin = accounts.create_account(
                    session,
                    organization=bootstrap.operator(session),
                    username="admin",
                    role=Role.ADMIN,
                    name_zh="管理员",
                )
                _, admin_token = accounts.issue_token(session, admin, "races")
            return Race(
                pairs,
                double_approve,
                approve_or_reject,
                double_revoke,
                (approving, revoking),
                dict(world.parties),
                admin_token,
            )
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    env = registry_env(tmp_path, request.param, POSTGRES_URL, "registry_races")
    database_url = env.get("REGISTRY_DATABASE_URL") or f"sqlite:///{tmp_path / 'races.db'}"
    master_key = base64.b64encode(secrets.token_bytes(32)).decode()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**env, "REGISTRY_DATABASE_URL": database_url, "REGISTRY_MASTER_KEY": master_key}
    try:
        upgrade(database_url)
        settings = Settings(
            data_dir=tmp_path / "data",
            database_url=database_url,
            base_url=base,
            master_key=master_key,
        )
        race = _prepare(settings, database_url)
        with running_registry(env, tmp_path / "serve.log", "--workers", "2", port=port) as url:
            assert url == base
            yield Served(base, {**env, "REGISTRY_BASE_URL": base}, race, tmp_path)
    finally:
        drop_database(env)


def _together(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run ``calls`` in threads released at the same instant; return their responses."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait(timeout=30)
        return call()

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _post(
    client: httpx.Client, path: str, headers: dict[str, str], body: Any = None
) -> Callable[[], httpx.Response]:
    return lambda: client.post(path, json=body, headers=headers)


def _entries(s: Served) -> list[dict[str, Any]]:
    size = int(httpx.get(f"{s.base}/log/checkpoint").text.splitlines()[1])
    entries: list[dict[str, Any]] = []
    while len(entries) < size:
        page = httpx.get(
            f"{s.base}/log/entries", params={"start": len(entries), "end": size}, timeout=30
        )
        assert page.status_code == 200, page.text
        entries += page.json()["entries"]
    return entries


def _documents(s: Served, kind: str) -> list[tuple[int, dict[str, Any]]]:
    found = []
    for entry in _entries(s):
        if entry["kind"] == kind:
            document = entry.get("record")
            if not isinstance(document, dict):
                document = json.loads(base64.b64decode(entry["payload"]))
            found.append((entry["index"], document))
    return found


def _status_settles(s: Served, code: str, wanted: str) -> str:
    """The verify document's status, polled for the scan cache's propagation bound (2 s)."""
    deadline = time.monotonic() + 4
    while True:
        status = str(httpx.get(f"{s.base}/api/v1/verify/{code}?count=0").json()["status"])
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def _check_consistency(s: Served) -> None:
    """The API's endorsements, requests and revocations agree with the signed log."""
    endorsements = httpx.get(f"{s.base}/api/v1/endorsements", timeout=30).json()
    by_code = {e["code"]: e for e in endorsements}
    logged = _documents(s, "endorsement")
    assert sorted(by_code) == sorted(d["code"] for _, d in logged), (
        "endorsement records in the log and endorsements in the API differ"
    )
    requests = httpx.get(f"{s.base}/api/v1/endorsement-requests", headers=s.admin).json()
    per_request: dict[str, list[str]] = {}
    for _, document in logged:
        per_request.setdefault(document["request"], []).append(document["code"])
    for request in requests:
        codes = per_request.get(request["id"], [])
        if request["status"] == "approved":
            assert codes == [request["code"]], f"approved request {request['id']}: {codes}"
        else:
            assert not codes, f"{request['status']} request {request['id']} has endorsements"
    revocations: dict[str, list[int]] = {}
    for index, document in _documents(s, "endorsement_revocation"):
        revocations.setdefault(document["code"], []).append(index)
    for code, endorsement in by_code.items():
        logged_revocations = revocations.get(code, [])
        assert len(logged_revocations) <= 1, f"{code} revoked {len(logged_revocations)} times"
        if logged_revocations:
            assert endorsement["revocation_reason"], f"{code}: logged revocation not applied"
            assert endorsement["status"] in ("revoked", "recalled"), endorsement
        else:
            assert endorsement["revocation_reason"] is None, f"{code}: revoked without a record"


def _audit(s: Served) -> None:
    """``registry audit`` verifies every signature, proof and projection from outside
    (``cli`` insists on exit 0)."""
    cli(s.env, "audit", s.base, "--state", str(s.tmp / "audit-state"), "--quiet")


def test_approval_racing_a_recall_never_leaves_a_valid_endorsement_of_a_recalled_batch(
    served: Served,
) -> None:
    s = served
    with httpx.Client(base_url=s.base, timeout=60) as client:
        calls = []
        for pair in s.race.recall_pairs:
            calls.append(
                _post(
                    client,
                    f"/api/v1/endorsement-requests/{pair['request']}/approve",
                    s.headers("head"),
                )
            )
            # The cooperative recalls its millet (the batch itself, or the bags' raw millet).
            calls.append(
                _post(
                    client,
                    f"/api/v1/batches/{pair['recall']}/recall",
                    s.headers("coop"),
                    {"reason": "霉变 mould found in storage"},
                )
            )
        responses = _together(calls)
    outcomes = []
    for pair, approve, recall in zip(
        s.race.recall_pairs, responses[0::2], responses[1::2], strict=True
    ):
        assert recall.status_code == 201, f"recall of {pair['recall']}: {recall.text[:300]}"
        assert approve.status_code in (200, 403), f"approval: {approve.status_code} {approve.text}"
        if approve.status_code == 403:
            assert approve.json().get("rule") == "precondition-no_recall", approve.text
            outcomes.append("refused")
            continue
        code = approve.json()["code"]
        outcomes.append("approved then recalled")
        assert _status_settles(s, code, "recalled") == "recalled", (
            f"endorsement {code} of recalled batch {pair['recall']} is not recalled"
        )
        listed = httpx.get(f"{s.base}/api/v1/endorsements/{code}").json()
        assert listed["status"] == "recalled", listed
    # Every batch that was covered is recalled, and no endorsement of it is valid.
    for endorsement in httpx.get(f"{s.base}/api/v1/endorsements").json():
        if endorsement["status"] == "valid":
            verify = httpx.get(f"{s.base}/api/v1/verify/{endorsement['code']}?count=0").json()
            recalled = [b["lot"] for b in verify["batches"] if b["recalled"]]
            assert not recalled, f"valid endorsement {endorsement['code']} of recalled {recalled}"
    _check_consistency(s)
    _audit(s)
    assert len(outcomes) == PAIRS


def test_two_officials_deciding_at_once_end_consistent(served: Served) -> None:
    s = served
    race = s.race
    head, deputy = s.headers("head"), s.headers("deputy")
    reason = {"reason": "直播取消 stream cancelled"}
    with httpx.Client(base_url=s.base, timeout=60) as client:
        request_path = "/api/v1/endorsement-requests/{}/{}"
        approving, revoking = race.approve_while_revoking
        responses = _together(
            [
                # both officials approve the same request
                _post(client, request_path.format(race.double_approve, "approve"), head),
                _post(client, request_path.format(race.double_approve, "approve"), deputy),
                # one approves while the other rejects
                _post(client, request_path.format(race.approve_or_reject, "approve"), head),
                _post(
                    client,
                    request_path.format(race.approve_or_reject, "reject"),
                    deputy,
                    {"reason": "证据不足 not enough evidence"},
                ),
                # both revoke the same endorsement
                _post(client, f"/api/v1/endorsements/{race.double_revoke}/revoke", head, reason),
                _post(client, f"/api/v1/endorsements/{race.double_revoke}/revoke", deputy, reason),
                # one approves a new request of a batch whose endorsement the other revokes
                _post(client, request_path.format(approving, "approve"), head),
                _post(client, f"/api/v1/endorsements/{revoking}/revoke", deputy, reason),
            ]
        )
    statuses = [r.status_code for r in responses]
    assert all(code < 500 for code in statuses), [(r.status_code, r.text[:200]) for r in responses]

    double = sorted(statuses[0:2])
    assert double == [200, 409], f"two approvals of one request: {statuses[0:2]}"
    winner = next(r for r in responses[0:2] if r.status_code == 200).json()
    assert winner["status"] == "approved" and winner["code"]

    either = statuses[2:4]
    assert sorted(either) == [200, 409], f"approve vs reject: {either}"
    final = httpx.get(
        f"{s.base}/api/v1/endorsement-requests/{race.approve_or_reject}", headers=s.admin
    ).json()
    assert final["status"] == ("approved" if either[0] == 200 else "rejected"), final

    assert sorted(statuses[4:6]) == [200, 409], (
        f"two revocations: {[r.text for r in responses[4:6]]}"
    )
    loser = next(r for r in responses[4:6] if r.status_code == 409).json()
    # Already revoked, or (same authority, reason and second) the very same record again.
    assert loser.get("rule") == "revoked" or "already in the log" in loser["detail"], loser
    assert _status_settles(s, race.double_revoke, "revoked") == "revoked"

    assert statuses[6:8] == [200, 200], f"approve and revoke of one batch: {statuses[6:8]}"
    new_code = responses[6].json()["code"]
    assert new_code != revoking
    assert _status_settles(s, revoking, "revoked") == "revoked"
    assert _status_settles(s, new_code, "valid") == "valid"

    _check_consistency(s)
    _audit(s)
