"""The log keeps its name (docs/audit.md, "The log's identity"), on SQLite and PostgreSQL.

An honest operator who fixes the base URL, or restores a backup behind another host, serves
the same checkpoint under the same name: consumer pages verify and an auditor's old state
passes. A configured origin that differs from the stored one refuses to start. A rename is a
logged record the auditor follows; a name changed behind the log's back fails the audit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.engine import make_url

from app.factory import create_app
from registry.audit import EXIT_FAILED, EXIT_OK
from registry.db import make_engine, transaction, upgrade
from registry.demo import demo_id, load_demo
from registry.errors import ConfigurationError
from registry.models import Account, LogState, Record
from registry.operations.backup import backup, restore
from registry.operations.bootstrap import bootstrap
from registry.operations.log_identity import rename_log
from registry.records import ingest as record_service
from registry.settings import Settings
from tests.audit.helpers import audit, publish_as_serve_does
from tests.conftest import _recreate_postgres
from tests.support import serve_in_thread
from tests.web.test_consumer_page import CHROMIUM, CHROMIUM_ARGS, needs_browser, wait_for_verdict


@contextmanager
def serving(settings: Settings, engine: Engine, base_url: str) -> Iterator[tuple[str, object]]:
    """A registry on ``engine`` whose settings say ``base_url`` (QR codes and links)."""
    app = create_app(settings.model_copy(update={"base_url": base_url}), engine)
    with serve_in_thread(app) as url:
        yield url, app


def log_view(url: str) -> tuple[str, str]:
    vkey = httpx.get(f"{url}/log/vkey", timeout=10).text.strip()
    checkpoint = httpx.get(f"{url}/log/checkpoint", timeout=10).text
    return vkey, checkpoint


def a_storage_record(app: object) -> None:
    """One more record, so the server signs a new checkpoint."""
    millet = f"{demo_id('product:millet')}:AH2026-001"
    factory, ctx = app.state.session_factory, app.state.ctx  # type: ignore[attr-defined]
    with transaction(factory) as session:
        clerk = session.scalars(select(Account).where(Account.username == "aohan-clerk")).one()
        draft = {"kind": "storage", "batches": [millet], "location": "合作社2号粮仓"}
        record_service.sign_and_submit(session, ctx, clerk, draft)


@pytest.fixture
def demo_log(db: Engine, settings: Settings, tmp_path: Path) -> Iterator[tuple[Path, str, str]]:
    """The demo registry served once at its first base URL and audited: the auditor's state
    directory and what the log looked like (vkey, checkpoint)."""
    state = tmp_path / "auditor"
    with serving(settings, db, "http://127.0.0.1:8000") as (url, app):
        load_demo(app.state.session_factory, app.state.ctx)  # type: ignore[attr-defined]
        publish_as_serve_does(app.state.session_factory, app.state.ctx)  # type: ignore[attr-defined]
        first = audit(url, state)
        assert first.code == EXIT_OK, first
        vkey, checkpoint = log_view(url)
    assert vkey.startswith("127.0.0.1:8000/log+"), vkey
    yield state, vkey, checkpoint


def test_a_new_base_url_serves_the_same_log_and_the_old_auditor_passes(
    db: Engine, settings: Settings, demo_log: tuple[Path, str, str]
) -> None:
    state, vkey, checkpoint = demo_log
    with serving(settings, db, "https://gr.example.cn") as (url, app):
        assert log_view(url) == (vkey, checkpoint)
        document = httpx.get(f"{url}/api/v1/verify/{_a_code(app)}", timeout=10).json()
        assert document["log"]["vkey"] == vkey
        again = audit(url, state)
    assert again.code == EXIT_OK, again


def _a_code(app: object) -> str:
    from registry.models import Endorsement

    with app.state.session_factory() as session:  # type: ignore[attr-defined]
        return str(session.scalars(select(Endorsement.code).limit(1)).one())


def test_a_configured_origin_other_than_the_stored_one_refuses_to_start(
    db: Engine, settings: Settings, session_factory
) -> None:
    bootstrap(session_factory, settings)
    with pytest.raises(ConfigurationError) as refused:
        bootstrap(session_factory, settings.model_copy(update={"log_origin": "gr.example.cn/log"}))
    assert "'gr.example.cn/log'" in refused.value.detail
    assert "'127.0.0.1:8000/log'" in refused.value.detail
    # The stored name is the one given at creation, and an equal setting is fine.
    again = bootstrap(
        session_factory, settings.model_copy(update={"log_origin": "127.0.0.1:8000/log"})
    )
    assert again.log_origin == "127.0.0.1:8000/log"


def test_serve_refuses_a_differing_origin_in_one_line(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "REGISTRY_DATA_DIR": str(tmp_path / "data"),
        "REGISTRY_BASE_URL": "http://127.0.0.1:8000",
        "COLUMNS": "80",
    }
    made = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    env["REGISTRY_LOG_ORIGIN"] = "registry.example.cn/log"
    refused = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert "'registry.example.cn/log'" in lines[0] and "'127.0.0.1:8000/log'" in lines[0]


def _other_database(database_url: str, tmp_path: Path) -> str:
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'restored.db'}"
    else:
        parsed = make_url(database_url)
        url = parsed.set(database=f"{parsed.database}_restored").render_as_string(
            hide_password=False
        )
        _recreate_postgres(url)
    upgrade(url)
    return url


@needs_browser
def test_a_restored_backup_behind_another_host_verifies_on_the_phone_and_for_the_auditor(
    db: Engine, settings: Settings, database_url: str, tmp_path: Path, demo_log
) -> None:
    state, vkey, checkpoint = demo_log
    manifest = backup(db, tmp_path / "backup")
    assert manifest["log_origin"] == "127.0.0.1:8000/log"
    restored_url = _other_database(database_url, tmp_path)
    restored = make_engine(restored_url)
    try:
        restore(restored, tmp_path / "backup", master_key=settings.master_key_bytes())
        with serving(settings, restored, "http://localhost:18443") as (url, app):
            assert log_view(url) == (vkey, checkpoint)
            assert audit(url, state).code == EXIT_OK
            _phone_verifies(f"{url}/e/{_a_code(app)}")
    finally:
        restored.dispose()
        if not restored_url.startswith("sqlite"):
            _recreate_postgres(restored_url, create=False)


def _phone_verifies(page_url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="zh-CN")
            assert page.goto(page_url).status == 200
            assert wait_for_verdict(page) == "verified"
        finally:
            browser.close()


def test_restore_refuses_a_configured_origin_of_another_log(
    db: Engine, settings: Settings, database_url: str, tmp_path: Path, session_factory
) -> None:
    bootstrap(session_factory, settings)
    backup(db, tmp_path / "backup")
    restored_url = _other_database(database_url, tmp_path)
    restored = make_engine(restored_url)
    try:
        with pytest.raises(ConfigurationError, match=r"'other\.example/log'"):
            restore(
                restored,
                tmp_path / "backup",
                master_key=settings.master_key_bytes(),
                log_origin="other.example/log",
            )
        with restored.connect() as connection:
            assert connection.execute(select(Record)).first() is None  # nothing written
    finally:
        restored.dispose()
        if not restored_url.startswith("sqlite"):
            _recreate_postgres(restored_url, create=False)


def test_a_logged_rename_is_followed_by_the_old_auditor(
    db: Engine, settings: Settings, demo_log
) -> None:
    state, vkey, _checkpoint = demo_log
    with serving(settings, db, "https://gr.example.cn") as (_url, app):
        renamed = rename_log(
            app.state.session_factory,  # type: ignore[attr-defined]
            app.state.ctx,  # type: ignore[attr-defined]
            "gr.example.cn/log",
            "moved to the public host",
        )
    assert (renamed.old_origin, renamed.new_origin) == ("127.0.0.1:8000/log", "gr.example.cn/log")
    # The rename logged the policy naming the renamed log's key, in its own transaction.
    # Each append ends with its status index: rename, index, policy, index.
    assert renamed.policy_index == renamed.index + 2
    assert renamed.checkpoint_size == renamed.policy_index + 2
    with db.connect() as connection:
        policies = connection.execute(
            select(Record.log_index, Record.payload)
            .where(Record.kind == "witness_policy")
            .order_by(Record.log_index.desc())
        ).all()
    assert policies[0][0] == renamed.policy_index
    assert "log gr.example.cn/log+" in json.loads(policies[0][1])["policy"]
    with serving(settings, db, "https://gr.example.cn") as (url, app):
        new_vkey, checkpoint = log_view(url)
        # Before `registry serve` publishes anything, what is served already pairs the new
        # name with the policy naming it: the auditor passes.
        code = httpx.get(f"{url}/api/v1/endorsements", timeout=10).json()[0]["code"]
        document = httpx.get(f"{url}/e/{code}/verify.json", timeout=10).json()
        assert f"log {new_vkey}" in document["witness_policy"]["text"]
        assert document["witness_policy"]["record"]["index"] == renamed.policy_index
        assert document["checkpoint"]["note"].startswith("gr.example.cn/log\n")
        followed = audit(url, state)
        assert followed.code == EXIT_OK, followed
        # A restart logs no second policy: the rename's is the configured one.
        publish_as_serve_does(app.state.session_factory, app.state.ctx)  # type: ignore[attr-defined]
        size = int(httpx.get(f"{url}/log/checkpoint", timeout=10).text.split("\n")[1])
        assert size == renamed.checkpoint_size
        assert new_vkey.startswith("gr.example.cn/log+") and new_vkey != vkey
        assert checkpoint.startswith("gr.example.cn/log\n")
        a_storage_record(app)
        assert audit(url, state).code == EXIT_OK  # re-pinned to the new name
        record = httpx.get(f"{url}/api/v1/records/{renamed.index}", timeout=10).json()
        assert record["kind"] == "log_rename"


def test_a_name_changed_behind_the_logs_back_fails_the_old_auditor(
    db: Engine, settings: Settings, demo_log
) -> None:
    state, _vkey, _checkpoint = demo_log
    with db.begin() as connection:
        connection.execute(update(LogState).values(origin="gr.example.cn/log"))
    with serving(settings, db, "https://gr.example.cn") as (url, app):
        a_storage_record(app)  # signed under the new name by the same log key
        assert log_view(url)[1].startswith("gr.example.cn/log\n")
        run = audit(url, state)
    assert run.code == EXIT_FAILED, run
    assert "holds no rename" in run.out, run.out


def test_a_log_from_before_stored_origins_keeps_its_checkpoints_name(
    db: Engine, settings: Settings, session_factory
) -> None:
    bootstrap(session_factory, settings)
    with db.begin() as connection:
        connection.execute(update(LogState).values(origin=None))
    moved = bootstrap(session_factory, settings.model_copy(update={"base_url": "https://x.cn"}))
    assert moved.log_origin == "127.0.0.1:8000/log"
