"""c2sp.org/tlog-policy: strict parsing, quorum evaluation, cosigned checkpoints."""

from __future__ import annotations

import pytest

from registry.errors import InvalidInput, VerificationError
from registry.log.checkpoint import Checkpoint, sign_checkpoint
from registry.log.cosignature import CosignatureSigner
from registry.log.note_keys import NoteSigner
from registry.log.policy_text import parse_policy, stale_cosigners, verify_witnessed


def _signers():
    log = NoteSigner.generate("example.org/log")
    witnesses = [CosignatureSigner.generate(f"w{i}.example") for i in range(3)]
    return log, witnesses


def _policy(log, witnesses, tail: str) -> str:
    lines = [f"log {log.verifier().to_vkey()}"]
    lines += [f"witness W{i} {w.to_vkey()}" for i, w in enumerate(witnesses)]
    return "\n".join(lines) + "\n" + tail


def test_quorum_of_groups_counts_valid_cosignatures() -> None:
    log, witnesses = _signers()
    policy = parse_policy(_policy(log, witnesses, "group two 2 W0 W1 W2\nquorum two\n"))
    text = Checkpoint("example.org/log", 5, b"\x01" * 32).to_text()
    note = sign_checkpoint(Checkpoint.parse(text), log)
    one = note + witnesses[0].cosign(text, 1000)
    with pytest.raises(VerificationError, match="not cosigned per the witness policy"):
        verify_witnessed(policy, one)
    two = one + witnesses[2].cosign(text, 5000)
    found = verify_witnessed(policy, two)
    assert set(found.cosignatures) == {"W0", "W2"}
    assert stale_cosigners(found, now=5000, max_age_seconds=3600) == ["W0"]


@pytest.mark.parametrize(
    ("tail", "problem"),
    [
        ("", "no quorum line"),
        ("quorum W9\n", "not defined on an earlier line"),
        ("quorum none\nquorum none\n", "a second quorum line"),
        ("group g 4 W0 W1 W2\nquorum g\n", "threshold"),
        ("group g any W0 W0\nquorum g\n", "listed twice"),
        ("group none any W0\nquorum none\n", "already defined"),
        ("frobnicate\nquorum none\n", "unknown keyword"),
        ("quorum none\x0b\n", "control characters"),
    ],
)
def test_malformed_policies_are_refused(tail: str, problem: str) -> None:
    log, witnesses = _signers()
    with pytest.raises(InvalidInput, match=problem):
        parse_policy(_policy(log, witnesses, tail))


def test_duplicate_keys_are_refused() -> None:
    log, witnesses = _signers()
    text = _policy(log, witnesses, f"witness again {witnesses[0].to_vkey()}\nquorum none\n")
    with pytest.raises(InvalidInput, match="duplicate key"):
        parse_policy(text)


def test_comments_blank_lines_and_tabs_are_allowed() -> None:
    log, witnesses = _signers()
    policy = parse_policy("# ours\n\n" + _policy(log, witnesses, "\tgroup g all W0 W1\nquorum g\n"))
    assert policy.quorum == "g" and policy.groups[0].threshold == 2
