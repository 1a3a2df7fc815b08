"""The README's first command, for real: `registry serve --demo` in its own process, then the
client-held key flow through the CLI (`keys generate`, `sign`) and a tampered envelope."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_URL
from tests.support import cli, drop_database, registry_env, running_registry


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request, tmp_path: Path):
    env = registry_env(tmp_path, request.param, POSTGRES_URL, "registry_serve")
    # No witness: the served head is then always the newest, so the log's size after one
    # append is exact (with witnesses it may lag by the cosignature grace period; the demo
    # witness has its own tests in tests/witness/).
    env["REGISTRY_WITNESSES"] = "[]"
    try:
        with running_registry(env, tmp_path / "serve.log", "--demo") as base:
            yield base, {**env, "REGISTRY_BASE_URL": base}, tmp_path
    finally:
        drop_database(env)


def _cli(env: dict[str, str], *args: str) -> str:
    return cli(env, *args)


def _size(base: str) -> int:
    return int(httpx.get(f"{base}/log/checkpoint").text.splitlines()[1])


def test_serve_demo_then_sign_offline_and_refuse_tampering(served):
    base, env, tmp = served
    summary = json.loads(_cli(env, "demo", "--json"))
    assert summary["base_url"] == base
    lots = {b["lot"]: b for b in summary["batches"]}
    assert {"AH2026-001", "SX2026-1101", "PY-CAKE-0611"} <= set(lots)
    assert {a["username"] for a in summary["accounts"]} >= {"aohan-clerk", "aohan-head"}

    # A cooperative clerk registers a client-held key made by the CLI.
    token = _cli(env, "admin", "create-token", "--username", "aohan-clerk").strip()
    auth = {"Authorization": f"Bearer {token}"}
    key_file = tmp / "clerk-key.json"
    public = json.loads(_cli(env, "keys", "generate", "--out", str(key_file)))
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    draft = httpx.post(
        f"{base}/api/v1/keys/drafts", json={"public_key": public["public_key"]}, headers=auth
    ).json()
    draft_file = tmp / "draft.json"
    draft_file.write_text(base64.b64decode(draft["payload"]).decode())
    envelope = json.loads(_cli(env, "sign", str(draft_file), "--key", str(key_file)))
    registered = httpx.post(f"{base}/api/v1/keys", json={"envelope": envelope}, headers=auth)
    assert registered.status_code == 201, registered.text
    assert registered.json()["key_id"] == public["key_id"]

    # Sign a storage record offline for a demo batch and post it.
    batch = httpx.get(f"{base}/api/v1/batches/{lots['AH2026-001']['code']}").json()
    record = {
        "kind": "storage",
        "time": "2026-11-20T08:00:00+08:00",
        "org": str(batch["origin_org_id"]),
        "batches": [batch["ref"]],
        "prev": {batch["ref"]: batch["head"]},
        "location": "合作社2号粮仓",
        "readings": [{"time": "2026-11-20T08:00:00+08:00", "celsius": "12.5"}],
    }
    record_file = tmp / "storage.json"
    record_file.write_text(json.dumps(record, ensure_ascii=False))
    signed = json.loads(_cli(env, "sign", str(record_file), "--key", str(key_file)))

    # Tampered: one byte of the payload changed after signing. Refused, nothing written.
    before = _size(base)
    payload = bytearray(base64.b64decode(signed["payload"]))
    payload[payload.index(b"12.5")] = ord("9")
    tampered = {**signed, "payload": base64.b64encode(bytes(payload)).decode()}
    refused = httpx.post(f"{base}/api/v1/records", json=tampered, headers=auth)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "signature" in refused.json()["detail"]
    assert _size(base) == before, "a refused record must not change the log"
    assert httpx.get(f"{base}/api/v1/batches/{batch['id']}").json()["head"] == batch["head"]

    accepted = httpx.post(f"{base}/api/v1/records", json=signed, headers=auth)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["index"] == before
    assert _size(base) == before + 2  # the record, then the status index


def test_in_development_qr_codes_follow_the_port_serve_listens_on(tmp_path: Path):
    """Without REGISTRY_BASE_URL, `serve --port P` points QR codes, links and the banner at
    port P, and says so; the log is named after where it was created."""
    import io

    import zxingcpp
    from PIL import Image

    env = registry_env(tmp_path, "sqlite", POSTGRES_URL, "registry_port")
    env.pop("REGISTRY_BASE_URL", None)
    log = tmp_path / "serve.log"
    with running_registry(env, log, "--demo", set_base_url=False) as base:
        banner = log.read_text()
        assert f"QR codes and links point to {base};" in banner, banner
        assert "set REGISTRY_BASE_URL" in banner  # the deployment hint
        code = httpx.get(f"{base}/api/v1/endorsements").json()[0]["code"]
        png = httpx.get(f"{base}/e/{code}/qr.png").content
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
        # Upper case, for the QR's compact alphanumeric mode; the scan URL ignores case.
        assert [b.text for b in found] == [f"{base}/e/{code}".upper()]
        assert httpx.get(f"{base}/log/vkey").text.startswith(base.removeprefix("http://") + "/log+")
