"""Asynchronous capture jobs survive their process: a real ``registry serve`` killed with
SIGKILL in the middle of a job leaves it stored, and the next server finishes it; two
server processes racing for the same stored jobs run each exactly once; a job whose run
ends its process every time is failed after its attempts, not run forever. On SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.factory import create_app
from registry.accounts import accounts as account_service
from registry.context import RegistryContext
from registry.db import transaction
from registry.demo import load_demo
from registry.exports.epcis import capture_jobs
from registry.exports.epcis.capture_worker import CaptureWorker
from registry.models import Account, Batch, CapturedEvent, CaptureJob, CaptureJobState
from registry.operations.bootstrap import bootstrap
from registry.settings import Settings
from tests.publishing.helpers import wait_for
from tests.support import free_port, serve_env, serve_process, wait_until_healthy

CAPTURE = "/api/v1/epcis/capture"


@dataclass
class World:
    factory: sessionmaker[Session]
    settings: Settings
    ctx: RegistryContext
    code: str  # the demo batch AH2026-001, which aohan-clerk's organization holds

    def document(self, events: int, day: int) -> dict[str, Any]:
        """``events`` distinct holding events of the batch, one a minute on June ``day``."""
        start = datetime(2026, 6, day, tzinfo=timezone(timedelta(hours=8)))
        event_list = [
            {
                "type": "ObjectEvent",
                "eventID": f"urn:uuid:{uuid.uuid4()}",
                "eventTime": (start + timedelta(minutes=n)).isoformat(),
                "eventTimeZoneOffset": "+08:00",
                "action": "OBSERVE",
                "bizStep": "holding",
                "quantityList": [{"epcClass": f"{self.settings.base_url}/b/{self.code}"}],
                "bizLocation": {"id": "urn:epc:id:sgln:0614141.00777.0"},
            }
            for n in range(events)
        ]
        return {
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-06-01T08:00:00Z",
            "epcisBody": {"eventList": event_list},
        }

    def clerk(self, session: Session) -> Account:
        return session.scalars(select(Account).where(Account.username == "aohan-clerk")).one()

    def job(self, job_id: str) -> CaptureJob:
        with self.factory() as session:
            job = session.get(CaptureJob, uuid.UUID(job_id))
            assert job is not None
            return job

    def captured(self) -> int:
        with self.factory() as session:
            return int(session.scalar(select(func.count()).select_from(CapturedEvent)) or 0)


@pytest.fixture
def world(session_factory: sessionmaker[Session], settings: Settings) -> World:
    ctx = bootstrap(session_factory, settings)
    load_demo(session_factory, ctx)
    with session_factory() as session:
        code = session.scalars(select(Batch.code).where(Batch.lot == "AH2026-001")).one()
    return World(session_factory, settings, ctx, str(code))


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def lines(self, what: str) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if what in line]

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def _wait(what: str, check: Callable[[], Any], timeout: float = 90) -> Any:
    """A server process starts and signs in its own time: up to 90 s on a loaded machine."""
    return wait_for(what, check, timeout=timeout)


@contextmanager
def _serve(world: World, log: Path, workers: int = 1) -> Iterator[Server]:
    """``registry serve`` on the test database, as its own process group."""
    port = free_port()
    env = serve_env(
        world.settings, REGISTRY_CAPTURE_WORKER="true", REGISTRY_CAPTURE_POLL_INTERVAL="0.2"
    )
    with serve_process(env, log, "--workers", str(workers), port=port) as process:
        server = Server(process, f"http://127.0.0.1:{port}", log)
        wait_until_healthy(process, server.url, log)
        yield server


def _token(world: World) -> dict[str, str]:
    with transaction(world.factory) as session:
        _, plain = account_service.issue_token(session, world.clerk(session), "durable tests")
    return {"Authorization": f"Bearer {plain}"}


def test_a_job_whose_server_is_killed_is_finished_by_the_next(world: World, tmp_path: Path):
    events = 300  # each signed: seconds of work, so the kill lands in the middle
    headers = {**_token(world), "Prefer": "respond-async", "Content-Type": "application/json"}
    before = world.captured()
    with _serve(world, tmp_path / "first.log") as first:
        answer = httpx.post(
            first.url + CAPTURE,
            content=json.dumps(world.document(events, 5)),
            headers=headers,
            timeout=60,
        )
        assert answer.status_code == 202, answer.text[:800]
        job_id = answer.json()["captureID"]
        _wait("the first server claims the job", lambda: first.lines(f"{job_id} claimed"))
        time.sleep(0.5)
        first.kill()
    assert not first.lines(f"{job_id} done"), "the job finished before the kill: make it longer"
    job = world.job(job_id)
    assert job.state is CaptureJobState.RUNNING and job.document is not None
    assert job.attempts == 1, "the attempt is committed before the run"
    assert world.captured() == before, "a killed job's transaction left records"

    with _serve(world, tmp_path / "second.log") as second:
        _wait(
            "the next server finishes the job",
            lambda: world.job(job_id).state is not CaptureJobState.RUNNING,
            timeout=300,
        )
        status = httpx.get(second.url + f"{CAPTURE}/{job_id}", headers=headers).json()
    assert status["status"] == "done", str(status)[:800]
    assert (status["report"]["captured"], status["report"]["duplicates"]) == (events, 0)
    assert world.captured() == before + events
    assert world.job(job_id).document is None, "the document is dropped once the job is done"
    assert world.job(job_id).attempts == 2
    assert len(second.lines(f"{job_id} claimed")) == 1


def test_two_server_processes_run_each_stored_job_once(world: World, tmp_path: Path):
    """Jobs stored while no server runs (as a stopped server leaves them) are run at the
    next start-up, by two worker processes racing for them: each job once."""
    jobs, events = 6, 15
    with transaction(world.factory) as session:
        clerk = world.clerk(session)
        ids = [
            str(
                capture_jobs.open_job(
                    session, clerk, world.document(events, 10 + n), True, stored=True
                ).id
            )
            for n in range(jobs)
        ]
    before = world.captured()
    log = tmp_path / "serve.log"
    with _serve(world, log, workers=2):
        _wait(
            "every stored job is run",
            lambda: all(world.job(i).state is not CaptureJobState.RUNNING for i in ids),
            timeout=300,
        )
    for job_id in ids:
        job = world.job(job_id)
        assert job.state is CaptureJobState.DONE, job.report
        assert (job.report["captured"], job.report["duplicates"]) == (events, 0), job_id
        assert job.document is None
        claims = [line for line in log.read_text().splitlines() if f"{job_id} claimed" in line]
        assert len(claims) == 1, f"job {job_id} claimed {len(claims)} times"
    assert world.captured() == before + jobs * events


class ProcessDied(BaseException):
    """A run that ends its process (out of memory, SIGKILL): nothing after it runs, and its
    transaction is never committed."""


def _stored_job(world: World, events: int, day: int) -> uuid.UUID:
    with transaction(world.factory) as session:
        job = capture_jobs.open_job(
            session, world.clerk(session), world.document(events, day), True, stored=True
        )
        return job.id


def test_a_job_whose_run_ends_its_process_every_time_is_failed_after_its_attempts(
    world: World, db: Engine
):
    job_id = _stored_job(world, 5, 20)
    before = world.captured()
    runs: list[int] = []

    def dies() -> RegistryContext:  # the run asks for the context first thing
        runs.append(1)
        raise ProcessDied

    worker = CaptureWorker(world.factory, world.factory, dies, max_attempts=3)
    for attempt in (1, 2, 3):
        with pytest.raises(ProcessDied):
            worker.run_pending()
        job = world.job(str(job_id))
        assert (job.state, job.attempts) == (CaptureJobState.RUNNING, attempt)
        assert job.document is not None, "a run that died leaves its job stored"
    assert worker.run_pending() == 1
    assert len(runs) == 3, "a job attempted 3 times is not run a fourth"
    job = world.job(str(job_id))
    assert job.state is CaptureJobState.FAILED and job.finished_at is not None
    assert job.document is None, "the document is dropped with the failure"
    assert worker.run_pending() == 0, "a failed job is not claimed again"
    assert world.captured() == before

    with TestClient(create_app(world.settings, db)) as client:
        status = client.get(f"{CAPTURE}/{job_id}", headers=_token(world)).json()
    assert (status["status"], status["running"], status["success"]) == ("failed", False, False)
    assert status["detail"] == "the capture was attempted 3 times without finishing"
    assert status["report"] is None and status["errors"] == []


def test_a_job_that_died_before_its_last_attempt_is_finished_by_it(world: World):
    job_id = _stored_job(world, 4, 21)
    before = world.captured()

    def dies() -> RegistryContext:
        raise ProcessDied

    for _ in range(2):
        with pytest.raises(ProcessDied):
            CaptureWorker(world.factory, world.factory, dies, max_attempts=3).run_pending()
    worker = CaptureWorker(world.factory, world.factory, lambda: world.ctx, max_attempts=3)
    assert worker.run_pending() == 1
    job = world.job(str(job_id))
    assert (job.state, job.attempts) == (CaptureJobState.DONE, 3), job.report
    assert job.report["captured"] == 4 and job.document is None
    assert world.captured() == before + 4


def test_a_claim_another_worker_counted_over_is_not_run(world: World):
    """Between counting its attempt and locking the job to run it, a worker may be overtaken
    by another that counted one more: only that one runs the job."""
    job_id = _stored_job(world, 1, 22)
    counted = []
    for _ in range(2):  # two workers count an attempt, one after the other
        with transaction(world.factory) as session:
            job = capture_jobs.start_attempt(session, 3)
            assert job is not None and job.id == job_id
            counted.append(job.attempts)
    assert counted == [1, 2]
    with transaction(world.factory) as session:
        assert capture_jobs.claim_attempt(session, job_id, 1) is None
        claimed = capture_jobs.claim_attempt(session, job_id, 2)
        assert claimed is not None and claimed.state is CaptureJobState.RUNNING
