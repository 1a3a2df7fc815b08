"""Load generation for the scan benchmarks: ``wrk`` when it is installed (``-t2``,
``Accept-Encoding: gzip`` as phones send), else a small asyncio HTTP/1.1 keep-alive client
that saturates before the server does (its ratios overstate the scan path)."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from typing import Any

import httpx

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNIT_MS[unit]


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, latency percentiles and errors from ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rps is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    percentiles = {
        f"p{q}_ms": round(_ms(v), 3)
        for q, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.M)
    }
    requests = re.search(r"(\d+) requests in", output)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rps": round(float(rps.group(1)), 1),
        **percentiles,
        "requests": int(requests.group(1)) if requests else 0,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


def run_wrk(url: str, seconds: float, connections: int) -> dict[str, Any]:
    done = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-H",
            "Accept-Encoding: gzip",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return parse_wrk(done.stdout)


async def _python_load(url: str, seconds: float, connections: int) -> dict[str, Any]:
    """A minimal HTTP/1.1 keep-alive load generator (the fallback without wrk)."""
    parsed = httpx.URL(url)
    request = (
        f"GET {parsed.raw_path.decode()} HTTP/1.1\r\nHost: {parsed.host}:{parsed.port}\r\n"
        "Accept-Encoding: gzip\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    statuses = {"ok": 0, "bad": 0}
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if length:
                    await reader.readexactly(int(length.group(1)))
                latencies.append(time.perf_counter() - started)
                statuses["ok" if head[9:10] in (b"2", b"3") else "bad"] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000, 3)

    return {
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "requests": len(latencies),
        "non_2xx": statuses["bad"],
        "socket_errors": 0,
    }


def load_generator() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def drive(url: str, seconds: float, connections: int) -> dict[str, Any]:
    if load_generator() == "wrk":
        return run_wrk(url, seconds, connections)
    return asyncio.run(_python_load(url, seconds, connections))
