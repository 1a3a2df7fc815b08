"""`registry serve --demo` runs its own witness: every checkpoint a viewer sees is cosigned,
the policy is logged, the page's script is a logged release, a bundle verifies offline (and
its tampered copies do not), and the witness never outlives the server."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from registry.audit import EXIT_OK, run_audit
from tests.conftest import POSTGRES_URL
from tests.support import drop_database, free_port, registry_env, running_registry


def _witness_url(log: Path) -> str:
    found = re.search(r"(http://127\.0\.0\.1:\d+) ", log.read_text().split("demo-witness", 1)[1])
    assert found, log.read_text()
    return found.group(1)


def _gone(url: str, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/vkey", timeout=0.5)
        except httpx.TransportError:
            return True
        time.sleep(0.2)
    return False


def _verify_bundle(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "verify-bundle", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )


def _cosigned_document(base: str, code: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        document = httpx.get(f"{base}/e/{code}/verify.json", timeout=10).json()
        if "— demo-witness.localhost " in document["checkpoint"]["note"]:
            return document
        assert time.monotonic() < deadline, "no cosigned checkpoint in the document in 30 s"
        time.sleep(0.5)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_demo_is_witnessed_and_bundles_verify(backend: str, tmp_path: Path) -> None:
    env = registry_env(tmp_path, backend, POSTGRES_URL, "registry_witnessed")
    env.pop("REGISTRY_WITNESSES", None)
    log = tmp_path / "serve.log"
    try:
        with running_registry(env, log, "--demo") as base:
            witness = _witness_url(log)
            assert httpx.get(f"{witness}/vkey").text.startswith("demo-witness.localhost+")
            code = httpx.get(f"{base}/api/v1/endorsements").json()[0]["code"]
            document = _cosigned_document(base, code)

            # The policy is logged, names the witness, and is what the document carries.
            policy = document["witness_policy"]
            assert policy["max_age_seconds"] == 3600
            assert "quorum demo-witness.localhost" in policy["text"]
            assert policy["record"]["kind"] == "witness_policy"
            assert policy["record"]["record"]["policy"] == policy["text"]
            assert document["checkpoint"]["note"].startswith(document["log"]["origin"] + "\n")
            assert document["checkpoint"]["note"].splitlines()[1] == str(
                document["checkpoint"]["size"]
            )

            # The consumer page admits its script by hash only, and that hash is logged.
            page = httpx.get(f"{base}/e/{code}")
            integrity = re.search(r'src="/static/verify.js" integrity="(sha256-[^"]+)"', page.text)
            assert integrity, page.text[-500:]
            assert page.headers["content-security-policy"].count("script-src '" + integrity[1])
            assert "script-src 'self'" not in page.headers["content-security-policy"]
            size = document["checkpoint"]["size"]
            entries = httpx.get(f"{base}/log/entries", params={"start": 0, "end": size}).json()
            releases = [e for e in entries["entries"] if e["kind"] == "script_release"]
            assert any(e["record"]["name"] == "verify.js" for e in releases)

            # The bundle: a download that verifies offline, pinned or not.
            response = httpx.get(f"{base}/e/{code}/bundle.json")
            assert response.headers["content-disposition"].startswith("attachment")
            bundle = response.json()
            path = tmp_path / "bundle.json"
            path.write_text(json.dumps(bundle))
            vkey = httpx.get(f"{base}/log/vkey").text.strip()
            witness_vkey = httpx.get(f"{witness}/vkey").text.strip()
            ok = _verify_bundle(path, "--vkey", vkey, "--witness", witness_vkey)
            assert ok.returncode == 0, ok.stderr
            assert "witnessed by demo-witness.localhost" in ok.stdout

            # The auditor: the page's script is a logged release, the checkpoint witnessed.
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                audited = run_audit(
                    base, tmp_path / "audit", vkey=vkey, witnesses=[witness_vkey], quiet=True
                )
            assert audited == EXIT_OK, out.getvalue()
        assert _gone(witness), "the demo witness outlived registry serve"
    finally:
        drop_database(env)

    def tampered(change, expected: str) -> None:
        copy = json.loads(json.dumps(bundle))
        change(copy)
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(copy))
        result = _verify_bundle(bad)
        assert result.returncode == 1, result.stdout
        assert expected in result.stderr, result.stderr

    def flip_payload(b: dict) -> None:
        import base64

        envelope = b["records"][-1]["envelope"]
        payload = bytearray(base64.b64decode(envelope["payload"]))
        payload[10] ^= 0x01
        envelope["payload"] = base64.b64encode(bytes(payload)).decode()

    def strip_cosignature(b: dict) -> None:
        lines = b["checkpoint"].splitlines(keepends=True)
        b["checkpoint"] = "".join(line for line in lines if "demo-witness" not in line)

    def wrong_proof(b: dict) -> None:
        text = b["records"][3]["tlog_proof"]
        head, note = text.split("\n\n", 1)
        lines = head.split("\n")
        lines[3], lines[4] = lines[4], lines[3]
        b["records"][3]["tlog_proof"] = "\n".join(lines) + "\n\n" + note

    index = bundle["records"][-1]["index"]
    tampered(flip_payload, f"record at index {index}")
    tampered(strip_cosignature, "not cosigned per the witness policy")
    tampered(wrong_proof, f"record at index {bundle['records'][3]['index']}: the inclusion proof")
    other = _verify_bundle(path, "--vkey", vkey.replace("+", "-", 1))
    assert other.returncode == 1 and "pinned --vkey" in other.stderr
    unreadable = tmp_path / "nothing.json"
    unreadable.write_text("{not json")
    assert _verify_bundle(unreadable).returncode == 2


def test_a_killed_server_takes_its_witness_along(tmp_path: Path) -> None:
    env = registry_env(tmp_path, "sqlite", POSTGRES_URL, "unused")
    env.pop("REGISTRY_WITNESSES", None)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("a") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--demo"],
            env={**env, "REGISTRY_BASE_URL": f"http://127.0.0.1:{port}"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while "demo-witness" not in log.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        witness = _witness_url(log)
        server.send_signal(signal.SIGKILL)  # no chance to clean up
        server.wait(timeout=10)
        assert _gone(witness), "the demo witness outlived a killed registry serve"
    finally:
        if server.poll() is None:
            server.kill()
