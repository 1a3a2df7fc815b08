"""Measure ``registry audit`` speed: records verified per second (docs/audit.md).

    python -m bench.audit_speed [N]        # default N = 20000

Builds a throw-away SQLite registry with the demo dataset plus N signed records (harvests,
each followed by a storage step, so every batch has a chain), serves it with
``registry serve`` in its own process on 127.0.0.1, and times:

* a first audit: mirror everything over HTTP, rebuild the tree, replay every record;
* a second audit with nothing new: re-verify the whole mirror (what every later run pays);
* the replay alone (leaf/payload checks, signatures, policy, chains), no network;
* ``registry check`` on the registry's own database (payloads, leaves, tree nodes, root,
  checkpoint, signatures), with the audit's signature workers and in one thread (the
  server's background check runs that way, at most half the time).

The served registry's own background check is switched off, so that the audits are timed
alone.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import secrets
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.servers import Server
from registry.audit import Mirror, _Audit, run_audit
from registry.audit.selfcheck import SelfCheck
from registry.context import RegistryContext
from registry.crypto.dsse import sign_envelope
from registry.crypto.jcs import canonicalize
from registry.db import make_engine, make_session_factory, transaction, upgrade
from registry.demo import demo_id, load_demo
from registry.log.note import parse_vkey
from registry.models import Account
from registry.operations.bootstrap import bootstrap
from registry.records import custodial
from registry.records import ingest as record_service
from registry.records.schema import RECORD_PAYLOAD_TYPE
from registry.settings import Settings
from registry.transparency.log import log_vkey

BATCH = 500


def _append_records(factory: Any, ctx: RegistryContext, count: int) -> None:
    product = demo_id("product:millet")
    written = 0
    while written < count:
        with transaction(factory) as session:
            clerk = session.scalars(select(Account).where(Account.username == "aohan-clerk")).one()
            signer = custodial.custodial_signer(session, ctx, clerk)
            when = (ctx.clock() - timedelta(days=1)).astimezone().isoformat(timespec="seconds")
            envelopes = []
            for _ in range(min(BATCH, count - written) // 2):
                ref = f"{product}:B{written:08d}"
                harvest = {
                    "kind": "harvest",
                    "time": when,
                    "org": str(clerk.organization_id),
                    "batches": [ref],
                    "prev": {ref: None},
                    "quantity": "1000",
                    "unit": "kg",
                    "harvest_date": when[:10],
                    "place": {"region": "150430"},
                }
                payload = canonicalize(harvest)
                storage = {
                    "kind": "storage",
                    "time": when,
                    "org": str(clerk.organization_id),
                    "batches": [ref],
                    "prev": {ref: hashlib.sha256(payload).hexdigest()},
                    "location": "silo",
                    "readings": [{"time": when, "celsius": "14.5"}],
                }
                for document in (harvest, storage):
                    envelopes.append(
                        sign_envelope(RECORD_PAYLOAD_TYPE, canonicalize(document), [signer])
                    )
                written += 2
            record_service.submit_many(session, ctx, envelopes, None)
        print(f"\r  appended {written}/{count}", file=sys.stderr, end="")
    print(file=sys.stderr)


def _timed_audit(url: str, state: Path) -> tuple[float, str]:
    out = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = run_audit(url, state, vkey=None, witnesses=[], quiet=True)
    elapsed = time.perf_counter() - started
    assert code == 0, out.getvalue()
    return elapsed, out.getvalue().strip()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    workdir = Path(tempfile.mkdtemp(prefix="audit-speed-"))
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": f"sqlite:///{workdir / 'registry.db'}",
        "REGISTRY_DATA_DIR": str(workdir / "data"),
        "REGISTRY_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "REGISTRY_INTEGRITY_CHECK": "false",
    }
    # The server's address is the registry's base URL, which names the log (its origin).
    server = Server(env, workers=1, log_path=workdir / "server.log")
    env["REGISTRY_BASE_URL"] = server.base
    settings = Settings(
        data_dir=Path(env["REGISTRY_DATA_DIR"]),
        database_url=env["REGISTRY_DATABASE_URL"],
        master_key=env["REGISTRY_MASTER_KEY"],
        base_url=env["REGISTRY_BASE_URL"],
    )
    upgrade(settings.effective_database_url)
    factory = make_session_factory(make_engine(settings.effective_database_url))
    ctx = bootstrap(factory, settings)
    load_demo(factory, ctx)
    print(f"appending {count} records to the demo registry …", file=sys.stderr)
    _append_records(factory, ctx, count)

    state = workdir / "audit-state"
    with server:
        first, summary = _timed_audit(server.base, state)
        second, _ = _timed_audit(server.base, state)
    size = int(summary.split()[1])
    with Mirror(state) as mirror:
        before, started = os.times(), time.perf_counter()
        _Audit(mirror, None, None)._replay(mirror.rows(0, size), size)  # type: ignore[arg-type]
        replay, after = time.perf_counter() - started, os.times()
    main_cpu = after.user + after.system - before.user - before.system
    log_key = parse_vkey(log_vkey(ctx))
    checks = []
    for workers in (None, 0):
        t0, started = os.times(), time.perf_counter()
        checked = SelfCheck(log_key, workers=workers).run(factory)
        seconds, t1 = time.perf_counter() - started, os.times()
        cpu = (t1.user + t1.system - t0.user - t0.system) + (
            t1.children_user + t1.children_system - t0.children_user - t0.children_system
        )
        checks.append((workers, seconds, checked.size, cpu))
    worker_cpu = (
        after.children_user + after.children_system - before.children_user - before.children_system
    )
    print(summary)
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f} (other work slows all)")
    for name, seconds in (
        ("first audit (mirror over HTTP + verify)", first),
        ("second audit (nothing new, re-verify)", second),
        ("replay only (no network)", replay),
    ):
        print(f"{name:<42} {seconds:6.2f} s {size / seconds:8,.0f} records/s")
    for workers, seconds, checked_size, cpu in checks:
        name = "registry check (signature workers)" if workers is None else "self-check, one thread"
        print(
            f"{name:<42} {seconds:6.2f} s {checked_size / seconds:8,.0f} records/s "
            f"(CPU {cpu:.2f} s: {checked_size / max(cpu, 1e-9):,.0f} records per CPU second)"
        )
    # CPU time does not depend on what else the machine runs: with the main process and the
    # signature workers each on their own core, the replay runs at the slower one's pace.
    print(
        f"replay CPU: main {main_cpu:.2f} s, signature workers {worker_cpu:.2f} s; "
        f"on {os.cpu_count()} idle cores ≈ {size / max(main_cpu, worker_cpu, 1e-9):,.0f} records/s"
    )


if __name__ == "__main__":
    main()
