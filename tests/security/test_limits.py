"""Limits that keep one client from exhausting the registry or guessing passwords: the body
size on every write path (JSON API, public report form, back-office login), the login
throttle, the rate limit on anonymous problem reports (API and form alike), and page-size
caps on every listing (a new listing without a cap fails ``test_every_listing_is_capped``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from registry.accounts import accounts as account_service
from registry.db import transaction
from registry.models import Account, ProblemReport
from registry.settings import Settings
from tests.endorsements.world import World, assert_problem, build_world, expect
from tests.office.conftest import Browser

SMALL_BODY = 4096
PASSWORD = "correct-horse-battery"


@pytest.fixture
def small_world(settings: Settings, db: Engine) -> Iterator[World]:
    """The world with ``max_body_bytes`` = 4 KiB (and the report and capture paths' own)."""
    small = settings.model_copy(
        update={
            "max_body_bytes": SMALL_BODY,
            "max_report_body_bytes": SMALL_BODY,
            "max_capture_bytes": SMALL_BODY,
        }
    )
    with build_world(small, db) as built:
        yield built


def _report_count(world: World) -> int:
    with transaction(world.app.state.session_factory) as session:
        return int(session.scalar(select(func.count()).select_from(ProblemReport)) or 0)


def _endorsed(world: World, lot: str = "LIM") -> str:
    return world.endorse(world.good_millet(lot))


# --- body size ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/records", "application/json"),
        ("/api/v1/records/custodial", "application/json"),
        ("/api/v1/epcis/capture", "application/json"),
        ("/api/v1/epcis/capture", "application/xml"),
        ("/api/v1/endorsements/ABCDEFGH/reports", "application/json"),
        ("/e/ABCDEFGH/report", "application/x-www-form-urlencoded"),
        ("/office/login", "application/x-www-form-urlencoded"),
    ],
)
def test_an_oversized_body_is_refused_before_it_is_read(
    small_world: World, path: str, content_type: str
) -> None:
    """413 problem+json, declared (Content-Length) or streamed (chunked), authenticated or
    not, and nothing is written."""
    size = int(small_world.client.get("/log/checkpoint").text.splitlines()[1])
    body = b"x" * (SMALL_BODY + 1)
    headers = {"Content-Type": content_type, **small_world.coop.headers}
    declared = small_world.client.post(path, content=body, headers=headers)
    assert_problem(declared, 413, slug="body-too-large", what=f"{path} with Content-Length")

    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b"y" * 1024

    streamed = small_world.client.post(path, content=chunks(), headers=headers)
    assert_problem(streamed, 413, slug="body-too-large", what=f"{path} streamed")
    assert declared.headers["x-content-type-options"] == "nosniff", "413s carry the headers too"
    assert int(small_world.client.get("/log/checkpoint").text.splitlines()[1]) == size


# --- the login throttle ---------------------------------------------------------------------


def _with_password(world: World, username: str) -> None:
    with transaction(world.app.state.session_factory) as session:
        account = session.scalars(select(Account).where(Account.username == username)).one()
        account.password_hash = account_service.hash_password(PASSWORD)


def test_login_is_throttled_per_user_and_address(world: World) -> None:
    _with_password(world, "coop")
    _with_password(world, "lab")
    browser = Browser(world.app)
    for attempt in range(5):
        wrong = browser.login("coop", f"wrong-password-{attempt}")
        assert wrong.status_code == 401, f"failure {attempt + 1}: {wrong.status_code}"
    blocked = browser.login("coop", PASSWORD)  # even the right password must wait now
    assert blocked.status_code == 429, blocked.text[:300]
    assert 0 < int(blocked.headers["retry-after"]) <= 300
    assert "gr_office_session" not in blocked.headers.get("set-cookie", ""), "a session leaked"
    # The throttle is per (username, address): another user is not locked out by it.
    assert Browser(world.app).login("lab", PASSWORD).status_code == 303


# --- rate limit on public writes --------------------------------------------------------------


def test_problem_reports_are_rate_limited_across_api_and_form(world: World) -> None:
    code = _endorsed(world)
    report = {"category": "quality_problem", "text": "包装破损，小米受潮结块 bag torn, millet damp"}
    for number in range(3):
        expect(
            world.client.post(f"/api/v1/endorsements/{code}/reports", json=report),
            201,
            f"report {number + 1}",
        )
    for number in range(2):
        form = world.client.post(f"/e/{code}/report", data=report)
        assert form.status_code == 200, f"form report {number + 4}: {form.status_code}"
    stored = _report_count(world)
    assert stored == 5

    refused = world.client.post(f"/api/v1/endorsements/{code}/reports", json=report)
    body = assert_problem(refused, 429, slug="rate-limited", what="the 6th report in a minute")
    assert int(refused.headers["retry-after"]) > 0, body
    form = world.client.post(f"/e/{code}/report", data=report)
    assert form.status_code == 429 and int(form.headers["retry-after"]) > 0
    assert _report_count(world) == stored, "a rate-limited report was stored"

    # An authenticated caller is limited the same way (a token is no way around it).
    as_coop = world.client.post(
        f"/api/v1/endorsements/{code}/reports", json=report, headers=world.coop.headers
    )
    assert_problem(as_coop, 429, slug="rate-limited")


# --- page-size caps ---------------------------------------------------------------------------

# Listings without a ``limit`` parameter, and why they are bounded anyway.
UNPAGED = {
    "/api/v1/endorsement-requests": "newest 500 of the caller's organization",
    "/api/v1/endorsements": "newest 500",
    "/api/v1/accounts": "the caller's organization (admins: every account)",
    "/api/v1/keys": "the caller's organization (admins: every key)",
    "/api/v1/tokens": "the caller's own tokens",
    "/api/v1/webhooks": "the caller's organization's subscriptions",
    "/api/v1/batches/{batch}/records": "one batch's chain",
}
MAX_PAGE = 20_000  # the largest cap any listing may declare (a lineage trace)


def _listings(app: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in app.openapi()["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        schema = operation["responses"].get("200", {}).get("content", {})
        shape = schema.get("application/json", {}).get("schema", {})
        ref = shape.get("$ref", "")
        if shape.get("type") == "array" or ref.endswith("Page") or "Page_" in ref:
            yield path, operation


def test_every_listing_is_capped(world: World) -> None:
    listings = dict(_listings(world.app))
    assert "/api/v1/records" in listings and "/api/v1/batches" in listings, sorted(listings)
    uncapped = []
    for path, operation in listings.items():
        limit = [p for p in operation.get("parameters", []) if p["name"] == "limit"]
        if not limit:
            if path not in UNPAGED:
                uncapped.append(path)
            continue
        maximum = limit[0]["schema"].get("maximum")
        assert maximum is not None and maximum <= MAX_PAGE, f"{path}: limit maximum {maximum}"
    assert not uncapped, f"listings without a capped limit (add one, or to UNPAGED): {uncapped}"


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/api/v1/records", 500),
        ("/api/v1/batches", 500),
        ("/api/v1/products", 500),
        ("/api/v1/organizations", 500),
        ("/api/v1/recalls", 100),
    ],
)
def test_a_page_above_the_cap_is_refused(world: World, path: str, limit: int) -> None:
    expect(world.client.get(path, params={"limit": limit}), 200, f"{path} at the cap")
    refused = world.client.get(path, params={"limit": limit + 1})
    assert_problem(refused, 422, slug="invalid-input", what=f"{path} above the cap")


def test_authenticated_listings_refuse_pages_above_the_cap(world: World) -> None:
    for path in ("/api/v1/reports", f"/api/v1/webhooks/{uuid.uuid4()}/deliveries"):
        refused = world.client.get(path, params={"limit": 501}, headers=world.coop.headers)
        assert_problem(refused, 422, slug="invalid-input", what=f"{path} above the cap")


def test_log_entries_are_clipped_to_a_page(world: World) -> None:
    for lot in range(4):
        world.good_millet(f"PAGE{lot}")
    size = int(world.client.get("/log/checkpoint").text.splitlines()[1])
    from api.routers.log import ENTRIES_PAGE_MAX

    page = expect(
        world.client.get("/log/entries", params={"start": 0, "end": 10**12}), 200, "entries"
    )
    assert len(page["entries"]) == min(size, ENTRIES_PAGE_MAX)
    assert ENTRIES_PAGE_MAX <= 1000
    trace = world.client.get(
        f"/api/v1/batches/{world.code_of(world.coop.ref('millet', 'PAGE0'))}/trace",
        params={"limit": MAX_PAGE + 1},
    )
    assert_problem(trace, 422, slug="invalid-input", what="a trace above its cap")


def test_a_lenient_client_never_sees_a_500_on_huge_numbers(world: World) -> None:
    client = TestClient(world.app, raise_server_exceptions=False)
    for path in (
        "/api/v1/records/99999999999999999999999",
        "/log/entries?start=99999999999999999999&end=99999999999999999999999",
        "/log/proof/inclusion?index=9999999999999999999999&tree_size=99999999999999999999",
        "/log/proof/consistency?old=1&new=99999999999999999999999",
        "/api/v1/records?cursor=" + "A" * 5000,
    ):
        response = client.get(path)
        assert response.status_code < 500, f"{path}: {response.status_code} {response.text[:200]}"
        assert re.match(r"application/(problem\+)?json", response.headers["content-type"]), path
