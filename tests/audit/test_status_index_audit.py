"""The status index under ``registry audit`` and ``registry check`` (SQLite and PostgreSQL):
a server whose committed root is wrong — signed, logged and checkpointed like any honest
one — or whose stored values were altered is caught, naming the status index record, its
checkpoint and the first key concerned. The stored index rebuilt by the pure module has the
same root."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from registry.db import transaction
from registry.demo import demo_id
from registry.log import status_index as si
from registry.models import Account, Record, StatusIndexEntry
from registry.records import ingest as record_service
from registry.transparency import status_index as index_service
from tests.audit.helpers import LiveRegistry
from tests.audit.test_audit_live import assert_fails_at
from tests.audit.test_selfcheck import assert_fails_at as check_fails_at
from tests.audit.test_selfcheck import check

MILLET = f"{demo_id('product:millet')}:AH2026-001"


def _store(live: LiveRegistry, location: str) -> int:
    """A storage step of the demo's millet, signed by its clerk; the index after it."""
    with transaction(live.factory) as session:
        clerk = session.scalars(select(Account).where(Account.username == "aohan-clerk")).one()
        draft = {"kind": "storage", "batches": [MILLET], "location": location}
        accepted = record_service.sign_and_submit(session, live.ctx, clerk, draft)
    return accepted.checkpoint_size - 1


def test_the_stored_index_is_the_pure_modules_tree(live: LiveRegistry) -> None:
    with live.engine.connect() as connection:
        entries = connection.execute(select(StatusIndexEntry.key, StatusIndexEntry.value)).all()
        last = connection.execute(
            select(Record.payload)
            .where(Record.kind == "status_index")
            .order_by(Record.log_index.desc())
            .limit(1)
        ).scalar_one()
    assert entries, "the demo's index holds no key"
    hashed = {si.key_hash(k): si.value_hash(json.loads(v)) for k, v in entries}
    committed = json.loads(last)
    assert base64.b64encode(si.root_of(hashed)).decode() == committed["root"]
    assert committed["keys"] == len(entries)


def test_a_wrong_committed_root_fails_the_audit_and_the_check(
    live: LiveRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    honest = index_service.si.apply_changes

    def lying(store: Any, changes: Any) -> Any:
        _, written = honest(store, changes)
        return bytes(32), written  # a root that hides every key, signed as usual

    monkeypatch.setattr(index_service.si, "apply_changes", lying)
    index = _store(live, "合作社9号粮仓")
    monkeypatch.undo()

    words = f"the status index at log index {index} (checkpoint {index + 1}) commits to root"
    run = live.audit(tmp_path / "state")
    assert_fails_at(run, index, "status_index", words)
    assert f"the first key changed since the status index at {index - 2} is " in run.out
    assert si.batch_key(MILLET) in run.out, run.out
    check_fails_at(check(live), index, "status_index", words)


def test_an_altered_stored_value_fails_the_check_then_the_audit(
    live: LiveRegistry, tmp_path: Path
) -> None:
    key = si.batch_key(MILLET)
    with live.engine.begin() as connection:
        # Hide the batch's newest record from the index: its head goes back to the harvest.
        connection.execute(
            update(StatusIndexEntry)
            .where(StatusIndexEntry.key_hash == si.key_hash(key))
            .values(value=json.dumps({"head": 1, "recall": None}, separators=(",", ":")))
        )
    code, out, _ = check(live)
    assert code == 1 and f"the stored status index holds {key} = " in out, out
    assert "status_index_entries was altered" in out, out

    # The next record of the batch builds on the altered value: a recall set, say, that
    # the log never made (the server's change survives into the committed root).
    with live.engine.begin() as connection:
        connection.execute(
            update(StatusIndexEntry)
            .where(StatusIndexEntry.key_hash == si.key_hash(key))
            .values(value=json.dumps({"head": 1, "recall": 3}, separators=(",", ":")))
        )
    index = _store(live, "合作社8号粮仓")
    run = live.audit(tmp_path / "state")
    assert_fails_at(run, index, "status_index", "commits to root")
    assert f"the first key changed since the status index at {index - 2} is {key!r}" in run.out


def test_a_log_from_before_the_index_is_backfilled_from_its_records(live: LiveRegistry) -> None:
    """The first index of a log made before the index existed covers every earlier entry:
    derived from the records as the audit derives them, it equals what ingestion kept."""
    with transaction(live.factory) as session:
        size = session.execute(select(Record.log_index).order_by(Record.log_index.desc())).scalar()
        assert size is not None
        changes = index_service.IndexChanges()
        index_service._backfill(session, size + 1, changes)
        derived: dict[str, Any] = {}
        for key, change in changes.changes:
            derived[key] = si.next_value(derived.get(key), change)
        stored = {
            k: json.loads(v)
            for k, v in session.execute(select(StatusIndexEntry.key, StatusIndexEntry.value))
        }
    assert derived == stored


def test_proofs_against_an_older_committed_root(live: LiveRegistry) -> None:
    """The witnessed checkpoint may lag the newest: proofs are built against any committed
    root, with the value the key held then."""
    before = _store(live, "合作社7号粮仓")
    after = _store(live, "合作社6号粮仓")
    key = si.batch_key(MILLET)
    with transaction(live.factory) as session:
        for head in (before, after):
            payload = session.get(Record, head).payload  # type: ignore[union-attr]
            root = base64.b64decode(json.loads(payload)["root"])
            entry = index_service.prove_at(session, head, key)
            assert entry["value"]["head"] == head - 1, (head, entry["value"])
            proof = si.proof_from_json(entry["proof"])
            si.verify_proof(root, key, entry["value"], proof)
