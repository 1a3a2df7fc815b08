"""The demo's own witness: a ``registry witness serve`` process beside ``registry serve
--demo``, so every checkpoint a demo viewer sees is cosigned (docs/verification.md).

It has its own key and state under the data dir (``demo-witness/``), kept across restarts,
so the witness remembers the checkpoint it last cosigned and refuses a log that forgot
its history. It listens on a free 127.0.0.1 port, is started before the server and
stopped with it: in its own session (so a Ctrl-C reaches it only through us), killed with
its process group when serve exits, and told by the kernel (Linux ``PR_SET_PDEATHSIG``) to
stop should serve die without cleaning up, so no witness outlives its registry.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from registry.errors import ConfigurationError
from registry.transparency.witness import Witness

WITNESS_NAME = "demo-witness.localhost"
"""The demo witness's key name (on its cosignature lines)."""
STATE_DIR = "demo-witness"
"""Its key and cosigned checkpoints, under the data dir."""
START_TIMEOUT = 20.0
_PR_SET_PDEATHSIG = 1


@dataclass
class DemoWitness:
    """A running demo witness process: its URL, cosignature vkey and process."""

    url: str
    vkey: str
    process: subprocess.Popen[bytes]

    @property
    def entry(self) -> str:
        """Its ``REGISTRY_WITNESSES`` entry."""
        return f"{self.url} {self.vkey}"

    def stop(self) -> None:
        """Stop the witness (SIGTERM to its process group, SIGKILL after 5 s)."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In the child before exec: a session of its own, and SIGTERM when the parent dies."""
    os.setsid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_demo_witness(data_dir: Path, log_vkey: str) -> DemoWitness:
    """Start the demo witness for the log of ``log_vkey`` and wait until it answers."""
    state = data_dir / STATE_DIR
    vkey = Witness(state, WITNESS_NAME, [log_vkey]).vkey  # creates the key on first start
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "app.cli", "witness", "serve",
        "--host", "127.0.0.1", "--port", str(port), "--state", str(state),
        "--log-vkey", log_vkey, "--name", WITNESS_NAME,
    ]  # fmt: skip
    log_path = state / "witness.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            preexec_fn=_die_with_parent,
        )
    witness = DemoWitness(url, vkey, process)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConfigurationError(f"the demo witness exited at start; see {log_path}")
        try:
            if httpx.get(f"{url}/vkey", timeout=1.0).text.strip() == vkey:
                return witness
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    witness.stop()
    raise ConfigurationError(f"the demo witness did not start within {START_TIMEOUT:.0f} s")


def witnesses_variable(witness: DemoWitness) -> str:
    """The ``REGISTRY_WITNESSES`` value naming the demo witness."""
    return json.dumps([witness.entry])
