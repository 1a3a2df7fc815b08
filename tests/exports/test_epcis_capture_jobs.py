"""The EPCIS 2.0 capture interface: every capture is a job with a status URL (done with
its report, failed with every event's problems), rollback and proceed error behaviours,
an asynchronous answer on request, and the limits stated in the API."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from registry.models import CapturedEvent, CaptureJob
from tests.exports.conftest import PROBLEM_JSON, Registry, epcis_document

CAPTURE = "/api/v1/epcis/capture"


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
    response = demo.client.post(CAPTURE, json=epcis_document([_holding(demo, 8)]), headers=headers)
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
    document = epcis_document([_holding(demo, 10), bad])
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
        json=epcis_document([_holding(demo, 11)]),
        headers={**headers, "Prefer": "respond-async"},
    )
    assert response.status_code == 202, response.text[:800]
    assert response.json()["status"] == "running"
    # The server's capture worker runs it; the client polls the status URL.
    job = _finished(demo, response.headers["Location"], headers)
    assert job["status"] == "done", job
    assert job["report"]["captured"] == 1
    with demo.session() as session:
        stored = session.get(CaptureJob, uuid.UUID(job["captureID"]))
        assert stored is not None and stored.document is None, "document kept after the job"


def _finished(
    demo: Registry, location: str, headers: dict[str, str], timeout: float = 120
) -> dict[str, Any]:
    """The job at ``location`` once it is no longer running (within ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = demo.client.get(location, headers=headers).json()
        if job["status"] != "running":
            return job
        assert time.monotonic() < deadline, f"job still running: {job}"
        time.sleep(0.2)


def test_the_limits_are_stated(demo: Registry):
    response = demo.client.get(CAPTURE, headers=demo.token("aohan-clerk"))
    assert response.status_code == 200
    assert int(response.headers["GS1-EPCIS-Capture-Limit"]) == 10000
    assert int(response.headers["GS1-EPCIS-Capture-File-Size-Limit"]) == (
        demo.settings.max_capture_bytes
    )
    assert "proceed" in response.headers["GS1-EPCIS-Capture-Error-Behaviour"]


DISTINCT = 100
"""Distinct events of the 10,000-event document: each is there 100 times, so that the test
signs 100 records, not 10,000 (about 30 ms each on a loaded test machine); the others are
answered as duplicates, each still hashed and looked up."""


def _many(demo: Registry, count: int) -> dict[str, Any]:
    """A document of ``count`` holding events, ``DISTINCT`` of them different (one a
    minute from 2026-06-05), with eventIDs all different."""
    start = datetime(2026, 6, 5, tzinfo=timezone(timedelta(hours=8)))
    events = []
    for n in range(count):
        event = _holding(demo, 0, eventID=f"urn:uuid:{uuid.uuid4()}")
        event["eventTime"] = (start + timedelta(minutes=n % DISTINCT)).isoformat()
        events.append(event)
    return epcis_document(events)


def _captured_count(demo: Registry) -> int:
    with demo.session() as session:
        return int(session.scalar(select(func.count()).select_from(CapturedEvent)) or 0)


def test_ten_thousand_events_are_captured_and_one_more_is_refused(demo: Registry):
    """GS1-EPCIS-Capture-Limit is true: a document of that many events fits the capture
    body limit (far over the 256 KiB of other paths) and is captured; one more is a 422
    naming epcisBody.eventList, and no job is left to run."""
    headers = demo.token("aohan-clerk")
    limit = int(demo.client.get(CAPTURE, headers=headers).headers["GS1-EPCIS-Capture-Limit"])
    document = _many(demo, limit + 1)
    body = json.dumps(document).encode()
    assert len(body) > demo.settings.max_body_bytes, "the test document is too small to tell"
    jobs_before = len(demo.client.get(CAPTURE, headers=headers).json())
    refused = demo.client.post(
        CAPTURE,
        content=body,
        headers={**headers, "Content-Type": "application/json", "Prefer": "respond-async"},
    )
    assert refused.status_code == 422, refused.text[:800]
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert refused.json()["errors"][0]["path"] == "epcisBody.eventList"
    assert len(demo.client.get(CAPTURE, headers=headers).json()) == jobs_before

    document["epcisBody"]["eventList"].pop()
    captured = _captured_count(demo)
    accepted = demo.client.post(
        CAPTURE, json=document, headers={**headers, "Prefer": "respond-async"}
    )
    assert accepted.status_code == 202, accepted.text[:800]
    assert accepted.json()["events"] == limit
    job = _finished(demo, accepted.headers["Location"], headers, timeout=900)
    assert job["status"] == "done", str(job)[:800]
    report = job["report"]
    assert (report["captured"], report["duplicates"]) == (limit, limit - DISTINCT)
    assert len(report["records"]) == limit
    assert len({r["log_index"] for r in report["records"]}) == DISTINCT
    assert _captured_count(demo) == captured + DISTINCT


def test_a_body_over_the_capture_limit_is_refused_with_the_stated_number(demo: Registry):
    headers = demo.token("aohan-clerk")
    stated = int(
        demo.client.get(CAPTURE, headers=headers).headers["GS1-EPCIS-Capture-File-Size-Limit"]
    )
    assert stated == demo.settings.max_capture_bytes > 10_000 * 2_000

    def streamed() -> Iterator[bytes]:  # chunked: no Content-Length to refuse it by
        chunk = b" " * (1024 * 1024)
        for _ in range(stated // len(chunk) + 1):
            yield chunk

    for content in (b" " * (stated + 1), streamed()):
        response = demo.client.post(
            CAPTURE, content=content, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 413, response.text[:300]
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["limit"] == stated
        assert str(stated) in response.json()["detail"]
        assert int(response.headers["GS1-EPCIS-Capture-File-Size-Limit"]) == stated
        assert response.headers["GS1-EPCIS-Capture-Limit"] == "10000"
    # Other paths keep their own limit.
    other = demo.client.post(
        "/api/v1/records",
        content=b" " * (demo.settings.max_body_bytes + 1),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert other.status_code == 413 and other.json()["limit"] == demo.settings.max_body_bytes
    assert "GS1-EPCIS-Capture-File-Size-Limit" not in other.headers


def test_options_states_the_interface(demo: Registry):
    """EPCIS 2.0.1 §12: OPTIONS on the capture paths names the methods, the EPCIS and CBV
    versions, the extension namespace and the capture limits (no token needed)."""
    job = demo.client.post(
        CAPTURE, json=epcis_document([_holding(demo, 12)]), headers=demo.token("aohan-clerk")
    )
    for path, allow in (
        (CAPTURE, {"GET", "POST", "OPTIONS"}),
        (job.headers["Location"], {"GET", "OPTIONS"}),
    ):
        response = demo.client.options(path)
        assert response.status_code == 204, response.text[:300]
        headers = response.headers
        assert {m.strip() for m in headers["Allow"].split(",")} == allow
        assert headers["GS1-EPCIS-Version"] == "2.0.1"
        assert (headers["GS1-EPCIS-Min"], headers["GS1-EPCIS-Max"]) == ("2.0.0", "2.0.1")
        assert headers["GS1-CBV-Version"] == "2.0.0"
        assert headers["GS1-Extensions"] == "gr=https://guarantee-registry.org/ns/epcis/"
        assert headers["GS1-EPCIS-Capture-Limit"] == "10000"
        assert int(headers["GS1-EPCIS-Capture-File-Size-Limit"]) == (
            demo.settings.max_capture_bytes
        )
        assert headers["GS1-EPCIS-Capture-Error-Behaviour"] == "rollback, proceed"


def test_the_openapi_document_states_the_limits(demo: Registry):
    operation = demo.client.get("/openapi.json").json()["paths"][CAPTURE]["post"]
    for status in ("201", "202"):
        stated = operation["responses"][status]["headers"]
        assert stated["GS1-EPCIS-Capture-Limit"]["schema"]["example"] == 10000
        assert stated["GS1-EPCIS-Capture-File-Size-Limit"]["schema"]["example"] == (
            demo.settings.max_capture_bytes
        )
    assert "413" in operation["responses"]
