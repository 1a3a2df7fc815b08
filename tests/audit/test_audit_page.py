"""``registry audit`` checks what a phone runs and that the checkpoint is witnessed per the
logged policy (SQLite and PostgreSQL).

The registry is real; the tampering sits at its HTTP edge (an ASGI wrapper in front of the
same app), the way an operator could serve other bytes than the ones it logged.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import pytest

from registry.audit import EXIT_FAILED, EXIT_OK
from registry.audit.page import check_witness_policy
from registry.crypto.dsse import sign_envelope
from registry.crypto.jcs import canonicalize
from registry.db import transaction
from registry.errors import VerificationError
from registry.log.note import (
    Checkpoint,
    CosignatureSigner,
    NoteSigner,
    add_signatures,
    sign_checkpoint,
)
from registry.log.policy_text import format_policy
from registry.records import ingest as record_service
from registry.records.schema import RECORD_PAYLOAD_TYPE, WitnessPolicy
from registry.transparency import log as log_service
from tests.audit.helpers import LiveRegistry, audit
from tests.support import serve_in_thread

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Rewrite = Callable[[str, bytes], bytes]

ALTERED = b'"use strict";/* no longer checks anything */document.body.dataset.verified="ok";\n'


def rewriting(app: Any, rewrite: Rewrite) -> Any:
    """``app`` behind an edge that rewrites response bodies: ``rewrite(path, body)``."""

    async def edge(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        # Plain bodies, so the edge can read them (no gzip).
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
        scope = {**scope, "headers": headers}
        start: MutableMapping[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = rewrite(scope["path"], b"".join(chunks))
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await app(scope, receive, capture)

    return edge


def sri(body: bytes) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def test_the_honest_registry_serves_logged_scripts(live: LiveRegistry, tmp_path):
    run = live.audit(tmp_path / "a")
    assert run.code == EXIT_OK, run
    assert "/api/v1/endorsements" in live.requests
    assert any(r.startswith("/e/") for r in live.requests), live.requests
    assert "/static/verify.js" in live.requests


def test_a_script_that_is_not_a_logged_release(live: LiveRegistry, tmp_path):
    def swap_script(path: str, body: bytes) -> bytes:
        return ALTERED if path == "/static/verify.js" else body

    with serve_in_thread(rewriting(live.app, swap_script)) as url:
        run = audit(url, tmp_path / "a")
    assert run.code == EXIT_FAILED, run
    digest = hashlib.sha256(ALTERED).hexdigest()
    assert (
        f"FAILED: the consumer page's script /static/verify.js (sha256 {digest}) is not a "
        "logged release" in run.out
    ), run.out


def test_a_page_and_script_swapped_together(live: LiveRegistry, tmp_path):
    """The operator changes the script and the page's integrity value alike: every browser
    would run the new script, so only the log can tell it is not a release."""

    def swap_both(path: str, body: bytes) -> bytes:
        if path == "/static/verify.js":
            return ALTERED
        if path.startswith("/e/") and path.count("/") == 2:
            return re.sub(
                rb'(src="/static/verify.js" integrity=")[^"]+',
                lambda m: m[1] + sri(ALTERED).encode(),
                body,
            )
        return body

    with serve_in_thread(rewriting(live.app, swap_both)) as url:
        run = audit(url, tmp_path / "a")
    assert run.code == EXIT_FAILED, run
    assert "/static/verify.js" in run.out and "is not a logged release" in run.out, run.out


def test_a_page_script_without_integrity(live: LiveRegistry, tmp_path):
    def strip_integrity(path: str, body: bytes) -> bytes:
        if path.startswith("/e/") and path.count("/") == 2:
            return re.sub(rb' integrity="[^"]+"', b"", body)
        return body

    with serve_in_thread(rewriting(live.app, strip_integrity)) as url:
        run = audit(url, tmp_path / "a")
    assert run.code == EXIT_FAILED, run
    assert "loads /static/verify.js without an integrity value" in run.out, run.out


def log_policy(live: LiveRegistry, witness: CosignatureSigner) -> int:
    """Log a witness policy whose quorum is ``witness`` (signed by the registry key)."""
    text = format_policy(
        [(log_service.log_vkey(live.ctx), None)],
        [(witness.name, witness.to_vkey(), None)],
        witness.name,
        [],
    )
    document = {
        "kind": "witness_policy",
        "time": live.ctx.clock().isoformat(timespec="seconds"),
        "policy": text,
        "max_age_seconds": 3600,
    }
    envelope = sign_envelope(
        RECORD_PAYLOAD_TYPE, canonicalize(document), [live.ctx.registry_signer]
    )
    with transaction(live.factory) as session:
        return record_service.submit(session, live.ctx, envelope, None).index


def test_the_checkpoint_must_satisfy_the_logged_policy(live: LiveRegistry, tmp_path):
    witness = CosignatureSigner.generate("witness.example")
    index = log_policy(live, witness)
    note = live.checkpoint_note()
    # The checkpoint includes the policy, and the status index after it.
    assert note.split("\n")[1] == str(index + 2)
    live.set_checkpoint_note(add_signatures(note, [witness], timestamp=int(time.time())))
    cosigned = live.audit(tmp_path / "a")
    assert cosigned.code == EXIT_OK, cosigned

    live.set_checkpoint_note(note)  # the cosignature stripped
    stripped = live.audit(tmp_path / "b")
    assert stripped.code == EXIT_FAILED, stripped
    assert (
        f"FAILED: the checkpoint does not satisfy the witness policy logged at index {index}: "
        "the checkpoint is not cosigned per the witness policy (quorum witness.example; "
        "valid cosignatures from: none)" in stripped.out
    ), stripped.out

    other = CosignatureSigner.generate("other.example")
    live.set_checkpoint_note(add_signatures(note, [other], timestamp=int(time.time())))
    assert live.audit(tmp_path / "c").code == EXIT_FAILED  # a key the policy does not list


def test_a_cosignature_older_than_the_policys_window_is_not_recently_witnessed(
    live: LiveRegistry, tmp_path
):
    witness = CosignatureSigner.generate("witness.example")
    index = log_policy(live, witness)  # max_age_seconds 3600
    note = live.checkpoint_note()
    now = int(time.time())
    live.set_checkpoint_note(add_signatures(note, [witness], timestamp=now - 3000))
    within = live.audit(tmp_path / "a")
    assert within.code == EXIT_OK, within

    live.set_checkpoint_note(add_signatures(note, [witness], timestamp=now - 3700))
    old = live.audit(tmp_path / "b")
    assert old.code == EXIT_FAILED, old
    assert (
        "FAILED: the checkpoint is not recently witnessed: the witness policy logged at index "
        f"{index} (quorum witness.example) wants cosignatures at most 3600 s old, and the "
        "checkpoint's are: witness.example 37" in old.out
    ), old.out


def test_cosignature_age_is_judged_by_the_audits_clock():
    """The pure check, with the audit's clock given: a quorum of two needs two fresh ones."""
    first, second = (CosignatureSigner.generate(f"w{n}.example") for n in (1, 2))
    log_signer = NoteSigner.generate("log.example")
    text = format_policy(
        [(log_signer.to_vkey(), None)],
        [(w.name, w.to_vkey(), None) for w in (first, second)],
        "both",
        [("both", "all", [first.name, second.name])],
    )
    policy = WitnessPolicy(
        kind="witness_policy", time="2026-01-01T00:00:00+00:00", policy=text, max_age_seconds=600
    )
    body = Checkpoint(origin="log.example", size=1, root_hash=b"\x01" * 32)
    note = sign_checkpoint(body, log_signer)
    cosigned = add_signatures(
        add_signatures(note, [first], timestamp=10_000), [second], timestamp=9_000
    )
    check_witness_policy([(5, policy)], cosigned, now=9_600)  # both within 600 s
    with pytest.raises(VerificationError, match=r"not recently witnessed.*w2\.example 601 s ago"):
        check_witness_policy([(5, policy)], cosigned, now=9_601)
