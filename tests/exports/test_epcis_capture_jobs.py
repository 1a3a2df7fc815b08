"""The EPCIS 2.0 capture interface: every capture is a job with a status URL (done with
its report, failed with every event's problems), rollback and proceed error behaviours,
an asynchronous answer on request, and the limits stated in the API."""

from __future__ import annotations

from typing import Any

from tests.exports.conftest import PROBLEM_JSON, Registry

CAPTURE = "/api/v1/epcis/capture"


def _document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-06-01T08:00:00Z",
        "epcisBody": {"eventList": events},
    }


def _holding(demo: Registry, hour: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": f"2026-06-05T{hour:02d}:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": "holding",
        "quantityList": [{"epcClass": f"{demo.ctx.settings.base_url}/b/{demo.code('AH2026-001')}"}],
        "bizLocation": {"id": "urn:epc:id:sgln:0614141.00777.0"},
        **fields,
    }


def test_a_capture_has_a_status_url(demo: Registry):
    headers = demo.token("aohan-clerk")
    response = demo.client.post(CAPTURE, json=_document([_holding(demo, 8)]), headers=headers)
    assert response.status_code == 201, response.text[:800]
    assert response.headers["GS1-EPCIS-Capture-Limit"] == "10000"
    location = response.headers["Location"]
    assert location == f"{CAPTURE}/{response.json()['captureID']}"
    job = demo.client.get(location, headers=headers).json()
    assert (job["status"], job["running"], job["success"]) == ("done", False, True)
    assert job["report"]["records"][0]["digest"] == response.json()["records"][0]["digest"]
    listed = demo.client.get(CAPTURE, headers=headers).json()
    assert job["captureID"] in [j["captureID"] for j in listed]
    # Another organization does not see it.
    other = demo.client.get(location, headers=demo.token("mengdong-driver"))
    assert other.status_code == 404 and other.headers["content-type"] == PROBLEM_JSON


def test_a_refused_capture_is_a_failed_job_with_every_problem(demo: Registry):
    headers = demo.token("aohan-clerk")
    size = demo.log_size()
    bad = _holding(demo, 9, bizStep="shredding")
    document = _document([_holding(demo, 10), bad])
    response = demo.client.post(CAPTURE, json=document, headers=headers)
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM_JSON
    assert demo.log_size() == size, "rollback: nothing written"
    job = demo.client.get(response.headers["Location"], headers=headers).json()
    assert job["status"] == "failed" and job["success"] is False
    assert job["captureID"] == response.json()["captureID"]
    assert [p["path"] for p in job["errors"][0]["problems"]] == ["epcisBody.eventList[1].bizStep"]

    kept = demo.client.post(
        CAPTURE,
        json=document,
        headers={**headers, "GS1-EPCIS-Capture-Error-Behaviour": "proceed"},
    )
    assert kept.status_code == 201, kept.text[:800]
    assert (kept.json()["captured"], kept.json()["refused"]) == (1, 1)
    job = demo.client.get(kept.headers["Location"], headers=headers).json()
    assert job["status"] == "done" and job["captureErrorBehaviour"] == "proceed"
    assert job["report"]["errors"][0]["index"] == 1

    wrong = demo.client.post(
        CAPTURE, json=document, headers={**headers, "GS1-EPCIS-Capture-Error-Behaviour": "maybe"}
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["path"] == "GS1-EPCIS-Capture-Error-Behaviour"


def test_an_asynchronous_capture_answers_at_once(demo: Registry):
    headers = demo.token("aohan-clerk")
    response = demo.client.post(
        CAPTURE,
        json=_document([_holding(demo, 11)]),
        headers={**headers, "Prefer": "respond-async"},
    )
    assert response.status_code == 202, response.text[:800]
    assert response.json()["status"] == "running"
    # The test client runs the job before it returns; a real client polls the URL.
    job = demo.client.get(response.headers["Location"], headers=headers).json()
    assert job["status"] == "done", job
    assert job["report"]["captured"] == 1


def test_the_limits_are_stated(demo: Registry):
    response = demo.client.get(CAPTURE, headers=demo.token("aohan-clerk"))
    assert response.status_code == 200
    assert int(response.headers["GS1-EPCIS-Capture-Limit"]) == 10000
    assert int(response.headers["GS1-EPCIS-Capture-File-Size-Limit"]) == (
        demo.settings.max_body_bytes
    )
    assert "proceed" in response.headers["GS1-EPCIS-Capture-Error-Behaviour"]
