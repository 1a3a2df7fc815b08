"""The log under real load: parallel writers across server workers never leave a gap or a
duplicate, and a server killed with SIGKILL mid-stream loses no acknowledged record."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from registry.log.merkle import MemoryNodeStore, leaf_hash
from registry.log.note import Checkpoint
from tests.conftest import POSTGRES_URL
from tests.support import cli, drop_database, free_port, registry_env, running_registry

# Who may store which demo lots (docs/records.md, "Custody"): the producer and the holder of
# the raw millet, the mill and its carrier of the bagged millet, the egg carrier of the eggs.
# Several of them writing to the same batches at once is the hardest case for the per-batch
# chain and the log index.
WRITERS = {
    "mengdong-driver": ("GF2026",),
    "heze-driver": ("SX2026",),
    "mill-clerk": ("AH2026", "GF2026"),
    "aohan-clerk": ("AH2026",),
}


def _tokens(env: dict[str, str]) -> dict[str, str]:
    return {u: cli(env, "admin", "create-token", "--username", u).strip() for u in WRITERS}


def _batches(base: str) -> dict[str, list[str]]:
    """The lots each writer may store."""
    items = httpx.get(f"{base}/api/v1/batches?limit=100").json()["items"]
    return {u: [b["ref"] for b in items if b["lot"].startswith(p)] for u, p in WRITERS.items()}


def _storage(ref: str, n: int) -> dict[str, object]:
    return {
        "kind": "storage",
        "batches": [ref],
        "location": f"仓库 {n}",
        "readings": [{"time": "2026-11-20T08:00:00+08:00", "celsius": f"{n % 20}.5"}],
    }


def _write(base: str, token: str, refs: list[str], count: int, acked: list, stop=None) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        for n in range(count):
            if stop is not None and stop.is_set():
                return
            response = client.post(
                "/api/v1/records/custodial",
                json=_storage(refs[n % len(refs)], n),
                headers={"Authorization": f"Bearer {token}"},
            )
            if response.status_code == 201:
                body = response.json()
                acked.append((body["index"], body["digest"]))
            else:
                assert response.status_code in (403, 409), response.text


def _served_checkpoint(base: str) -> Checkpoint:
    return Checkpoint.parse(
        "\n".join(httpx.get(f"{base}/log/checkpoint").text.split("\n\n")[0].splitlines()) + "\n"
    )


def _check_log(base: str, acked: list[tuple[int, str]]) -> int:
    # With witnesses (the demo runs one) the served head is the newest cosigned one, or one
    # that waited out the cosignature grace period: wait until it covers every acknowledged
    # record.
    wanted = max((i for i, _ in acked), default=-1) + 1
    deadline = time.monotonic() + 60
    checkpoint = _served_checkpoint(base)
    while checkpoint.size < wanted and time.monotonic() < deadline:
        time.sleep(0.5)
        checkpoint = _served_checkpoint(base)
    store = MemoryNodeStore()
    digests: dict[int, str] = {}
    for start in range(0, checkpoint.size, 1000):
        page = httpx.get(
            f"{base}/log/entries", params={"start": start, "end": checkpoint.size}
        ).json()["entries"]
        for entry in page:
            assert entry["index"] == store.size, f"gap or duplicate at index {store.size}"
            store.append(leaf_hash(base64.b64decode(entry["leaf"])))
            digests[entry["index"]] = entry["digest"]
    assert store.size == checkpoint.size
    assert store.root() == checkpoint.root_hash, "served leaves do not hash to the checkpoint"
    for index, digest in acked:
        assert digests.get(index) == digest, f"acknowledged record {index} is missing or changed"
    return checkpoint.size


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_parallel_writers_across_workers_keep_the_log_contiguous(backend, tmp_path: Path):
    env = registry_env(tmp_path, backend, POSTGRES_URL, "registry_parallel")
    try:
        with running_registry(env, tmp_path / "serve.log", "--demo", "--workers", "2") as base:
            tokens = _tokens(env)
            refs = _batches(base)
            before = _check_log(base, [])
            acked: list[tuple[int, str]] = []
            threads = [
                threading.Thread(target=_write, args=(base, tokens[u], refs[u], 15, acked))
                for u in WRITERS
                for _ in range(2)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=240)
            assert len(acked) >= 100, f"only {len(acked)} of 120 writes were acknowledged"
            assert len({i for i, _ in acked}) == len(acked), "two writes got the same index"
            after = _check_log(base, acked)
            assert after == before + 2 * len(acked)  # each write ends with its status index
    finally:
        drop_database(env)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigkill_during_writes_loses_no_acknowledged_record(backend, tmp_path: Path):
    env = registry_env(tmp_path, backend, POSTGRES_URL, "registry_crash")
    port = free_port()
    env["REGISTRY_BASE_URL"] = f"http://127.0.0.1:{port}"
    cli(env, "demo")  # migrate and load before the server starts
    tokens = _tokens(env)
    log = (tmp_path / "serve.log").open("a")
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = env["REGISTRY_BASE_URL"]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.2)
        refs = _batches(base)
        acked: list[tuple[int, str]] = []
        stop = threading.Event()

        def writer(user: str) -> None:
            with contextlib.suppress(httpx.TransportError):  # the server dies under us
                _write(base, tokens[user], refs[user], 10_000, acked, stop)

        threads = [threading.Thread(target=writer, args=(u,)) for u in WRITERS]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acked) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(server.pid, signal.SIGKILL)  # mid-stream: requests are in flight
        server.wait(timeout=30)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        assert len(acked) >= 40, "too few writes before the kill to mean anything"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()

    try:
        with running_registry(env, tmp_path / "serve.log", port=port) as base:
            _check_log(base, acked)
            from registry.audit import run_audit

            assert run_audit(base, tmp_path / "audit", vkey=None, witnesses=[], quiet=True) == 0
    finally:
        drop_database(env)
