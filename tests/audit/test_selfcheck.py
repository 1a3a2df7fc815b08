"""``registry check``: the registry verifies its own database (SQLite and PostgreSQL).

The untouched demo registry verifies; each tamper — plain SQL behind the server's back, as
an operator with database access could — makes the check exit 1 naming the log index of
the record that was touched, without any network.
"""

from __future__ import annotations

import base64
import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, update

from registry.audit import EXIT_FAILED, EXIT_OK
from registry.audit.command import run_check
from registry.audit.selfcheck import SelfCheck
from registry.errors import VerificationError
from registry.log.note import parse_vkey
from registry.models import LogNode, Record
from registry.transparency.log import log_vkey
from tests.audit.helpers import LiveRegistry
from tests.audit.test_audit_live import first_index
from tests.conftest import POSTGRES_URL
from tests.support import cli, drop_database, registry_env


def check(live: LiveRegistry, workers: int | None = 0) -> tuple[int, str, str]:
    """``registry check`` in-process on the live registry's database: code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    key = parse_vkey(log_vkey(live.ctx))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        if workers is None:
            code = run_check(live.factory, key, quiet=False)
        else:
            try:
                result = SelfCheck(key, workers=workers).run(live.factory)
            except VerificationError as exc:
                from registry.audit.console import print_failed

                print_failed(exc)
                code = EXIT_FAILED
            else:
                print(f"verified {result.size} records")
                code = EXIT_OK
    return code, out.getvalue(), err.getvalue()


def assert_fails_at(found: tuple[int, str, str], index: int, kind: str, words: str) -> None:
    code, out, _ = found
    assert code == EXIT_FAILED, found
    assert f"FAILED at log index {index} (kind {kind}): " in out, out
    assert words in out, out


def tamper_payload(live: LiveRegistry, kind: str = "shipping") -> int:
    """Change one character of a stored payload; return its log index."""
    index = first_index(live, kind)
    tampered = bytearray(live.record(index)["payload"])
    tampered[tampered.index(b'"time":"') + 9] ^= 0x01  # one digit of the year
    live.update_record(index, payload=bytes(tampered))
    return index


def test_an_untouched_registry_verifies(live):
    size = len(live.records())
    code, out, err = check(live, workers=None)
    assert code == EXIT_OK, (out, err)
    assert out.startswith(f"verified {size} records up to checkpoint size {size}, root "), out
    assert f"checked {size} records in" in err


@pytest.mark.parametrize("workers", [0, 1])
def test_one_character_of_a_payload(live, workers):
    index = tamper_payload(live)
    assert_fails_at(check(live, workers), index, "shipping", "the payload was altered")


def test_one_byte_of_a_signature(live):
    index = first_index(live, "inspection")
    signatures = live.record(index)["signatures"]
    sig = bytearray(base64.b64decode(signatures[0]["sig"]))
    sig[10] ^= 0x80
    live.update_record(
        index, signatures=[{**signatures[0], "sig": base64.b64encode(bytes(sig)).decode()}]
    )
    assert_fails_at(check(live), index, "inspection", "signature was altered")


def test_a_resigned_record_with_a_matching_leaf_fails_on_the_tree(live):
    """Payload, signature and leaf rewritten consistently: only the tree can tell."""
    index = first_index(live, "shipping")
    row = live.record(index)
    signer = live.custodial_signer(row["signatures"][0]["keyid"])
    live.resign(index, row["payload"].replace(b'"waybill":"', b'"waybill":"X'), signer)
    assert_fails_at(check(live), index, "shipping", "not the one the stored tree holds")


def test_a_signature_by_an_unregistered_key(live):
    from registry.crypto.keys import Signer

    index = first_index(live, "harvest")
    live.resign(index, live.record(index)["payload"], Signer.generate())
    assert_fails_at(check(live), index, "harvest", "which no key record at or before")


def test_an_altered_tree_node(live):
    size = len(live.records())
    with live.engine.begin() as connection:
        connection.execute(
            update(LogNode).where(LogNode.level == 2, LogNode.idx == 3).values(hash=b"\x00" * 32)
        )
    found = check(live)
    assert found[0] == EXIT_FAILED and size > 16
    assert "FAILED at log index 12 " in found[1], found
    assert "node (level 2, index 3) over leaves [12, 16)" in found[1]


def test_a_deleted_record_leaves_a_gap(live):
    index = first_index(live, "certificate", after=30)
    live.delete_record(index)
    code, out, _ = check(live)
    assert code == EXIT_FAILED
    assert f"FAILED at log index {index}: the database holds no record {index}" in out, out


def test_a_forged_checkpoint_note(live):
    note = live.checkpoint_note()
    lines = note.split("\n")
    lines[2] = base64.b64encode(b"\x01" * 32).decode()  # another root, same signature
    live.set_checkpoint_note("\n".join(lines))
    code, out, _ = check(live)
    assert code == EXIT_FAILED
    assert out.startswith("FAILED: the checkpoint does not verify"), out


def test_the_lowest_bad_index_is_named(live):
    low = tamper_payload(live, "harvest")
    high = tamper_payload(live, "shipping")
    assert low < high
    assert_fails_at(check(live), low, "harvest", "the payload was altered")


def test_the_check_resumes_with_new_entries(live):
    key = parse_vkey(log_vkey(live.ctx))
    selfcheck = SelfCheck(key, workers=0)
    first = selfcheck.run(live.factory)
    from tests.audit.test_audit_live import add_history

    added = add_history(live)
    second = selfcheck.run(live.factory)
    assert (second.size, second.checked) == (first.size + added, added)


# --- the command -------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def demo_env(request, tmp_path: Path):
    env = registry_env(tmp_path, request.param, POSTGRES_URL, "registry_check")
    cli(env, "demo")
    try:
        yield env
    finally:
        drop_database(env)


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "check", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_names_a_tampered_payload(demo_env: dict[str, str], tmp_path: Path):
    ok = _run(demo_env)
    assert ok.returncode == EXIT_OK, ok.stderr
    assert ok.stdout.startswith("verified "), ok.stdout
    assert "checking" in ok.stderr  # the progress bar, on stderr

    url = demo_env.get("REGISTRY_DATABASE_URL") or f"sqlite:///{tmp_path / 'data' / 'registry.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        index, payload = connection.execute(
            select(Record.log_index, Record.payload)
            .where(Record.kind == "storage")
            .order_by(Record.log_index)
        ).first()
        tampered = payload.replace(b'"time":"20', b'"time":"21', 1)
        connection.execute(update(Record).where(Record.log_index == index).values(payload=tampered))
    engine.dispose()
    failed = _run(demo_env, "--quiet")
    assert failed.returncode == EXIT_FAILED, (failed.stdout, failed.stderr)
    assert failed.stdout.startswith(f"FAILED at log index {index} (kind storage): "), failed.stdout
    assert "the payload was altered" in failed.stdout
