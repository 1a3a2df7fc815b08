"""What the replay remembers of the log so far: keys, batches, endorsements (docs/audit.md).

The auditor rebuilds from the log alone the facts the server keeps in its tables, and from
them the evidence an endorsement's preconditions are judged on (what
``services.endorsements.gather_evidence`` builds from the database).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from registry import policy
from registry.audit import keylife
from registry.crypto.keys import PublicKey
from registry.records.schema import Kind, split_batch_ref


@dataclass
class KnownKey:
    """A key a key record registered, and when (at which log index) it stopped being valid."""

    public_key: PublicKey
    facts: policy.SignerFacts
    registered_index: int
    ended_index: int | None = None
    ended_how: str = ""
    compromised_since: datetime | None = None


@dataclass(frozen=True)
class Touch:
    """A record as the endorsement preconditions see it, for each batch it touches."""

    index: int
    kind: str
    key_id: str
    signer: policy.SignerFacts
    time: datetime
    verdict: str | None


@dataclass
class ReplayedBatch:
    """A batch as the supply-chain records built it: facts, lineage, chain head, records."""

    ref: str
    facts: policy.BatchFacts
    created_index: int
    is_root: bool  # created by a harvest, not by processing
    best_before: date | None
    head: str
    head_index: int
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    touches: list[Touch] = field(default_factory=list)
    digests: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Logged:
    """Where a payload digest was logged, and by which organization."""

    index: int
    org_id: uuid.UUID


@dataclass
class Endorsed:
    """A logged endorsement: its code, its authority, and its revocation if any."""

    code: str
    org_id: uuid.UUID
    revoked_index: int | None = None


def gather_evidence(
    covered: list[ReplayedBatch],
    batches: dict[str, ReplayedBatch],
    keys: dict[str, KnownKey],
) -> tuple[list[policy.BatchEvidence], dict[str, str]]:
    """What ``services.endorsements.gather_evidence`` builds, from the replayed log: the
    covered batches and their whole lineage, and the origin region of each root lot."""
    lineage: dict[str, ReplayedBatch] = {}
    pending = list(covered)
    while pending:
        batch = pending.pop()
        if batch.ref not in lineage:
            lineage[batch.ref] = batch
            pending.extend(batches[p] for p in batch.parents)
    covered_refs = {b.ref for b in covered}
    evidence, origin_regions = [], {}
    for batch in sorted(lineage.values(), key=lambda b: b.created_index):
        lot = split_batch_ref(batch.ref)[1]
        records = tuple(_evidence_record(keys, batch.ref, t) for t in batch.touches)
        if batch.is_root:
            harvest = next((t for t in batch.touches if t.kind == Kind.HARVEST), None)
            origin_regions[lot] = harvest.signer.region if harvest else batch.facts.region
        evidence.append(
            policy.BatchEvidence(
                ref=batch.ref,
                lot=lot,
                origin_org_id=batch.facts.origin_org_id,
                covered=batch.ref in covered_refs,
                is_root=batch.is_root,
                best_before=batch.best_before,
                recalled=batch.facts.recalled,
                records=records,
            )
        )
    return evidence, origin_regions


def _evidence_record(keys: dict[str, KnownKey], ref: str, touch: Touch) -> policy.EvidenceRecord:
    # Every earlier record verified when it was replayed; what can have changed since is
    # a revocation declaring its key compromised from some time on (then it is suspect).
    verdict = keylife.judge(keys[touch.key_id], touch.key_id, touch.index, touch.time)
    problem = verdict.reason if verdict.verdict == "suspect" else None
    return policy.EvidenceRecord(
        index=touch.index,
        kind=touch.kind,
        batch_ref=ref,
        signer_org_id=touch.signer.org_id,
        signer_org_kind=touch.signer.org_kind,
        signer_region=touch.signer.region,
        time=touch.time,
        verdict=touch.verdict,
        problem=problem,
    )


def recall(batches: dict[str, ReplayedBatch], refs: list[str]) -> set[str]:
    """A recall reaches the batches named and everything made from them; return those."""
    pending, seen = list(refs), set(refs)
    while pending:
        batch = batches[pending.pop()]
        batch.facts = replace(batch.facts, recalled=True)
        for child in batch.children:
            if child not in seen:
                seen.add(child)
                pending.append(child)
    return seen
