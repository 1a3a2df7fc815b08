"""Fixtures of the export tests: the demo registry (SQLite and PostgreSQL, via ``db``), the
ratified EPCIS 2.0.1 schema with format checking on, and a second, empty registry on the
same backend to capture into."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from app.factory import create_app
from registry.accounts import accounts as account_service
from registry.context import RegistryContext
from registry.db import make_engine, transaction, upgrade
from registry.demo import load_demo
from registry.models import Account, Batch, Product, Record
from registry.settings import Settings
from tests.conftest import _recreate_postgres
from tests.support import empty_tables

PROBLEM_JSON = "application/problem+json"
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def epcis_document(events: list[dict[str, Any]], *context: Any) -> dict[str, Any]:
    """An EPCIS 2.0 document of ``events`` under the standard context (then ``context``)."""
    return {
        "@context": [EPCIS_CONTEXT, *context],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-06-01T08:00:00Z",
        "epcisBody": {"eventList": events},
    }


@pytest.fixture(scope="session")
def epcis_validator(vectors: Path) -> jsonschema.Draft7Validator:
    """Draft-07 validation of the ratified schema with format checking on: ``uri`` needs
    rfc3987 and ``date-time`` needs rfc3339-validator, or they are silently not checked."""
    schema = json.loads((vectors / "epcis" / "epcis-2.0.1-schema.json").read_text())
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    missing = {"uri", "date-time"} - set(checker.checkers)
    assert not missing, f"format checkers missing (install rfc3987, rfc3339-validator): {missing}"
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=checker)


def schema_errors(validator: jsonschema.Draft7Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message[:300]}"
        for e in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


def assert_valid(validator: jsonschema.Draft7Validator, document: Any, what: str) -> None:
    errors = schema_errors(validator, document)
    assert not errors, f"{what} does not validate against EPCIS 2.0.1 ({len(errors)}):\n" + (
        "\n".join(errors[:10])
    )


@dataclass
class Registry:
    """A running registry (TestClient) and ways into its database."""

    client: TestClient
    app: FastAPI
    summary: dict[str, Any]
    settings: Settings

    @property
    def ctx(self) -> RegistryContext:
        ctx: RegistryContext = self.app.state.ctx
        return ctx

    def session(self) -> Any:
        return transaction(self.app.state.session_factory)

    def code(self, lot: str) -> str:
        with self.session() as session:
            return str(session.scalars(select(Batch.code).where(Batch.lot == lot)).one())

    def gtin(self, lot: str) -> str | None:
        with self.session() as session:
            product = session.scalars(
                select(Product).join(Batch, Batch.product_id == Product.id).where(Batch.lot == lot)
            ).one()
            return product.gtin

    def token(self, username: str) -> dict[str, str]:
        with self.session() as session:
            account = session.scalars(select(Account).where(Account.username == username)).one()
            _, plain = account_service.issue_token(session, account, "export tests")
        return {"Authorization": f"Bearer {plain}"}

    def log_size(self) -> int:
        with self.session() as session:
            return int(session.scalar(select(func.count()).select_from(Record)) or 0)


@pytest.fixture
def demo(settings: Settings, db: Engine) -> Iterator[Registry]:
    """The demo dataset, loaded into a running registry, with its capture worker (the
    suite's apps run none by default: tests/conftest.py)."""
    settings.capture_worker = True
    with TestClient(create_app(settings, db)) as client:
        app = client.app
        assert isinstance(app, FastAPI)
        summary = load_demo(app.state.session_factory, app.state.ctx)
        yield Registry(client, app, summary, settings)


@pytest.fixture(scope="module")
def shared_demo(
    engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    """The demo registry, loaded once per test module and backend, for tests that only read
    it (loading takes seconds). Its module must not also use ``db``, which empties tables."""
    empty_tables(engine)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=database_url,
        base_url="http://127.0.0.1:8000",
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    try:
        with TestClient(create_app(settings, engine)) as client:
            app = client.app
            assert isinstance(app, FastAPI)
            summary = load_demo(app.state.session_factory, app.state.ctx)
            yield Registry(client, app, summary, settings)
    finally:
        empty_tables(engine)


@pytest.fixture
def other_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, migrated, empty database on the same backend."""
    if make_url(database_url).get_backend_name() == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry-b.db'}"
        upgrade(url)
        yield url
        return
    parsed = make_url(database_url)
    url = parsed.set(database=f"{parsed.database}_b").render_as_string(hide_password=False)
    _recreate_postgres(url)
    upgrade(url)
    yield url
    _recreate_postgres(url, create=False)


@pytest.fixture
def registry_b(other_database: str, tmp_path: Path) -> Iterator[Registry]:
    """A fresh registry B with the demo's organizations, people and products (the same
    UUIDv5 ids) but no records beyond their keys."""
    from registry.demo.people import create_people

    settings = Settings(
        data_dir=tmp_path / "data-b",
        database_url=other_database,
        base_url="http://registry-b.test:8001",
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    engine = make_engine(other_database)
    try:
        with TestClient(create_app(settings, engine)) as client:
            app = client.app
            assert isinstance(app, FastAPI)
            with transaction(app.state.session_factory) as session:
                create_people(session, app.state.ctx)
            yield Registry(client, app, {}, settings)
    finally:
        engine.dispose()


def sub_document(document: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """``document`` with only ``events`` (same context and master data)."""
    return {**document, "id": f"urn:uuid:{uuid.uuid4()}", "epcisBody": {"eventList": events}}
