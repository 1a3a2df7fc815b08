"""The CBV 2.0 event hash: the reference implementation's own published examples and their
expected hashes (tests/vectors/epcis-thirdparty/event-hash/), and the hash an export names
for each event."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from registry.exports.epcis.event_hash import (
    EventHashError,
    event_hash,
    event_hashes,
    is_event_hash,
)
from registry.exports.epcis.vocabulary import ext
from tests.exports.conftest import Registry

VECTORS = Path(__file__).parent.parent / "vectors" / "epcis-thirdparty" / "event-hash"
EXAMPLES = sorted(VECTORS.glob("*.jsonld"))


def test_there_are_reference_vectors():
    assert len(EXAMPLES) >= 19, EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_hashes_equal_the_reference_expected_hashes(path: Path):
    expected = path.with_suffix(".hashes").read_text().split()
    document = json.loads(path.read_text())
    assert event_hashes(document) == expected
    assert all(is_event_hash(h) for h in expected)


def test_hash_ignores_event_id_record_time_and_error_declaration():
    document = json.loads((VECTORS / "ReferenceEventHashAlgorithm.jsonld").read_text())
    event = document["epcisBody"]["eventList"][0]
    base = event_hash(event, document["@context"])
    changed = copy.deepcopy(event)
    changed["eventID"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
    changed["recordTime"] = "2030-01-01T00:00:00Z"
    changed["errorDeclaration"] = {"declarationTime": "2030-01-01T00:00:00Z"}
    assert event_hash(changed, document["@context"]) == base
    changed["eventTime"] = "2001-01-01T00:00:00Z"
    assert event_hash(changed, document["@context"]) != base


def test_a_context_from_elsewhere_is_not_fetched():
    document = {
        "@context": ["https://example.com/not-epcis.jsonld"],
        "type": "EPCISDocument",
        "epcisBody": {"eventList": [{"type": "ObjectEvent", "eventTime": "2026-01-01T00:00Z"}]},
    }
    with pytest.raises(EventHashError, match=r"example\.com"):
        event_hashes(document)


def test_export_names_each_event_hash(demo: Registry):
    exported = demo.client.get("/api/v1/export/epcis").json()
    events = exported["epcisBody"]["eventList"]
    assert events
    named = [e.pop(ext("eventHash")) for e in events]
    assert all(is_event_hash(h) for h in named)
    assert event_hashes(exported) == named, "a reader recomputes each hash without the field"
