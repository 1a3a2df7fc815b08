"""``registry serve`` as a subprocess for the benchmarks: started on a free port of
127.0.0.1 in its own process group, its worker processes and their memory (VmRSS)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def stop_group(
    process: subprocess.Popen[Any], sig: signal.Signals = signal.SIGTERM, timeout: float = 30
) -> None:
    """Stop a process started as its own group (``start_new_session``), every worker of it:
    ``sig``, then SIGKILL if it has not ended within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in task.read_text().split()]
    return found


def _rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


class Server:
    """``registry serve`` in its own process group, on 127.0.0.1."""

    def __init__(self, env: dict[str, str], workers: int, log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.env = {
            **env,
            "REGISTRY_BASE_URL": self.base,
            "REGISTRY_BENCH_HELLO": "1",
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # so a stop reaches every worker
            )
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"registry serve exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("registry serve did not come up within 120 s")
            time.sleep(0.2)
        if self.workers > 1:  # every worker up (each answers /healthz on its own)
            deadline = time.monotonic() + 60
            while len(self.worker_pids()) < self.workers and time.monotonic() < deadline:
                time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            stop_group(self.process)

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the server itself with one worker, else its
        spawned workers (not uvicorn's supervisor, not multiprocessing's tracker)."""
        assert self.process is not None
        if self.workers == 1:
            return [self.process.pid]
        return [
            pid
            for pid in _children(self.process.pid)
            if "spawn_main" in _cmdline(pid) and "resource_tracker" not in _cmdline(pid)
        ]

    def memory(self) -> dict[str, Any]:
        assert self.process is not None
        pending, tree = [self.process.pid], []
        while pending:
            pid = pending.pop()
            tree.append(pid)
            pending += _children(pid)
        workers = [round(_rss_mb(pid), 1) for pid in self.worker_pids()]
        return {
            "per_worker_mb": workers,
            "max_worker_mb": max(workers, default=0.0),
            "total_mb": round(sum(_rss_mb(pid) for pid in tree), 1),
            "processes": len(tree),
        }
