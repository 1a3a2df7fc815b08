"""``GET /metrics``: what operators watch during a stream, in the Prometheus text format
(prometheus_client, the project's client library; docs/scaling.md lists the alerts).

Read from the database at each scrape, so every worker answers the same for the whole
registry (one scrape of any worker is enough):

- ``registry_scans_total{code}``: scans per endorsement (stored counts plus this worker's
  pending ones), the dynamic path's and those counted from the web server's scan log;
- ``registry_log_entries_total``: the log's size; its ``rate()`` is the ingestion rate;
- ``registry_checkpoint_age_seconds``, ``registry_checkpoint_size``;
- ``registry_witness_lag_entries{witness}`` (entries the newest cosigned checkpoint lacks)
  and ``registry_witness_cosignature_age_seconds{witness}``;
- ``registry_publish_lag_entries`` (entries whose changes the published files do not show
  yet) and ``registry_publish_state_age_seconds``, with ``--publish``;
- ``registry_integrity_ok`` (1 ok, 0 failed, -1 checking or off) and
  ``registry_integrity_checked_entries``;
- ``registry_webhook_deliveries{status}`` (``failed`` counts deliveries given up on).

Per worker (each scrape sees the worker that answered; sum them in Prometheus):
``registry_ingest_request_seconds`` (the latency of ``POST /api/v1/records`` and
``/records/batch``, a histogram).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from registry.audit.monitor import IntegrityState, integrity_status
from registry.models import (
    Checkpoint,
    CheckpointCosignature,
    Endorsement,
    LogState,
    ScanCount,
    WebhookDelivery,
)
from registry.publishing import paths
from registry.publishing.publisher import PublishState
from registry.transparency.log import LOG_STATE_ID

INGEST_PATHS = ("/api/v1/records", "/api/v1/records/batch")


def _age(moment: datetime | None) -> float:
    if moment is None:
        return float("nan")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, time.time() - moment.timestamp())


class RegistryCollector(Collector):
    """The database-derived metrics above, read at each scrape."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        """One scrape: a few aggregate queries on the read session."""
        state = self.app.state
        with state.read_session_factory() as session:
            size = int(
                session.scalar(select(LogState.size).where(LogState.id == LOG_STATE_ID)) or 0
            )
            newest = session.scalars(
                select(Checkpoint).order_by(Checkpoint.size.desc()).limit(1)
            ).first()
            witnesses = session.execute(
                select(
                    CheckpointCosignature.witness,
                    func.max(CheckpointCosignature.size),
                    func.max(CheckpointCosignature.created_at),
                ).group_by(CheckpointCosignature.witness)
            ).all()
            scans = session.execute(
                select(
                    Endorsement.id, Endorsement.code, func.coalesce(func.sum(ScanCount.count), 0)
                )
                .outerjoin(ScanCount, ScanCount.endorsement_id == Endorsement.id)
                .group_by(Endorsement.id, Endorsement.code)
            ).all()
            deliveries = session.execute(
                select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
            ).all()
        entries = CounterMetricFamily("registry_log_entries", "Entries in the transparency log")
        entries.add_metric([], size)
        yield entries
        checkpoint_size = GaugeMetricFamily("registry_checkpoint_size", "Newest checkpoint size")
        checkpoint_age = GaugeMetricFamily(
            "registry_checkpoint_age_seconds", "Seconds since the newest checkpoint was signed"
        )
        checkpoint_size.add_metric([], newest.size if newest else 0)
        checkpoint_age.add_metric([], _age(newest.created_at if newest else None))
        yield checkpoint_size
        yield checkpoint_age
        lag = GaugeMetricFamily(
            "registry_witness_lag_entries",
            "Log entries beyond the newest checkpoint this witness cosigned",
            labels=["witness"],
        )
        age = GaugeMetricFamily(
            "registry_witness_cosignature_age_seconds",
            "Seconds since this witness's newest cosignature was stored",
            labels=["witness"],
        )
        for witness, cosigned, at in witnesses:
            lag.add_metric([witness], max(0, size - int(cosigned)))
            age.add_metric([witness], _age(at))
        yield lag
        yield age
        counter = state.scan_counter
        by_code = CounterMetricFamily(
            "registry_scans", "Scans per endorsement code", labels=["code"]
        )
        for endorsement_id, code, stored in scans:
            by_code.add_metric([code], int(stored) + counter.pending(endorsement_id))
        yield by_code
        webhooks = GaugeMetricFamily(
            "registry_webhook_deliveries", "Webhook deliveries by status", labels=["status"]
        )
        for status, count in deliveries:
            webhooks.add_metric([status], int(count))
        yield webhooks
        yield from self._integrity()
        yield from self._publishing(size)

    def _integrity(self) -> Iterator[Any]:
        verdict = integrity_status(self.app.state.integrity)
        ok = GaugeMetricFamily(
            "registry_integrity_ok", "The self-check: 1 ok, 0 failed, -1 checking or off"
        )
        value = {IntegrityState.OK: 1, IntegrityState.FAILED: 0}.get(verdict.state, -1)
        ok.add_metric([], value)
        yield ok
        checked = GaugeMetricFamily(
            "registry_integrity_checked_entries", "Entries the self-check has verified"
        )
        checked.add_metric([], verdict.checked)
        yield checked

    def _publishing(self, size: int) -> Iterator[Any]:
        where = self.app.state.settings.publish_dir
        if not where or where.startswith("s3://"):
            return
        path = Path(where) / paths.STATE_DIR / "state.json"
        published = PublishState.load(path)
        lag = GaugeMetricFamily(
            "registry_publish_lag_entries",
            "Log entries whose changes the published files do not show yet",
        )
        lag.add_metric([], max(0, size - published.log_size) if published.log_size >= 0 else size)
        yield lag
        age = GaugeMetricFamily(
            "registry_publish_state_age_seconds", "Seconds since the publisher last wrote its state"
        )
        try:
            age.add_metric([], max(0.0, time.time() - path.stat().st_mtime))
        except OSError:
            age.add_metric([], float("nan"))
        yield age


def install(app: Any) -> None:
    """Add ``GET /metrics`` and the ingestion histogram to ``app``."""
    registry = CollectorRegistry()
    registry.register(RegistryCollector(app))
    ingest = Histogram(
        "registry_ingest_request_seconds",
        "Latency of record submissions (POST /api/v1/records, /records/batch), this worker",
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    )
    app.state.metrics_registry = registry

    def observe(method: str, path: str, status: int, seconds: float) -> None:
        if method == "POST" and path in INGEST_PATHS:
            ingest.observe(seconds)

    app.state.observe_request = observe

    async def metrics(request: Request) -> Response:
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    app.add_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
