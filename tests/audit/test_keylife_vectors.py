"""The shared key-life cases (tests/vectors/keylife/) through the audit's rules."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from registry.audit.keylife import KeyHistory
from registry.records.schema import parse_record

CASES = sorted((Path(__file__).parent.parent / "vectors" / "keylife").glob("*.json"))


def test_every_verdict_is_covered() -> None:
    verdicts = {json.loads(p.read_text())["expected"]["verdict"] for p in CASES}
    assert verdicts == {"ok", "refused", "suspect"}


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    case = json.loads(path.read_text())
    history = KeyHistory()
    for item in case["key_records"]:
        history.apply(item["index"], parse_record(item["record"]))
    signature = case["signature"]
    verdict = history.judge(
        signature["keyid"], signature["index"], datetime.fromisoformat(signature["time"])
    )
    assert (verdict.verdict, verdict.reason) == (
        case["expected"]["verdict"],
        case["expected"]["reason"],
    ), case["description"]
