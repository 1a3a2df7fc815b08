"""Fixtures for the back-office tests.

- ``office``: the demo dataset behind a TestClient, once per backend for the module (SQLite
  and PostgreSQL through the shared ``engine`` fixture); ``Browser`` helpers log in and
  post forms with their CSRF token the way a browser does.
- ``live_office``: the app with the demo served by uvicorn on a free 127.0.0.1 port in a
  thread, for the real-Chromium tests (its own SQLite database, so it never competes with
  the per-backend fixtures).
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.factory import create_app
from registry.db import make_engine, upgrade
from registry.demo import DEMO_PASSWORD, load_demo
from registry.settings import Settings
from tests.support import bound_socket, empty_tables, serve_in_thread, url_of

CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, f"no CSRF token in the page: {html[:300]}"
    return found.group(1)


class Browser:
    """A TestClient with its own cookie jar, used the way a person uses a browser."""

    def __init__(self, app: FastAPI, base_url: str = "http://testserver") -> None:
        self.client = TestClient(app, base_url=base_url, raise_server_exceptions=False)
        self.app = app

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def login(self, username: str, password: str = DEMO_PASSWORD) -> Any:
        page = self.client.get("/office/login")
        assert page.status_code == 200, page.text
        response = self.client.post(
            "/office/login",
            data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        return response

    def logged_in(self, username: str, password: str = DEMO_PASSWORD) -> Browser:
        response = self.login(username, password)
        assert response.status_code == 303, f"login as {username} failed: {response.text[:300]}"
        return self

    def submit(
        self, page_path: str, action: str, data: dict[str, Any], follow: bool = False
    ) -> Any:
        """Open ``page_path``, take its CSRF token, post ``data`` to ``action``."""
        page = self.client.get(page_path)
        assert page.status_code == 200, f"GET {page_path}: {page.status_code} {page.text[:300]}"
        return self.client.post(
            action, data={**data, "csrf_token": csrf_of(page.text)}, follow_redirects=follow
        )


@dataclass
class Office:
    app: FastAPI
    summary: dict[str, Any]
    settings: Settings

    def browser(self, username: str | None = None, base_url: str = "http://testserver") -> Browser:
        browser = Browser(self.app, base_url)
        if username is not None:
            browser.logged_in(username)
        return browser

    def batch(self, lot: str) -> dict[str, Any]:
        return next(b for b in self.summary["batches"] if b["lot"] == lot)


def _settings(data_dir: Path, database_url: str, base_url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        base_url=base_url,
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )


@pytest.fixture(scope="module")
def office(
    engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Office]:
    """The demo dataset once per backend for the module (loading takes seconds)."""
    settings = _settings(
        tmp_path_factory.mktemp("office") / "data", database_url, "http://127.0.0.1:8000"
    )
    empty_tables(engine)
    try:
        with TestClient(create_app(settings, engine)) as client:
            app = client.app
            assert isinstance(app, FastAPI)
            summary = load_demo(app.state.session_factory, app.state.ctx)
            yield Office(app, summary, settings)
    finally:
        empty_tables(engine)


# --- a real server for the browser ----------------------------------------------------------


@dataclass
class LiveOffice:
    url: str
    app: FastAPI
    summary: dict[str, Any]


@pytest.fixture(scope="module")
def live_office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveOffice]:
    directory = tmp_path_factory.mktemp("live-office")
    database_url = f"sqlite:///{directory / 'registry.db'}"
    upgrade(database_url)
    sock = bound_socket()  # bound first: the app's base URL is its address
    engine = make_engine(database_url)
    app = create_app(_settings(directory / "data", database_url, url_of(sock)), engine)
    try:
        with serve_in_thread(app, sock) as url:
            summary = load_demo(app.state.session_factory, app.state.ctx)
            yield LiveOffice(url, app, summary)
    finally:
        engine.dispose()
