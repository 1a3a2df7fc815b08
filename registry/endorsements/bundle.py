"""The guarantee bundle: one file holding an endorsement, every record behind it, the keys,
and each record's proof in the c2sp.org/tlog-proof form against the cosigned checkpoint,
verifiable later and offline (``registry verify-bundle``; docs/verification.md, "Bundle").

Built from the verification document, so a bundle says exactly what the phone checked.
"""

from __future__ import annotations

import base64
from typing import Any

from registry.log.receipt import format_tlog_proof

BUNDLE_FORMAT = "guarantee-registry-bundle/v1"
"""The ``format`` field of every bundle of this version."""


def _record(entry: dict[str, Any], note: str) -> dict[str, Any]:
    """A chain entry as the bundle holds it: the envelope and its tlog-proof (the exact leaf
    bytes in the proof's ``extra`` line, the cosigned checkpoint verbatim after it)."""
    proof = [base64.b64decode(h) for h in entry["inclusion_proof"]]
    return {
        "index": entry["index"],
        "kind": entry["kind"],
        "envelope": entry["envelope"],
        "tlog_proof": format_tlog_proof(
            entry["index"], proof, note, extra=base64.b64decode(entry["leaf"])
        ),
    }


def build_bundle(document: dict[str, Any]) -> dict[str, Any]:
    """The bundle of a verification document (``registry.endorsements.verify``)."""
    note = document["checkpoint"]["note"]
    policy = document.get("witness_policy")
    return {
        "format": BUNDLE_FORMAT,
        "code": document["code"],
        "status": document["status"],
        "computed_at": document["computed_at"],
        "endorsement_index": document["endorsement"]["index"],
        "log": document["log"],
        "checkpoint": note,
        "witness_policy": None
        if policy is None
        else {
            "text": policy["text"],
            "max_age_seconds": policy["max_age_seconds"],
            "record": _record(policy["record"], note),
        },
        "keys": document["keys"],
        "records": [_record(entry, note) for entry in document["chain"]],
        "status_index": _status_index(document.get("status_index"), note),
    }


def _status_index(index: dict[str, Any] | None, note: str) -> dict[str, Any] | None:
    """The document's status index, its head as a record with its tlog-proof (the
    checkpoint's last entry; docs/records.md, "The status index")."""
    if index is None:
        return None
    head = dict(index["head"], kind="status_index")
    return {"head": _record(head, note), "proofs": index["proofs"]}
