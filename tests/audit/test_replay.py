"""The auditor's pure checks over small synthetic logs: no server, no database.

``SyntheticLog`` signs records the way the registry does (DSSE over RFC 8785 payloads, leaves
from ``registry.records.schema.leaf_bytes``) so each test can write exactly the history it needs,
including histories the server would have refused, and assert which log index the replay
names.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, replace
from typing import Any

import orjson
import pytest

from registry.audit import (
    LogReplay,
    check_entry,
    key_directory,
    preverify_signatures,
    verify_checkpoint,
)
from registry.crypto.dsse import sign_envelope
from registry.crypto.jcs import canonicalize
from registry.crypto.keys import Signer
from registry.errors import VerificationError
from registry.log.note import (
    Checkpoint,
    CosignatureSigner,
    NoteSigner,
    add_signatures,
    sign_checkpoint,
)
from registry.records.schema import RECORD_PAYLOAD_TYPE, leaf_bytes

LOGGED_AT = "2026-03-01T00:00:00.000000Z"
TIME = "2026-03-01T08:00:00+08:00"


@dataclass(frozen=True)
class Party:
    signer: Signer
    org: str
    kind: str
    holder: dict[str, Any]
    organization: dict[str, Any]


def _key(signer: Signer) -> dict[str, str]:
    return {
        "algorithm": "ed25519",
        "id": signer.key_id,
        "public_key": base64.b64encode(signer.public_key_raw).decode(),
    }


class SyntheticLog:
    """A log built record by record; ``heads`` tracks each batch's chain like the server."""

    def __init__(self) -> None:
        self.registry = Signer.generate()
        self.entries: list[tuple[bytes, dict[str, Any]]] = []
        self.heads: dict[str, str] = {}
        self.digests: list[str] = []
        self.holders: dict[str, Party] = {}  # who holds each batch, as custody moves it
        self.carrier: Party | None = None
        self.append(
            {
                "kind": "key_registration",
                "time": TIME,
                "key": _key(self.registry),
                "holder": {"account": None, "role": "registry", "name_zh": "运营方"},
                "organization": {
                    "id": str(uuid.uuid4()),
                    "kind": "operator",
                    "name_zh": "运营方",
                    "name_en": "Operator",
                    "region": "110000",
                },
            },
            [self.registry],
        )

    def append(
        self,
        document: dict[str, Any],
        signers: list[Signer],
        logged_at: str = LOGGED_AT,
        forged: bool = False,
    ) -> int:
        """Sign and log ``document``; ``forged`` swaps in signatures over other bytes (the
        leaf still commits to them, as if the registry had logged them)."""
        payload = canonicalize(document)
        envelope = sign_envelope(RECORD_PAYLOAD_TYPE, payload, signers)
        if forged:
            envelope = replace(
                envelope,
                signatures=tuple(
                    replace(s, sig=signer.sign(b"something else"))
                    for s, signer in zip(envelope.signatures, signers, strict=True)
                ),
            )
        signatures = [
            {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()} for s in envelope.signatures
        ]
        digest = hashlib.sha256(payload).hexdigest()
        leaf = leaf_bytes(document["kind"], RECORD_PAYLOAD_TYPE, digest, signatures, logged_at)
        self.entries.append((leaf, envelope.to_json()))
        self.digests.append(digest)
        for ref in document.get("batches", []):
            self.heads[ref] = digest
        return len(self.entries) - 1

    def party(
        self, kind: str, role: str = "clerk", region: str = "150430", jurisdiction: str = ""
    ) -> Party:
        signer, org = Signer.generate(), str(uuid.uuid4())
        organization = {
            "id": org,
            "kind": kind,
            "name_zh": "某",
            "name_en": "Some",
            "region": region,
        }
        if jurisdiction:
            organization["jurisdiction"] = jurisdiction
        holder = {"account": str(uuid.uuid4()), "role": role, "name_zh": "某人"}
        return self.register(Party(signer, org, kind, holder, organization))

    def register(self, party: Party) -> Party:
        """Log the key registration of ``party`` (its holder may already hold other keys)."""
        self.append(
            {
                "kind": "key_registration",
                "time": TIME,
                "key": _key(party.signer),
                "holder": party.holder,
                "organization": party.organization,
            },
            [self.registry, party.signer],
        )
        return party

    def record(self, party: Party, kind: str, refs: list[str], **fields: Any) -> int:
        created = set(fields.pop("created", []))
        signer = fields.pop("signer", party.signer)
        forged = fields.pop("forged", False)
        document = {
            "kind": kind,
            "time": TIME,
            "org": party.org,
            "batches": refs,
            "prev": {r: None if r in created else self.heads.get(r) for r in refs},
            **fields,
        }
        return self.append(document, [signer], forged=forged)

    def harvest(self, party: Party, lot: str, quantity: str = "100") -> str:
        ref = f"{uuid.uuid4()}:{lot}"
        self.record(
            party,
            "harvest",
            [ref],
            created=[ref],
            quantity=quantity,
            unit="kg",
            harvest_date="2026-02-01",
            place={"region": "150430"},
        )
        self.holders[ref] = party
        return ref

    def assign(self, holder: Party, ref: str, to: Party, task: str) -> int:
        """``holder`` hands ``ref`` to ``to`` for ``task`` (``carriage``, ``inspection``)."""
        return self.record(holder, "assignment", [ref], to={"org": to.org, "name": "某"}, task=task)

    def deliver(self, holder: Party, ref: str, to: Party) -> None:
        """A carrier the holder assigns ships ``ref`` to ``to``, which receives it."""
        if self.carrier is None:
            self.carrier = self.party("carrier")
        self.assign(holder, ref, self.carrier, "carriage")
        self.record(self.carrier, "shipping", [ref], to={"org": to.org, "name": "某"})
        self.record(to, "receiving", [ref], source={"org": self.carrier.org, "name": "某"})
        self.holders[ref] = to

    def process(self, party: Party, inputs: dict[str, str], lot: str) -> tuple[int, str]:
        """``party`` processes ``inputs`` into a new lot, after receiving any it does not hold."""
        for ref in inputs:
            holder = self.holders.get(ref)
            if holder is not None and holder != party:
                self.deliver(holder, ref, party)
        out = f"{uuid.uuid4()}:{lot}"
        index = self.record(
            party,
            "processing",
            [*inputs, out],
            created=[out],
            inputs=[{"batch": ref, "quantity": q} for ref, q in inputs.items()],
            outputs=[{"batch": out, "quantity": "50", "unit": "kg"}],
        )
        self.holders[out] = party
        return index, out

    def replay(self) -> LogReplay:
        replay = LogReplay()
        for index, (leaf, envelope) in enumerate(self.entries):
            replay.apply(check_entry(index, leaf, envelope))
        return replay


def fails_at(log: SyntheticLog, index: int, words: str) -> None:
    with pytest.raises(VerificationError) as caught:
        log.replay()
    assert caught.value.extra["index"] == index, caught.value.detail
    assert words in caught.value.detail, caught.value.detail


@pytest.fixture
def chain() -> tuple[SyntheticLog, Party, Party, Party]:
    """Genesis, a cooperative, a processor and an authority official (jurisdiction 1504)."""
    log = SyntheticLog()
    coop = log.party("cooperative")
    mill = log.party("processor")
    official = log.party("authority", role="official", jurisdiction="1504")
    return log, coop, mill, official


def test_a_lawful_history_replays(chain):
    log, coop, mill, official = chain
    millet = log.harvest(coop, "LOT-1")
    log.record(coop, "storage", [millet], location="silo 1")
    log.process(mill, {millet: "60"}, "FLOUR-1")
    log.record(official, "recall", [millet], reason="aflatoxin")
    replay = log.replay()
    assert replay.size == len(log.entries)


def test_leaf_zero_must_be_the_registry_self_registration():
    log = SyntheticLog()
    log.entries.clear()  # no genesis: leaf 0 is a clerk's key, signed by itself
    stranger = Signer.generate()
    log.append(
        {
            "kind": "key_registration",
            "time": TIME,
            "key": _key(stranger),
            "holder": {"account": str(uuid.uuid4()), "role": "clerk", "name_zh": "某人"},
            "organization": {
                "id": str(uuid.uuid4()),
                "kind": "cooperative",
                "name_zh": "某",
                "name_en": "Some",
                "region": "150430",
            },
        },
        [stranger],
    )
    fails_at(log, 0, "self-registration")


def test_a_key_record_needs_the_registry_signature():
    log = SyntheticLog()
    rogue = Signer.generate()
    log.append(
        {
            "kind": "key_registration",
            "time": TIME,
            "key": _key(rogue),
            "holder": {"account": str(uuid.uuid4()), "role": "clerk", "name_zh": "某人"},
            "organization": {
                "id": str(uuid.uuid4()),
                "kind": "cooperative",
                "name_zh": "某",
                "name_en": "Some",
                "region": "150430",
            },
        },
        [rogue],
    )
    fails_at(log, 1, "key-record-needs-registry")


def test_a_key_record_needs_proof_of_possession():
    log = SyntheticLog()
    absent = Signer.generate()
    log.append(
        {
            "kind": "key_registration",
            "time": TIME,
            "key": _key(absent),
            "holder": {"account": str(uuid.uuid4()), "role": "clerk", "name_zh": "某人"},
            "organization": {
                "id": str(uuid.uuid4()),
                "kind": "cooperative",
                "name_zh": "某",
                "name_en": "Some",
                "region": "150430",
            },
        },
        [log.registry],
    )
    fails_at(log, 1, "proof-of-possession")


def test_a_signature_by_an_unregistered_key_fails(chain):
    log, coop, _, _ = chain
    ref = log.harvest(coop, "LOT-1")
    index = log.record(coop, "storage", [ref], location="silo", signer=Signer.generate())
    fails_at(log, index, "which no earlier key record registered")


def test_a_key_is_invalid_after_its_revocation(chain):
    log, coop, _, _ = chain
    ref = log.harvest(coop, "LOT-1")
    revoked_at = log.append(
        {"kind": "key_revocation", "time": TIME, "key_id": coop.signer.key_id, "reason": "lost"},
        [log.registry],
    )
    index = log.record(coop, "storage", [ref], location="silo")
    fails_at(log, index, f"revoked at log index {revoked_at}")


def test_a_key_is_invalid_after_its_rotation_and_its_successor_signs(chain):
    log, coop, _, _ = chain
    ref = log.harvest(coop, "LOT-1")
    successor = Signer.generate()
    rotated_at = log.append(
        {
            "kind": "key_rotation",
            "time": TIME,
            "old_key": coop.signer.key_id,
            "key": _key(successor),
        },
        [log.registry, successor],
    )
    log.record(coop, "storage", [ref], location="silo", signer=successor)
    log.replay()  # the successor inherits the holder and organization
    index = log.record(coop, "storage", [ref], location="silo 2")
    fails_at(log, index, f"rotated at log index {rotated_at}")


def test_a_forged_signature_fails(chain):
    log, coop, _, _ = chain
    ref = log.harvest(coop, "LOT-1")
    index = log.record(coop, "storage", [ref], location="silo", forged=True)
    fails_at(log, index, "does not verify")


def test_signatures_checked_by_workers_are_the_replays_own_check(chain):
    """The parallel path: workers verify signatures against every key the log names; the
    replay skips only those, and still decides whether the key was valid at that index."""
    log, coop, _, _ = chain
    ref = log.harvest(coop, "LOT-1")
    forged = log.record(coop, "storage", [ref], location="silo", forged=True)
    envelopes = [orjson.dumps(envelope) for _, envelope in log.entries]
    key_records = [
        envelope
        for (leaf, _), envelope in zip(log.entries, envelopes, strict=True)
        if leaf.startswith(b'{"kind":"key_registration"')
    ]
    keys = key_directory(iter(key_records))
    assert len(keys) == 4  # the registry and the three parties
    verified = preverify_signatures([*enumerate(envelopes), (99, None), (98, b"{}")], keys)
    assert (forged, coop.signer.key_id) not in verified
    assert len(verified) == len(log.entries) - 1 + 3  # party registrations carry two

    replay = LogReplay()
    replay.preverified = verified
    with pytest.raises(VerificationError, match="does not verify") as caught:
        for index, (leaf, envelope) in enumerate(log.entries):
            replay.apply(check_entry(index, leaf, envelope))
    assert caught.value.extra["index"] == forged


def test_the_signing_policy_is_rerun(chain):
    log, coop, mill, _ = chain
    ref = log.harvest(coop, "LOT-1")
    index = log.record(mill, "shipping", [ref], to={"name": "market"})
    fails_at(log, index, "policy rule kind-not-allowed")


def test_a_key_signs_only_for_its_organization(chain):
    log, coop, mill, _ = chain
    ref = log.harvest(coop, "LOT-1")
    index = log.record(coop, "storage", [ref], location="silo", signer=mill.signer)
    fails_at(log, index, "policy rule key-organization")


def test_per_batch_chains_must_link(chain):
    log, coop, _, _ = chain
    ref = log.harvest(coop, "LOT-1")
    first = log.digests[-1]
    log.record(coop, "storage", [ref], location="silo 1")
    index = log.append(
        {
            "kind": "storage",
            "time": TIME,
            "org": coop.org,
            "batches": [ref],
            "prev": {ref: first},  # skips the storage record before it
            "location": "silo 2",
        },
        [coop.signer],
    )
    fails_at(log, index, f"previous record touching it is {log.digests[index - 1]}")


def test_unknown_batches_and_duplicate_lots_fail(chain):
    log, coop, _, _ = chain
    ghost = f"{uuid.uuid4()}:GHOST"
    index = log.append(
        {
            "kind": "storage",
            "time": TIME,
            "org": coop.org,
            "batches": [ghost],
            "prev": {ghost: "0" * 64},
            "location": "silo",
        },
        [coop.signer],
    )
    fails_at(log, index, "unknown batch")

    log = SyntheticLog()
    coop = log.party("cooperative")
    ref = log.harvest(coop, "LOT-1")
    index = log.record(
        coop,
        "harvest",
        [ref],
        created=[ref],
        quantity="5",
        unit="kg",
        harvest_date="2026-02-02",
        place={"region": "150430"},
    )
    fails_at(log, index, "already exists")


def test_quantities_are_accounted(chain):
    log, coop, mill, _ = chain
    ref = log.harvest(coop, "LOT-1", quantity="100")
    log.process(mill, {ref: "70"}, "OUT-1")
    index, _ = log.process(mill, {ref: "40"}, "OUT-2")
    fails_at(log, index, "policy rule insufficient-quantity")


def test_a_recall_reaches_descendants(chain):
    log, coop, mill, official = chain
    ref = log.harvest(coop, "LOT-1")
    _, flour = log.process(mill, {ref: "10"}, "FLOUR-1")
    log.record(official, "recall", [ref], reason="contaminated")
    index, _ = log.process(mill, {flour: "5"}, "CAKE-1")
    fails_at(log, index, "policy rule batch-recalled")


def test_a_recall_outside_the_jurisdiction_fails():
    log = SyntheticLog()
    coop = log.party("cooperative")
    official = log.party("authority", role="official", jurisdiction="3717")
    ref = log.harvest(coop, "LOT-1")
    index = log.record(official, "recall", [ref], reason="contaminated")
    fails_at(log, index, "policy rule outside-jurisdiction")


def test_a_replayed_record_fails(chain):
    log, coop, _, _ = chain
    log.harvest(coop, "LOT-1")
    log.entries.append(log.entries[-1])
    fails_at(log, len(log.entries) - 1, "already logged at index")


def test_a_record_cannot_be_dated_after_it_was_logged(chain):
    log, coop, _, _ = chain
    ref = f"{uuid.uuid4()}:LOT-1"
    index = log.append(
        {
            "kind": "harvest",
            "time": "2026-03-01T09:00:00+00:00",  # nine hours after logged_at
            "org": coop.org,
            "batches": [ref],
            "prev": {ref: None},
            "quantity": "1",
            "unit": "kg",
            "harvest_date": "2026-02-01",
            "place": {"region": "150430"},
        },
        [coop.signer],
    )
    fails_at(log, index, "after it was logged")


def test_entry_checks_name_what_differs(chain):
    log, coop, _, _ = chain
    log.harvest(coop, "LOT-1")
    leaf, envelope = log.entries[-1]
    index = len(log.entries) - 1

    payload = bytearray(base64.b64decode(envelope["payload"]))
    payload[payload.index(b"LOT-1")] ^= 0x01
    altered = {**envelope, "payload": base64.b64encode(bytes(payload)).decode()}
    with pytest.raises(VerificationError, match="payload was altered") as caught:
        check_entry(index, leaf, altered)
    assert caught.value.extra["index"] == index

    signature = {**envelope["signatures"][0], "sig": base64.b64encode(b"\0" * 64).decode()}
    with pytest.raises(VerificationError, match="signature was altered"):
        check_entry(index, leaf, {**envelope, "signatures": [signature]})

    with pytest.raises(VerificationError, match="erased"):
        check_entry(index, leaf, None)
    with pytest.raises(VerificationError, match="not the canonical leaf"):
        check_entry(index, leaf + b" ", envelope)
    with pytest.raises(VerificationError, match="leaf is not JSON"):
        check_entry(index, leaf[:-1], envelope)


def test_checkpoints_need_the_log_key_and_every_witness():
    log_key = NoteSigner.generate("example.org/log")
    note = sign_checkpoint(Checkpoint("example.org/log", 3, b"\1" * 32), log_key)
    witness = CosignatureSigner.generate("witness.example")
    other = CosignatureSigner.generate("other.example")
    cosigned = add_signatures(note, [witness], timestamp=1_700_000_000)

    assert verify_checkpoint(cosigned, log_key.verifier(), [witness.verifier()]).size == 3
    with pytest.raises(VerificationError, match=r"no cosignature from witness other\.example"):
        verify_checkpoint(cosigned, log_key.verifier(), [witness.verifier(), other.verifier()])
    with pytest.raises(VerificationError, match="does not verify"):
        verify_checkpoint(note, NoteSigner.generate("example.org/log").verifier())
    head, _, line = cosigned.rstrip("\n").rpartition("\n")
    prefix, _, blob = line.rpartition(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 0x01  # the Ed25519 signature, not the key hash
    tampered = f"{head}\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(VerificationError, match=r"signature by witness\.example does not verify"):
        verify_checkpoint(tampered, log_key.verifier(), [witness.verifier()])
    with pytest.raises(VerificationError, match="not signed by the log key"):
        # A note carrying only the witness's line does not count as the log's.
        only_witness = cosigned.replace(note.split("\n\n")[1], "")
        verify_checkpoint(only_witness, log_key.verifier(), [witness.verifier()])
    renamed = NoteSigner("elsewhere.org/log", log_key.private_key)
    with pytest.raises(VerificationError, match="origin"):
        verify_checkpoint(
            sign_checkpoint(Checkpoint("example.org/log", 3, b"\1" * 32), renamed),
            renamed.verifier(),
        )


# --- endorsements ----------------------------------------------------------------------------

PRECONDITIONS = ("origin", "lab_test", "certificate", "no_recall", "chain_verifies")


def endorsement(
    log: SyntheticLog, authority: Party, ref: str, threshold: int = 1, **changes: Any
) -> dict[str, Any]:
    document = {
        "kind": "endorsement",
        "time": TIME,
        "org": authority.org,
        "code": "7K3M9P2Q",
        "request": str(uuid.uuid4()),
        "product": ref.partition(":")[0],
        "covers": [ref],
        "evidence": {ref: log.heads[ref]},
        "claims": ["origin_verified", "lab_tested"],
        "stream": {
            "platform": "douyin",
            "room": "https://live.douyin.com/123",
            "title": "敖汉小米直播",
            "start": "2026-03-10T20:00:00+08:00",
            "end": "2026-03-10T22:00:00+08:00",
            "hosts": [{"name": "某人", "role": "official"}],
        },
        "valid_from": "2026-03-10T20:00:00+08:00",
        "valid_until": "2026-03-17T22:00:00+08:00",
        "quantity": "100",
        "unit": "kg",
        "threshold": threshold,
        "preconditions": [{"id": p, "ok": True, "detail": "checked"} for p in PRECONDITIONS],
    }
    document.update(changes)
    return document


@pytest.fixture
def evidence(chain) -> tuple[SyntheticLog, Party, str]:
    """A harvest in Aohan Banner with a passing lab test and a 合格证: endorsable."""
    log, coop, _, official = chain
    lab = log.party("lab")
    ref = log.harvest(coop, "LOT-1")
    result = {
        "substance": "毒死蜱 chlorpyrifos",
        "value": "0.01",
        "limit": "0.05",
        "unit": "mg/kg",
        "method": "GB 23200.113-2018",
        "verdict": "pass",
    }
    log.assign(coop, ref, lab, "inspection")
    log.record(lab, "inspection", [ref], report_number="R-1", results=[result], verdict="pass")
    log.record(
        coop,
        "certificate",
        [ref],
        certificate_number="HG-1",
        promise="不使用禁用农药",
        basis=["self_test"],
    )
    return log, official, ref


def test_an_endorsement_with_its_preconditions_met_replays(evidence):
    log, official, ref = evidence
    endorsed = log.append(endorsement(log, official, ref), [official.signer])
    log.append(
        {
            "kind": "endorsement_revocation",
            "time": TIME,
            "org": official.org,
            "endorsement": log.digests[endorsed],
            "code": "7K3M9P2Q",
            "reason": "the stream was cancelled",
        },
        [official.signer],
    )
    log.replay()


def test_signed_preconditions_must_be_what_the_log_shows(evidence):
    log, official, ref = evidence
    document = endorsement(log, official, ref)
    document["preconditions"][0]["ok"] = False  # signed as unmet, but the log shows it met
    index = log.append(document, [official.signer])
    fails_at(log, index, "policy rule preconditions-mismatch")


def test_an_endorsement_without_a_lab_test_fails():
    log = SyntheticLog()
    coop = log.party("cooperative")
    official = log.party("authority", role="official", jurisdiction="1504")
    ref = log.harvest(coop, "LOT-1")
    index = log.append(endorsement(log, official, ref), [official.signer])
    fails_at(log, index, "policy rule precondition-lab_test")


@pytest.mark.parametrize("same_person", [True, False], ids=["two-keys", "two-officials"])
def test_a_threshold_counts_officials_not_keys(evidence, same_person):
    log, official, ref = evidence
    account = official.holder["account"] if same_person else str(uuid.uuid4())
    second = log.register(
        replace(official, signer=Signer.generate(), holder={**official.holder, "account": account})
    )
    index = log.append(
        endorsement(log, official, ref, threshold=2), [official.signer, second.signer]
    )
    if same_person:
        fails_at(log, index, "policy rule approvals-required")
    else:
        log.replay()


def test_only_the_endorsing_authority_revokes(evidence):
    log, official, ref = evidence
    other = log.party("authority", role="official", jurisdiction="3717")
    endorsed = log.append(endorsement(log, official, ref), [official.signer])
    index = log.append(
        {
            "kind": "endorsement_revocation",
            "time": TIME,
            "org": other.org,
            "endorsement": log.digests[endorsed],
            "code": "7K3M9P2Q",
            "reason": "not ours to keep",
        },
        [other.signer],
    )
    fails_at(log, index, "revocation-by-endorser")


# --- custody (docs/records.md, "Custody"): the replay re-checks who had the batch -------------


def test_a_foreign_carriers_storage_is_named(chain):
    log, coop, _, _ = chain
    ours, foreign = log.party("carrier"), log.party("carrier")
    ref = log.harvest(coop, "LOT-1")
    log.assign(coop, ref, ours, "carriage")
    log.record(ours, "storage", [ref], location="truck")
    log.replay()
    index = log.record(foreign, "storage", [ref], location="somewhere else")
    fails_at(log, index, "policy rule not-handed-to-carrier")


def test_a_lab_nobody_asked_is_named(chain):
    log, coop, _, _ = chain
    asked, stranger = log.party("lab"), log.party("lab")
    ref = log.harvest(coop, "LOT-1")
    log.assign(coop, ref, asked, "inspection")
    failed = {
        "substance": "镉 cadmium",
        "value": "0.5",
        "limit": "0.1",
        "unit": "mg/kg",
        "method": "GB 5009.15-2014",
        "verdict": "fail",
    }
    index = log.record(
        stranger, "inspection", [ref], report_number="X-1", results=[failed], verdict="fail"
    )
    fails_at(log, index, "policy rule lab-not-assigned")


def test_a_receiver_the_shipment_did_not_name_is_named(chain):
    log, coop, mill, _ = chain
    other_mill = log.party("processor")
    carrier = log.party("carrier")
    ref = log.harvest(coop, "LOT-1")
    log.assign(coop, ref, carrier, "carriage")
    log.record(carrier, "shipping", [ref], to={"org": mill.org, "name": "mill"})
    index = log.record(other_mill, "receiving", [ref], source={"name": "carrier"})
    fails_at(log, index, "policy rule receiver-not-destination")


def test_receiving_ends_the_carriage(chain):
    log, coop, mill, _ = chain
    ref = log.harvest(coop, "LOT-1")
    log.deliver(coop, ref, mill)
    assert log.carrier is not None
    index = log.record(log.carrier, "storage", [ref], location="truck")
    fails_at(log, index, "policy rule not-handed-to-carrier")


def test_receiving_makes_the_receiver_the_holder(chain):
    log, coop, mill, _ = chain
    ref = log.harvest(coop, "LOT-1")
    log.deliver(coop, ref, mill)
    assert log.carrier is not None
    log.assign(mill, ref, log.carrier, "carriage")
    log.record(log.carrier, "storage", [ref], location="truck")
    log.replay()
    index = log.assign(coop, ref, log.carrier, "carriage")
    fails_at(log, index, "policy rule not-holder")
