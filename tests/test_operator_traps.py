"""The traps a new operator falls into, closed: a restore without the master key, a start
that would write a new master key beside keys sealed under the old one, and a production
start over a database where the demo accounts still open with the published password.

Each refusal is one clear line, exits non-zero, and writes nothing (no database, no
master.key)."""

from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from registry.accounts import accounts
from registry.db import make_session_factory, transaction
from registry.demo.credentials import accounts_with_demo_password, disable_demo_accounts
from registry.demo.people import DEMO_PASSWORD
from registry.errors import ConfigurationError
from registry.models import OrgKind, Role
from registry.operations.bootstrap import bootstrap, operator
from registry.operations.production import check_production_start
from registry.settings import Mode, Settings
from tests.conftest import POSTGRES_URL
from tests.office.conftest import csrf_of
from tests.support import cli, registry_env, running_registry

# --- bootstrap: never a new master key beside sealed keys -----------------------------------


def test_bootstrap_refuses_to_generate_a_key_beside_sealed_keys(db: Engine, tmp_path: Path):
    factory = make_session_factory(db)
    first = Settings(data_dir=tmp_path / "first", database_url=str(db.url))
    bootstrap(factory, first)  # a development start: generates master.key, seals server keys
    assert (tmp_path / "first" / "master.key").exists()

    elsewhere = Settings(data_dir=tmp_path / "elsewhere", database_url=str(db.url))
    with pytest.raises(ConfigurationError, match="no master key is configured") as refused:
        bootstrap(factory, elsewhere)
    assert "REGISTRY_MASTER_KEY" in refused.value.detail
    assert not (tmp_path / "elsewhere" / "master.key").exists(), "a new master key was written"

    wrong = Settings(
        data_dir=tmp_path / "elsewhere",
        database_url=str(db.url),
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    with pytest.raises(ConfigurationError, match="does not open this database's sealed keys"):
        bootstrap(factory, wrong)

    # The right key, given explicitly, starts the same registry.
    right = Settings(
        data_dir=tmp_path / "elsewhere",
        database_url=str(db.url),
        master_key=(tmp_path / "first" / "master.key").read_text().strip(),
    )
    assert bootstrap(factory, right).registry_signer.key_id == (
        bootstrap(factory, first).registry_signer.key_id
    )


# --- production: the demo's published password --------------------------------------------


def test_production_refuses_demo_accounts_with_the_published_password(db: Engine, tmp_path):
    factory = make_session_factory(db)
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    production = Settings(
        data_dir=tmp_path, database_url=str(db.url), master_key=key, mode=Mode.PRODUCTION
    )
    bootstrap(factory, production)
    with transaction(factory) as session:
        coop = accounts.create_organization(
            session,
            kind=OrgKind.COOPERATIVE,
            name_zh="合作社",
            name_en="Coop",
            region_code="150430",
        )
        # What a development database that had the demo loaded holds.
        demo_hash = accounts.hash_password(DEMO_PASSWORD)
        for username in ("aohan-clerk", "rose-clerk"):
            accounts.create_account(
                session,
                organization=coop,
                username=username,
                role=Role.CLERK,
                name_zh="某人",
                password_hash=demo_hash,
            )
        # A demo username the operator reused with a password of their own is fine.
        accounts.create_account(
            session,
            organization=operator(session),
            username="admin",
            role=Role.ADMIN,
            name_zh="管理员",
            password="a password of our own",
        )
    with pytest.raises(ConfigurationError) as refused:
        check_production_start(factory, production)
    detail = refused.value.detail
    assert "aohan-clerk, rose-clerk" in detail and "admin," not in detail, detail
    assert "registry admin disable-demo-accounts" in detail, detail
    # Development mode does not ask.
    check_production_start(factory, production.model_copy(update={"mode": Mode.DEVELOPMENT}))

    with transaction(factory) as session:
        assert disable_demo_accounts(session) == ["aohan-clerk", "rose-clerk"]
    check_production_start(factory, production)
    with transaction(factory) as session:
        assert accounts_with_demo_password(session) == []
        with pytest.raises(accounts.Unauthenticated):
            accounts.check_password(session, "aohan-clerk", DEMO_PASSWORD)
        assert accounts.check_password(session, "admin", "a password of our own")


# --- the commands, end to end ----------------------------------------------------------------


def _run(env: dict[str, str], *args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**env, "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _refused(done: subprocess.CompletedProcess[str], *words: str) -> str:
    assert done.returncode == 1, f"exit {done.returncode}: {done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"
    return lines[0]


def _a_registry_with_sealed_keys(env: dict[str, str]) -> None:
    """A started registry: server keys sealed under its (generated) master key, and an
    operator account."""
    cli(env, "db", "upgrade")
    cli(
        env,
        "admin",
        "create-account",
        "--organization",
        "operator",
        "--username",
        "op-admin",
        "--role",
        "admin",
        "--name-zh",
        "管理员",
    )


def test_restore_checks_the_master_key_before_writing_anything(tmp_path: Path):
    source = registry_env(tmp_path / "a", "sqlite", POSTGRES_URL, "unused")
    _a_registry_with_sealed_keys(source)
    cli(source, "backup", str(tmp_path / "backup"))
    source_key = Path(source["REGISTRY_DATA_DIR"]) / "master.key"

    target = registry_env(tmp_path / "b", "sqlite", POSTGRES_URL, "unused")
    data = Path(target["REGISTRY_DATA_DIR"])
    line = _refused(
        _run(target, "restore", str(tmp_path / "backup")), "no master key is configured"
    )
    assert "REGISTRY_MASTER_KEY" in line and "master.key" in line, line
    assert not data.exists() or not any(data.iterdir()), (
        f"a refused restore wrote {sorted(p.name for p in data.iterdir())}"
    )

    wrong = {**target, "REGISTRY_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
    _refused(_run(wrong, "restore", str(tmp_path / "backup")), "does not open")
    assert not data.exists() or not any(data.iterdir())

    # With the backed-up registry's key, the restore works and the registry serves.
    data.mkdir(parents=True, exist_ok=True)
    shutil.copy(source_key, data / "master.key")
    cli(target, "restore", str(tmp_path / "backup"))
    with running_registry(target, tmp_path / "b.log") as base:
        assert httpx.get(f"{base}/healthz").status_code == 200


def test_serve_never_writes_a_master_key_beside_sealed_keys(tmp_path: Path):
    env = registry_env(tmp_path, "sqlite", POSTGRES_URL, "unused")
    _a_registry_with_sealed_keys(env)
    key = Path(env["REGISTRY_DATA_DIR"]) / "master.key"
    key.unlink()  # lost: not copied with the database
    line = _refused(_run(env, "serve", "--port", "1"), "no master key is configured")
    assert "refusing to generate" in line, line
    assert not key.exists(), "serve wrote a new master key that cannot open the sealed keys"


def test_production_serve_refuses_the_demo_accounts_until_disabled(tmp_path: Path):
    env = registry_env(tmp_path, "sqlite", POSTGRES_URL, "unused")
    cli(env, "demo")
    key = (Path(env["REGISTRY_DATA_DIR"]) / "master.key").read_text().strip()
    production = {**env, "REGISTRY_MODE": "production", "REGISTRY_MASTER_KEY": key}
    line = _refused(
        _run(production, "serve", "--port", "1"), "published demo password", "aohan-clerk"
    )
    assert "registry admin disable-demo-accounts" in line, line

    disabled = cli(production, "admin", "disable-demo-accounts").split()
    assert {"admin", "aohan-clerk", "pingyin-deputy"} <= set(disabled), disabled
    with running_registry(production, tmp_path / "serve.log") as base, httpx.Client() as client:
        page = client.get(f"{base}/office/login")
        login = client.post(
            f"{base}/office/login",
            data={
                "username": "aohan-clerk",
                "password": DEMO_PASSWORD,
                "csrf_token": csrf_of(page.text),
            },
            follow_redirects=False,
        )
        assert login.status_code == 401, f"a disabled demo account: {login.status_code}"
