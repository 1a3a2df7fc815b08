"""The ingestion benchmark: prepared signed envelopes posted through
``POST /api/v1/records/batch`` by several clients at once, in records per second."""

from __future__ import annotations

import collections
import concurrent.futures
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import orjson

from registry.settings import Settings


def _chunks(
    envelopes: Sequence[dict[str, Any]], max_bytes: int, cap: int, group: int = 1
) -> Iterator[bytes]:
    """Request bodies of as many envelopes as fit ``max_bytes`` (and ``cap``), never
    splitting a run of ``group`` consecutive envelopes (a lot's chain) between two bodies."""
    batch: list[bytes] = []
    size = 20
    for start in range(0, len(envelopes), group):
        encoded = [orjson.dumps(e) for e in envelopes[start : start + group]]
        length = sum(len(e) + 1 for e in encoded)
        if batch and (size + length > max_bytes or len(batch) + len(encoded) > cap):
            yield b'{"envelopes":[' + b",".join(batch) + b"]}"
            batch, size = [], 20
        batch.extend(encoded)
        size += length
    if batch:
        yield b'{"envelopes":[' + b",".join(batch) + b"]}"


# Bulk ingestion is posted by this many clients at once (a cooperative's and a lab's systems
# uploading together): one request verifies its signatures while another holds the log's
# append lock or waits on the database.
INGEST_STREAMS = 2


def bench_ingest(
    base: str,
    token: str,
    envelopes: list[dict[str, Any]],
    budget_s: float,
    lot_size: int,
    streams: int = INGEST_STREAMS,
) -> dict[str, Any]:
    """POST the prepared envelopes through ``/api/v1/records/batch`` from ``streams``
    clients at once; records per second."""
    # The server runs with the default body limit (prepare() passes no REGISTRY_MAX_BODY_BYTES).
    max_bytes = int(Settings.model_fields["max_body_bytes"].default) - 4096
    bodies = list(_chunks(envelopes, max_bytes, 1000, lot_size))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(client: httpx.Client, body: bytes) -> int:
        response = client.post("/api/v1/records/batch", content=body)
        if response.status_code != 201:
            raise RuntimeError(f"batch refused: {response.status_code} {response.text[:500]}")
        return len(response.json()["records"])

    # Each stream posts its own lots (the bodies are whole lots, chained within themselves).
    queue = collections.deque(bodies[1:])
    lock = threading.Lock()
    started = 0.0

    def stream() -> tuple[int, int]:
        done = requests = 0
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            while time.perf_counter() - started <= budget_s:
                with lock:
                    if not queue:
                        break
                    body = queue.popleft()
                done += post(client, body)
                requests += 1
        return done, requests

    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        # The first request is not timed: it pays for the first use of every code path.
        warm_started = time.perf_counter()
        warm = post(client, bodies[0])
        warm_s = time.perf_counter() - warm_started
    with concurrent.futures.ThreadPoolExecutor(streams) as pool:
        started = time.perf_counter()
        results = list(pool.map(lambda _: stream(), range(streams)))
        elapsed = time.perf_counter() - started
    done = sum(r[0] for r in results)
    requests = sum(r[1] for r in results)
    return {
        "records": done,
        "requests": requests,
        "streams": streams,
        "per_request": round(done / max(requests, 1)),
        "seconds": round(elapsed, 3),
        "per_s": round(done / elapsed, 1),
        "warmup": {"records": warm, "seconds": round(warm_s, 3)},
    }
