"""Backup and restore: a restored registry serves the same checkpoint and audits clean; a
restore never silently mixes two registries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from registry.audit import run_audit
from tests.conftest import POSTGRES_URL
from tests.support import cli, drop_database, free_port, registry_env, running_registry


def _checkpoint(base: str) -> tuple[str, str]:
    lines = httpx.get(f"{base}/log/checkpoint").text.splitlines()
    return lines[1], lines[2]


@pytest.mark.parametrize(("source", "target"), [("sqlite", "postgresql"), ("postgresql", "sqlite")])
def test_restore_serves_the_same_checkpoint_and_passes_audit(source, target, tmp_path: Path):
    src_env = registry_env(tmp_path / "a", source, POSTGRES_URL, "registry_backup_src")
    dst_env = registry_env(tmp_path / "b", target, POSTGRES_URL, "registry_backup_dst")
    # Custodial keys are sealed under the master key: the restored registry needs the same.
    dst_env["REGISTRY_DATA_DIR"] = src_env["REGISTRY_DATA_DIR"]
    if target == "sqlite":
        dst_env["REGISTRY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'restored.db'}"
    # The log's origin comes from the public URL: a restored registry keeps its address.
    port = free_port()
    try:
        with running_registry(src_env, tmp_path / "a.log", "--demo", port=port) as base:
            before = _checkpoint(base)
            cli(src_env, "backup", str(tmp_path / "backup"))
        manifest = (tmp_path / "backup" / "manifest.json").read_text()
        assert f'"size": {before[0]}' in manifest, manifest

        cli(dst_env, "restore", str(tmp_path / "backup"))
        # Served as before (with its demo witness, so the logged witness policy is unchanged
        # and nothing new is logged at start).
        with running_registry(dst_env, tmp_path / "b.log", "--demo", port=port) as base:
            assert _checkpoint(base) == before, "the restored registry serves another tree"
            assert run_audit(base, tmp_path / "audit", vkey=None, witnesses=[], quiet=True) == 0
            demo = httpx.get(f"{base}/api/v1/endorsements").json()
            assert {e["status"] for e in demo} >= {"valid", "revoked", "recalled", "expired"}

        # A second restore into the now non-empty database is refused...
        refused = subprocess.run(
            [sys.executable, "-m", "app.cli", "restore", str(tmp_path / "backup")],
            env=dst_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 1, refused.stderr
        assert "not empty" in refused.stderr
        # ...unless told to replace it.
        cli(dst_env, "restore", str(tmp_path / "backup"), "--force")
    finally:
        drop_database(src_env)
        drop_database(dst_env)


def test_backup_refuses_a_non_empty_destination(tmp_path: Path):
    env = registry_env(tmp_path, "sqlite", POSTGRES_URL, "unused")
    cli(env, "db", "upgrade")
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "something").write_text("x")
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "backup", str(tmp_path / "dest")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "not empty" in done.stderr, done.stderr
