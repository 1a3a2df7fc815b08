"""What operators see: ``/metrics`` (parsed with prometheus_client's own parser) reads the
registry's state from the database, and every response carries a request id that the JSON
log lines of that request name."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from app.factory import create_app
from app.publishing import make_publisher
from registry.demo import load_demo
from registry.logs import JsonFormatter
from registry.operations.bootstrap import bootstrap
from registry.settings import Settings
from tests.publishing.helpers import revoke_code


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_show_scans_log_publishing_and_integrity(
    session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path
):
    root = tmp_path / "published"
    settings = settings.model_copy(update={"publish_dir": str(root)})
    ctx = bootstrap(session_factory, settings)
    summary = load_demo(session_factory, ctx)
    code = next(e["code"] for e in summary["endorsements"] if e["status"] == "valid")
    make_publisher(session_factory, lambda: ctx, settings, str(root)).step()
    revoke_code(
        session_factory,
        ctx,
        next(e["code"] for e in summary["endorsements"] if e["status"] == "expired"),
    )
    app = create_app(settings.model_copy(update={"publish_dir": ""}), session_factory.kw["bind"])
    app.state.settings = settings  # metrics read the published state; no publisher thread
    with TestClient(app) as client:
        for _ in range(3):
            assert client.get(f"/api/v1/verify/{code}").status_code == 200
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        samples = _samples(response.text)
        assert samples[("registry_scans_total", (("code", code),))] == 3
        size = samples[("registry_log_entries_total", ())]
        assert size == samples[("registry_checkpoint_size", ())] > 0
        # the revocation and the status index that ends its transaction
        assert samples[("registry_publish_lag_entries", ())] == 2
        assert ("registry_integrity_ok", ()) in samples
        assert samples[("registry_checkpoint_age_seconds", ())] >= 0
        assert any(name == "registry_ingest_request_seconds_count" for name, _ in samples)


def test_every_response_has_a_request_id_and_its_log_lines_name_it(
    session_factory: sessionmaker[Session], settings: Settings
):
    bootstrap(session_factory, settings)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("registry.requests")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        app = create_app(settings, session_factory.kw["bind"])
        with TestClient(app) as client:
            given = client.get("/api/v1/verify/NOSUCHONE", headers={"X-Request-Id": "abc-123"})
            assert given.status_code in (404, 422)
            assert given.headers["x-request-id"] == "abc-123"
            made = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
            assert len(made.headers["x-request-id"]) == 32
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [line for line in lines if line.get("request_id") == "abc-123"]
    assert mine and mine[0]["message"] == "request" and mine[0]["status"] in (404, 422)
    assert mine[0]["path"] == "/api/v1/verify/NOSUCHONE"
    assert "client" not in mine[0] and "address" not in json.dumps(mine[0])
