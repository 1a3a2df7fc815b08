"""The replay: the log in order, refusing the first record the server should have refused.

A pure state machine over ``entry.check_entry``'s per-entry checks (docs/audit.md, step 5):
every DSSE signature must verify under a key that earlier key records registered and had not
rotated or revoked, the signing policy (``registry.policy``) must allow the signer, each
batch's ``prev`` chain must link, and an endorsement's preconditions, re-evaluated over the
replayed lineage, must hold and match the results it signed. Failures raise
``VerificationError`` carrying the log ``index`` of the bad record.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from registry import policy
from registry.audit import keylife
from registry.audit.entry import CheckedEntry
from registry.audit.failures import failure
from registry.audit.history import (
    Endorsed,
    KnownKey,
    Logged,
    ReplayedBatch,
    Touch,
    gather_evidence,
    recall,
)
from registry.audit.status import StatusRebuild
from registry.crypto.dsse import verify_signature
from registry.crypto.keys import PublicKey, load_public_key
from registry.crypto.keys import key_id as compute_key_id
from registry.errors import InvalidInput, PolicyViolation, VerificationError
from registry.log.policy_text import parse_policy
from registry.records.schema import (
    KEY_KINDS,
    Correction,
    Endorsement,
    EndorsementRevocation,
    Harvest,
    Inspection,
    KeyRegistration,
    KeyRevocation,
    KeyRotation,
    LogRename,
    Processing,
    Recall,
    ScriptRelease,
    StatusIndex,
    WitnessPolicy,
    split_batch_ref,
)


class LogReplay:
    """Replays the log in order and refuses the first record the server should have refused.

    It rebuilds from the log alone what the server knows from its tables: which key belongs
    to whom and when it stopped being valid (key records); each batch's origin, region,
    remaining quantity, recall status, lineage and chain head (supply-chain records); and
    the endorsements and their revocations. It then runs the server's own policy functions
    over those facts, endorsement preconditions included (docs/audit.md, step 5).
    """

    def __init__(self) -> None:
        self.size = 0
        # (index, keyid) pairs whose signature a worker already verified with the key whose
        # SHA-256 is keyid (see ``preverify_signatures``): the same key the replay would use.
        self.preverified: set[tuple[int, str]] = set()
        self._keys: dict[str, KnownKey] = {}
        self._batches: dict[str, ReplayedBatch] = {}
        self._digests: dict[str, Logged] = {}
        self._endorsements: dict[str, Endorsed] = {}
        self._codes: set[str] = set()
        # (index, old origin, new origin) of each logged rename, in log order.
        self.renames: list[tuple[int, str, str]] = []
        # (index, record) of each logged witness policy, in log order: the last one rules.
        self.witness_policies: list[tuple[int, WitnessPolicy]] = []
        # (script name, sha256 hex) of each logged script release -> its log index.
        self.script_releases: dict[tuple[str, str], int] = {}
        # The status index rebuilt from the entries, each committed root compared with it.
        self.status = StatusRebuild()
        self.last_kind: str | None = None

    def apply(self, entry: CheckedEntry) -> None:
        """Check ``entry`` against everything before it, then add it. ``VerificationError``."""
        if entry.index != self.size:
            raise failure(entry.index, entry.kind, f"expected log index {self.size} next")
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
        elif isinstance(record, LogRename):
            org_id = signer.org_id
            if self.renames and record.old_origin != self.renames[-1][2]:
                raise self._bad(
                    entry,
                    f"renames the log from {record.old_origin!r}, but the last rename "
                    f"(index {self.renames[-1][0]}) named it {self.renames[-1][2]!r}",
                )
            self.renames.append((entry.index, record.old_origin, record.new_origin))
        elif isinstance(record, WitnessPolicy):
            org_id = signer.org_id
            try:
                parse_policy(record.policy)
            except InvalidInput as exc:
                raise self._bad(entry, exc.detail) from None
            self.witness_policies.append((entry.index, record))
        elif isinstance(record, ScriptRelease):
            org_id = signer.org_id
            self.script_releases.setdefault((record.name, record.sha256), entry.index)
        elif isinstance(record, StatusIndex):
            org_id = signer.org_id
        else:
            org_id = signer.org_id
            self._apply_supply_chain(entry, record, signer)
        self.status.apply(entry.index, record)
        self._digests[entry.digest] = Logged(entry.index, org_id)
        self.last_kind = entry.kind.value
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
        return failure(entry.index, entry.kind.value, detail)

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
            # Time is not judged here: a compromised key's records stay (suspect) evidence.
            verdict = keylife.judge(key, signature.keyid, entry.index, None)
            if verdict.verdict == "refused" or key is None:
                raise self._bad(entry, verdict.reason)
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
            self._keys[record.key.id] = KnownKey(new_public, facts, index)
            return facts.org_id
        if isinstance(record, KeyRotation):
            old = self._keys.get(record.old_key)
            if old is None or old.ended_index is not None:
                raise self._bad(entry, f"key {record.old_key} is not an active key")
            assert new_public is not None
            keylife.rotate(old, index)
            self._keys[record.key.id] = KnownKey(
                new_public, replace(old.facts, key_id=record.key.id), index
            )
            return old.facts.org_id
        assert isinstance(record, KeyRevocation)
        key = self._keys.get(record.key_id)
        if key is None:
            raise self._bad(entry, f"revokes key {record.key_id}, which is not registered")
        if key.ended_how == "revoked":
            raise self._bad(entry, f"key {record.key_id} was already revoked")
        keylife.revoke(key, index, record.compromised_since)
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
        existing = self._chained_batches(entry, record, created)
        corrected_org = None
        if isinstance(record, Correction):
            corrected = self._digests.get(record.corrects)
            if corrected is None:
                raise self._bad(entry, f"corrects {record.corrects}, which is not logged before")
            corrected_org = corrected.org_id
        facts: dict[str, policy.BatchFacts | None] = dict.fromkeys(created)
        facts.update({ref: batch.facts for ref, batch in existing.items()})
        self._check_policy(entry, signer, facts, corrected_org)

        for batch in existing.values():
            batch.facts = policy.custody_after(record, signer.org_id, batch.facts)
        if isinstance(record, Processing):
            for consumed in record.inputs:
                batch = existing[consumed.batch]
                remaining = batch.facts.remaining - Decimal(consumed.quantity)
                batch.facts = replace(batch.facts, remaining=remaining)
                batch.children.extend(created)
        self._create_batches(entry, record, signer, created, list(existing))
        self._touch_batches(entry, record, signer)
        if isinstance(record, Recall):
            recall(self._batches, list(existing))

    def _chained_batches(
        self, entry: CheckedEntry, record: Any, created: dict[str, Any]
    ) -> dict[str, ReplayedBatch]:
        """The batches ``record`` touches but does not create; its ``prev`` must be each
        one's chain head, and a batch it creates must not exist yet."""
        existing: dict[str, ReplayedBatch] = {}
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
        return existing

    def _create_batches(
        self,
        entry: CheckedEntry,
        record: Any,
        signer: policy.SignerFacts,
        created: dict[str, Any],
        parents: list[str],
    ) -> None:
        """Add the batches a harvest or processing record creates."""
        region = record.place.region if record.place is not None else signer.region
        for ref, spec in created.items():
            self._batches[ref] = ReplayedBatch(
                ref=ref,
                facts=policy.BatchFacts(
                    origin_org_id=signer.org_id,
                    region=region,
                    unit=spec.unit,
                    remaining=Decimal(spec.quantity),
                    recalled=False,
                    holder=signer.org_id,
                ),
                created_index=entry.index,
                is_root=isinstance(record, Harvest),
                best_before=date.fromisoformat(spec.best_before) if spec.best_before else None,
                head=entry.digest,
                head_index=entry.index,
                parents=list(parents),
            )

    def _touch_batches(self, entry: CheckedEntry, record: Any, signer: policy.SignerFacts) -> None:
        """The record becomes the chain head and part of the evidence of every batch it names."""
        touch = Touch(
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
        evidence, origin_regions = gather_evidence(covered, self._batches, self._keys)
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
        self._endorsements[entry.digest] = Endorsed(record.code, signer.org_id)

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
