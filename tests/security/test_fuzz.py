"""API fuzzing: schemathesis generates requests for every operation of ``/openapi.json``
(valid and invalid ones), anonymously and with a demo account's bearer token, on SQLite and
PostgreSQL, against the demo dataset. No response may be a server error (or an exception
escaping the app), and every response must be documented and match its documented schema.

The CI run is bounded (a few examples per operation, reproducible). A longer run:

    REGISTRY_FUZZ_EXAMPLES=300 REGISTRY_FUZZ_ACCOUNTS=aohan-clerk,aohan-head,admin \\
        python -m pytest tests/security/test_fuzz.py -q

(random rather than derandomized examples whenever REGISTRY_FUZZ_EXAMPLES is set; about
an hour on both backends at 300).
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python import asgi as schemathesis_asgi
from sqlalchemy import Engine, select

from app.factory import create_app
from registry.accounts import accounts
from registry.db import transaction
from registry.demo import load_demo
from registry.models import Account
from registry.settings import Settings
from tests.support import empty_tables

EXAMPLES = int(os.environ.get("REGISTRY_FUZZ_EXAMPLES", "6"))
DERANDOMIZE = "REGISTRY_FUZZ_EXAMPLES" not in os.environ
ACCOUNTS = os.environ.get("REGISTRY_FUZZ_ACCOUNTS", "aohan-clerk").split(",")
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]


@dataclass
class FuzzTarget:
    app: FastAPI
    schema: Any  # schemathesis' OpenApiSchema
    tokens: dict[str, str]  # demo username -> bearer token


@pytest.fixture(scope="module")
def target(
    engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzTarget]:
    """The app on the demo dataset, its schema loaded through the app itself (schemathesis
    starts the app's lifespan), and an API token for each fuzzing account."""
    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "data"
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        base_url="http://127.0.0.1:8000",
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    empty_tables(engine)
    app = create_app(settings, engine)
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        load_demo(app.state.session_factory, app.state.ctx)
        tokens = {}
        with transaction(app.state.session_factory) as session:
            for username in ACCOUNTS:
                account = session.scalars(select(Account).where(Account.username == username)).one()
                _, tokens[username] = accounts.issue_token(session, account, "fuzzing")
        yield FuzzTarget(app, schema, tokens)
    finally:
        schemathesis_asgi.shutdown_lifespans()
        empty_tables(engine)


def _fuzz(target: FuzzTarget, headers: dict[str, str]) -> list[str]:
    """Run every operation in both generation modes; return the failures found."""
    failures: dict[tuple[str, str], str] = {}
    for result in target.schema.get_all_operations():
        for mode in MODES:
            _fuzz_operation(result.ok(), mode, headers, failures)
    return list(failures.values())


def _fuzz_operation(
    operation: Any,
    mode: schemathesis.GenerationMode,
    headers: dict[str, str],
    failures: dict[tuple[str, str], str],
) -> None:
    title = f"{operation.label} ({mode.value})"

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=DERANDOMIZE,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def run(case: Any) -> None:
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except BaseException as exc:  # a failed check, or an exception the app raised
            kind = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"
            if (title, kind) not in failures:
                curl = case.as_curl_command(headers=headers)
                failures[(title, kind)] = f"{title}: {str(exc)[:1500]}\n  {curl}"

    try:
        run()
    except Unsatisfiable:
        # Nothing about the operation can be made invalid (no parameters, no body): the
        # positive run covered it.
        assert mode is schemathesis.GenerationMode.NEGATIVE, title


def test_every_operation_is_fuzzed(target: FuzzTarget) -> None:
    """Every route of the JSON API and the log is in the OpenAPI document (so the fuzzer
    reaches it), and every operation documents its problem responses."""
    paths = target.app.openapi()["paths"]
    operations = [(p, m, o) for p, item in paths.items() for m, o in item.items()]
    assert len(operations) >= 50, f"only {len(operations)} operations documented"
    for path, method, operation in operations:
        documented = operation["responses"]
        assert "422" in documented, f"{method.upper()} {path} does not document 422"
        problem = documented["422"]["content"]
        assert list(problem) == ["application/problem+json"], (
            f"{method.upper()} {path}: 422 is documented as {list(problem)}"
        )
        if path.startswith("/api/v1/") and method not in ("get", "options"):
            assert {"400", "413"} <= set(documented), f"{method.upper()} {path}: no 400/413"


def test_fuzz_anonymous(target: FuzzTarget) -> None:
    failures = _fuzz(target, {})
    assert not failures, f"{len(failures)} failure(s):\n\n" + "\n\n".join(failures)


@pytest.mark.parametrize("username", ACCOUNTS)
def test_fuzz_with_a_demo_accounts_token(target: FuzzTarget, username: str) -> None:
    failures = _fuzz(target, {"Authorization": f"Bearer {target.tokens[username]}"})
    assert not failures, f"{len(failures)} failure(s) as {username}:\n\n" + "\n\n".join(failures)


# --- what the fuzzer found, kept as plain regression tests ----------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        # PostgreSQL refuses NUL characters in text: a 500 before the StatementError mapping.
        ("GET", "/api/v1/export/fsma204.csv?lot=a%00b", None),
        ("GET", "/api/v1/batches/AB%00CD", None),
        ("GET", "/api/v1/export/epcis?batch=x%00y", None),
        ("POST", "/api/v1/products", {"name_zh": "小\u0000米", "category": "grain"}),
        # Year 1 at +01:00 is before year 1 in UTC: an OverflowError storing it.
        ("POST", "/api/v1/tokens", {"expires_at": "0001-01-01T00:01:00+01:00"}),
        # base64 of non-ASCII text raised ValueError, not binascii.Error.
        ("POST", "/api/v1/keys/drafts", {"public_key": "密钥"}),
        # An unknown status reached the database's enum.
        ("GET", "/api/v1/endorsement-requests?status=%E2%9A%A0", None),
        # str.isdigit() is true for '¹', which int() refuses.
        ("GET", "/api/v1/records/%C2%B9", None),
        ("POST", "/api/v1/products", {"name_zh": "小米", "category": "grain", "gtin": "¹" * 8}),
        ("GET", "/01/" + "%C2%B9" * 14 + "/10/LOT-1", None),
        # A batch that is not "<product id>:<lot>" reached uuid.UUID() while the draft was
        # completed, in every kind that names batches.
        (
            "POST",
            "/api/v1/records/custodial",
            {"kind": "shipping", "batches": ["nope"], "to": {"name": "仓库"}},
        ),
        (
            "POST",
            "/api/v1/records/custodial",
            {"kind": "recall", "batches": ["nope"], "reason": "r"},
        ),
        (
            "POST",
            "/api/v1/records/custodial",
            {"kind": "correction", "batches": ["nope"], "corrects": "0" * 64, "reason": "r"},
        ),
        (
            "POST",
            "/api/v1/records/custodial",
            {"kind": "processing", "inputs": [{"batch": "nope", "quantity": "1"}], "outputs": []},
        ),
        ("POST", "/api/v1/records/custodial", {"kind": "storage", "batches": [1, None, "a:b"]}),
        # Far-off dates and an expiry already past.
        ("POST", "/api/v1/tokens", {"expires_at": "9999-12-31T23:59:59+00:00"}),
        ("POST", "/api/v1/tokens", {"expires_at": "2000-01-01T00:00:00+08:00"}),
        ("POST", "/api/v1/tokens", {"name": "a\u0000b"}),
    ],
)
def test_fuzzer_findings_are_never_server_errors(
    world: Any, method: str, path: str, body: dict[str, Any] | None
) -> None:
    client = TestClient(world.app, raise_server_exceptions=False)
    response = client.request(method, path, json=body, headers=world.coop.headers)
    assert response.status_code < 500, f"{method} {path}: {response.status_code} {response.text}"
    if response.status_code >= 400 and path.startswith("/api/"):
        assert response.headers["content-type"].startswith("application/problem+json"), path
    # SQLite stores a NUL character that PostgreSQL refuses: only the refusal is asserted.
