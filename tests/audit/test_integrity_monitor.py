"""The server checks its own database in the background (SQLite and PostgreSQL).

``/healthz`` says ``checking`` and then ``ok`` on the demo registry; after one character of
a stored payload changes behind the server's back, the next full pass names the record
(503), the back office shows admins the problem in both languages, and once the payload is
repaired the server reads ``ok`` again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.factory import create_app
from registry.audit.monitor import IntegrityMonitor, IntegrityState
from registry.log.note import parse_vkey
from registry.settings import Settings
from registry.transparency.log import log_vkey
from tests.audit.helpers import LiveRegistry
from tests.office.conftest import Browser


def wait_for(what: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = what()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def monitor_for(live: LiveRegistry) -> IntegrityMonitor:
    return IntegrityMonitor(live.factory, parse_vkey(log_vkey(live.ctx)), pause=0)


def test_a_pass_names_the_tampered_record_and_a_repair_clears_it(live):
    size = len(live.records())
    monitor = monitor_for(live)
    assert monitor.status.state is IntegrityState.CHECKING
    monitor.check_now()
    assert monitor.status.to_json() == {"state": "ok", "checked": size, "size": size}

    index = first_index_of_storage(live)
    original = live.record(index)["payload"]
    live.update_record(index, payload=original.replace(b'"time":"20', b'"time":"21', 1))
    monitor.check_now()
    status = monitor.status
    assert status.state is IntegrityState.FAILED
    assert status.failed_index == index
    assert "the payload was altered" in (status.detail or "")

    live.update_record(index, payload=original)
    monitor.check_now()
    assert monitor.status.state is IntegrityState.OK


@pytest.fixture
def second_server(live: LiveRegistry, tmp_path: Path) -> Iterator[tuple[TestClient, Any]]:
    """Another server process on the live registry's database, checking every 0.2 s and
    starting over every 0.5 s (the defaults are 30 s and 6 h)."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=live.ctx.settings.database_url,
        base_url=live.ctx.settings.base_url,
        master_key=live.ctx.settings.master_key,
        integrity_interval=0.2,
        integrity_full_interval=0.5,
    )
    app = create_app(settings, live.engine)
    with TestClient(app) as client:
        yield client, app


def _integrity(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/healthz")
    return response.status_code, response.json()


def test_healthz_and_the_back_office_report_a_failed_check(live, second_server):
    client, app = second_server
    size = len(live.records())
    code, body = wait_for(
        lambda: (got := _integrity(client))[1]["integrity"]["state"] == "ok" and got
    )
    assert code == 200 and body["status"] == "ok", body
    assert body["integrity"] == {"state": "ok", "checked": size, "size": size}

    admin = Browser(app).logged_in("admin")
    clerk = Browser(app).logged_in("aohan-clerk")
    assert 'data-testid="integrity-alert"' not in admin.get("/office/").text

    index = first_index_of_storage(live)
    original = live.record(index)["payload"]
    live.update_record(index, payload=original.replace(b'"time":"20', b'"time":"21', 1))
    code, body = wait_for(lambda: (got := _integrity(client))[0] == 503 and got)
    assert body["status"] == "failed"
    integrity = body["integrity"]
    assert (integrity["state"], integrity["failed_index"]) == ("failed", index), body
    assert "the payload was altered" in integrity["detail"]

    page = admin.get("/office/").text
    assert f'data-testid="integrity-alert" data-failed-index="{index}"' in page
    assert "数据库完整性检查未通过" in page and f"日志第 {index} 条记录" in page
    english = admin.get("/office/?lang=en").text
    assert "The database failed its integrity check" in english
    assert f"The record at log index {index} is not what the log commits to." in english
    assert 'data-testid="integrity-alert"' not in clerk.get("/office/").text

    live.update_record(index, payload=original)
    code, body = wait_for(lambda: (got := _integrity(client))[0] == 200 and got)
    assert body["integrity"]["state"] == "ok", body
    assert 'data-testid="integrity-alert"' not in admin.get("/office/").text


def first_index_of_storage(live: LiveRegistry) -> int:
    return next(r["log_index"] for r in live.records() if r["kind"] == "storage")


def test_the_check_can_be_switched_off(live, tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=live.ctx.settings.database_url,
        base_url=live.ctx.settings.base_url,
        master_key=live.ctx.settings.master_key,
        integrity_check=False,
    )
    with TestClient(create_app(settings, live.engine)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["integrity"] == {"state": "off", "checked": 0, "size": 0}
