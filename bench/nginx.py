"""deploy/nginx.conf, run for real on 127.0.0.1: for the tests and ``registry bench``.

The deployment's config is rendered with this run's values (published directory, registry
address, port, log and pid paths) by plain substitution of the four deployment values the
file names, so what is tested and measured is the shipped file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from bench.servers import stop_group

REPO = Path(__file__).resolve().parents[1]
DEPLOY_CONF = REPO / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def available() -> bool:
    """Whether Debian's nginx (with the brotli_static module) is installed."""
    return Path(NGINX).exists() and Path("/etc/nginx/modules-enabled").is_dir()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def render(published: Path, upstream: str, port: int, workdir: Path, workers: int = 1) -> str:
    """deploy/nginx.conf with this run's directory, upstream (``host:port``), port and paths."""
    text = DEPLOY_CONF.read_text()
    user = "user root;" if os.geteuid() == 0 else ""
    replacements = {
        "user www-data;": user,
        "worker_processes auto;": f"worker_processes {workers};",
        "pid /run/nginx.pid;": f"pid {workdir / 'nginx.pid'};",
        "/var/log/nginx/": f"{workdir}/",
        "/var/lib/registry/published": str(published),
        "server 127.0.0.1:8000;": f"server {upstream};",
        "listen 80 reuseport;": f"listen 127.0.0.1:{port} reuseport;",
        "    server_tokens off;": (
            "    server_tokens off;\n"
            f"    client_body_temp_path {workdir}/body;\n"
            f"    proxy_temp_path {workdir}/proxy;\n"
            f"    fastcgi_temp_path {workdir}/fastcgi;\n"
            f"    uwsgi_temp_path {workdir}/uwsgi;\n"
            f"    scgi_temp_path {workdir}/scgi;"
        ),
    }
    for old, new in replacements.items():
        if old not in text:
            raise RuntimeError(f"deploy/nginx.conf no longer says {old!r}")
        text = text.replace(old, new)
    return text


class Nginx:
    """deploy/nginx.conf served by nginx on a free port of 127.0.0.1 until the block ends."""

    def __init__(self, published: Path, upstream: str, workdir: Path, workers: int = 1) -> None:
        self.published = Path(published)
        self.upstream = upstream
        self.workdir = Path(workdir)
        self.workers = workers
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.scan_log = self.workdir / "registry-scans.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Nginx:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.published / ".publish").mkdir(parents=True, exist_ok=True)
        headers = self.published / ".publish" / "nginx-page-headers.conf"
        if not headers.exists():  # before the first publish: an empty snippet
            headers.write_text("")
        conf = self.workdir / "nginx.conf"
        conf.write_text(
            render(self.published, self.upstream, self.port, self.workdir, self.workers)
        )
        log = (self.workdir / "nginx.out").open("ab")
        self.process = subprocess.Popen(
            [NGINX, "-e", str(self.workdir / "error.log"), "-c", str(conf), "-g", "daemon off;"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    "nginx exited: "
                    + (self.workdir / "error.log").read_text(errors="replace")[-2000:]
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("nginx did not listen within 20 s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            stop_group(self.process, signal.SIGQUIT, timeout=10)  # nginx's graceful stop
