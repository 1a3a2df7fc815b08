"""``registry audit URL``: verify a running registry from the outside (PRODUCT.md §3, §6).

An auditor trusts nothing the server says until it has checked it. One run:

1. pins the log's verifier key (``--vkey``, or trust on first use of ``/log/vkey``) and
   opens the latest checkpoint with it (C2SP signed-note / tlog-checkpoint), requiring a
   valid cosignature (C2SP tlog-cosignature) from every ``--witness`` given;
2. proves the checkpoint consistent with the last checkpoint this state directory verified
   (RFC 9162 §2.1.4.2); when it is not, it re-reads the old entries to name the first one
   the server now serves differently (a split view, or rewritten history);
3. mirrors the new entries ``[mirrored, size)`` from ``/log/entries`` into a local SQLite
   file, so an interrupted run resumes where it stopped;
4. rebuilds the RFC 6962 tree from the mirrored leaves; its root must be the checkpoint's
   (a mismatch is located with consistency proofs, by bisection);
5. replays every record in log order: the leaf is recomputed from the envelope, the payload
   must be RFC 8785 bytes of a valid v1 record, every DSSE signature must verify under a key
   that earlier key records registered and had not rotated or revoked, the signing policy
   (``registry.policy``) must allow the signer, each batch's ``prev`` chain must link, and
   an endorsement's preconditions, re-evaluated over the replayed lineage, must hold and
   match the results it signed.

Steps 3 and 5 overlap: while a thread fetches the next pages, the main process stores and
replays the current one (and worker processes check its signatures).

A failure found by several checks is reported at the lowest log index: a replay failure at
or past a gap or a tree mismatch at index i is not reported, the gap or mismatch is, so
whatever broke first is what is named.

The replay is a pure state machine (``LogReplay``) over pure per-entry checks
(``check_entry``); both raise ``VerificationError`` carrying the log ``index`` of the first
bad record. Exit codes: 0 all verified, 1 something does not verify, 2 usage/network error.

Limits, on purpose: products and an authority's ``approvals_required`` are not logged, so
"only a product's owner creates its batches" is not re-checked and an endorsement's signed
``threshold`` stands for the authority's setting; an erased payload (PRODUCT.md §6) cannot
be verified and fails the audit; entries mirrored by an earlier run are re-verified from the
mirror, not re-read from the server, unless a consistency failure asks for it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import multiprocessing
import os
import queue
import sqlite3
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from cryptography.exceptions import InvalidSignature
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from registry import policy
from registry.crypto.dsse import Envelope, pae, verify_signature
from registry.crypto.jcs import parse_canonical
from registry.crypto.keys import PublicKey, load_public_key
from registry.crypto.keys import key_id as compute_key_id
from registry.errors import InvalidInput, PolicyViolation, VerificationError
from registry.log import merkle
from registry.log.note import (
    Checkpoint,
    CosignatureVerifier,
    NoteVerifier,
    open_note,
    parse_cosignature_vkey,
    parse_vkey,
)
from registry.records.ingest import MAX_CLOCK_SKEW
from registry.records.schema import (
    KEY_KINDS,
    RECORD_PAYLOAD_TYPE,
    Correction,
    Endorsement,
    EndorsementRevocation,
    Harvest,
    Inspection,
    KeyRegistration,
    KeyRevocation,
    KeyRotation,
    Kind,
    Processing,
    Recall,
    leaf_bytes,
    parse_record,
    split_batch_ref,
)

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "AuditError",
    "CheckedEntry",
    "LogReplay",
    "Mirror",
    "RegistryClient",
    "check_entry",
    "key_directory",
    "preverify_signatures",
    "run_audit",
    "verify_checkpoint",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

PAGE_SIZE = 1000
"""Entries per ``/log/entries`` request: the server's page cap."""

STATE_FILE = "audit.sqlite3"
HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

_LEAF_FIELDS = frozenset({"kind", "logged_at", "payload_sha256", "payload_type", "signatures", "v"})


class AuditError(Exception):
    """The audit could not run (bad usage, unreachable registry, unusable state): exit 2."""


def _failure(index: int | None, kind: str | None, detail: str) -> VerificationError:
    """The VerificationError of a failed check; ``index`` names the bad record, if any."""
    return VerificationError(detail, index=index, kind=kind)


def _describe(exc: VerificationError) -> str:
    index, kind = exc.extra.get("index"), exc.extra.get("kind")
    if index is None:
        return f"FAILED: {exc.detail}"
    where = f"log index {index}" + (f" (kind {kind})" if kind else "")
    return f"FAILED at {where}: {exc.detail}"


# --- one entry on its own (pure) ----------------------------------------------------------


@dataclass(frozen=True)
class CheckedEntry:
    """A log entry whose leaf, envelope and payload agree; not yet checked against history."""

    index: int
    kind: Kind
    digest: str
    logged_at: str
    envelope: Envelope
    record: Any


def _open_leaf(index: int, leaf: bytes) -> dict[str, Any]:
    """The leaf's fields. Its canonical form is proved later, by rebuilding it byte for byte
    from the envelope (so a plain, fast parse is enough here)."""
    try:
        committed = orjson.loads(leaf)
    except orjson.JSONDecodeError as exc:
        raise _failure(index, None, f"the leaf is not JSON: {exc}") from None
    if (
        not isinstance(committed, dict)
        or set(committed) != _LEAF_FIELDS
        or committed["v"] != 1
        or not all(
            isinstance(committed[name], str)
            for name in ("kind", "logged_at", "payload_sha256", "payload_type")
        )
        or not isinstance(committed["signatures"], list)
    ):
        raise _failure(index, None, "the leaf is not a v1 record leaf")
    return committed


def check_entry(index: int, leaf: bytes, envelope_json: object) -> CheckedEntry:
    """Check one served entry on its own: leaf ↔ envelope ↔ payload ↔ record schema.

    The leaf (``registry.records.schema.leaf_bytes``) commits to the payload's SHA-256, the payload
    type, the signatures and the time of logging; it is recomputed from the envelope, with
    ``logged_at`` taken from the served leaf, and must be byte-identical. The payload must be
    RFC 8785 bytes of a record that ``parse_record`` accepts. Raises ``VerificationError``.
    """
    committed = _open_leaf(index, leaf)
    claimed_kind = committed["kind"]
    if envelope_json is None:
        raise _failure(
            index,
            claimed_kind,
            "the server withholds the payload (erased?), so the record cannot be verified",
        )
    try:
        envelope = Envelope.from_json(envelope_json)
    except InvalidInput as exc:
        raise _failure(index, claimed_kind, f"the envelope is malformed: {exc.detail}") from None
    digest = hashlib.sha256(envelope.payload).hexdigest()
    if digest != committed["payload_sha256"]:
        raise _failure(
            index,
            claimed_kind,
            f"the payload's SHA-256 is {digest}, but the leaf commits to "
            f"{committed['payload_sha256']}: the payload was altered",
        )
    if envelope.payload_type != committed["payload_type"]:
        raise _failure(index, claimed_kind, "the payload type differs from the leaf's")
    signatures = [
        {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode("ascii")}
        for s in envelope.signatures
    ]
    if signatures != committed["signatures"]:
        raise _failure(
            index,
            claimed_kind,
            "the envelope's signatures differ from those the leaf commits to: "
            "a signature was altered, added or removed",
        )
    if envelope.payload_type != RECORD_PAYLOAD_TYPE:
        raise _failure(index, claimed_kind, f"unknown payload type {envelope.payload_type!r}")
    try:
        record = parse_record(parse_canonical(envelope.payload))
    except InvalidInput as exc:
        raise _failure(
            index, claimed_kind, f"the payload is not a valid record: {exc.detail}"
        ) from None
    if record.kind != claimed_kind:
        raise _failure(
            index, claimed_kind, f"the payload is a {record.kind} record, the leaf says otherwise"
        )
    logged_at = committed["logged_at"]
    # The kind as a plain str (not the Kind enum) keeps canonicalize on its fast path.
    if leaf_bytes(claimed_kind, envelope.payload_type, digest, signatures, logged_at) != leaf:
        raise _failure(index, record.kind, "the leaf is not the canonical leaf of its envelope")
    try:
        logged = datetime.fromisoformat(logged_at)
        late = datetime.fromisoformat(record.time) > logged + MAX_CLOCK_SKEW
    except (TypeError, ValueError):
        raise _failure(
            index, record.kind, f"the leaf's logged_at {logged_at!r} is not a time"
        ) from None
    if late:
        raise _failure(
            index,
            record.kind,
            f"the record claims time {record.time}, after it was logged ({logged_at})",
        )
    return CheckedEntry(index, Kind(record.kind), digest, logged_at, envelope, record)


# --- the history: keys, batches, chains (a pure state machine) ------------------------------


@dataclass
class _Key:
    public_key: PublicKey
    facts: policy.SignerFacts
    registered_index: int
    ended_index: int | None = None
    ended_how: str = ""
    compromised_since: datetime | None = None


@dataclass(frozen=True)
class _Touch:
    """A record as the endorsement preconditions see it, for each batch it touches."""

    index: int
    kind: str
    key_id: str
    signer: policy.SignerFacts
    time: datetime
    verdict: str | None


@dataclass
class _Batch:
    ref: str
    facts: policy.BatchFacts
    created_index: int
    is_root: bool  # created by a harvest, not by processing
    best_before: date | None
    head: str
    head_index: int
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    touches: list[_Touch] = field(default_factory=list)
    digests: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Logged:
    index: int
    org_id: uuid.UUID


@dataclass
class _Endorsed:
    code: str
    org_id: uuid.UUID
    revoked_index: int | None = None


class LogReplay:
    """Replays the log in order and refuses the first record the server should have refused.

    It rebuilds from the log alone what the server knows from its tables: which key belongs
    to whom and when it stopped being valid (key records); each batch's origin, region,
    remaining quantity, recall status, lineage and chain head (supply-chain records); and
    the endorsements and their revocations. It then runs the server's own policy functions
    over those facts, endorsement preconditions included.
    """

    def __init__(self) -> None:
        self.size = 0
        # (index, keyid) pairs whose signature a worker already verified with the key whose
        # SHA-256 is keyid (see ``preverify_signatures``): the same key the replay would use.
        self.preverified: set[tuple[int, str]] = set()
        self._keys: dict[str, _Key] = {}
        self._batches: dict[str, _Batch] = {}
        self._digests: dict[str, _Logged] = {}
        self._endorsements: dict[str, _Endorsed] = {}
        self._codes: set[str] = set()

    def apply(self, entry: CheckedEntry) -> None:
        """Check ``entry`` against everything before it, then add it. ``VerificationError``."""
        if entry.index != self.size:
            raise _failure(entry.index, entry.kind, f"expected log index {self.size} next")
        earlier = self._digests.get(entry.digest)
        if earlier is not None:
            raise self._bad(entry, f"the same record is already logged at index {earlier.index}")
        record = entry.record
        new_key = (
            self._new_public_key(entry)
            if isinstance(record, KeyRegistration | KeyRotation)
            else None
        )
        if entry.index == 0:
            signers = self._genesis(entry, new_key)
        else:
            signers = self._verify_signatures(entry, new_key)
        try:
            signer = policy.check_signers(entry.kind, signers)
        except PolicyViolation as exc:
            raise self._bad(entry, f"policy rule {exc.rule}: {exc.detail}") from None
        if entry.kind in KEY_KINDS:
            org_id = self._apply_key_record(entry, new_key)
        elif isinstance(record, Endorsement):
            org_id = signer.org_id
            self._apply_endorsement(entry, record, signer, signers)
        elif isinstance(record, EndorsementRevocation):
            org_id = signer.org_id
            self._apply_endorsement_revocation(entry, record, signer)
        else:
            org_id = signer.org_id
            self._apply_supply_chain(entry, record, signer)
        self._digests[entry.digest] = _Logged(entry.index, org_id)
        self.size += 1

    def _check_policy(
        self,
        entry: CheckedEntry,
        signer: policy.SignerFacts,
        batches: dict[str, policy.BatchFacts | None],
        corrected_org: uuid.UUID | None = None,
    ) -> None:
        try:
            policy.check_record(entry.record, signer, batches, corrected_org)
        except PolicyViolation as exc:
            raise self._bad(entry, f"policy rule {exc.rule}: {exc.detail}") from None

    @staticmethod
    def _bad(entry: CheckedEntry, detail: str) -> VerificationError:
        return _failure(entry.index, entry.kind.value, detail)

    # keys

    def _genesis(
        self, entry: CheckedEntry, public_key: PublicKey | None
    ) -> list[policy.SignerFacts]:
        """Leaf 0 is the registry key registering itself, signed by that key alone."""
        record = entry.record
        if (
            not isinstance(record, KeyRegistration)
            or record.holder.role != policy.REGISTRY_ROLE
            or public_key is None
        ):
            raise self._bad(entry, "leaf 0 must be the registry key's self-registration")
        if [s.keyid for s in entry.envelope.signatures] != [record.key.id]:
            raise self._bad(entry, "the registry's self-registration must be signed by that key")
        self._verify(entry, record.key.id, public_key)
        org = record.organization
        return [
            policy.SignerFacts(
                key_id=record.key.id,
                org_id=uuid.UUID(org.id),
                org_kind=org.kind,
                role=policy.REGISTRY_ROLE,
                region=org.region,
                jurisdiction=org.jurisdiction,
            )
        ]

    def _new_public_key(self, entry: CheckedEntry) -> PublicKey:
        new_key = entry.record.key
        try:
            raw = base64.b64decode(new_key.public_key, validate=True)
            if compute_key_id(raw) != new_key.id:
                raise self._bad(entry, f"key id {new_key.id} is not the SHA-256 of its key")
            public_key = load_public_key(raw)
        except (binascii.Error, ValueError, InvalidInput) as exc:
            raise self._bad(entry, f"the new key is not a usable Ed25519 key: {exc}") from None
        known = self._keys.get(new_key.id)
        if known is not None:
            raise self._bad(
                entry, f"key {new_key.id} was already registered at index {known.registered_index}"
            )
        return public_key

    def _verify(self, entry: CheckedEntry, keyid: str, public_key: PublicKey) -> None:
        if (entry.index, keyid) in self.preverified:
            return
        try:
            verify_signature(entry.envelope, keyid, public_key)
        except VerificationError as exc:
            raise self._bad(entry, exc.detail) from None

    def _verify_signatures(
        self, entry: CheckedEntry, new_public: PublicKey | None
    ) -> list[policy.SignerFacts]:
        """Verify every signature; return the facts of the signing parties.

        The new key of a registration or rotation signs too (proof of possession) but is not
        a signing party yet; every other key must be known and still valid at this index.
        """
        new_key = entry.record.key if new_public is not None else None
        facts: list[policy.SignerFacts] = []
        for signature in entry.envelope.signatures:
            if new_key is not None and new_public is not None and signature.keyid == new_key.id:
                self._verify(entry, signature.keyid, new_public)
                continue
            key = self._keys.get(signature.keyid)
            if key is None:
                raise self._bad(
                    entry,
                    f"signed by key {signature.keyid}, which no earlier key record registered",
                )
            if key.ended_index is not None:
                raise self._bad(
                    entry,
                    f"signed by key {signature.keyid}, {key.ended_how} at log index "
                    f"{key.ended_index}",
                )
            self._verify(entry, signature.keyid, key.public_key)
            facts.append(key.facts)
        if new_key is not None and new_key.id not in {s.keyid for s in entry.envelope.signatures}:
            raise self._bad(
                entry, "policy rule proof-of-possession: the new key did not sign its key record"
            )
        return facts

    def _apply_key_record(self, entry: CheckedEntry, new_public: PublicKey | None) -> uuid.UUID:
        record, index = entry.record, entry.index
        if isinstance(record, KeyRegistration):
            assert new_public is not None
            if record.holder.account is None and record.holder.role != policy.REGISTRY_ROLE:
                raise self._bad(entry, "only the registry key has no holder account")
            org = record.organization
            facts = policy.SignerFacts(
                key_id=record.key.id,
                org_id=uuid.UUID(org.id),
                org_kind=org.kind,
                role=record.holder.role,
                region=org.region,
                jurisdiction=org.jurisdiction,
                account=record.holder.account,
            )
            self._keys[record.key.id] = _Key(new_public, facts, index)
            return facts.org_id
        if isinstance(record, KeyRotation):
            old = self._keys.get(record.old_key)
            if old is None or old.ended_index is not None:
                raise self._bad(entry, f"key {record.old_key} is not an active key")
            assert new_public is not None
            old.ended_index, old.ended_how = index, "rotated"
            self._keys[record.key.id] = _Key(
                new_public, replace(old.facts, key_id=record.key.id), index
            )
            return old.facts.org_id
        assert isinstance(record, KeyRevocation)
        key = self._keys.get(record.key_id)
        if key is None:
            raise self._bad(entry, f"revokes key {record.key_id}, which is not registered")
        if key.ended_how == "revoked":
            raise self._bad(entry, f"key {record.key_id} was already revoked")
        if key.ended_index is None:
            key.ended_index = index
        key.ended_how = "revoked"
        if record.compromised_since:
            key.compromised_since = datetime.fromisoformat(record.compromised_since)
        return key.facts.org_id

    # batches

    def _apply_supply_chain(
        self, entry: CheckedEntry, record: Any, signer: policy.SignerFacts
    ) -> None:
        created: dict[str, Any] = {}
        if isinstance(record, Harvest):
            created = {record.batches[0]: record}
        elif isinstance(record, Processing):
            created = {output.batch: output for output in record.outputs}
        existing: dict[str, _Batch] = {}
        for ref in record.batches:
            lot = ref.partition(":")[2]
            batch = self._batches.get(ref)
            if ref in created:
                if batch is not None:
                    raise self._bad(
                        entry, f"lot {lot} already exists (created at index {batch.head_index})"
                    )
                continue
            if batch is None:
                raise self._bad(entry, f"unknown batch {ref}: no earlier record created it")
            if record.prev[ref] != batch.head:
                raise self._bad(
                    entry,
                    f"prev of batch {lot} is {record.prev[ref]}, but the previous record "
                    f"touching it is {batch.head} (log index {batch.head_index})",
                )
            existing[ref] = batch
        corrected_org = None
        if isinstance(record, Correction):
            corrected = self._digests.get(record.corrects)
            if corrected is None:
                raise self._bad(entry, f"corrects {record.corrects}, which is not logged before")
            corrected_org = corrected.org_id
        facts: dict[str, policy.BatchFacts | None] = dict.fromkeys(created)
        facts.update({ref: batch.facts for ref, batch in existing.items()})
        self._check_policy(entry, signer, facts, corrected_org)

        if isinstance(record, Processing):
            for consumed in record.inputs:
                batch = existing[consumed.batch]
                remaining = batch.facts.remaining - Decimal(consumed.quantity)
                batch.facts = replace(batch.facts, remaining=remaining)
                batch.children.extend(created)
        region = record.place.region if record.place is not None else signer.region
        for ref, spec in created.items():
            self._batches[ref] = _Batch(
                ref=ref,
                facts=policy.BatchFacts(
                    origin_org_id=signer.org_id,
                    region=region,
                    unit=spec.unit,
                    remaining=Decimal(spec.quantity),
                    recalled=False,
                ),
                created_index=entry.index,
                is_root=isinstance(record, Harvest),
                best_before=date.fromisoformat(spec.best_before) if spec.best_before else None,
                head=entry.digest,
                head_index=entry.index,
                parents=list(existing),
            )
        touch = _Touch(
            entry.index,
            entry.kind.value,
            entry.envelope.signatures[0].keyid,
            signer,
            datetime.fromisoformat(record.time),
            record.verdict if isinstance(record, Inspection) else None,
        )
        for ref in record.batches:
            batch = self._batches[ref]
            batch.head, batch.head_index = entry.digest, entry.index
            batch.touches.append(touch)
            batch.digests.add(entry.digest)
        if isinstance(record, Recall):
            self._recall(list(existing))

    # endorsements

    def _apply_endorsement(
        self,
        entry: CheckedEntry,
        record: Endorsement,
        signer: policy.SignerFacts,
        signers: list[policy.SignerFacts],
    ) -> None:
        """The server's acceptance checks of an endorsement, preconditions re-evaluated.

        The authority's own ``approvals_required`` is not logged; the signed ``threshold``
        (which the registry sets from it) is what is enforced.
        """
        self._check_policy(entry, signer, {})
        covered = []
        for ref in record.covers:
            lot = ref.partition(":")[2]
            batch = self._batches.get(ref)
            if batch is None:
                raise self._bad(entry, f"covers unknown batch {ref}")
            if str(split_batch_ref(ref)[0]) != record.product:
                raise self._bad(entry, f"covered batch {lot} is not of the endorsed product")
            if record.evidence[ref] not in batch.digests:
                raise self._bad(entry, f"the evidence for {lot} is not a record of that batch")
            covered.append(batch)
        if record.code in self._codes:
            raise self._bad(entry, f"endorsement code {record.code} is already used")
        evidence, origin_regions = self._evidence(covered)
        try:
            policy.check_endorsement(record, signers, signer.jurisdiction, 0, origin_regions)
        except PolicyViolation as exc:
            raise self._bad(entry, f"policy rule {exc.rule}: {exc.detail}") from None
        results = policy.endorsement_preconditions(
            signer.jurisdiction or "",
            evidence,
            datetime.fromisoformat(record.stream.start),
            datetime.fromisoformat(record.stream.end),
        )
        unmet = [r for r in results if not r.ok]
        if unmet:
            raise self._bad(
                entry,
                f"policy rule precondition-{unmet[0].id}: "
                + "; ".join(f"{r.id}: {r.detail}" for r in unmet),
            )
        if {p.id: p.ok for p in record.preconditions} != {r.id: r.ok for r in results}:
            raise self._bad(
                entry,
                "policy rule preconditions-mismatch: the signed precondition results differ "
                "from the log's",
            )
        self._codes.add(record.code)
        self._endorsements[entry.digest] = _Endorsed(record.code, signer.org_id)

    def _evidence(self, covered: list[_Batch]) -> tuple[list[policy.BatchEvidence], dict[str, str]]:
        """What ``registry.records.evidence.gather_evidence`` builds, from the replayed log."""
        lineage: dict[str, _Batch] = {}
        pending = list(covered)
        while pending:
            batch = pending.pop()
            if batch.ref not in lineage:
                lineage[batch.ref] = batch
                pending.extend(self._batches[p] for p in batch.parents)
        covered_refs = {b.ref for b in covered}
        evidence, origin_regions = [], {}
        for batch in sorted(lineage.values(), key=lambda b: b.created_index):
            lot = split_batch_ref(batch.ref)[1]
            records = tuple(self._evidence_record(batch.ref, t) for t in batch.touches)
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

    def _evidence_record(self, ref: str, touch: _Touch) -> policy.EvidenceRecord:
        # Every earlier record verified when it was replayed; what can have changed since is
        # a revocation declaring its key compromised from some time on (then it is suspect).
        key = self._keys[touch.key_id]
        problem = None
        if key.compromised_since is not None and touch.time >= key.compromised_since:
            problem = f"signed with key {key.facts.key_id[:12]}… after it was compromised"
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

    def _apply_endorsement_revocation(
        self, entry: CheckedEntry, record: EndorsementRevocation, signer: policy.SignerFacts
    ) -> None:
        self._check_policy(entry, signer, {})
        endorsed = self._endorsements.get(record.endorsement)
        if endorsed is None or endorsed.code != record.code:
            raise self._bad(entry, "the revocation names no endorsement logged before it")
        if record.org != str(endorsed.org_id) or signer.org_id != endorsed.org_id:
            raise self._bad(
                entry,
                "policy rule revocation-by-endorser: only the endorsing authority may revoke",
            )
        if endorsed.revoked_index is not None:
            raise self._bad(
                entry, f"endorsement {record.code} was already revoked at {endorsed.revoked_index}"
            )
        endorsed.revoked_index = entry.index

    def _recall(self, refs: list[str]) -> None:
        """A recall reaches the batches named and everything made from them."""
        pending, seen = list(refs), set(refs)
        while pending:
            batch = self._batches[pending.pop()]
            batch.facts = replace(batch.facts, recalled=True)
            for child in batch.children:
                if child not in seen:
                    seen.add(child)
                    pending.append(child)


# --- checkpoints and witnesses --------------------------------------------------------------


def verify_checkpoint(
    note: str, log_key: NoteVerifier, witnesses: Sequence[CosignatureVerifier] = ()
) -> Checkpoint:
    """Open a checkpoint note signed by ``log_key`` and cosigned by every witness.

    c2sp.org/tlog-checkpoint: the origin line must be the log key's name. Every signature
    line from a known key must verify (a bad one fails the note); lines from other keys are
    ignored. Raises ``VerificationError``.
    """
    try:
        opened = open_note(note, [log_key, *witnesses])
        checkpoint = Checkpoint.parse(opened.text)
    except VerificationError as exc:
        raise _failure(
            None, None, f"the checkpoint does not verify with {log_key.to_vkey()}: {exc.detail}"
        ) from None
    signed_by = {(s.name, s.key_hash) for s in opened.signatures}
    if (log_key.name, log_key.key_hash) not in signed_by:
        raise _failure(None, None, f"the checkpoint is not signed by the log key {log_key.name}")
    if checkpoint.origin != log_key.name:
        raise _failure(
            None, None, f"the checkpoint's origin {checkpoint.origin!r} is not {log_key.name!r}"
        )
    for witness in witnesses:
        if (witness.name, witness.key_hash) not in signed_by:
            raise _failure(
                None, None, f"the checkpoint carries no cosignature from witness {witness.name}"
            )
    return checkpoint


# --- the local state: mirror, pinned key, last verified checkpoint ---------------------------


class Mirror:
    """The auditor's SQLite file: mirrored entries and what it has verified so far."""

    def __init__(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(directory / STATE_FILE)
            self._db.executescript(
                """
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS entries (
                    idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, envelope BLOB
                );
                """
            )
        except (OSError, sqlite3.Error) as exc:
            raise AuditError(f"cannot use state directory {directory}: {exc}") from None

    def __enter__(self) -> Mirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()

    def get(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, values: dict[str, str]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                values.items(),
            )

    def verified(self) -> tuple[int, bytes] | None:
        """Size and root of the last checkpoint this state verified, if any."""
        size, root = self.get("checkpoint_size"), self.get("checkpoint_root")
        if size is None or root is None:
            return None
        return int(size), base64.b64decode(root)

    def size(self) -> int:
        """Mirrored entries: always the contiguous prefix ``[0, size)``."""
        (count,) = self._db.execute("SELECT COUNT(*) FROM entries").fetchone()
        return int(count)

    def append(self, rows: Sequence[tuple[int, bytes, bytes | None]]) -> None:
        with self._db:
            self._db.executemany("INSERT INTO entries VALUES (?, ?, ?)", rows)

    def truncate(self, size: int) -> None:
        with self._db:
            self._db.execute("DELETE FROM entries WHERE idx >= ?", (size,))

    def leaves(self, end: int) -> Iterator[tuple[int, bytes]]:
        yield from self._db.execute(
            "SELECT idx, leaf FROM entries WHERE idx < ? ORDER BY idx", (end,)
        )

    def rows(self, start: int, end: int) -> Iterator[tuple[int, bytes, bytes | None]]:
        yield from self._db.execute(
            "SELECT idx, leaf, envelope FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx",
            (start, end),
        )


# --- the registry, over HTTP ------------------------------------------------------------------


class RegistryClient:
    """The auditor's few reads: vkey, checkpoint, entries, consistency proofs.

    Transport failures and HTTP error statuses raise ``AuditError`` (exit 2); answers of the
    wrong shape raise ``VerificationError`` (the server says something that cannot be true).
    """

    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url
        self._http = httpx.Client(
            base_url=base_url,
            timeout=HTTP_TIMEOUT,
            transport=transport,
            headers={"User-Agent": "guarantee-registry-audit"},
        )

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._http.close()

    def _get(self, path: str, params: dict[str, int] | None = None) -> httpx.Response:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise AuditError(f"cannot reach {self.base_url}{path}: {exc}") from None
        if response.status_code != 200:
            raise AuditError(
                f"GET {self.base_url}{path} answered HTTP {response.status_code}: "
                f"{response.text[:200]}"
            )
        return response

    def _json(self, path: str, params: dict[str, int]) -> dict[str, Any]:
        response = self._get(path, params)
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise _failure(None, None, f"GET {path} did not answer a JSON object")
        return body

    def vkey(self) -> str:
        return self._get("/log/vkey").text.strip()

    def checkpoint(self) -> str:
        return self._get("/log/checkpoint").text

    def entries(self, start: int, end: int) -> list[Any]:
        body = self._json("/log/entries", {"start": start, "end": end})
        entries = body.get("entries")
        if not isinstance(entries, list):
            raise _failure(None, None, "GET /log/entries did not answer a list of entries")
        return entries

    def consistency(self, old: int, new: int) -> list[bytes]:
        body = self._json("/log/proof/consistency", {"old": old, "new": new})
        hashes = body.get("hashes")
        try:
            if not isinstance(hashes, list):
                raise TypeError
            return [base64.b64decode(h, validate=True) for h in hashes]
        except (TypeError, ValueError, binascii.Error):
            raise _failure(None, None, "GET /log/proof/consistency answered no hashes") from None


def _served_row(expected: int, entry: Any) -> tuple[int, bytes, bytes | None] | None:
    """The mirror row of a served entry, or None when it is not entry ``expected``."""
    if not isinstance(entry, dict) or entry.get("index") != expected:
        return None
    try:
        leaf = base64.b64decode(entry["leaf"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise _failure(expected, None, "the server serves no valid base64 leaf") from None
    envelope = entry.get("envelope")
    return expected, leaf, None if envelope is None else orjson.dumps(envelope)


# --- one audit run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditResult:
    size: int
    root: bytes
    fetched: int
    seconds: float


class _Audit:
    def __init__(self, mirror: Mirror, client: RegistryClient, progress: Progress | None) -> None:
        self.mirror = mirror
        self.client = client
        self.progress = progress

    def _task(self, description: str, total: int) -> TaskID | None:
        if self.progress is None:
            return None
        return self.progress.add_task(description, total=total)

    def _advance(self, task: TaskID | None, amount: int = 1) -> None:
        if self.progress is not None and task is not None:
            self.progress.advance(task, amount)

    def log_key(self, given: NoteVerifier | None) -> NoteVerifier:
        """The pinned log key: ``--vkey`` must match it; without one, trust on first use."""
        pinned = self.mirror.get("vkey")
        if given is not None:
            if pinned is not None and pinned != given.to_vkey():
                raise _failure(
                    None, None, f"--vkey {given.to_vkey()} differs from the pinned key {pinned}"
                )
            if pinned is None:
                self.mirror.put({"vkey": given.to_vkey(), "url": self.client.base_url})
            return given
        if pinned is None:
            pinned = self.client.vkey()
            try:
                parse_vkey(pinned)
            except InvalidInput as exc:
                raise _failure(
                    None, None, f"the served /log/vkey is invalid: {exc.detail}"
                ) from None
            self.mirror.put({"vkey": pinned, "url": self.client.base_url})
        return parse_vkey(pinned)

    def run(
        self, given: NoteVerifier | None, witnesses: Sequence[CosignatureVerifier]
    ) -> AuditResult:
        started = time.perf_counter()
        note = self.client.checkpoint()
        checkpoint = verify_checkpoint(note, self.log_key(given), witnesses)
        size = checkpoint.size
        previous = self.mirror.verified()
        if previous is not None:
            self._check_consistency(previous, checkpoint)
        if self.mirror.size() > size:
            self.mirror.truncate(size)  # fetched by an interrupted run, beyond this tree
        fetched_from = self.mirror.size()
        gap, replay_problem = self._fetch_and_replay(size)
        problem = gap or self._check_tree(checkpoint)
        # Report what broke first: a replay failure past a gap or a bad leaf is a
        # consequence of it (and the replay would not have reached it, run after the fetch).
        limit = (
            size if problem is None or problem.extra["index"] is None else problem.extra["index"]
        )
        if replay_problem is not None and (replay_problem.extra.get("index") or 0) < limit:
            raise replay_problem
        if problem is not None:
            raise problem
        self.mirror.put(
            {
                "checkpoint_size": str(size),
                "checkpoint_root": base64.b64encode(checkpoint.root_hash).decode(),
                "checkpoint_note": note,
            }
        )
        elapsed = time.perf_counter() - started
        return AuditResult(size, checkpoint.root_hash, size - fetched_from, elapsed)

    def _check_consistency(self, previous: tuple[int, bytes], checkpoint: Checkpoint) -> None:
        """RFC 9162 §2.1.4.2 from the last verified checkpoint; name what was rewritten."""
        old_size, old_root = previous
        new_size, new_root = checkpoint.size, checkpoint.root_hash
        if new_size < old_size:
            problem = f"the log shrank from size {old_size} to {new_size}"
        else:
            proof = self.client.consistency(old_size, new_size) if new_size > old_size else []
            try:
                merkle.verify_consistency(old_size, new_size, proof, old_root, new_root)
                return
            except VerificationError as exc:
                problem = f"checkpoint {new_size} is not consistent with checkpoint {old_size}"
                problem += f" verified before ({exc.detail})"
        raise self._find_rewrite(min(old_size, new_size), old_size) or _failure(
            None, None, f"split view: {problem}"
        )

    def _find_rewrite(self, served: int, old_size: int) -> VerificationError | None:
        """Re-read the entries verified before and name the first one served differently."""
        for start in range(0, old_size, PAGE_SIZE):
            end = min(start + PAGE_SIZE, old_size)
            entries = self.client.entries(start, end) if start < served else []
            by_index = {e.get("index"): e for e in entries if isinstance(e, dict)}
            for index, leaf, envelope in self.mirror.rows(start, end):
                kind = _leaf_kind(leaf)
                row = _served_row(index, by_index.get(index))
                if row is None:
                    detail = "the server no longer serves this entry"
                elif row[1] != leaf:
                    detail = "the server now serves a different leaf"
                elif _envelope_json(row[2]) != _envelope_json(envelope):
                    detail = "the server now serves a different envelope"
                else:
                    continue
                return _failure(
                    index,
                    kind,
                    f"split view / rewritten history: {detail} than when checkpoint "
                    f"{old_size} was verified",
                )
        return None

    def _fetch_and_replay(
        self, size: int
    ) -> tuple[VerificationError | None, VerificationError | None]:
        """Mirror ``[mirrored, size)`` and replay ``[0, size)`` at once: a thread fetches the
        next pages over HTTP while this one stores and replays the current one (the server
        works on the next page while the replay works on this one).

        Returns the gap in what the server serves, if any, and the replay's first failure,
        if any; the mirror holds every entry the server served either way. Network failures
        and malformed answers raise as they happen."""
        start = self.mirror.size()
        pages = _PageFetcher(self.client, start, size)
        task = self._task("mirroring", size - start)

        def fetched() -> Iterator[_Row]:
            for rows in pages:
                self.mirror.append(rows)
                self._advance(task, len(rows))
                yield from rows

        replay_problem = None
        pages.start()
        try:
            try:
                self._replay(itertools.chain(self.mirror.rows(0, start), fetched()), size)
            except VerificationError as exc:
                replay_problem = exc  # the tree check decides whether it came first
            for _ in fetched():  # mirror what the replay did not reach
                pass
        except _FetchFailed as failed:
            raise failed.error from None
        finally:
            pages.stop()
        return pages.gap, replay_problem

    def _check_tree(self, checkpoint: Checkpoint) -> VerificationError | None:
        """RFC 6962 root of the mirrored leaves vs the checkpoint; locate a mismatch."""
        size = checkpoint.size
        store = merkle.MemoryNodeStore(
            merkle.leaf_hash(leaf) for _, leaf in self.mirror.leaves(size)
        )
        if store.root(size) == checkpoint.root_hash:
            return None
        bad = self._bisect(store, checkpoint)
        if bad is None:
            return _failure(
                None,
                None,
                f"the tree of the {size} served leaves does not have the checkpoint root",
            )
        leaf = next(row[1] for row in self.mirror.rows(bad, bad + 1))
        return _failure(
            bad,
            _leaf_kind(leaf),
            f"the served leaf is not the one checkpoint {size} commits to (tree root mismatch)",
        )

    def _bisect(self, store: merkle.MemoryNodeStore, checkpoint: Checkpoint) -> int | None:
        """First leaf where the mirror leaves the checkpointed tree, using consistency proofs.

        "Our first m leaves are a prefix of the checkpoint's tree" is monotone in m and a
        proof that verifies cannot lie, so bisection finds the first bad leaf in O(log n)
        requests (exactly, when the server answers honestly).
        """
        good, bad = 0, checkpoint.size
        try:
            while bad - good > 1:
                middle = (good + bad) // 2
                proof = self.client.consistency(middle, checkpoint.size)
                try:
                    merkle.verify_consistency(
                        middle, checkpoint.size, proof, store.root(middle), checkpoint.root_hash
                    )
                    good = middle
                except VerificationError:
                    bad = middle
        except (AuditError, VerificationError):
            return None
        return bad - 1

    def _replay(self, rows: Iterator[_Row], total: int) -> None:
        """Replay ``rows`` (the log from index 0); Ed25519 checks go to worker processes
        when the log is large and there is more than one CPU (they dominate the cost)."""
        replay = LogReplay()
        task = self._task("verifying", total)
        workers = _worker_count(total)
        if workers == 0:
            for chunk in _chunks(rows):
                _replay_chunk(replay, chunk)
                self._advance(task, len(chunk))
            return
        context = multiprocessing.get_context("fork")
        keys = _KeyDirectory()
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            pending: deque[tuple[list[_Row], Future[set[tuple[int, str]]]]] = deque()

            def consume() -> None:
                chunk, verified = pending.popleft()
                replay.preverified = verified.result()
                _replay_chunk(replay, chunk)
                self._advance(task, len(chunk))

            try:
                for chunk in _chunks(rows):
                    # Keys this chunk registers count too: a worker only says which
                    # signatures verify; whether a key was valid there is the replay's call.
                    directory = keys.add(chunk)
                    signed = [(index, envelope) for index, _, envelope in chunk]
                    pending.append((chunk, pool.submit(preverify_signatures, signed, directory)))
                    if len(pending) > 2 * workers:
                        consume()
                while pending:
                    consume()
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise


_Row = tuple[int, bytes, bytes | None]
CHUNK_SIZE = 1000
PARALLEL_MIN_RECORDS = 5000
"""Below this many records, starting worker processes costs more than it saves."""


class _FetchFailed(Exception):
    """The page thread's failure (network, malformed answer), carried to the main thread."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _PageFetcher:
    """Fetches ``[start, size)`` page by page in a thread, a few pages ahead of the reader.

    Iterating gives each page's mirror rows in order. A page that stops short of what the
    log must hold (a deleted record leaves a gap) ends the iteration, with ``gap`` saying
    where; a failure to fetch is raised to the reader as ``_FetchFailed``."""

    AHEAD = 3  # pages fetched but not yet read

    def __init__(self, client: RegistryClient, start: int, size: int) -> None:
        self.client = client
        self.start_at, self.size = start, size
        self.gap: VerificationError | None = None
        self._pages: queue.Queue[list[_Row] | Exception | None] = queue.Queue(self.AHEAD)
        self._stopping = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, name="audit-pages", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=HTTP_TIMEOUT.read or 30)

    def __iter__(self) -> Iterator[list[_Row]]:
        while not self._done:
            page = self._pages.get()
            if page is None:
                self._done = True
            elif isinstance(page, Exception):
                self._done = True
                raise _FetchFailed(page)
            else:
                yield page

    def _put(self, item: list[_Row] | Exception | None) -> bool:
        while not self._stopping.is_set():
            try:
                self._pages.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        start, size = self.start_at, self.size
        try:
            while start < size:
                end = min(start + PAGE_SIZE, size)
                entries = self.client.entries(start, end)[: end - start]
                rows = []
                for offset, entry in enumerate(entries):
                    row = _served_row(start + offset, entry)
                    if row is None:
                        break
                    rows.append(row)
                start += len(rows)
                if rows and not self._put(rows):
                    return
                if len(rows) < len(entries) or not rows:
                    self.gap = _failure(
                        start,
                        None,
                        f"the server does not serve entry {start} of a log of size {size} "
                        "(a deleted record leaves a gap)",
                    )
                    break
        except (AuditError, VerificationError) as exc:
            self._put(exc)
            return
        self._put(None)


class _KeyDirectory:
    """``key_directory`` built as the rows pass, for the signature workers."""

    _PREFIXES = (b'{"kind":"key_registration"', b'{"kind":"key_rotation"')

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._snapshot: dict[str, bytes] = {}

    def add(self, rows: Sequence[_Row]) -> dict[str, bytes]:
        """The directory with the keys of ``rows`` added (the same dict while unchanged)."""
        found = key_directory(
            envelope
            for _, leaf, envelope in rows
            if envelope is not None and leaf.startswith(self._PREFIXES)
        )
        if found.keys() - self._keys.keys():
            self._keys.update(found)
            self._snapshot = dict(self._keys)  # a task's keys never change after submit
        return self._snapshot


def _worker_count(records: int) -> int:
    # The CPUs this process may run on, which a container or taskset can limit.
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    if records < PARALLEL_MIN_RECORDS or cpus < 2 or sys.platform == "win32":
        return 0
    # The main process replays (parsing, policy) while the workers verify signatures.
    return cpus - 1


def _chunks(rows: Iterator[_Row]) -> Iterator[list[_Row]]:
    chunk: list[_Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK_SIZE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _replay_chunk(replay: LogReplay, chunk: list[_Row]) -> None:
    for index, leaf, envelope in chunk:
        replay.apply(check_entry(index, leaf, _envelope_json(envelope)))


def key_directory(key_records: Iterable[bytes]) -> dict[str, bytes]:
    """Every public key that a key record of the log names under its true id.

    Only ``keyid == SHA-256(public key)`` entries are kept, so a keyid names one key and a
    signature checked against the directory is the check the replay would make (whether
    the key was *valid* at that index stays the replay's question).
    """
    directory: dict[str, bytes] = {}
    for envelope in key_records:
        try:
            payload = base64.b64decode(orjson.loads(envelope)["payload"])
            key = orjson.loads(payload)["key"]
            raw = base64.b64decode(key["public_key"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            continue  # the replay names what is wrong with it
        if len(raw) == 32 and hashlib.sha256(raw).hexdigest() == key.get("id"):
            directory[key["id"]] = raw
    return directory


def preverify_signatures(
    signed: list[tuple[int, bytes | None]], keys: dict[str, bytes]
) -> set[tuple[int, str]]:
    """(index, keyid) of every signature that verifies under ``keys[keyid]`` (a worker).

    Anything odd (malformed envelope, unknown key, bad signature) is simply left out: the
    replay then verifies it itself and names the problem.
    """
    verified: set[tuple[int, str]] = set()
    for index, envelope_json in signed:
        if envelope_json is None:
            continue
        try:
            envelope = orjson.loads(envelope_json)
            message = pae(envelope["payloadType"], base64.b64decode(envelope["payload"]))
            for signature in envelope["signatures"]:
                keyid = signature["keyid"]
                if keyid not in keys:
                    continue
                try:
                    # memoized per key
                    load_public_key(keys[keyid]).verify(base64.b64decode(signature["sig"]), message)
                except InvalidSignature:
                    continue
                verified.add((index, keyid))
        except (ValueError, KeyError, TypeError, binascii.Error, InvalidInput):
            continue
    return verified


def _envelope_json(data: bytes | None) -> object:
    return None if data is None else orjson.loads(data)


def _leaf_kind(leaf: bytes) -> str | None:
    try:
        kind = orjson.loads(leaf).get("kind")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None


# --- the command ------------------------------------------------------------------------------


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AuditError(f"{url!r} is not an http(s) URL of a registry")
    return url.rstrip("/")


def _parse_keys(
    vkey: str | None, witnesses: Sequence[str]
) -> tuple[NoteVerifier | None, list[CosignatureVerifier]]:
    try:
        log_key = parse_vkey(vkey.strip()) if vkey else None
    except InvalidInput as exc:
        raise AuditError(f"--vkey is not a C2SP verifier key: {exc.detail}") from None
    cosigners = []
    for text in witnesses:
        try:
            cosigners.append(parse_cosignature_vkey(text.strip()))
        except InvalidInput as exc:
            raise AuditError(
                f"--witness {text!r} is not a cosignature/v1 verifier key: {exc.detail}"
            ) from None
    return log_key, cosigners


def _progress() -> Progress:
    """A progress bar on stderr, so stdout carries only the verdict."""
    return Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def run_audit(
    url: str,
    state: Path,
    *,
    vkey: str | None,
    witnesses: list[str],
    quiet: bool,
) -> int:
    """Audit the registry at ``url`` with the local ``state`` directory; return the exit code.

    0: the log, every record in it and the checkpoint verify; 1: something does not (the
    line printed names the first bad record's log index and what is wrong); 2: bad usage,
    an unusable state directory, or the registry could not be reached.
    """
    try:
        base_url = _check_url(url)
        given, cosigners = _parse_keys(vkey, witnesses)
        mirror = Mirror(state)
    except AuditError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    progress = None if quiet else _progress()
    display: AbstractContextManager[Any] = progress or nullcontext()
    with mirror, RegistryClient(base_url) as client:
        audit = _Audit(mirror, client, progress)
        try:
            with display:
                result = audit.run(given, cosigners)
        except AuditError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except sqlite3.Error as exc:
            print(f"error: the audit state in {state} is unusable: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except VerificationError as exc:
            verified = mirror.verified()
            # Keep what an earlier run verified; refetch anything newer next time.
            mirror.truncate(verified[0] if verified is not None else 0)
            print(_describe(exc), flush=True)
            return EXIT_FAILED
    print(
        f"verified {result.size} records up to checkpoint size {result.size}, "
        f"root {base64.b64encode(result.root).decode()}",
        flush=True,
    )
    if not quiet:
        rate = result.size / result.seconds if result.seconds else 0.0
        names = ", ".join(c.name for c in cosigners)
        print(
            f"fetched {result.fetched} new entries; {result.seconds:.2f} s "
            f"({rate:,.0f} records/s)" + (f"; cosigned by {names}" if names else ""),
            file=sys.stderr,
        )
    return EXIT_OK
