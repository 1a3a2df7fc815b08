"""The third-party corpus: GS1's published EPCIS 2.0 examples and OpenEPCIS's capture test
resources (tests/vectors/epcis-thirdparty/, vendored with their licences), captured into
the demo registry twice — as published, and with their identifiers pointed at a demo
batch. Nothing may crash (no 5xx); every refusal is a 4xx problem naming the field; what
is captured exports back schema-valid, each event, whatever kind it became, equal to what
was captured. The counts are those docs/epcis.md records ("The third-party corpus")."""

from __future__ import annotations

import collections
import json
import re
import uuid
from pathlib import Path
from typing import Any

import jsonschema

from registry.exports.epcis.event_hash import event_hash, pre_hash
from tests.exports.conftest import PROBLEM_JSON, Registry, assert_valid, schema_errors

CORPUS = Path(__file__).parent.parent / "vectors" / "epcis-thirdparty"
DOCS = Path(__file__).parent.parent.parent / "docs" / "epcis.md"
FILES = sorted(
    p for folder in ("gs1-epcis", "openepcis") for p in (CORPUS / folder).rglob("*.json*")
)
_INSTANCE_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_KEPT_WHOLE = ("aggregation", "association", "transaction", "observation")


def _pointed(document: Any, batch_class: str, name: str) -> Any:
    """The document with every class at the demo batch, every instance a serial of it, and
    eventIDs made unique to the file (the corpus reuses them across files)."""
    serials = iter(range(1, 1_000_000))

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        out = {}
        for key, item in value.items():
            if key == "epcClass":
                out[key] = batch_class
            elif key in _INSTANCE_LISTS and isinstance(item, list):
                out[key] = [f"{batch_class}/21/{next(serials)}" for _ in item]
            elif key == "eventID" and isinstance(item, str):
                out[key] = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name + item)}"
            else:
                out[key] = walk(item)
        return out

    return walk(document)


def _reason(response_json: dict[str, Any]) -> str:
    """A refusal's first reason: its code or rule and the field it names, indices dropped."""
    errors = response_json.get("errors") or []
    first = errors[0] if errors else response_json
    problems = first.get("problems") or [{"path": p.get("path")} for p in errors[:1]]
    path = problems[0].get("path", "") if problems else ""
    field = re.sub(r"\[\d+\]", "", str(path)).removeprefix("epcisBody.eventList.")
    rule = first.get("rule") or first.get("code") or response_json.get("type", "").rsplit("/")[-1]
    return f"{rule} at {field or '(document)'}"


def _prehash_diff(original: Any, again: Any, context: Any, original_context: Any) -> list[str]:
    import difflib

    a = pre_hash(original, original_context).splitlines()
    b = pre_hash(again, context).splitlines()
    return list(difflib.unified_diff(a, b, "captured", "exported", lineterm=""))


def _capture(demo: Registry, document: Any, headers: dict[str, str]) -> tuple[int, Any]:
    return checked_answer(demo.client.post("/api/v1/epcis/capture", json=document, headers=headers))


def checked_answer(response: Any) -> tuple[int, Any]:
    """A capture's status and body: never a 5xx, and a refusal is a problem naming the field
    of every error (also the XML corpus's check)."""
    assert response.status_code < 500, response.text[:800]
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM_JSON, response.text[:300]
        body = response.json()
        paths = [p["path"] for e in body.get("errors", []) for p in e.get("problems", [e])]
        assert paths and all(paths), f"a refusal names the field: {response.text[:600]}"
    return response.status_code, response.json()


def _standard(event: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in event.items()
        if not k.startswith(("gr:", "recordTime", "eventID", "@context")) and ":" not in k
    }


def test_the_third_party_corpus(demo: Registry, epcis_validator: jsonschema.Draft7Validator):
    assert len(FILES) == 105, len(FILES)
    code = demo.code("GF2026-001")
    batch_class = f"https://id.gs1.org/01/{demo.gtin('GF2026-001')}/10/GF2026-001"
    headers = demo.token("mengdong-driver")  # the carrier the batch was handed to
    counts: collections.Counter[str] = collections.Counter()
    reasons: dict[str, collections.Counter[str]] = {
        "published": collections.Counter(),
        "pointed": collections.Counter(),
    }
    captured_events: list[tuple[dict[str, Any], dict[str, Any]]] = []
    doc_of: dict[int, Any] = {}
    for path in FILES:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            counts["not JSON"] += 1
            continue
        counts["files"] += 1
        if not schema_errors(epcis_validator, document):
            counts["schema-valid"] += 1
        for run, doc in (
            ("published", document),
            ("pointed", _pointed(document, batch_class, path.name)),
        ):
            status, body = _capture(demo, doc, headers)
            if status < 300:
                counts[f"{run}: captured"] += 1
                if run == "pointed":
                    events = doc["epcisBody"]["eventList"]
                    captured_events += [(events[r["index"]], r) for r in body["records"]]
                    doc_of.update(
                        {id(events[r["index"]]): doc.get("@context") for r in body["records"]}
                    )
            else:
                counts[f"{run}: refused"] += 1
                reasons[run][_reason(body)] += 1

    exported = demo.client.get("/api/v1/export/epcis", params={"batch": code}).json()
    assert_valid(epcis_validator, exported, "the demo batch after the corpus was captured")
    back = {e["gr:digest"]: e for e in exported["epcisBody"]["eventList"]}
    for original, made in captured_events:
        assert made["digest"] in back, "every captured event is in the batch's trace"
        if not made["duplicate"]:
            # Equivalent, whatever kind the event became: the exported event, without the
            # registry's own fields, has the CBV 2.0 event hash of the event captured, and
            # so names it (gr:eventHash). (Sensor data is compared without: the registry
            # writes a compact IRI in full, which the hash does not expand;
            # test_epcis_sensors holds it equal.)
            if "sensorElementList" not in original:
                assert back[made["digest"]]["gr:eventHash"] == made["event_hash"], made
            context = doc_of[id(original)]
            captured = {k: v for k, v in original.items() if k != "sensorElementList"}
            again = {
                k: v
                for k, v in back[made["digest"]].items()
                if not k.startswith("gr:") and k != "sensorElementList"
            }
            if event_hash(again, exported["@context"]) != event_hash(captured, context):
                diff = _prehash_diff(captured, again, exported["@context"], context)
                raise AssertionError(
                    f"{original['type']} not exported as captured:\n" + "\n".join(diff)
                )
            counts["round trip: equivalent"] += 1
            if made["kind"] in _KEPT_WHOLE:
                counts["round trip: kept whole"] += 1
    counts["round trip: events"] = len(captured_events)

    report = "\n".join(
        [f"{k}: {v}" for k, v in sorted(counts.items())]
        + [f"{run} refused — {r}: {n}" for run in reasons for r, n in reasons[run].most_common()]
    )
    print(report)
    documented = DOCS.read_text(encoding="utf-8")
    keys = ("files", "schema-valid", "published: captured", "pointed: captured")
    for key in (*keys, "round trip: events", "round trip: equivalent", "round trip: kept whole"):
        line = f"| {key} | {counts[key]} |"
        assert line in documented, f"docs/epcis.md does not say {line!r}:\n{report}"
