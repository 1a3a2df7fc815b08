"""``registry bench``: it runs (quick) and writes every top-level key it promises. Its numbers
are not judged here (this machine may be busy); docs/performance.md records measured runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.ingest import _chunks
from bench.load import parse_wrk
from bench.suite import summarize
from tests.conftest import POSTGRES_URL

REQUIRED = ("scan_ratio", "scan_p99_ms", "ingest_per_s", "trace_p50_ms", "proof_p50_ms")
REQUIRED += ("audit_per_s",)

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:8000/bench/hello
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.95ms    3.01ms  40.60ms   85.96%
    Req/Sec     4.07k   334.32     4.56k    80.00%
  Latency Distribution
     50%    7.37ms
     75%    8.85ms
     90%   10.77ms
     99%    1.02s
  16213 requests in 2.01s, 2.49MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   8066.12
Transfer/sec:      1.24MB
"""


def test_parse_wrk():
    parsed = parse_wrk(WRK_OUTPUT)
    assert parsed["rps"] == 8066.1
    assert parsed["p50_ms"] == 7.37 and parsed["p99_ms"] == 1020.0
    assert parsed["requests"] == 16213 and parsed["non_2xx"] == 3


def test_ingest_bodies_fit_the_limit_and_keep_the_order():
    envelopes = [
        {"payload": "x" * 700, "payloadType": "t", "signatures": [{"n": i}]} for i in range(900)
    ]
    bodies = list(_chunks(envelopes, 64 * 1024, 1000))
    assert all(len(b) <= 64 * 1024 for b in bodies)
    decoded = [e for b in bodies for e in json.loads(b)["envelopes"]]
    assert decoded == envelopes


def test_summary_takes_the_worst_backend():
    def serving(ratio: float, p99: float, ingest: float) -> dict[str, object]:
        scan = {
            "hello": {"rps": 100.0, "p99_ms": 1.0},
            "verify": {"rps": 100 * ratio, "p99_ms": p99, "ratio": ratio, "ratio_raw": ratio / 2},
            "page": {"rps": 90.0, "p99_ms": 2.0, "ratio": 0.9, "ratio_raw": 0.5},
            "hello_raw": {"rps": 200.0, "p99_ms": 1.0},
        }
        return {
            "scan": scan,
            "ingest": {"per_s": ingest},
            "audit": {"per_s": 6000.0},
            "memory": {"max_worker_mb": 120.0},
            "workers": 1,
        }

    summary = summarize(
        {"serving": {"sqlite": serving(0.9, 10.0, 2500), "postgresql": serving(0.7, 60.0, 3000)}}
    )
    assert summary["scan_ratio"] == 0.7 and summary["scan_p99_ms"] == 60.0
    assert summary["ingest_per_s"] == 2500
    assert summary["met"]["scan_ratio"] is False and summary["met"]["audit_per_s"] is True


def test_registry_bench_quick_writes_every_key(tmp_path: Path):
    out = tmp_path / "bench.json"
    server = make_url(POSTGRES_URL).set(database="postgres").render_as_string(hide_password=False)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "app.cli", "bench", "--quick"),
            *("--json", str(out), "--postgres-url", server),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,  # nothing written next to the sources
    )
    assert done.returncode == 0, f"registry bench failed:\n{done.stdout}\n{done.stderr[-3000:]}"
    data = json.loads(out.read_text())
    missing = [k for k in REQUIRED if not isinstance(data.get(k), int | float)]
    assert not missing, f"bench JSON lacks {missing}: {sorted(data)}"
    assert all(data[k] > 0 for k in REQUIRED), {k: data[k] for k in REQUIRED}
    assert set(data["serving"]) == {"sqlite", "postgresql"}
    assert data["rss_mb_per_worker"] > 0 and data["quick"] is True
    assert "scan_ratio" in done.stdout and "targets:" in done.stdout, done.stdout
    assert "judge the targets by a full run" in done.stdout, done.stdout  # says it is quick
    # the machine's own speed, so a reader can tell a slow machine from slow code
    speeds = data["machine"]["verify_per_s"]
    assert len(speeds) == 2 and all(s > 100 for s in speeds), speeds
    assert data["machine"]["speed_vs_reference"] > 0
    assert data["machine"]["hello_vs_reference"] > 0
    assert "machine speed:" in done.stdout, done.stdout
