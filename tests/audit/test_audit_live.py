"""``registry audit`` against a real registry over HTTP (SQLite and PostgreSQL).

The untouched demo registry verifies, and a second run fetches only what is new. Then each
tamper — done behind the server's back with SQL, as an operator with database access could —
must make the audit exit 1 naming the log index of the record that was touched.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import app as cli_app
from registry.audit import EXIT_FAILED, EXIT_OK, EXIT_USAGE, STATE_FILE, AuditError
from registry.audit import client as audit_client
from registry.audit import command as audit_command
from registry.audit import pool as audit_pool
from registry.audit import replay as audit_replay
from registry.audit import tree as audit_tree
from registry.crypto.dsse import sign_envelope, verify_signature
from registry.crypto.jcs import canonicalize
from registry.db import transaction
from registry.demo import demo_id
from registry.log.note import CosignatureSigner, NoteSigner, add_signatures
from registry.models import Account, Batch, Record, SigningKey
from registry.records import ingest as record_service
from registry.records import keys as key_service
from registry.records.schema import RECORD_PAYLOAD_TYPE, leaf_bytes
from registry.transparency import log as log_service
from tests.audit.helpers import AuditRun, LiveRegistry, audit


def mirrored(state: Path) -> int:
    with sqlite3.connect(state / STATE_FILE) as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM entries").fetchone()
    return int(count)


def assert_fails_at(run: AuditRun, index: int, kind: str, words: str) -> None:
    assert run.code == EXIT_FAILED, run
    assert f"FAILED at log index {index} (kind {kind}): " in run.out, run.out
    assert words in run.out, run.out


def first_index(live: LiveRegistry, kind: str, after: int = 0) -> int:
    return next(
        r["log_index"] for r in live.records() if r["kind"] == kind and r["log_index"] > after
    )


def account(session: Any, username: str) -> Account:
    return session.scalars(select(Account).where(Account.username == username)).one()


def add_history(live: LiveRegistry) -> int:
    """Four more records: a storage step, a key rotation, a step signed by the successor
    key, and a key revocation. Returns how many entries were added: each record is followed
    by the status index of its transaction."""
    millet = f"{demo_id('product:millet')}:AH2026-001"
    with transaction(live.factory) as session:
        clerk = account(session, "aohan-clerk")
        draft = {"kind": "storage", "batches": [millet], "location": "合作社2号粮仓"}
        record_service.sign_and_submit(session, live.ctx, clerk, draft)
        old = session.scalars(select(SigningKey).where(SigningKey.account_id == clerk.id)).one()
        key_service.create_custodial_key(session, live.ctx, clerk, rotates=old.key_id)
        draft = {"kind": "storage", "batches": [millet], "location": "合作社3号粮仓"}
        record_service.sign_and_submit(session, live.ctx, clerk, draft)
        driver = account(session, "mengdong-driver")
        key = session.scalars(select(SigningKey).where(SigningKey.account_id == driver.id)).one()
        key_service.revoke_key(session, live.ctx, driver, key.key_id, "phone lost")
    return 8


# --- an honest registry ---------------------------------------------------------------------


def test_an_untouched_registry_verifies_and_the_next_run_is_incremental(live, tmp_path):
    state = tmp_path / "state"
    size = len(live.records())

    first = live.audit(state, quiet=False)
    assert first.code == EXIT_OK, first
    assert first.out.startswith(f"verified {size} records up to checkpoint size {size}, root ")
    assert "verifying" in first.err  # the progress bar, on stderr
    assert mirrored(state) == size

    live.requests.clear()
    added = add_history(live)
    second = live.audit(state, recheck=0)
    assert second.code == EXIT_OK, second
    new_size = size + added
    assert f"up to checkpoint size {new_size}," in second.out
    assert live.entry_requests() == [f"/log/entries?start={size}&end={new_size}"]
    assert any(r == f"/log/proof/consistency?old={size}&new={new_size}" for r in live.requests)
    assert mirrored(state) == new_size

    live.requests.clear()
    third = live.audit(state, recheck=0)
    assert third.code == EXIT_OK, third
    assert live.entry_requests() == []


def test_the_pinned_log_key_is_checked(live, tmp_path):
    served = live.ctx  # the true key, as /log/vkey serves it
    from registry.transparency.log import log_vkey

    true_vkey = log_vkey(served)
    impostor = NoteSigner.generate(served.log_origin).to_vkey()

    wrong = live.audit(tmp_path / "wrong", vkey=impostor)
    assert wrong.code == EXIT_FAILED, wrong
    assert "FAILED: " in wrong.out and "does not verify" in wrong.out

    state = tmp_path / "pinned"
    assert live.audit(state, vkey=true_vkey).code == EXIT_OK
    assert live.audit(state).code == EXIT_OK  # the pinned key is used without --vkey
    swapped = live.audit(state, vkey=impostor)
    assert swapped.code == EXIT_FAILED
    assert "differs from the pinned key" in swapped.out


def test_witness_cosignatures_are_required(live, tmp_path):
    witness = CosignatureSigner.generate("witness.example")
    absent = CosignatureSigner.generate("absent.example")
    note = live.checkpoint_note()
    live.set_checkpoint_note(add_signatures(note, [witness], timestamp=1_790_000_000))

    run = live.audit(tmp_path / "a", witnesses=[witness.to_vkey()])
    assert run.code == EXIT_OK, run
    missing = live.audit(tmp_path / "b", witnesses=[witness.to_vkey(), absent.to_vkey()])
    assert missing.code == EXIT_FAILED
    assert "no cosignature from witness absent.example" in missing.out

    forged = add_signatures(
        note, [CosignatureSigner(witness.name, absent.private_key)], timestamp=1
    )
    # Same name, other key: the key hash differs, so the line is not the witness's.
    live.set_checkpoint_note(forged)
    assert live.audit(tmp_path / "c", witnesses=[witness.to_vkey()]).code == EXIT_FAILED


def small_pages(monkeypatch: Any, size: int) -> None:
    """Pages of ``size`` entries wherever the auditor pages through ``/log/entries``."""
    monkeypatch.setattr(audit_client, "PAGE_SIZE", size)
    monkeypatch.setattr(audit_tree, "PAGE_SIZE", size)


def test_an_interrupted_mirror_resumes_where_it_stopped(live, tmp_path, monkeypatch):
    small_pages(monkeypatch, 20)

    class DropsAfter40(audit_client.RegistryClient):
        def entries(self, start: int, end: int) -> list[Any]:
            if start >= 40:
                raise AuditError("connection reset (simulated)")
            return super().entries(start, end)

    state = tmp_path / "state"
    with monkeypatch.context() as patch:
        patch.setattr(audit_command, "RegistryClient", DropsAfter40)
        interrupted = live.audit(state)
    assert interrupted.code == EXIT_USAGE
    assert "connection reset" in interrupted.err
    assert mirrored(state) == 40

    live.requests.clear()
    resumed = live.audit(state)
    assert resumed.code == EXIT_OK, resumed
    assert live.entry_requests()[0] == "/log/entries?start=40&end=60"


def test_the_parallel_replay_reaches_the_same_verdicts(live, tmp_path, monkeypatch):
    """Large logs verify signatures in worker processes; force that path on the demo, with
    pages and chunks small enough that keys are registered all along the way."""
    monkeypatch.setattr(audit_pool, "worker_count", lambda records: 1)
    small_pages(monkeypatch, 20)
    monkeypatch.setattr(audit_pool, "CHUNK_SIZE", 7)
    inline: list[str] = []

    def verified_inline(envelope: Any, keyid: str, public_key: Any) -> None:
        inline.append(keyid)
        verify_signature(envelope, keyid, public_key)

    monkeypatch.setattr(audit_replay, "verify_signature", verified_inline)
    assert live.audit(tmp_path / "honest").code == EXIT_OK
    assert inline == [], "the workers were not given the keys registered along the log"

    index = first_index(live, "packing")
    row = live.record(index)
    forged = [{**row["signatures"][0], "sig": base64.b64encode(b"\1" * 64).decode()}]
    live.update_record(index, signatures=forged, leaf=_leaf_with(row, forged))
    live.rebuild_log()
    assert_fails_at(live.audit(tmp_path / "forged"), index, "packing", "does not verify")


def _leaf_with(row: dict[str, Any], signatures: list[dict[str, str]]) -> bytes:
    logged_at = json.loads(row["leaf"])["logged_at"]
    return leaf_bytes(row["kind"], row["payload_type"], row["digest"], signatures, logged_at)


# --- tampering ------------------------------------------------------------------------------


def test_one_byte_of_a_payload(live, tmp_path):
    index = first_index(live, "shipping")
    original = live.record(index)["payload"]
    tampered = bytearray(original)
    tampered[tampered.index(b'"waybill":"') + 11] ^= 0x01
    live.update_record(index, payload=bytes(tampered))

    state = tmp_path / "state"
    assert_fails_at(live.audit(state), index, "shipping", "the payload was altered")
    # The failed run kept nothing unverified: once repaired, the same state verifies.
    live.update_record(index, payload=original)
    assert live.audit(state).code == EXIT_OK


def test_one_byte_of_a_signature(live, tmp_path):
    index = first_index(live, "inspection")
    signatures = live.record(index)["signatures"]
    sig = bytearray(base64.b64decode(signatures[0]["sig"]))
    sig[10] ^= 0x80
    tampered = [{**signatures[0], "sig": base64.b64encode(bytes(sig)).decode()}]
    live.update_record(index, signatures=tampered)
    assert_fails_at(live.audit(tmp_path / "state"), index, "inspection", "signature was altered")


def test_a_deleted_record(live, tmp_path):
    index = first_index(live, "certificate", after=30)
    live.delete_record(index)
    run = live.audit(tmp_path / "state")
    assert run.code == EXIT_FAILED, run
    assert f"FAILED at log index {index}: " in run.out
    assert "deleted record leaves a gap" in run.out


def test_two_swapped_records(live, tmp_path):
    low, high = first_index(live, "harvest", after=20), first_index(live, "shipping", after=40)
    a, b = live.record(low), live.record(high)
    columns = ("payload", "signatures", "leaf")
    live.update_record(low, **{c: b[c] for c in columns})
    live.update_record(high, **{c: a[c] for c in columns})
    run = live.audit(tmp_path / "state")
    assert_fails_at(run, low, "shipping", "not the one checkpoint")


def test_a_record_resigned_with_another_registered_key(live, tmp_path):
    """The operator re-signs a carrier's record with a cooperative's custodial key and
    covers it with a rebuilt tree and a fresh checkpoint: leaf, tree and checkpoint are all
    consistent, so only the key and policy checks can catch it."""
    index = first_index(live, "shipping")
    with transaction(live.factory) as session:
        key_id = session.scalars(
            select(SigningKey.key_id).where(
                SigningKey.account_id == account(session, "aohan-clerk").id
            )
        ).one()
    live.resign(index, live.record(index)["payload"], live.custodial_signer(key_id))
    live.rebuild_log()
    assert_fails_at(
        live.audit(tmp_path / "state"), index, "shipping", "policy rule key-organization"
    )


def _undepended_record(live: LiveRegistry) -> dict[str, Any]:
    """A supply-chain record no later record names (rewriting it breaks no chain)."""
    records = live.records()
    referenced = set()
    for row in records:
        document = json.loads(row["payload"])
        referenced.update(d for d in document.get("prev", {}).values() if d)
        referenced.update(document.get("evidence", {}).values())  # endorsements
        referenced.update((document.get("corrects"), document.get("endorsement")))
    return next(
        r for r in records if r["digest"] not in referenced and "org" in json.loads(r["payload"])
    )


def test_a_rewritten_history_with_a_fresh_checkpoint_is_a_split_view(live, tmp_path):
    state = tmp_path / "state"
    assert live.audit(state).code == EXIT_OK

    victim = _undepended_record(live)
    document = json.loads(victim["payload"])
    document["note"] = "rewritten after the fact"
    signer = live.custodial_signer(victim["signatures"][0]["keyid"])
    live.resign(victim["log_index"], canonicalize(document), signer)
    live.rebuild_log()
    with transaction(live.factory) as session:  # the log moves on from the rewritten tree
        key_service.create_custodial_key(session, live.ctx, account(session, "rose-clerk"))

    run = live.audit(state)
    assert_fails_at(run, victim["log_index"], victim["kind"], "split view / rewritten history")
    # Everything else about the rewritten log is valid: only memory of the old checkpoint
    # catches it, which is why auditors keep state (and witnesses exist).
    assert live.audit(tmp_path / "fresh").code == EXIT_OK


# --- usage and network ------------------------------------------------------------------------


def test_an_unreachable_registry_is_a_network_error(free_port, tmp_path):
    run = audit(f"http://127.0.0.1:{free_port}", tmp_path / "state")
    assert run.code == EXIT_USAGE
    assert "cannot reach" in run.err


def test_bad_usage_exits_2(tmp_path):
    assert audit("not a url", tmp_path / "s").code == EXIT_USAGE
    assert audit("http://127.0.0.1:9", tmp_path / "s", vkey="nonsense").code == EXIT_USAGE
    assert audit("http://127.0.0.1:9", tmp_path / "s", witnesses=["x+y+z"]).code == EXIT_USAGE
    (tmp_path / "file").write_text("not a directory")
    assert audit("http://127.0.0.1:9", tmp_path / "file").code == EXIT_USAGE
    assert CliRunner().invoke(cli_app, ["audit"]).exit_code == EXIT_USAGE
    assert CliRunner().invoke(cli_app, ["audit", "http://x", "--bogus"]).exit_code == EXIT_USAGE


def test_the_cli_runs_the_audit(live, tmp_path):
    result = CliRunner().invoke(
        cli_app, ["audit", live.url, "--state", str(tmp_path / "s"), "--quiet"]
    )
    assert result.exit_code == EXIT_OK, result.output
    assert "verified" in result.output
    assert uuid.UUID(str(demo_id("org:aohan-coop")))  # the demo is what was audited


def test_a_foreign_carriers_record_forced_past_the_api_is_named(live, tmp_path):
    """The operator appends, past the ingest path and its policy, a storage record that the
    Pingyin carrier signed on a Shan County egg batch it was never handed: every signature,
    leaf and checkpoint is genuine, so only the replayed custody rules can name it."""
    eggs = f"{demo_id('product:eggs')}:SX2026-1115"
    with transaction(live.factory) as session:
        driver = account(session, "jinan-driver")
        key_id = session.scalars(
            select(SigningKey.key_id).where(SigningKey.account_id == driver.id)
        ).one()
        org_id = driver.organization_id
    signer = live.custodial_signer(key_id)
    with transaction(live.factory) as session:
        batch = session.scalars(
            select(Batch).where(
                Batch.product_id == demo_id("product:eggs"), Batch.lot == "SX2026-1115"
            )
        ).one()
        document = {
            "kind": "storage",
            "time": "2026-01-10T08:00:00+08:00",
            "org": str(org_id),
            "batches": [eggs],
            "prev": {eggs: batch.head_digest},
            "location": "别人的冷库 someone else's cold store",
        }
        payload = canonicalize(document)
        envelope = sign_envelope(RECORD_PAYLOAD_TYPE, payload, [signer])
        signatures = [
            {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()} for s in envelope.signatures
        ]
        now = datetime.now(UTC)
        digest = hashlib.sha256(payload).hexdigest()
        leaf = leaf_bytes(
            "storage",
            RECORD_PAYLOAD_TYPE,
            digest,
            signatures,
            now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        )
        size = log_service.lock_log(session)
        session.add(
            Record(
                log_index=size,
                digest=digest,
                kind="storage",
                payload_type=RECORD_PAYLOAD_TYPE,
                payload=payload,
                signatures=signatures,
                leaf=leaf,
                organization_id=org_id,
                record_time=now,
                logged_at=now,
            )
        )
        session.flush()
        log_service.append_leaves(session, size, [leaf])
        log_service.publish_checkpoint(session, live.ctx, size + 1)
    assert_fails_at(
        live.audit(tmp_path / "state"), size, "storage", "policy rule not-handed-to-carrier"
    )
