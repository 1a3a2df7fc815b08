"""Verifying a guarantee bundle offline (``registry verify-bundle``; docs/verification.md).

The steps, each failing with a ``VerificationError`` that names what is wrong:

1. the bundle's form (``format``), its log key (or the pinned ``--vkey``: then the bundle's
   must be the same) and its witness policy (tlog-policy text that parses);
2. the checkpoint: signed by the log key under the log's origin, and cosigned by valid
   ``cosignature/v1`` lines satisfying the policy's quorum; each pinned ``--witness`` key
   must have cosigned too;
3. every record, in log order: its tlog-proof's checkpoint is the bundle's, verbatim; its
   leaf (the proof's ``extra``) commits to the payload and to the envelope's signatures and
   is included in that tree; every signature verifies under a key registered by an earlier
   key record of the bundle, not rotated or revoked before it (``keylife``); leaf 0 is the
   registry key's self-registration;
4. the witness policy's own record is in the log, signed by the registry key, and says the
   same policy; the endorsement the bundle is about is one of its records;
5. the status index (docs/records.md, "The status index", rules 1-4): its head is the
   checkpoint's last entry, a ``status_index`` record signed by the registry key whose
   ``size`` is its own index; every proof leads to its root; the code's value names the
   bundle's endorsement; every covered batch and every ancestor the processing records
   name has a proof, and its ``head`` is a record of the bundle naming it; the status
   derived from those values (and the signed validity window) is the bundle's.

A verifier who pins the log key and the witness keys out of band trusts nothing the bundle
says about itself; without pins, the bundle proves consistency with the keys it carries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from registry.audit import keylife
from registry.crypto.dsse import Envelope, verify_signature
from registry.crypto.keys import PublicKey, load_public_key
from registry.crypto.keys import key_id as compute_key_id
from registry.endorsements.bundle import BUNDLE_FORMAT
from registry.errors import InvalidInput, VerificationError
from registry.log import status_index as si
from registry.log.note import parse_cosignature_vkey, parse_vkey
from registry.log.policy_text import Witnessed, parse_policy, verify_witnessed
from registry.log.receipt import open_tlog_proof, parse_tlog_proof
from registry.records.schema import (
    Endorsement,
    KeyRegistration,
    KeyRevocation,
    KeyRotation,
    Processing,
    StatusIndex,
    WitnessPolicy,
    parse_record,
)
from registry.status import endorsement_status

__all__ = ["BundleSummary", "verify_bundle"]


@dataclass(frozen=True)
class BundleSummary:
    """What a verified bundle proves: which endorsement, in which log, at which tree size,
    witnessed by whom and when, and which records are suspect."""

    code: str
    origin: str
    size: int
    records: int
    cosignatures: dict[str, int]  # policy witness name -> cosignature time (POSIX seconds)
    suspect: list[str] = field(default_factory=list)
    status: str | None = None  # derived from the status index (None: the bundle has none)


def _fail(detail: str) -> VerificationError:
    return VerificationError(f"bundle: {detail}")


def _get(obj: Any, name: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    value = obj.get(name) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _fail(f"{where}{name} is missing or malformed")
    return value


@dataclass
class _Key:
    public_key: PublicKey
    life: keylife.KeyLife


def verify_bundle(
    bundle: Any, *, pinned_vkey: str | None = None, pinned_witnesses: tuple[str, ...] = ()
) -> BundleSummary:
    """Verify a parsed bundle (see the module's steps); ``VerificationError``."""
    if _get(bundle, "format", str) != BUNDLE_FORMAT:
        raise _fail(f"format is not {BUNDLE_FORMAT!r}")
    log = _get(bundle, "log", dict)
    vkey = _get(log, "vkey", str, "log.")
    if pinned_vkey is not None and pinned_vkey.strip() != vkey:
        raise _fail("the log key in the bundle is not the pinned --vkey")
    try:
        log_verifier = parse_vkey(vkey)
    except InvalidInput as exc:
        raise _fail(f"log.vkey: {exc.detail}") from None
    note = _get(bundle, "checkpoint", str)
    witnessed = _check_checkpoint(bundle, note, log_verifier.name, pinned_witnesses)
    records = _get(bundle, "records", list)
    keys: dict[str, _Key] = {}
    suspect: list[str] = []
    by_index: dict[int, Any] = {}
    last = -1
    for item in records:
        index = _get(item, "index", int, "record ")
        if index <= last:
            raise _fail(f"records are not in log order at index {index}")
        last = index
        by_index[index] = _check_record(item, note, log_verifier, keys, suspect)
    _check_policy_record(bundle, note, log_verifier, by_index)
    endorsement_index = _get(bundle, "endorsement_index", int)
    endorsement = by_index.get(endorsement_index)
    code = _get(bundle, "code", str)
    if not isinstance(endorsement, Endorsement) or endorsement.code != code:
        raise _fail(f"the record at index {endorsement_index} is not the endorsement {code}")
    status = _check_status_index(
        bundle, note, log_verifier, keys, witnessed.checkpoint.size, endorsement, by_index
    )
    return BundleSummary(
        code=code,
        origin=witnessed.checkpoint.origin,
        size=witnessed.checkpoint.size,
        records=len(records),
        cosignatures={name: c.timestamp for name, c in sorted(witnessed.cosignatures.items())},
        suspect=suspect,
        status=status,
    )


def _check_checkpoint(
    bundle: Any, note: str, origin: str, pinned_witnesses: tuple[str, ...]
) -> Witnessed:
    policy_part = bundle.get("witness_policy")
    if not isinstance(policy_part, dict):
        raise _fail("no witness policy: the checkpoint's witnessing cannot be checked")
    try:
        policy = parse_policy(_get(policy_part, "text", str, "witness_policy."))
    except InvalidInput as exc:
        raise _fail(exc.detail) from None
    try:
        witnessed = verify_witnessed(policy, note)
    except VerificationError as exc:
        raise _fail(f"checkpoint: {exc.detail}") from None
    if witnessed.checkpoint.origin != origin:
        raise _fail(f"checkpoint of log {witnessed.checkpoint.origin!r}, the key is {origin!r}")
    for pinned in pinned_witnesses:
        try:
            verifier = parse_cosignature_vkey(pinned.strip())
        except InvalidInput as exc:
            raise _fail(f"--witness {pinned!r}: {exc.detail}") from None
        if not any(
            w.verifier.public_key == verifier.public_key and w.name in witnessed.cosignatures
            for w in policy.witnesses
        ):
            raise _fail(f"checkpoint is not cosigned by the pinned witness {verifier.name}")
    return witnessed


def _check_record(
    item: Any,
    note: str,
    log_verifier: Any,
    keys: dict[str, _Key],
    suspect: list[str],
) -> Any:
    """Steps 3 for one record; returns the parsed record."""
    index = item["index"]
    where = f"record at index {index}"
    try:
        envelope = Envelope.from_json(item.get("envelope"))
    except InvalidInput as exc:
        raise _fail(f"{where}: the envelope is malformed: {exc.detail}") from None
    text = _get(item, "tlog_proof", str, f"{where}: ")
    try:
        parsed = parse_tlog_proof(text)
        if parsed.index != index:
            raise VerificationError(f"the proof is for index {parsed.index}")
        if parsed.checkpoint_note != note:
            raise VerificationError("the proof's checkpoint is not the bundle's")
        if parsed.extra is None:
            raise VerificationError("the proof carries no leaf")
        open_tlog_proof(text, parsed.extra, [log_verifier], origin=log_verifier.name)
        leaf = json.loads(parsed.extra)
    except (VerificationError, ValueError) as exc:
        detail = getattr(exc, "detail", str(exc))
        raise _fail(f"{where}: the inclusion proof does not verify: {detail}") from None
    if leaf.get("payload_sha256") != hashlib.sha256(envelope.payload).hexdigest():
        raise _fail(f"{where}: the payload is not the one the log committed to")
    if [s.get("keyid") for s in leaf.get("signatures", [])] != [
        s.keyid for s in envelope.signatures
    ]:
        raise _fail(f"{where}: the signatures are not the ones the log committed to")
    try:
        document = json.loads(envelope.payload)
        record = parse_record(document)
    except (ValueError, InvalidInput) as exc:
        raise _fail(f"{where}: the payload is not a valid record: {exc}") from None
    new_key = _new_key(record, where) if isinstance(record, KeyRegistration | KeyRotation) else None
    if index == 0 and not (
        isinstance(record, KeyRegistration)
        and record.holder.role == "registry"
        and [s.keyid for s in envelope.signatures] == [record.key.id]
    ):
        raise _fail("record at index 0 is not the registry key's self-registration")
    time = datetime.fromisoformat(record.time)
    for signature in envelope.signatures:
        if new_key is not None and signature.keyid == record.key.id:
            public_key = new_key
        else:
            known = keys.get(signature.keyid)
            verdict = keylife.judge(known.life if known else None, signature.keyid, index, time)
            if verdict.verdict == "refused":
                raise _fail(f"{where} ({record.kind}): {verdict.reason}")
            if verdict.verdict == "suspect":
                suspect.append(f"{where} ({record.kind}): {verdict.reason}")
            assert known is not None
            public_key = known.public_key
        try:
            verify_signature(envelope, signature.keyid, public_key)
        except VerificationError as exc:
            raise _fail(f"{where} ({record.kind}): bad signature: {exc.detail}") from None
    _apply_key_record(record, index, new_key, keys)
    return record


def _new_key(record: KeyRegistration | KeyRotation, where: str) -> PublicKey:
    try:
        raw = base64.b64decode(record.key.public_key, validate=True)
        if compute_key_id(raw) != record.key.id:
            raise InvalidInput("the key id is not the SHA-256 of the key")
        return load_public_key(raw)
    except (binascii.Error, ValueError, InvalidInput) as exc:
        raise _fail(f"{where}: the new key is not usable: {exc}") from None


def _apply_key_record(
    record: Any, index: int, new_key: PublicKey | None, keys: dict[str, _Key]
) -> None:
    if isinstance(record, KeyRotation):
        old = keys.get(record.old_key)
        if old is not None:
            keylife.rotate(old.life, index)
    if isinstance(record, KeyRegistration | KeyRotation):
        assert new_key is not None
        keys[record.key.id] = _Key(new_key, keylife.KeyLife(index))
    elif isinstance(record, KeyRevocation):
        known = keys.get(record.key_id)
        if known is not None:
            keylife.revoke(known.life, index, record.compromised_since)


def _check_policy_record(
    bundle: Any, note: str, log_verifier: Any, by_index: dict[int, Any]
) -> None:
    """The policy the checkpoint was judged by is the logged one, signed by the registry."""
    policy_part = bundle["witness_policy"]
    item = _get(policy_part, "record", dict, "witness_policy.")
    index = _get(item, "index", int, "witness_policy.record.")
    registry_keys: dict[str, _Key] = {}
    genesis = by_index.get(0)
    if not isinstance(genesis, KeyRegistration):
        raise _fail("the bundle lacks the registry key's registration (index 0)")
    raw = base64.b64decode(genesis.key.public_key)
    registry_keys[genesis.key.id] = _Key(load_public_key(raw), keylife.KeyLife(0))
    record = _check_record(item, note, log_verifier, registry_keys, [])
    if not isinstance(record, WitnessPolicy):
        raise _fail(f"witness_policy.record at index {index} is not a witness_policy record")
    if (record.policy, record.max_age_seconds) != (
        policy_part.get("text"),
        policy_part.get("max_age_seconds"),
    ):
        raise _fail(f"the witness policy differs from the one logged at index {index}")


def _check_status_index(
    bundle: Any,
    note: str,
    log_verifier: Any,
    keys: dict[str, _Key],
    size: int,
    endorsement: Endorsement,
    by_index: dict[int, Any],
) -> str | None:
    """Step 5: the status proven by the status index; None for a bundle without one
    (made before the log had an index: its status is the server's word)."""
    part = bundle.get("status_index")
    if part is None:
        return None
    where = "status_index"
    head_item = _get(part, "head", dict, f"{where}.")
    head_index = _get(head_item, "index", int, f"{where}.head.")
    if head_index != size - 1:
        raise _fail(
            f"{where}: the head is entry {head_index}, not the checkpoint's last entry "
            f"{size - 1}: a newer record could hide after it"
        )
    head = _check_record(head_item, note, log_verifier, dict(keys), [])
    if not isinstance(head, StatusIndex):
        raise _fail(f"{where}: the checkpoint's last entry {head_index} is not a status_index")
    signers = {s.get("keyid") for s in head_item["envelope"].get("signatures", [])}
    if not signers or not signers <= _registry_keys(by_index):
        raise _fail(f"{where}: the head at {head_index} is not signed by the registry key")
    if head.size != head_index:
        raise _fail(f"{where}: the head at {head_index} says size {head.size}, not its index")
    root = base64.b64decode(head.root)
    proven: dict[str, Any] = {}
    for item in _get(part, "proofs", list, f"{where}."):
        key = _get(item, "key", str, f"{where}.proofs[].")
        value = item.get("value") if isinstance(item, dict) else None
        if value is not None and not isinstance(value, dict):
            raise _fail(f"{where}: the value of {key} is malformed")
        try:
            si.verify_proof(root, key, value, si.proof_from_json(item.get("proof")))
        except VerificationError as exc:
            raise _fail(f"{where}: {exc.detail}") from None
        proven[key] = value
    code_key = si.endorsement_key(endorsement.code)
    if code_key not in proven:
        raise _fail(f"{where}: no proof for {code_key}")
    code_value = proven[code_key] or {}
    endorsement_index = bundle["endorsement_index"]
    if code_value.get("endorsement") != endorsement_index:
        raise _fail(
            f"{where}: {code_key} names endorsement {code_value.get('endorsement')}, the "
            f"bundle's is at {endorsement_index}"
        )
    recalled = False
    for ref in _lineage(endorsement, by_index):
        key = si.batch_key(ref)
        if key not in proven:
            raise _fail(f"{where}: no proof for {key}, a batch of the endorsement's lineage")
        value = proven[key] or {}
        named = by_index.get(value.get("head", -1))
        if named is None or ref not in getattr(named, "batches", []):
            raise _fail(
                f"{where}: the head of {key} is entry {value.get('head')}, not a record of "
                "the bundle naming the batch: a newer record of the batch is missing"
            )
        recalled = recalled or value.get("recall") is not None
    status = endorsement_status(
        datetime.fromisoformat(_get(bundle, "computed_at", str)),
        datetime.fromisoformat(endorsement.valid_from),
        datetime.fromisoformat(endorsement.valid_until),
        revoked=code_value.get("revocation") is not None,
        recalled=recalled,
    ).value
    if status != bundle.get("status"):
        raise _fail(
            f"{where}: the index proves the status {status!r}, the bundle says "
            f"{bundle.get('status')!r}"
        )
    return status


def _registry_keys(by_index: dict[int, Any]) -> set[str]:
    """The registry key (index 0) and the keys it was rotated to, by key id."""
    genesis = by_index.get(0)
    ids = {genesis.key.id} if isinstance(genesis, KeyRegistration) else set()
    for index in sorted(by_index):
        record = by_index[index]
        if isinstance(record, KeyRotation) and record.old_key in ids:
            ids.add(record.key.id)
    return ids


def _lineage(endorsement: Endorsement, by_index: dict[int, Any]) -> list[str]:
    """The covered batches and every ancestor the bundle's processing records name."""
    made_from: dict[str, list[str]] = {}
    for record in by_index.values():
        if isinstance(record, Processing):
            for output in record.outputs:
                made_from.setdefault(output.batch, []).extend(i.batch for i in record.inputs)
    seen = list(dict.fromkeys(endorsement.covers))
    for ref in seen:  # grows as it goes
        for parent in made_from.get(ref, []):
            if parent not in seen:
                seen.append(parent)
    return seen
