"""The happy path over HTTP: request → review → approve → verify, checked like a phone would."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from registry.codes import new_code
from registry.endorsements.scans import ScanCounter
from tests.endorsements.world import (
    CLAIMS,
    PRECONDITIONS,
    World,
    assert_problem,
    assert_verifies_offline,
    expect,
    moment,
    stream,
    wait_for,
)


def test_request_review_approve_and_verify_offline(world: World) -> None:
    _, _, packaged = world.packaged_millet("2026-01")
    the_stream = stream(start=moment(hours=-1), hours=3)

    # The mill (the bags' producer) asks the banner head for an endorsement.
    created = expect(
        world.request(world.mill, [packaged], "head", stream_doc=the_stream, quantity="300"),
        201,
        "the mill requesting an endorsement of its bags",
    )
    assert created["status"] == "pending" and created["code"] is None, (
        f"a new request is pending and has no endorsement code yet: {created}"
    )
    assert created["official_id"] == str(world.head.account_id), (
        "the request names another official"
    )
    hosts = created["stream"]["hosts"]
    assert any(
        h["role"] == "official" and h.get("account") == str(world.head.account_id) for h in hosts
    ), f"the official must be added to the stream's hosts: {hosts}"
    request_id = created["id"]

    # The official reviews the evidence: every precondition with its reason, every record.
    review = expect(world.review(world.head, request_id), 200, "the official's review")
    assert review["ready"] is True, (
        f"every precondition holds, yet not ready: {review['preconditions']}"
    )
    listed = [p["id"] for p in review["preconditions"]]
    assert listed == PRECONDITIONS, f"the review must list every precondition in order: {listed}"
    for precondition in review["preconditions"]:
        assert precondition["ok"] is True and precondition["detail"].strip(), (
            f"precondition {precondition['id']} must hold and say why: {precondition}"
        )
    kinds = [r["kind"] for r in review["records"]]
    for kind in ("harvest", "certificate", "inspection", "processing"):
        assert kind in kinds, f"the review omits the {kind} record of the lineage: {kinds}"
    assert kinds.count("processing") == 2, f"both processing steps must be reviewed: {kinds}"
    unverified = [r for r in review["records"] if r["verified"] is not True]
    assert not unverified, f"records reported as not verifying: {unverified}"
    indices = [r["index"] for r in review["records"]]
    assert indices == sorted(set(indices)), (
        f"review records must be unique, in log order: {indices}"
    )

    approved = expect(world.approve(world.head, request_id), 200, "the official's approval")
    assert approved["status"] == "approved" and approved["code"], (
        f"an approved request carries its endorsement code: {approved}"
    )
    code = approved["code"]
    listed_again = expect(
        world.client.get(f"/api/v1/endorsement-requests/{request_id}", headers=world.mill.headers),
        200,
        "reading the request back",
    )
    assert listed_again["status"] == "approved" and listed_again["code"] == code, listed_again

    # What a viewer gets, and what their phone can check by itself.
    document = world.verify(code)
    assert document["code"] == code and document["status"] == "valid", (
        f"a fresh endorsement during its stream must be valid: {document['status']}"
    )
    signed = document["endorsement"]
    assert signed["claims"] == CLAIMS, f"claims differ from the request: {signed['claims']}"
    for field in ("platform", "room", "title", "start", "end"):
        assert signed["stream"][field] == the_stream[field], (
            f"stream.{field} differs: {signed['stream']}"
        )
    start, end = (datetime.fromisoformat(the_stream[k]) for k in ("start", "end"))
    assert datetime.fromisoformat(signed["valid_from"]) == start, (
        f"by default the window opens when the stream starts: {signed['valid_from']}"
    )
    assert datetime.fromisoformat(signed["valid_until"]) == end + timedelta(days=7), (
        f"by default the window closes a week after the stream: {signed['valid_until']}"
    )
    assert (signed["quantity"], signed["unit"]) == ("300", "bag"), (
        f"the quantity asked, in the batch's unit: {signed['quantity']} {signed['unit']}"
    )
    officials = signed["officials"]
    assert len(officials) == 1 and officials[0]["name_zh"].endswith("head"), (
        f"the endorsement names its official: {officials}"
    )
    assert signed["authority"]["id"] == str(world.head.org_id), (
        f"wrong authority: {signed['authority']}"
    )
    assert signed["authority"]["jurisdiction"] == "150430", signed["authority"]

    lots = {b["lot"]: b for b in document["batches"]}
    assert set(lots) == {"R2026-01", "H2026-01", "P2026-01"}, (
        f"the batches must be the endorsed one and its two ancestors: {sorted(lots)}"
    )
    assert [lot for lot, b in lots.items() if b["covered"]] == ["P2026-01"], (
        f"only the bags are covered: {lots}"
    )
    assert [p["id"] for p in document["preconditions"]] == PRECONDITIONS, document["preconditions"]
    assert all(p["ok"] for p in document["preconditions"]), document["preconditions"]

    kinds = [e["kind"] for e in document["chain"]]
    for kind in (
        "harvest",
        "certificate",
        "inspection",
        "processing",
        "endorsement",
        "key_registration",
    ):
        assert kind in kinds, f"the chain lacks a {kind} record: {kinds}"
    endorsement_entry = next(e for e in document["chain"] if e["kind"] == "endorsement")
    assert endorsement_entry["index"] == signed["index"], (
        "the endorsement entry is not the signed one"
    )
    assert endorsement_entry["record"]["code"] == code, "the signed record names another code"
    assert {"envelope", "index", "inclusion_proof", "leaf"} <= set(endorsement_entry), (
        endorsement_entry
    )
    assert document["keys"], "the verify document lists no keys"
    vkey = world.client.get("/log/vkey")
    assert vkey.status_code == 200, vkey.text
    # The registry's countersignature on key records is checked in test_registry_key_is_listed.
    assert_verifies_offline(document, vkey.text, registry_key_listed=True)

    # Codes are typed by people: case does not matter; a wrong code is a clean 404.
    lower = world.verify(code.lower())
    assert lower["code"] == code and lower["status"] == "valid", "a lowercase code must resolve"
    unknown = new_code()
    while unknown == code:
        unknown = new_code()
    assert_problem(
        world.client.get(f"/api/v1/verify/{unknown}"), 404, slug="not-found", what="unknown code"
    )
    assert_problem(world.client.get("/api/v1/verify/NOT-A-CODE"), 404, what="malformed code")


def test_each_verification_counts_as_a_scan(world: World) -> None:
    code = world.endorse(world.good_millet("SCAN-1"))
    other = world.endorse(
        world.good_millet("SCAN-2"), stream_doc=stream(title="另一场 Another stream")
    )

    def total(which: str) -> int:
        body = expect(world.client.get(f"/api/v1/endorsements/{which}/scans"), 200, "scan count")
        assert body["code"] == which, body
        return int(body["total"])

    before, other_before = total(code), total(other)
    for n in range(1, 4):
        world.verify(code if n % 2 else code.lower())
        # A background flush moves counts to the database about once a second; the total
        # includes what is not flushed yet, so it must read exactly one more per scan.
        wait_for(lambda n=n: total(code) == before + n, 2, f"scan total after {n} verifications")
    assert total(other) == other_before, "scanning one endorsement counted for another"
    assert_problem(
        world.client.get(f"/api/v1/endorsements/{new_code()}/scans"),
        404,
        what="scans of unknown code",
    )


def test_a_flush_under_way_neither_hides_nor_doubles_a_scan(world: World) -> None:
    """The background flush moves counts to the database about once a second; a viewer's
    total must be exact at any instant of it (PostgreSQL once lost the counts in flight)."""
    code = world.endorse(world.good_millet("SCAN-3"))
    world.app.state.scan_flusher.stop()  # this test flushes by hand, at its own pace
    counter: ScanCounter = world.app.state.scan_counter

    def scans() -> dict[str, Any]:
        return expect(world.client.get(f"/api/v1/endorsements/{code}/scans"), 200, "scans")

    before = scans()["total"]
    for _ in range(3):
        world.verify(code)
    assert scans()["total"] == before + 3, "pending scans are part of the total"

    # A flush that has written its counts but not committed them yet.
    written, go = threading.Event(), threading.Event()

    class PausesAfterWriting(Session):
        def execute(self, *args: Any, **kwargs: Any) -> Any:
            result = super().execute(*args, **kwargs)
            written.set()
            assert go.wait(10)
            return result

    factory = world.app.state.session_factory
    pausing = sessionmaker(class_=PausesAfterWriting, **factory.kw)
    flushed: list[int] = []
    flusher = threading.Thread(target=lambda: flushed.append(counter.flush(pausing)))
    flusher.start()
    try:
        assert written.wait(10), "the flush never wrote"
        assert scans()["total"] == before + 3, "a flush under way hid the scans it was writing"
        world.verify(code)  # a scan during the flush waits for the next one
    finally:
        go.set()
        flusher.join(10)
    assert flushed == [3], f"the flush moved {flushed} scans, not the 3 it found"
    after = scans()
    assert after["total"] == before + 4, "a committed flush counted its scans twice or not at all"
    assert sum(h["count"] for h in after["by_hour"]) == after["total"], after
    assert counter.flush(factory) == 1, "the scan made during the flush was lost"
    assert scans()["total"] == before + 4


def test_registry_key_is_listed(world: World) -> None:
    code = world.endorse(world.good_millet("KEYS-1"))
    document = world.verify(code)
    assert_verifies_offline(document)
