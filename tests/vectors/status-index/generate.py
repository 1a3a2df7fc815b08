"""Writes vectors.json (to stdout) from registry.log.status_index:

    python tests/vectors/status-index/generate.py > tests/vectors/status-index/vectors.json

The JavaScript verifier of the consumer page is checked against the same file, so the two
implementations meet on bytes written down here, not on each other."""

import base64
import json

from registry.crypto.jcs import canonicalize
from registry.log import status_index as si


def b64(b):
    return base64.b64encode(b).decode()


entries = {
    si.endorsement_key("GR-2026-ABCD-EFGH"): {"endorsement": 12, "revocation": None},
    si.endorsement_key("GR-2026-REVK-0001"): {"endorsement": 20, "revocation": 31},
    si.batch_key("0b6f3e0e-6b1d-4c8e-9a57-1f2e3d4c5b6a:L2026-001"): {"head": 14, "recall": None},
    si.batch_key("0b6f3e0e-6b1d-4c8e-9a57-1f2e3d4c5b6a:L2026-002"): {"head": 27, "recall": 29},
    si.batch_key("5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d:TEA-7"): {"head": 9, "recall": None},
}
hashed = {si.key_hash(k): si.value_hash(v) for k, v in entries.items()}
root = si.root_of(hashed)
cases = []
for k, v in entries.items():
    p = si.prove(hashed, si.key_hash(k))
    cases.append(
        {"name": f"present {k}", "key": k, "value": v, "proof": si.proof_to_json(p), "valid": True}
    )
for k in [
    si.endorsement_key("GR-2026-NONE-0000"),
    si.batch_key("5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d:TEA-8"),
]:
    p = si.prove(hashed, si.key_hash(k))
    cases.append(
        {
            "name": f"absent {k}",
            "key": k,
            "value": None,
            "proof": si.proof_to_json(p),
            "valid": True,
        }
    )
# negative cases
k = si.endorsement_key("GR-2026-REVK-0001")
p = si.proof_to_json(si.prove(hashed, si.key_hash(k)))
cases.append(
    {
        "name": "revocation hidden: the value without its revocation",
        "key": k,
        "value": {"endorsement": 20, "revocation": None},
        "proof": p,
        "valid": False,
    }
)
cases.append(
    {"name": "revoked code claimed absent", "key": k, "value": None, "proof": p, "valid": False}
)
kb = si.batch_key("0b6f3e0e-6b1d-4c8e-9a57-1f2e3d4c5b6a:L2026-002")
pb = si.proof_to_json(si.prove(hashed, si.key_hash(kb)))
cases.append(
    {
        "name": "recall hidden",
        "key": kb,
        "value": {"head": 27, "recall": None},
        "proof": pb,
        "valid": False,
    }
)
trunc = dict(pb, siblings=pb["siblings"][1:])
cases.append(
    {
        "name": "truncated proof",
        "key": kb,
        "value": {"head": 27, "recall": 29},
        "proof": trunc,
        "valid": False,
    }
)
flip = dict(pb, siblings=list(reversed(pb["siblings"])))
cases.append(
    {
        "name": "siblings in the wrong order",
        "key": kb,
        "value": {"head": 27, "recall": 29},
        "proof": flip,
        "valid": False,
    }
)
empty_root = si.root_of({})
doc = {
    "description": "Status index (sparse Merkle tree) vectors: docs/records.md, "
    "'The status index'. "
    "Each case: verify `proof` for `key` holding `value` (null: absent) against `root`; "
    "valid says whether it must verify.",
    "entries": [
        {
            "key": k,
            "key_hash": b64(si.key_hash(k)),
            "value": v,
            "value_jcs": canonicalize(v).decode(),
            "value_hash": b64(si.value_hash(v)),
            "leaf_hash": b64(si.leaf_hash(si.key_hash(k), si.value_hash(v))),
        }
        for k, v in entries.items()
    ],
    "root": b64(root),
    "empty_root": b64(empty_root),
    "cases": cases,
}
print(json.dumps(doc, indent=1, ensure_ascii=False))
