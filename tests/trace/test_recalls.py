"""The recall workflow: a signed recall reaches every descendant, endorsements turn
``recalled``, and the public list shows it."""

from __future__ import annotations

from sqlalchemy import func, select

from registry.db import transaction
from registry.models import WebhookDelivery
from tests.endorsements.world import World, assert_problem, expect
from tests.trace.conftest import Lineage

REASON = "抽检发现毒死蜱超标 Chlorpyrifos above the limit in a market sample"


def _recall(world: World, who: str, code: str, reason: str = REASON) -> dict:  # type: ignore[type-arg]
    response = world.client.post(
        f"/api/v1/batches/{code}/recall",
        json={"reason": reason, "scope": "batch_and_descendants"},
        headers=world.parties[who].headers,
    )
    return expect(response, 201, f"{who} recalling {code}")


def test_an_officials_recall_reaches_the_bags_two_steps_down_and_recalls_their_endorsement(
    world: World, lineage: Lineage
) -> None:
    code = lineage.code
    endorsement = world.endorse(lineage.packaged)
    assert world.status(endorsement) == "valid"

    body = _recall(world, "head", code[lineage.raw_a])

    reached = {b["code"]: b["depth"] for b in body["batches_reached"]}
    assert reached == {code[lineage.raw_a]: 0, code[lineage.hulled]: 1, code[lineage.packaged]: 2}
    assert all(b["recalled"] for b in body["batches_reached"])
    assert body["endorsements_recalled"] == [endorsement]
    recall = body["recall"]
    assert recall["reason"] == REASON and recall["scope"] == "batch_and_descendants"
    assert recall["organization"]["id"] == str(world.head.org_id)
    assert recall["signed_by"]["username"] == "head"
    assert recall["batches"][0]["code"] == code[lineage.raw_a]
    assert (recall["batches_reached"], recall["descendants_reached"]) == (3, 2)

    verified = world.verify(endorsement)
    assert verified["status"] == "recalled", f"the endorsement must turn recalled: {verified}"
    assert world.client.get(f"/api/v1/batches/{code[lineage.raw_b]}").json()["recalled"] is False

    # The record itself is an ordinary signed recall in the log.
    record = expect(world.client.get(f"/api/v1/records/{recall['index']}"), 200, "the record")
    assert record["kind"] == "recall" and record["digest"] == recall["digest"]
    assert record["record"]["batches"] == [lineage.raw_a]


def test_the_public_recall_list_shows_it_newest_first(world: World, lineage: Lineage) -> None:
    code = lineage.code
    endorsement = world.endorse(lineage.packaged)
    first = _recall(world, "coop", code[lineage.raw_b], "合作社自查 the cooperative's own check")
    second = _recall(world, "head", code[lineage.raw_a])

    listed = expect(world.client.get("/api/v1/recalls"), 200, "recall list")
    items = listed["items"]
    assert [i["index"] for i in items] == [second["recall"]["index"], first["recall"]["index"]]
    newest = items[0]
    assert newest["batches"][0]["code"] == code[lineage.raw_a]
    assert newest["batches"][0]["product"]["name_en"] == "Aohan millet (unhulled)"
    assert newest["reason"] == REASON
    assert newest["organization"]["name_zh"] == "敖汉旗人民政府"
    assert newest["signed_by"]["title_en"] == "Head of Aohan Banner"
    assert newest["descendants_reached"] == 2 and newest["endorsements"] == [endorsement]
    assert newest["time"] and newest["logged_at"]
    older = items[1]
    assert older["organization"]["kind"] == "cooperative"
    assert older["descendants_reached"] == 2 and older["endorsements"] == [endorsement]
    # The endorsement was already recalled by the cooperative: the second recall turned none.
    assert first["endorsements_recalled"] == [endorsement]
    assert second["endorsements_recalled"] == []

    page = expect(world.client.get("/api/v1/recalls?limit=1"), 200, "first page")
    assert [i["index"] for i in page["items"]] == [second["recall"]["index"]]
    rest = expect(
        world.client.get(f"/api/v1/recalls?limit=1&cursor={page['next_cursor']}"), 200, "next"
    )
    assert [i["index"] for i in rest["items"]] == [first["recall"]["index"]]
    assert rest["next_cursor"] is None

    html = world.client.get("/recalls")
    assert html.status_code == 200 and 'data-recalls="2"' in html.text
    assert code[lineage.raw_a] in html.text and endorsement in html.text and REASON in html.text
    assert html.headers["content-security-policy"].startswith("default-src 'self'")


def test_the_policy_decides_who_may_recall(world: World, lineage: Lineage) -> None:
    code = lineage.code[lineage.raw_a]
    cases = [
        ("far_head", "outside-jurisdiction"),  # an official of another county
        ("mill", "batch-of-another-organization"),  # not the producer of the raw lot
        ("lab", "kind-not-allowed"),
    ]
    for who, rule in cases:
        response = world.client.post(
            f"/api/v1/batches/{code}/recall",
            json={"reason": REASON},
            headers=world.parties[who].headers,
        )
        assert_problem(response, 403, slug="policy-violation", rule=rule, what=f"{who} recalling")
    assert world.client.get(f"/api/v1/batches/{code}").json()["recalled"] is False
    assert expect(world.client.get("/api/v1/recalls"), 200, "list")["items"] == []

    anonymous = world.client.post(f"/api/v1/batches/{code}/recall", json={"reason": REASON})
    assert_problem(anonymous, 401, what="recalling without a token")
    empty = world.client.post(
        f"/api/v1/batches/{code}/recall", json={"reason": ""}, headers=world.head.headers
    )
    assert_problem(empty, 422, what="a recall without a reason")
    unknown = world.client.post(
        "/api/v1/batches/ZZZZZZZZZ/recall", json={"reason": REASON}, headers=world.head.headers
    )
    assert_problem(unknown, 404, what="recalling an unknown batch")


def test_a_retried_recall_with_the_same_idempotency_key_signs_once(
    world: World, lineage: Lineage
) -> None:
    code = lineage.code[lineage.raw_a]
    headers = {**world.head.headers, "Idempotency-Key": "recall-1"}
    body = {"reason": REASON}
    first = world.client.post(f"/api/v1/batches/{code}/recall", json=body, headers=headers)
    again = world.client.post(f"/api/v1/batches/{code}/recall", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert first.json() == again.json()
    assert len(expect(world.client.get("/api/v1/recalls"), 200, "list")["items"]) == 1


def test_no_subscription_no_delivery(world: World, lineage: Lineage) -> None:
    _recall(world, "head", lineage.code[lineage.raw_a])
    with transaction(world.app.state.session_factory) as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
