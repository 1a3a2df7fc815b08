"""A problem report can carry the guarantee bundle the viewer's phone verified
(docs/verification.md, "The guarantee bundle"), on SQLite and PostgreSQL: checked on receipt
(a bundle that does not verify, of another log or endorsement, or too large is a 422
problem+json naming what is wrong, and stores nothing), kept beside the report, listed with
its size, and downloadable by those who read the report — and what they download verifies
with ``registry verify-bundle``.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from registry.accounts import accounts
from registry.db import transaction
from registry.models import Account, ProblemReport, ReportBundle
from registry.operations.publication import publish_witness_policy
from registry.reports.problems import BUNDLE_MAX, RateLimiter
from tests.office.conftest import Office

REPO = Path(__file__).resolve().parents[2]
TEXT = "The millet smelled musty when the bag was opened."


@pytest.fixture
def desk(office: Office) -> Iterator[Office]:
    """The demo office with its witness policy logged (as ``registry serve`` does; here
    ``quorum none``: no witness is configured) and a fresh report limiter."""
    publish_witness_policy(office.app.state.session_factory, office.app.state.ctx)
    office.app.state.scan_cache.invalidate()
    office.app.state.report_limiter = RateLimiter(limit=1000)
    yield office
    office.app.state.report_limiter = RateLimiter()


def _code(office: Office, status: str = "valid") -> str:
    return str(next(e["code"] for e in office.summary["endorsements"] if e["status"] == status))


def _bundle(office: Office, code: str) -> dict[str, Any]:
    response = office.browser().get(f"/e/{code}/bundle.json")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _counts(office: Office) -> tuple[int, int]:
    with transaction(office.app.state.session_factory) as session:
        reports = session.scalar(select(func.count()).select_from(ProblemReport)) or 0
        bundles = session.scalar(select(func.count()).select_from(ReportBundle)) or 0
    return reports, bundles


def _report(office: Office, code: str, bundle: Any) -> Any:
    return office.browser().client.post(
        f"/api/v1/endorsements/{code}/reports",
        json={"category": "quality_problem", "text": TEXT, "bundle": bundle},
    )


def _token(office: Office, username: str) -> dict[str, str]:
    with transaction(office.app.state.session_factory) as session:
        account = session.scalars(select(Account).where(Account.username == username)).one()
        _, token = accounts.issue_token(session, account, "test")
    return {"Authorization": f"Bearer {token}"}


def _verify_bundle(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "verify-bundle", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_a_report_carries_the_bundle_and_its_readers_download_it(
    desk: Office, tmp_path: Path
) -> None:
    code = _code(desk)
    bundle = _bundle(desk, code)
    created = _report(desk, code, bundle)
    assert created.status_code == 201, created.text
    assert created.json()["bundle"] is True
    report_id = created.json()["id"]

    # Listed with its size for those who read the report (the cooperative that asked).
    clerk = desk.browser("aohan-clerk")
    items = clerk.get("/api/v1/reports", headers=_token(desk, "aohan-clerk")).json()["items"]
    listed = [r for r in items if r["id"] == report_id]
    assert listed, "the cooperative does not see the report"
    assert listed[0]["bundle_size"] == len(
        json.dumps(bundle, separators=(",", ":"), ensure_ascii=False).encode()
    )

    # The office's complaints page links the download; the file is the bundle, verifiable.
    page = clerk.get("/office/complaints")
    assert f"/office/complaints/{report_id}/bundle.json" in page.text
    download = clerk.get(f"/office/complaints/{report_id}/bundle.json")
    assert download.status_code == 200, download.text
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.json() == bundle
    saved = tmp_path / "report-bundle.json"
    saved.write_bytes(download.content)
    checked = _verify_bundle(saved)
    assert checked.returncode == 0, checked.stderr
    assert f"OK: endorsement {code}" in checked.stdout

    # The API gives the same file to a token of the endorsing authority.
    by_api = desk.browser().get(
        f"/api/v1/reports/{report_id}/bundle", headers=_token(desk, "aohan-head")
    )
    assert by_api.status_code == 200 and by_api.json() == bundle
    elsewhere = desk.browser().get(
        f"/api/v1/reports/{report_id}/bundle", headers=_token(desk, "shanxian-head")
    )
    assert elsewhere.status_code == 404

    # Nobody else: another organization, or nobody logged in.
    other = desk.browser("shanxian-clerk")
    assert other.get(f"/office/complaints/{report_id}/bundle.json").status_code == 404
    assert desk.browser().get(f"/api/v1/reports/{report_id}/bundle").status_code == 401


def _tampered(bundle: dict[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(bundle))
    record = next(r for r in copy["records"] if r["kind"] == "inspection")
    signature = bytearray(base64.b64decode(record["envelope"]["signatures"][0]["sig"]))
    signature[9] ^= 0x01
    record["envelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
    return copy


def test_a_bundle_that_does_not_verify_is_a_named_422_and_stores_nothing(desk: Office) -> None:
    code = _code(desk)
    bundle = _bundle(desk, code)
    inspection = next(r["index"] for r in bundle["records"] if r["kind"] == "inspection")
    before = _counts(desk)
    other_code = _code(desk, "revoked")
    padded = {**bundle, "padding": "x" * (BUNDLE_MAX + 1)}
    cases = [
        (_tampered(bundle), f"bundle: record at index {inspection} (inspection): bad signature"),
        (_bundle(desk, other_code), f"bundle of endorsement {other_code}, not {code}"),
        ({"format": "something/else"}, "bundle: format is not 'guarantee-registry-bundle/v1'"),
        (padded, f"bundle: larger than {BUNDLE_MAX} bytes"),
    ]
    for bad, detail in cases:
        response = _report(desk, code, bad)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert detail in problem["detail"], problem
        assert problem["errors"][0]["path"] == "bundle", problem
    assert _counts(desk) == before, "a refused report was stored"


def test_a_body_past_the_reports_limit_is_413(desk: Office) -> None:
    code = _code(desk)
    huge = {"format": "x", "padding": "x" * desk.settings.max_report_body_bytes}
    response = _report(desk, code, huge)
    assert response.status_code == 413, response.text
    # Other routes keep the site's smaller limit.
    other = desk.browser().client.post(
        "/api/v1/records", content=b"x" * (desk.settings.max_body_bytes + 1)
    )
    assert other.status_code == 413


def test_the_page_form_stores_the_bundle_only_when_ticked_and_names_a_bad_one(
    desk: Office,
) -> None:
    code = _code(desk)
    bundle = json.dumps(_bundle(desk, code))
    form = {"category": "quality_problem", "text": TEXT}
    viewer = desk.browser()
    _, bundles = _counts(desk)
    unticked = viewer.client.post(f"/e/{code}/report", data={**form, "bundle": bundle})
    assert unticked.status_code == 200, unticked.text
    assert _counts(desk)[1] == bundles  # not ticked: stored without it
    ticked = viewer.client.post(
        f"/e/{code}/report", data={**form, "attach_bundle": "1", "bundle": bundle}
    )
    assert ticked.status_code == 200, ticked.text
    assert _counts(desk)[1] == bundles + 1
    bad = viewer.client.post(
        f"/e/{code}/report",
        data={**form, "attach_bundle": "1", "bundle": json.dumps(_tampered(json.loads(bundle)))},
    )
    assert bad.status_code == 422, bad.text
    assert 'data-field="bundle"' in bad.text and "bad signature" in bad.text
    assert _counts(desk)[1] == bundles + 1
