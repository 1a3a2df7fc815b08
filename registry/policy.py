"""Who may sign what (docs/records.md): one written policy, pure functions over facts.

The server runs ``check_record`` before it accepts a record; an auditor replaying the log
builds the same facts from key-registration and batch-creating records and runs the same
function (docs/audit.md, step 5). Each refusal is a ``PolicyViolation`` whose ``rule`` names
the rule broken (docs/records.md, Refusals). The table of kinds and their signers is
docs/records.md, "Kinds and who signs them"; the endorsement preconditions are its
"Endorsements" section.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from registry.errors import PolicyViolation
from registry.records.schema import (
    REGISTRY_KINDS,
    Assignment,
    Correction,
    Kind,
    Processing,
    Recall,
    Receiving,
    Shipping,
    Task,
    split_batch_ref,
)

SIGNERS: Mapping[Kind, frozenset[str]] = {
    Kind.HARVEST: frozenset({"cooperative"}),
    Kind.PROCESSING: frozenset({"processor"}),
    Kind.PACKING: frozenset({"cooperative", "processor"}),
    Kind.INSPECTION: frozenset({"lab"}),
    Kind.CERTIFICATE: frozenset({"cooperative", "processor"}),
    Kind.STORAGE: frozenset({"cooperative", "processor", "carrier"}),
    Kind.SHIPPING: frozenset({"carrier"}),
    Kind.RECEIVING: frozenset({"carrier", "processor"}),
    Kind.RECALL: frozenset({"authority", "cooperative", "processor"}),
    Kind.ASSIGNMENT: frozenset({"cooperative", "processor"}),
    Kind.AGGREGATION: frozenset({"cooperative", "processor", "carrier"}),
    Kind.ASSOCIATION: frozenset({"cooperative", "processor", "carrier"}),
    Kind.TRANSACTION: frozenset({"cooperative", "processor", "carrier"}),
    Kind.OBSERVATION: frozenset({"cooperative", "processor", "carrier"}),
    Kind.CORRECTION: frozenset({"cooperative", "processor", "carrier", "lab", "authority"}),
    Kind.ENDORSEMENT: frozenset({"authority"}),
    Kind.ENDORSEMENT_REVOCATION: frozenset({"authority"}),
}
"""Organization kinds allowed to sign each record kind (docs/records.md, the signer column).

Key records are absent: only the registry key signs them (``check_signers``).
"""

PRODUCER_ONLY = frozenset({Kind.PACKING, Kind.CERTIFICATE})
"""Kinds a producer may only sign for batches it produced (their origin organization)."""

BLOCKED_BY_RECALL = frozenset(
    {Kind.PROCESSING, Kind.PACKING, Kind.CERTIFICATE, Kind.SHIPPING, Kind.RECEIVING}
)
"""Kinds that may not touch a recalled batch (a recall ends its journey, except corrections)."""

HANDLED_LIKE_STORAGE = frozenset(
    {Kind.STORAGE, Kind.AGGREGATION, Kind.ASSOCIATION, Kind.TRANSACTION, Kind.OBSERVATION}
)
"""Kinds that whoever has the batch in hand signs: its producer, its holder, a carrier it
was handed to (docs/records.md, "Custody")."""

REGISTRY_ROLE = "registry"
"""The key role of the registry's own key, which signs key records and nothing else."""


@dataclass(frozen=True)
class SignerFacts:
    """What the log says about the key that signed: its holder and organization."""

    key_id: str
    org_id: uuid.UUID
    org_kind: str
    role: str
    region: str
    jurisdiction: str | None
    # The person holding the key (account id); a threshold counts people, not keys.
    account: str | None = None


@dataclass(frozen=True)
class BatchFacts:
    """What the log says about a batch a record names, as of the record's place in it.

    ``remaining`` is the quantity not yet consumed by processing inputs; ``recalled`` is
    set by a recall of the batch or of any ancestor. The custody facts (docs/records.md,
    "Custody") say who has the batch: its ``holder`` (the producer until someone receives
    it), the ``carriers`` handed it since it was last received, the ``destination`` the
    latest shipping names, and the ``labs`` asked to inspect it. ``custody_after`` moves
    them, record by record, on the server and in the audit's replay alike.
    """

    origin_org_id: uuid.UUID
    region: str
    unit: str
    remaining: Decimal
    recalled: bool
    holder: uuid.UUID
    carriers: frozenset[uuid.UUID] = frozenset()
    destination: uuid.UUID | None = None
    labs: frozenset[uuid.UUID] = frozenset()


def covers(jurisdiction: str | None, region: str) -> bool:
    """An authority's jurisdiction is a GB/T 2260 region-code prefix."""
    return bool(jurisdiction) and region.startswith(jurisdiction or "")


def check_signers(kind: Kind, signers: list[SignerFacts]) -> SignerFacts:
    """Return the signing party of a record, or refuse who signed it (``PolicyViolation``).

    Key records need the registry key, which signs nothing else; an endorsement is signed
    by officials of one authority (a threshold on one envelope); every other kind by exactly
    one party.
    """
    if kind in REGISTRY_KINDS:
        registry = [s for s in signers if s.role == REGISTRY_ROLE]
        if not registry:
            raise PolicyViolation(
                "key-record-needs-registry", f"a {kind} record must be signed by the registry key"
            )
        return registry[0]
    if any(s.role == REGISTRY_ROLE for s in signers):
        raise PolicyViolation(
            "registry-signs-keys-only",
            "the registry key signs key records and statements about the log only",
        )
    if kind is Kind.ENDORSEMENT and signers:
        # A threshold: several officials sign the same envelope, all of one authority.
        if len({s.org_id for s in signers}) != 1 or any(s.role != "official" for s in signers):
            raise PolicyViolation(
                "endorsement-signers",
                "every signature on an endorsement is by an official of the endorsing authority",
            )
        return signers[0]
    if len(signers) != 1:
        raise PolicyViolation(
            "one-signer", f"a {kind} record is signed by exactly one party, not {len(signers)}"
        )
    return signers[0]


def check_record(
    record: Any,
    signer: SignerFacts,
    batches: Mapping[str, BatchFacts | None],
    corrected_org: uuid.UUID | None = None,
) -> None:
    """Refuse a supply-chain record whose signer may not sign it.

    ``batches`` maps every batch the record names to its facts, or None when the batch does
    not exist yet. ``corrected_org`` is the organization that signed the record a correction
    refers to.
    """
    kind = Kind(record.kind)
    if kind in REGISTRY_KINDS:
        return
    if str(signer.org_id) != record.org:
        raise PolicyViolation(
            "key-organization",
            f"key {signer.key_id[:16]}… belongs to organization {signer.org_id}, "
            f"but the record is for organization {record.org}",
        )
    allowed = SIGNERS[kind]
    if signer.org_kind not in allowed:
        raise PolicyViolation(
            "kind-not-allowed",
            f"a {signer.org_kind} may not sign {kind} records "
            f"(allowed: {', '.join(sorted(allowed))})",
        )
    if signer.org_kind == "authority" and signer.role != "official":
        raise PolicyViolation(
            "official-required", f"only an official of an authority may sign {kind} records"
        )
    created = _created_batches(record)
    for ref, facts in batches.items():
        if ref in created:
            continue
        assert facts is not None  # the service refuses unknown batches before policy
        _check_batch(kind, record, signer, ref, facts)
    if isinstance(record, Processing):
        _check_processing(record, signer, batches)
    if isinstance(record, Correction) and corrected_org != signer.org_id:
        raise PolicyViolation(
            "correction-by-signer", "only the organization that signed a record may correct it"
        )


def _created_batches(record: Any) -> frozenset[str]:
    if record.kind == Kind.HARVEST:
        return frozenset(record.batches)
    if isinstance(record, Processing):
        return frozenset(o.batch for o in record.outputs)
    return frozenset()


def _check_batch(kind: Kind, record: Any, signer: SignerFacts, ref: str, facts: BatchFacts) -> None:
    is_producer = facts.origin_org_id == signer.org_id
    lot = split_batch_ref(ref)[1]
    if kind in PRODUCER_ONLY and not is_producer:
        raise PolicyViolation(
            "batch-of-another-organization",
            f"batch {lot} was produced by another organization; "
            f"only its producer may sign {kind} records for it",
        )
    _check_custody(kind, record, signer, lot, facts)
    if isinstance(record, Recall):
        if signer.org_kind == "authority":
            if not covers(signer.jurisdiction, facts.region):
                raise PolicyViolation(
                    "outside-jurisdiction",
                    f"batch {split_batch_ref(ref)[1]} comes from region {facts.region}, "
                    f"outside jurisdiction {signer.jurisdiction}",
                )
        elif not is_producer:
            raise PolicyViolation(
                "batch-of-another-organization",
                "only the producing organization or an authority may recall a batch",
            )
    if kind in BLOCKED_BY_RECALL and facts.recalled:
        raise PolicyViolation(
            "batch-recalled", f"batch {split_batch_ref(ref)[1]} has been recalled"
        )


def _check_custody(
    kind: Kind, record: Any, signer: SignerFacts, lot: str, facts: BatchFacts
) -> None:
    """The custody rules (docs/records.md, "Custody"): a carrier handles only a batch handed
    to it, a receiver is the shipment's named destination, a lab inspects only a batch its
    holder asked it to, and only the holder hands a batch on or stores it (besides its
    producer and its carriers)."""
    org = signer.org_id
    if signer.org_kind == "carrier" and (kind is Kind.SHIPPING or kind in HANDLED_LIKE_STORAGE):
        if org != facts.holder and org not in facts.carriers:
            raise PolicyViolation(
                "not-handed-to-carrier",
                f"batch {lot} was not handed to this carrier: no assignment by its holder "
                f"and no shipping record names it",
            )
    elif kind in HANDLED_LIKE_STORAGE and org not in {facts.holder, facts.origin_org_id}:
        raise PolicyViolation(
            "batch-of-another-organization", f"batch {lot} belongs to another organization"
        )
    if kind is Kind.RECEIVING and org != facts.destination:
        raise PolicyViolation(
            "receiver-not-destination",
            f"batch {lot} was not shipped to this organization"
            + ("" if facts.destination else ": its latest shipping names no registry organization"),
        )
    if kind is Kind.INSPECTION and org not in facts.labs:
        raise PolicyViolation(
            "lab-not-assigned",
            f"batch {lot} was not assigned to this lab for inspection by its holder",
        )
    if kind is Kind.ASSIGNMENT and org != facts.holder:
        raise PolicyViolation(
            "not-holder", f"only the organization holding batch {lot} may assign it"
        )


def custody_after(record: Any, signer_org: uuid.UUID, facts: BatchFacts) -> BatchFacts:
    """A batch's facts after an accepted ``record`` that names it (not one that creates it):
    an assignment adds a carrier or a lab, a shipping names the destination and hands the
    batch to the organization it names, a receiving makes the receiver the holder and ends
    the carriage. The server's projection and the audit's replay both call this."""
    if isinstance(record, Assignment):
        assert record.to.org is not None  # the schema requires it
        to = uuid.UUID(record.to.org)
        if record.task is Task.CARRIAGE:
            return replace(facts, carriers=facts.carriers | {to})
        return replace(facts, labs=facts.labs | {to})
    if isinstance(record, Shipping):
        to_org = uuid.UUID(record.to.org) if record.to.org else None
        carriers = facts.carriers | {to_org} if to_org else facts.carriers
        return replace(facts, carriers=carriers, destination=to_org)
    if isinstance(record, Receiving):
        return replace(facts, holder=signer_org, carriers=frozenset(), destination=None)
    return facts


def _check_processing(
    record: Processing, signer: SignerFacts, batches: Mapping[str, BatchFacts | None]
) -> None:
    for consumed in record.inputs:
        facts = batches[consumed.batch]
        assert facts is not None
        if facts.holder != signer.org_id:
            raise PolicyViolation(
                "input-not-held",
                f"input batch {split_batch_ref(consumed.batch)[1]} is not held by this "
                f"organization: it must be received before it is processed",
            )
        wanted = Decimal(consumed.quantity)
        if wanted > facts.remaining:
            raise PolicyViolation(
                "insufficient-quantity",
                f"input batch {split_batch_ref(consumed.batch)[1]} holds {facts.remaining} "
                f"{facts.unit}; the record consumes {wanted}",
            )


# --- endorsement preconditions (docs/records.md, Endorsements) --------------------------

LAB_TEST_WINDOW_DAYS = 90
"""How long before the stream a passing lab inspection still counts (``lab_test``)."""


@dataclass(frozen=True)
class EvidenceRecord:
    """One record in the lineage of an endorsed batch, as the precondition check sees it."""

    index: int
    kind: str
    batch_ref: str
    signer_org_id: uuid.UUID
    signer_org_kind: str
    signer_region: str
    time: datetime
    verdict: str | None = None
    problem: str | None = None  # why it does not verify, if it does not


@dataclass(frozen=True)
class BatchEvidence:
    """A batch an endorsement covers, or an ancestor of one, with its lineage's records."""

    ref: str
    lot: str
    origin_org_id: uuid.UUID
    covered: bool  # named by the endorsement (else an ancestor)
    is_root: bool  # has no inputs: its origin is a harvest
    best_before: date | None
    recalled: bool
    records: tuple[EvidenceRecord, ...]


@dataclass(frozen=True)
class Finding:
    """One fact a precondition found, for display in any language: ``reason`` names what
    (``harvested_in``, ``outside_jurisdiction``, ``passed`` …; the keys of
    ``web.labels.PRECONDITION_FINDINGS``), ``facts`` its values (lots, codes, dates, counts).
    """

    reason: str
    facts: tuple[tuple[str, str], ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The finding as a verification document carries it."""
        return {"reason": self.reason, "facts": dict(self.facts)}


@dataclass(frozen=True)
class Precondition:
    """One precondition's result: ``id`` (``origin``, ``lab_test``, ``certificate``,
    ``no_recall``, ``chain_verifies``), whether it holds, and why.

    ``detail`` is the English sentence an endorsement record signs (and an auditor
    recomputes byte for byte), so it never changes; ``findings`` say the same as structured
    facts, which pages render in their own language.
    """

    id: str
    ok: bool
    detail: str
    findings: tuple[Finding, ...] = ()

    def signed(self) -> dict[str, Any]:
        """The result as an endorsement record signs it (``PreconditionResult``)."""
        return {"id": self.id, "ok": self.ok, "detail": self.detail}

    def as_json(self) -> dict[str, Any]:
        """The result with its findings, for the verification document and the review."""
        return {**self.signed(), "findings": [f.as_json() for f in self.findings]}


def _finding(reason: str, **facts: object) -> Finding:
    return Finding(reason, tuple((k, str(v)) for k, v in facts.items()))


def endorsement_preconditions(
    jurisdiction: str,
    batches: list[BatchEvidence],
    stream_start: datetime,
    stream_end: datetime,
) -> list[Precondition]:
    """The five preconditions of docs/records.md (Endorsements), in that order.

    Evaluated before an official signs and again when the signed record is accepted; an
    auditor re-evaluates them over the replayed lineage and compares with the signed results.
    """
    return [
        _origin(jurisdiction, batches),
        _lab_tested(batches, stream_start),
        _certificate(batches),
        _not_recalled_or_expired(batches, stream_end),
        _chain_verifies(batches),
    ]


def _origin(jurisdiction: str, batches: list[BatchEvidence]) -> Precondition:
    roots = [b for b in batches if b.is_root]
    problems = []
    findings = []
    for batch in roots:
        harvests = [r for r in batch.records if r.kind == "harvest"]
        if not harvests:
            problems.append(f"{batch.lot}: no harvest record")
            findings.append(_finding("no_harvest", lot=batch.lot))
        elif harvests[0].signer_org_kind != "cooperative":
            problems.append(f"{batch.lot}: harvest not signed by a cooperative")
            findings.append(_finding("not_cooperative", lot=batch.lot))
        elif not covers(jurisdiction, harvests[0].signer_region):
            problems.append(
                f"{batch.lot}: cooperative in {harvests[0].signer_region}, "
                f"outside jurisdiction {jurisdiction}"
            )
            findings.append(
                _finding(
                    "outside_jurisdiction",
                    lot=batch.lot,
                    region=harvests[0].signer_region,
                    jurisdiction=jurisdiction,
                )
            )
    if not roots:
        problems.append("no origin batch found")
        findings.append(_finding("no_origin"))
    if problems:
        return Precondition("origin", False, "; ".join(problems), tuple(findings))
    lots = ", ".join(b.lot for b in roots)
    return Precondition(
        "origin",
        True,
        f"harvest by a cooperative in {jurisdiction}: {lots}",
        (_finding("harvested_in", jurisdiction=jurisdiction, lots=lots),),
    )


def _lab_tested(batches: list[BatchEvidence], stream_start: datetime) -> Precondition:
    earliest = stream_start - timedelta(days=LAB_TEST_WINDOW_DAYS)
    passing = [
        (b, r)
        for b in batches
        for r in b.records
        if r.kind == "inspection"
        and r.signer_org_kind == "lab"
        and r.verdict == "pass"
        and earliest <= r.time <= stream_start
    ]
    failing = [
        (b, r) for b in batches for r in b.records if r.kind == "inspection" and r.verdict == "fail"
    ]
    if failing:
        b, r = failing[0]
        return Precondition(
            "lab_test",
            False,
            f"{b.lot}: an inspection failed (log index {r.index})",
            (_finding("inspection_failed", lot=b.lot, index=r.index),),
        )
    if not passing:
        return Precondition(
            "lab_test",
            False,
            f"no passing lab inspection of the batch or an ancestor within "
            f"{LAB_TEST_WINDOW_DAYS} days before the stream",
            (_finding("no_passing_inspection", days=LAB_TEST_WINDOW_DAYS),),
        )
    b, r = passing[-1]
    day = r.time.date().isoformat()
    return Precondition(
        "lab_test",
        True,
        f"{b.lot}: passed on {day} (log index {r.index})",
        (_finding("inspection_passed", lot=b.lot, date=day, index=r.index),),
    )


def _certificate(batches: list[BatchEvidence]) -> Precondition:
    missing = [
        b.lot
        for b in batches
        if b.covered
        and not any(
            r.kind == "certificate" and r.signer_org_id == b.origin_org_id for r in b.records
        )
    ]
    if missing:
        lots = ", ".join(missing)
        return Precondition(
            "certificate",
            False,
            f"no 合格证 by the producer for {lots}",
            (_finding("certificate_missing", lots=lots),),
        )
    return Precondition(
        "certificate",
        True,
        "合格证 issued by the producer of every batch",
        (_finding("certificate_issued"),),
    )


def _not_recalled_or_expired(batches: list[BatchEvidence], stream_end: datetime) -> Precondition:
    recalled = [b.lot for b in batches if b.recalled]
    if recalled:
        lots = ", ".join(recalled)
        return Precondition(
            "no_recall", False, f"recalled: {lots}", (_finding("recalled", lots=lots),)
        )
    expired = [
        b.lot
        for b in batches
        if b.covered and b.best_before is not None and b.best_before < stream_end.date()
    ]
    if expired:
        lots = ", ".join(expired)
        return Precondition(
            "no_recall", False, f"past best-before: {lots}", (_finding("expired", lots=lots),)
        )
    return Precondition(
        "no_recall",
        True,
        "no recall on the batch or any ancestor; in date",
        (_finding("not_recalled_in_date"),),
    )


def _chain_verifies(batches: list[BatchEvidence]) -> Precondition:
    bad = [(b, r) for b in batches for r in b.records if r.problem]
    if bad:
        b, r = bad[0]
        return Precondition(
            "chain_verifies",
            False,
            f"{b.lot}: record {r.index} does not verify: {r.problem}",
            (_finding("record_fails", lot=b.lot, index=r.index, problem=r.problem),),
        )
    count = len({r.index for b in batches for r in b.records})
    return Precondition(
        "chain_verifies",
        True,
        f"all {count} records verify",
        (_finding("all_verify", count=count),),
    )


def check_endorsement(
    record: Any,
    signers: list[SignerFacts],
    jurisdiction: str | None,
    approvals_required: int,
    origin_regions: Mapping[str, str],
) -> None:
    """Who may endorse: officials of an authority whose jurisdiction covers every origin,
    as many distinct officials as the authority requires (a threshold on one envelope)."""
    if len({s.account or s.key_id for s in signers}) < max(record.threshold, approvals_required):
        raise PolicyViolation(
            "approvals-required",
            f"this authority requires {max(record.threshold, approvals_required)} officials' "
            f"signatures; the envelope has {len({s.account or s.key_id for s in signers})}",
        )
    check_origins(jurisdiction, origin_regions)


def check_origins(jurisdiction: str | None, origin_regions: Mapping[str, str]) -> None:
    """An authority endorses only goods that originate within its jurisdiction."""
    for lot, region in origin_regions.items():
        if not covers(jurisdiction, region):
            raise PolicyViolation(
                "outside-jurisdiction",
                f"{lot} originates in region {region}, outside jurisdiction {jurisdiction}",
                lot=lot,
                region=region,
                jurisdiction=jurisdiction,
            )
