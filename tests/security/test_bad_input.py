"""Bad input a new operator's clients send: each gets a 4xx problem naming the field that is
wrong, and nothing is written (no record, no log entry, no product, no token).

On SQLite and PostgreSQL. PostgreSQL cannot store a NUL character in text: a NUL that got
through once made a SQLite → PostgreSQL restore fail and roll everything back, so text with
control characters is refused where it comes in, on both backends alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from registry.accounts import accounts
from registry.db import transaction
from registry.errors import InvalidInput
from registry.models import ApiToken, OrgKind, Product, Record, Role
from tests.endorsements.world import AOHAN, World, assert_problem, moment, stamp


def _counts(world: World) -> tuple[int, int, int]:
    with transaction(world.app.state.session_factory) as session:
        return (
            int(session.scalar(select(func.count()).select_from(Record)) or 0),
            int(session.scalar(select(func.count()).select_from(Product)) or 0),
            int(session.scalar(select(func.count()).select_from(ApiToken)) or 0),
        )


def _paths(problem: dict[str, Any]) -> str:
    """Every field the problem names, and its detail, for one assertion message."""
    named = [e.get("path", "") for e in problem.get("errors", [])]
    return " | ".join([*named, str(problem.get("field", "")), problem["detail"]])


def _drafts(world: World) -> dict[str, dict[str, Any]]:
    """One draft of each batch-naming kind, each naming a batch ``"nope"``."""
    real = world.harvest(world.coop, "millet", "BAD-1")
    mill = world.mill.ref("hulled", "BAD-H1")
    return {
        "shipping": {
            "kind": "shipping",
            "batches": ["nope"],
            "to": {"name": "某仓库 A warehouse"},
        },
        "recall": {"kind": "recall", "batches": ["nope"], "reason": "抽检不合格 failed a test"},
        "correction": {
            "kind": "correction",
            "batches": ["nope"],
            "corrects": "0" * 64,
            "reason": "重量写错 wrong weight",
        },
        "storage": {"kind": "storage", "batches": ["nope"], "location": "2号粮仓"},
        "processing-input": {
            "kind": "processing",
            "inputs": [{"batch": "nope", "quantity": "10"}],
            "outputs": [{"batch": mill, "quantity": "8", "unit": "kg"}],
        },
        "processing-output": {
            "kind": "processing",
            "inputs": [{"batch": real, "quantity": "10"}],
            "outputs": [{"batch": "nope", "quantity": "8", "unit": "kg"}],
        },
    }


@pytest.mark.parametrize(
    "kind",
    ["shipping", "recall", "correction", "storage", "processing-input", "processing-output"],
)
def test_a_batch_that_is_not_a_reference_is_a_problem_naming_it(world: World, kind: str):
    draft = _drafts(world)[kind]
    # The schema refuses before the signing policy asks who may sign what.
    who = world.mill if kind.startswith("processing") else world.coop
    before = _counts(world)
    problem = assert_problem(world.custodial(who, draft), 422, slug="invalid-input", what=kind)
    assert any("batch" in e["path"] for e in problem.get("errors", [])), (
        f"{kind}: the problem must name the batch field: {problem}"
    )
    assert _counts(world) == before, f"{kind}: a refused draft wrote something"


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b", "\x7f"])
def test_control_characters_in_record_text_are_refused(world: World, character: str):
    batch = world.harvest(world.coop, "millet", "CTRL-1")
    before = _counts(world)
    draft = {"kind": "storage", "batches": [batch], "location": f"2号{character}粮仓"}
    problem = assert_problem(world.custodial(world.coop, draft), 422, slug="invalid-input")
    assert "location" in _paths(problem), problem
    assert "control character" in problem["detail"], problem
    assert _counts(world) == before


def test_tabs_and_newlines_stay_allowed_in_record_text(world: World):
    batch = world.harvest(world.coop, "millet", "CTRL-2")
    draft = {"kind": "recall", "batches": [batch], "reason": "第一行\n第二行\t附注\r\n完"}
    response = world.custodial(world.coop, draft)
    assert response.status_code == 201, response.text


def test_a_nul_in_a_product_name_is_refused_naming_the_field(world: World):
    before = _counts(world)
    for field in ("name_zh", "name_en", "category", "standard_ref"):
        body = {"name_zh": "小米", "name_en": "millet", "category": "grain"}
        body[field] = "小\u0000米"
        response = world.client.post("/api/v1/products", json=body, headers=world.coop.headers)
        problem = assert_problem(response, 422, slug="invalid-input", what=field)
        assert field in _paths(problem), problem
    assert _counts(world) == before


def test_a_nul_in_an_organization_or_account_name_is_refused(world: World):
    with transaction(world.app.state.session_factory) as session:
        with pytest.raises(InvalidInput, match="name_zh") as raised:
            accounts.create_organization(
                session,
                kind=OrgKind.LAB,
                name_zh="检\x00测",
                name_en="Lab",
                region_code="150402",
            )
        assert raised.value.extra.get("field") == "name_zh"
        org = accounts.get_organization(session, world.coop.org_id)
        with pytest.raises(InvalidInput, match="title_en"):
            accounts.create_account(
                session,
                organization=org,
                username="nul-person",
                role=Role.CLERK,
                name_zh="某人",
                title_en="Clerk\x00",
            )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("harvest_date", "0001-01-01"),
        ("harvest_date", "9999-12-31"),
        ("harvest_date", "1899-12-31"),
        # A harvest recorded before it happened: far in the future of the record's time.
        ("harvest_date", (datetime.now(UTC) + timedelta(days=40)).date().isoformat()),
        ("best_before", "9999-12-31"),
        ("time", "0001-01-01T00:01:00+01:00"),
        ("time", "9999-12-31T23:59:59+00:00"),
    ],
)
def test_dates_outside_the_sane_window_are_refused(world: World, field: str, value: str):
    before = _counts(world)
    draft: dict[str, Any] = {
        "kind": "harvest",
        "time": stamp(moment(days=-1)),
        "batches": [world.coop.ref("millet", "DATE-1")],
        "quantity": "1000",
        "unit": "kg",
        "harvest_date": moment(days=-1).date().isoformat(),
        "place": AOHAN,
        field: value,
    }
    problem = assert_problem(world.custodial(world.coop, draft), 422, slug="invalid-input")
    assert field in _paths(problem), problem
    assert _counts(world) == before


def test_a_harvest_recorded_on_the_day_is_accepted(world: World):
    draft = {
        "kind": "harvest",
        "time": stamp(moment()),
        "batches": [world.coop.ref("millet", "DATE-2")],
        "quantity": "1000",
        "unit": "kg",
        "harvest_date": moment().date().isoformat(),
        "best_before": moment(days=700).date().isoformat(),
        "place": AOHAN,
    }
    response = world.custodial(world.coop, draft)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "expires_at",
    [
        (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),  # already expired
        datetime.now(UTC).isoformat(),  # expires as it is issued
        (datetime.now(UTC) + timedelta(days=3 * 366)).isoformat(),  # beyond the bound
        "0001-01-01T00:01:00+01:00",
        "9999-12-31T23:59:59+00:00",
    ],
)
def test_a_token_must_expire_in_the_future_and_within_bounds(world: World, expires_at: str):
    before = _counts(world)
    response = world.client.post(
        "/api/v1/tokens", json={"name": "ci", "expires_at": expires_at}, headers=world.coop.headers
    )
    problem = assert_problem(response, 422, slug="invalid-input", what=expires_at)
    assert "expires_at" in _paths(problem), problem
    assert _counts(world) == before


def test_a_token_expiring_next_month_is_issued(world: World):
    expires_at = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    response = world.client.post(
        "/api/v1/tokens", json={"name": "ci", "expires_at": expires_at}, headers=world.coop.headers
    )
    assert response.status_code == 201, response.text


def test_control_characters_inside_a_corrections_free_json_are_refused(world: World):
    batch = world.harvest(world.coop, "millet", "CTRL-3")
    with transaction(world.app.state.session_factory) as session:
        harvest = session.scalars(
            select(Record).where(Record.kind == "harvest").order_by(Record.log_index.desc())
        ).first()
        assert harvest is not None
        digest = harvest.digest
    before = _counts(world)
    draft = {
        "kind": "correction",
        "batches": [batch],
        "corrects": digest,
        "reason": "重量写错 wrong weight",
        "corrected": {"place": {"name": "四家子\x00镇"}},
    }
    problem = assert_problem(world.custodial(world.coop, draft), 422, slug="invalid-input")
    assert "corrected.place.name" in _paths(problem), problem
    assert _counts(world) == before
    draft["corrected"] = {"quantity": "900"}
    assert world.custodial(world.coop, draft).status_code == 201


@pytest.mark.parametrize("phone", ["call me", "0476\x004301234", "12", "+86 138 0000 0000 ext 5"])
def test_a_certificates_contact_phone_must_be_a_phone_number(world: World, phone: str):
    batch = world.harvest(world.coop, "millet", "PHONE-1")
    before = _counts(world)
    draft = {
        "kind": "certificate",
        "batches": [batch],
        "certificate_number": "HG-1",
        "promise": "不使用禁用农药兽药。",
        "basis": ["self_commitment"],
        "contact_phone": phone,
    }
    problem = assert_problem(world.custodial(world.coop, draft), 422, slug="invalid-input")
    assert "contact_phone" in _paths(problem), problem
    assert _counts(world) == before
    draft["contact_phone"] = "+86 476-430 1234"
    assert world.custodial(world.coop, draft).status_code == 201
