"""The published scan path in ``registry bench`` (docs/scaling.md, "Published files").

Side by side in one run on the same machine, with wrk (``-t2 -c64``, phones'
``Accept-Encoding: gzip, deflate, br``), interleaved rounds:

- ``static_hello``: nginx (deploy/nginx.conf) serving a 2 KB file: the machine's limit;
- ``published``: a scan as nginx serves it from the published directory, the consumer page
  and its verification document alternately (what one viewer's phone fetches);
- ``python``: the same two requests answered by ``registry serve`` itself.

``published_scan_ratio`` is published ÷ python, ``published_vs_static`` published ÷
static_hello. Then, with wrk still driving the published scan, records are written into the
scanned endorsement's chain from another process (a storage record of a covered batch, the
kind of change every viewer must see) and the time from each commit to the published
document carrying it is measured: ``publish_latency_p50_ms`` / ``_p99_ms``.

At scale (``run_publish_scale``): a log of ``tree.size`` synthetic leaves plus the demo; the
publisher's cost per record appended, in batches and one record at a time.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bench import nginx, proof_bench
from bench.common import latency_ms
from bench.databases import Databases
from bench.load import parse_wrk
from bench.phases import prepare
from bench.plan import Plan
from bench.progress import say
from bench.servers import Server
from registry.crypto.dsse import Envelope
from registry.db import make_engine, make_session_factory, transaction
from registry.demo.writer import DemoWriter
from registry.models import Account, Batch, Record
from registry.operations.bootstrap import bootstrap
from registry.publishing.targets import DirectoryTarget
from registry.records import ingest as record_ingest
from registry.settings import Settings

HELLO = json.dumps({"hello": "world", "padding": "x" * 2000}).encode()[:2048]
ACCEPT = "Accept-Encoding: gzip, deflate, br"


def _wrk_command(connections: int, seconds: int, script: str, base: str) -> list[str]:
    return [
        *("wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"),
        *("-H", ACCEPT, "-s", script, base),
    ]


def _wrk(base: str, paths: list[str], seconds: float, connections: int) -> dict[str, Any]:
    """wrk over ``paths`` in turn (a Lua request generator), like phones scanning."""
    script = "local paths = {" + ", ".join(json.dumps(p) for p in paths) + "}\n"
    script += (
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\n'
        "end\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    done = subprocess.run(
        _wrk_command(connections, max(1, round(seconds)), lua.name, base),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    Path(lua.name).unlink()
    return parse_wrk(done.stdout)


def _storage_writer(url: str, data_dir: Path, master_key: str, code: str) -> Any:
    """A function writing one storage record on a batch the endorsement ``code`` covers, as
    the batch's holder, from this process; returns (log index, commit time)."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    settings = Settings(data_dir=data_dir, database_url=url, master_key=master_key)
    ctx = bootstrap(factory, settings)
    from registry.endorsements.published import covered_batches, get_endorsement

    with factory() as session:
        endorsement = get_endorsement(session, code)
        batch: Batch = covered_batches(session, endorsement)[0]
        ref = f"{batch.product_id}:{batch.lot}"
        holder = session.scalars(
            select(Account.username).where(Account.organization_id == batch.holder_org_id)
        ).first()
    assert holder is not None

    def write() -> tuple[int, float]:
        with transaction(factory) as session:
            at = (ctx.clock() - timedelta(seconds=2)).astimezone().isoformat(timespec="seconds")
            DemoWriter(session, ctx).record(
                holder,
                {
                    "kind": "storage",
                    "time": at,
                    "batches": [ref],
                    "location": "直播期间抽检 spot check during the stream",
                    "readings": [{"time": at, "celsius": "4.0"}],
                },
            )
            index = int(  # the storage record, not the status index after it
                session.scalars(
                    select(Record.log_index)
                    .where(Record.kind == "storage")
                    .order_by(Record.log_index.desc())
                    .limit(1)
                ).one()
            )
        return index, time.monotonic()

    return write, engine


def _carries(document_path: Path, index: int) -> bool:
    try:
        document = json.loads(document_path.read_bytes())
    except (OSError, ValueError):
        return False
    return any(entry["index"] == index for entry in document["chain"])


def run_published(
    backend: str, plan: Plan, dbs: Databases, workdir: Path, workers: int
) -> dict[str, Any]:
    """The three scan rates side by side, then the status-change-to-published latency."""
    say(f"{backend}: published scan path (nginx from the published directory vs. Python)")
    url = dbs.fresh(backend, "published")
    prepared = prepare(url, workdir / f"data-published-{backend}", 0)
    root = workdir / f"published-{backend}"
    env = {**prepared.env, "REGISTRY_PUBLISH_DIR": str(root)}
    code = prepared.code
    document = root / "e" / code / "verify.json"
    out: dict[str, Any] = {"workers": workers, "code": code}
    with Server(env, workers, workdir / f"serve-published-{backend}.log") as server:
        deadline = time.monotonic() + 120
        while not (document.exists() and (root / "log" / "checkpoint").exists()):
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not publish within 120 s")
            time.sleep(0.1)
        # Precompressed like every published file: nginx then only sends a file.
        DirectoryTarget(root).write("static/bench-hello.json", HELLO)
        upstream = server.base.removeprefix("http://")
        with nginx.Nginx(root, upstream, workdir / f"nginx-{backend}") as front:
            scan = [f"/e/{code}", f"/e/{code}/verify.json"]
            targets = {
                "static_hello": (front.base, ["/static/bench-hello.json"]),
                "published": (front.base, scan),
                "python": (server.base, scan),
            }
            for base, paths in targets.values():  # warm: every worker builds its entry
                _wrk(base, paths, 1.0, plan.connections)
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
            for _ in range(plan.scan_rounds):
                for name, (base, paths) in targets.items():
                    result = _wrk(base, paths, plan.scan_seconds, plan.connections)
                    if result["non_2xx"]:
                        raise RuntimeError(f"{name}: error responses under load: {result}")
                    runs[name].append(result)
            for name in targets:
                out[name] = {
                    key: round(float(statistics.median(r[key] for r in runs[name])), 3)
                    for key in ("rps", "p50_ms", "p99_ms")
                }
            out["runs"] = runs
            out["published_scan_ratio"] = round(out["published"]["rps"] / out["python"]["rps"], 2)
            out["published_vs_static"] = round(
                out["published"]["rps"] / out["static_hello"]["rps"], 3
            )
            out["latency"] = _latency_under_load(prepared, root, document, front.base, plan)
    return out


def _latency_under_load(
    prepared: Any, root: Path, document: Path, base: str, plan: Plan
) -> dict[str, Any]:
    """Commit-to-published times of records written into the scanned chain while wrk scans."""
    changes = 8 if plan.scan_rounds == 1 else 30
    code = prepared.code
    write, engine = _storage_writer(
        prepared.url,
        Path(prepared.env["REGISTRY_DATA_DIR"]),
        prepared.env["REGISTRY_MASTER_KEY"],
        code,
    )
    seconds = changes * 0.7 + 5
    script_paths = [f"/e/{code}", f"/e/{code}/verify.json"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(
            "local paths = {" + ", ".join(json.dumps(p) for p in script_paths) + "}\n"
            "local i = 0\nrequest = function()\n  i = i % #paths + 1\n"
            '  return wrk.format("GET", paths[i])\nend\n'
        )
    load = subprocess.Popen(
        _wrk_command(plan.connections, round(seconds), lua.name, base),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    samples: list[float] = []
    try:
        time.sleep(1.0)
        for _ in range(changes):
            index, committed = write()
            while not _carries(document, index):
                if time.monotonic() - committed > 10:
                    raise RuntimeError(f"record {index} not published within 10 s")
                time.sleep(0.002)
            samples.append(time.monotonic() - committed)
            time.sleep(0.3)
    finally:
        output, _ = load.communicate(timeout=seconds + 30)
        Path(lua.name).unlink()
        engine.dispose()
    result = latency_ms(samples)
    return {
        "changes": len(samples),
        **result,
        "scan_load": parse_wrk(output),
        "root": str(root),
    }


def run_publish_scale(
    backend: str, plan: Plan, dbs: Databases, workdir: Path, tree: proof_bench.ProofTree
) -> dict[str, Any]:
    """The publisher's cost per appended record in a log of ``tree.size`` leaves."""
    from app.publishing import make_publisher

    say(f"{backend}: publishing at {tree.size:,} leaves")
    url = dbs.fresh(backend, "publish-scale")
    engine = make_engine(url)
    try:
        proof_bench.load_proof_tree(engine, tree, 50_000)
        # The synthetic leaves have no records; give the last partial bundle's its rows.
        first = tree.size - tree.size % 256
        now = datetime.now(UTC)
        with engine.begin() as connection:
            rows: list[dict[str, Any]] = [
                {
                    "log_index": i,
                    "digest": f"{i:064x}",
                    "kind": "bench",
                    "payload_type": "application/octet-stream",
                    "payload": None,
                    "signatures": [],
                    "leaf": proof_bench.synthetic_leaf(i),
                    "record_time": now,
                    "logged_at": now,
                }
                for i in range(first, tree.size)
            ]
            if rows:
                connection.execute(insert(Record), rows)
    finally:
        engine.dispose()
    records = 2_000 if plan.scan_rounds == 1 else 10_000
    prepared = prepare(url, workdir / f"data-publish-scale-{backend}", records + 50)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        settings = Settings(
            data_dir=Path(prepared.env["REGISTRY_DATA_DIR"]),
            database_url=url,
            master_key=prepared.env["REGISTRY_MASTER_KEY"],
        )
        ctx = bootstrap(factory, settings)
        publisher = make_publisher(factory, lambda: ctx, settings, str(workdir / f"pub-{backend}"))
        publisher.state.tiles_size = tree.size  # the synthetic part's tiles: not measured
        started = time.perf_counter()
        first_step = publisher.step()
        initial = time.perf_counter() - started
        with factory() as session:
            account = session.get_one(Account, _clerk_id(session))
        envelopes = [Envelope.from_json(e) for e in prepared.envelopes]
        batch, done, publish_s = 256, 0, 0.0
        batched = envelopes[:records]
        while done < len(batched):
            chunk = batched[done : done + batch]
            with transaction(factory) as session:
                record_ingest.submit_many(session, ctx, chunk, account)
            started = time.perf_counter()
            publisher.step()
            publish_s += time.perf_counter() - started
            done += len(chunk)
        singles = []
        for envelope in envelopes[records : records + 50]:
            with transaction(factory) as session:
                record_ingest.submit_many(session, ctx, [envelope], account)
            started = time.perf_counter()
            publisher.step()
            singles.append(time.perf_counter() - started)
    finally:
        engine.dispose()
    return {
        "leaves": tree.size,
        "initial_step_s": round(initial, 3),
        "initial_codes": len(first_step.codes),
        "records": done,
        "batch": batch,
        "publish_ms_per_record": round(publish_s / done * 1000, 4),
        "single_record_step": latency_ms(singles),
    }


def _clerk_id(session: Any) -> Any:
    from bench.log_bench import CLERK

    return session.scalars(select(Account.id).where(Account.username == CLERK)).one()


def report(results: dict[str, Any], summary: dict[str, Any]) -> str:
    """The published scan path's lines of the bench's printed report."""
    lines = []
    for backend, p in results.get("published", {}).items():
        lines.append(
            f"{backend}: scan (page + document) req/s: nginx static hello "
            f"{p['static_hello']['rps']:,.0f}, published {p['published']['rps']:,.0f} "
            f"(p99 {p['published']['p99_ms']} ms), Python {p['python']['rps']:,.0f} "
            f"(p99 {p['python']['p99_ms']} ms); published ÷ Python {p['published_scan_ratio']}×, "
            f"÷ static {p['published_vs_static']}; change → published p50 "
            f"{p['latency']['p50_ms']:.0f} ms, p99 {p['latency']['p99_ms']:.0f} ms "
            f"(n={p['latency']['n']}, under {p['latency']['scan_load']['rps']:,.0f} scan req/s)"
        )
    for backend, s in results.get("publish_scale", {}).items():
        lines.append(
            f"{backend}: publishing at {s['leaves']:,} leaves: {s['publish_ms_per_record']} ms "
            f"per record (batches of {s['batch']}), one-record step p50 "
            f"{s['single_record_step']['p50_ms']:.1f} ms"
        )
    return "\n".join(lines)
