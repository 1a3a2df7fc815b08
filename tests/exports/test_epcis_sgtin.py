"""Instances that carry no lot (an SGTIN URN, a Digital Link ``/01/{GTIN}/21/{serial}``)
name the batch an earlier record listed them in with their lot; one never seen so, or seen
in several lots, is refused naming it."""

from __future__ import annotations

from typing import Any

from registry.exports.epcis.event_hash import event_hash
from registry.exports.epcis.identifiers import gtin_and_serial
from tests.exports.conftest import EPCIS_CONTEXT, PROBLEM_JSON, Registry, epcis_document
from tests.exports.test_epcis_instances import CAKES, _capture, _instances, _transformation

PETALS = "PY-ROSE-0521"


def _sgtin(serial: int | str) -> str:
    # urn:epc:id:sgtin:{company prefix}.{indicator + item reference}.{serial}
    return f"urn:epc:id:sgtin:{CAKES[1:8]}.{CAKES[0]}{CAKES[8:13]}.{serial}"


def _made(demo: Registry, day: int, lot: str, *serials: int) -> None:
    petals = f"{demo.ctx.settings.base_url}/b/{demo.code(PETALS)}"
    made = _transformation(
        day,
        inputQuantityList=[{"epcClass": petals, "quantity": 1, "uom": "KGM"}],
        outputEPCList=_instances(lot, *serials),
    )
    response = _capture(demo, made)
    assert response.status_code == 201, response.text[:1500]


def _holding(epcs: list[str]) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-06-09T08:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": "holding",
        "epcList": epcs,
        "bizLocation": {"id": "urn:epc:id:sgln:0614141.00777.0"},
    }


def test_an_sgtin_converts_to_its_gtin_and_serial():
    assert gtin_and_serial(_sgtin("A%2F1")) == (CAKES, "A/1")
    assert gtin_and_serial(f"https://id.gs1.org/01/{CAKES}/21/7") == (CAKES, "7")
    assert gtin_and_serial(f"https://id.gs1.org/01/{CAKES}/10/L1/21/7") is None


def test_instances_without_lot_name_the_batch_they_were_made_in(demo: Registry):
    _made(demo, 2, "PY-CAKE-0800", 41, 42)
    held = _holding([_sgtin(41), f"https://id.gs1.org/01/{CAKES}/21/42"])
    response = _capture(demo, held)
    assert response.status_code == 201, response.text[:1500]
    [made] = response.json()["records"]
    record = demo.client.get(f"/api/v1/records/{made['digest']}").json()
    assert record["kind"] == "storage"
    payload = record["record"]
    assert payload["items"] == held["epcList"], "kept as sent"
    assert payload["epcis"]["event_hash"] == event_hash(held, EPCIS_CONTEXT)
    [batch] = payload["batches"]
    assert batch.endswith(":PY-CAKE-0800")

    exported = demo.client.get(
        "/api/v1/export/epcis", params={"batch": demo.code("PY-CAKE-0800")}
    ).json()
    back = {e["gr:digest"]: e for e in exported["epcisBody"]["eventList"]}
    again = back[made["digest"]]
    assert again["epcList"] == held["epcList"]
    assert again["gr:eventHash"] == event_hash(held, EPCIS_CONTEXT)


def test_an_instance_made_and_held_in_one_document_names_its_batch(demo: Registry):
    petals = f"{demo.ctx.settings.base_url}/b/{demo.code(PETALS)}"
    made = _transformation(
        3,
        inputQuantityList=[{"epcClass": petals, "quantity": 1, "uom": "KGM"}],
        outputEPCList=_instances("PY-CAKE-0801", 51),
    )
    document = epcis_document([made, _holding([_sgtin(51)])])
    response = demo.client.post(
        "/api/v1/epcis/capture", json=document, headers=demo.token("bakery-clerk")
    )
    assert response.status_code == 201, response.text[:1500]
    digest = response.json()["records"][1]["digest"]
    payload = demo.client.get(f"/api/v1/records/{digest}").json()["record"]
    assert payload["batches"][0].endswith(":PY-CAKE-0801")


def test_an_instance_made_after_the_lookup_is_learnt_from_its_record(demo: Registry):
    """The document's first event looks up every lotless instance of it (one query, with
    their products); one a later event of the document makes is learnt from its record."""
    _made(demo, 2, "PY-CAKE-0800", 41)
    petals = f"{demo.ctx.settings.base_url}/b/{demo.code(PETALS)}"
    made = _transformation(
        3,
        inputQuantityList=[{"epcClass": petals, "quantity": 1, "uom": "KGM"}],
        outputEPCList=_instances("PY-CAKE-0801", 52),
    )
    document = epcis_document([_holding([_sgtin(41)]), made, _holding([_sgtin(52)])])
    response = demo.client.post(
        "/api/v1/epcis/capture", json=document, headers=demo.token("bakery-clerk")
    )
    assert response.status_code == 201, response.text[:1500]
    records = response.json()["records"]
    for index, lot in ((0, "PY-CAKE-0800"), (2, "PY-CAKE-0801")):
        digest = records[index]["digest"]
        payload = demo.client.get(f"/api/v1/records/{digest}").json()["record"]
        assert payload["batches"][0].endswith(f":{lot}"), (index, payload["batches"])


def test_an_instance_never_seen_with_its_lot_is_refused_naming_it(demo: Registry):
    size = demo.log_size()
    response = _capture(demo, _holding([_sgtin(999)]))
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM_JSON
    [problem] = response.json()["errors"][0]["problems"]
    assert problem["path"] == "epcisBody.eventList[0].epcList[0]"
    assert _sgtin(999) in problem["message"]
    assert "has not seen with its lot" in problem["message"]
    assert demo.log_size() == size


def test_an_instance_seen_in_two_lots_is_ambiguous(demo: Registry):
    _made(demo, 4, "PY-CAKE-0802", 61)
    _made(demo, 5, "PY-CAKE-0803", 61)
    size = demo.log_size()
    response = _capture(demo, _holding([f"https://id.gs1.org/01/{CAKES}/21/61"]))
    assert response.status_code == 422, response.text[:1500]
    [problem] = response.json()["errors"][0]["problems"]
    assert problem["path"] == "epcisBody.eventList[0].epcList[0]"
    assert "ambiguous" in problem["message"]
    assert "PY-CAKE-0802" in problem["message"] and "PY-CAKE-0803" in problem["message"]
    assert demo.log_size() == size


def test_the_signing_policy_decides_by_the_batch_found(demo: Registry):
    _made(demo, 6, "PY-CAKE-0804", 71)
    size = demo.log_size()
    answers = []
    for epc in (_sgtin(71), _instances("PY-CAKE-0804", 71)[0]):
        response = demo.client.post(
            "/api/v1/epcis/capture",
            json=epcis_document([_holding([epc])]),
            headers=demo.token("aohan-clerk"),  # another cooperative: not its cakes
        )
        [error] = response.json()["errors"]
        answers.append((response.status_code, error.get("rule"), error.get("code")))
    assert answers[0] == answers[1], "the same refusal as naming the batch with its lot"
    assert answers[0] == (422, "batch-of-another-organization", "policy-violation")
    assert demo.log_size() == size
