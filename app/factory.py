"""The ASGI application factory: the one place where the API, the pages and the domain meet."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from starlette.middleware.gzip import GZipMiddleware

from api import docs, problems
from api.limits import BodySizeLimit
from api.observability import RequestIds
from api.routers import admin, catalog, endorsements, exports, keys, log, records, tiles, tokens
from api.routers import reports as problem_reports
from api.routers import trace as trace_api
from api.security import SecurityHeaders
from app import metrics
from app.publishing import start_publishing
from registry import __version__
from registry.audit.monitor import integrity_status, monitor_from_settings
from registry.db import make_engine, make_session_factory, read_engine_for
from registry.endorsements.live import LiveBoard
from registry.endorsements.scan_cache import ScanCache
from registry.endorsements.scans import ScanCounter, ScanFlusher
from registry.exports.epcis import capture_jobs
from registry.exports.epcis.capture_worker import CaptureWorker
from registry.log.note import parse_vkey
from registry.operations.bootstrap import bootstrap
from registry.operations.production import check_production_start
from registry.reports.problems import REPORT_PATHS
from registry.settings import Settings, get_settings
from registry.transparency.log import log_vkey
from registry.transparency.witnessing import WitnessSubmitter
from web.errors import error_page
from web.office import router as office_router
from web.office.core import render_error as office_error_page
from web.pages import batch, certificate, consumer, overlay, qr, resolver
from web.pages import trace as trace_pages
from web.templating import STATIC_DIR

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


async def _bench_hello() -> Response:
    """``GET /bench/hello``, the baseline of ``registry bench``: the same app, server and
    middleware as the scan path, and no work. Only with ``REGISTRY_BENCH_HELLO=1``."""
    return Response(b'{"hello":"world"}', media_type="application/json")


# The scan path (docs/scaling.md): what a viewer's phone fetches after scanning the stream QR,
# served from the scan cache. Plain Starlette routes, registered ahead of every other route:
# routes are matched in order (a route at the end of this app costs ~150 µs more to reach),
# and FastAPI's parameter and dependency handling would cost ~25 µs of a ~35 µs cached scan
# (measured; docs/performance.md). The JSON endpoint keeps its FastAPI route for /docs.
SCAN_ROUTES = (
    ("/api/v1/verify/{code}", endorsements.verify),
    ("/E/{code}", consumer.endorsement_page),
    ("/e/{code}", consumer.endorsement_page),
    ("/E/{code}/verify.json", consumer.endorsement_document),
    ("/e/{code}/verify.json", consumer.endorsement_document),
    ("/E/{code}/bundle.json", consumer.endorsement_bundle),
    ("/e/{code}/bundle.json", consumer.endorsement_bundle),
)


async def _bench_hello_raw(request: Request) -> Response:
    """``GET /bench/hello-raw``: the same, as a plain Starlette route (like the scan path)."""
    return Response(b'{"hello":"world"}', media_type="application/json")


def _lifespan(factory: sessionmaker[Session], settings: Settings) -> Lifespan:
    """Start the worker's background threads on start-up and stop them on shut-down."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ctx = bootstrap(factory, settings)
        check_production_start(factory, settings)
        # Cosignatures are gathered in the background: a witness never delays a write.
        submitter = WitnessSubmitter.from_settings(settings, factory, app.state.ctx.clock)
        app.state.witness_submitter = submitter
        submitter.start()
        flusher = ScanFlusher(app.state.scan_counter, factory)
        app.state.scan_flusher = flusher
        flusher.start()
        # The scan path's cache watcher: one thread per worker process (docs/scaling.md).
        app.state.scan_cache.start()
        # What the OBS overlays of this process watch (registry.endorsements.live).
        app.state.live_board.start()
        # The published scan files, when this server keeps them (docs/scaling.md).
        publisher = start_publishing(
            factory,
            app.state.read_session_factory,
            lambda: app.state.ctx,
            settings,
            app.state.scan_counter,
        )
        app.state.publisher = publisher
        # Asynchronous EPCIS captures, this process's and any a stopped process left.
        worker = None
        if settings.capture_worker:
            worker = CaptureWorker(
                factory,
                app.state.read_session_factory,
                lambda: app.state.ctx,
                settings.capture_poll_interval,
                settings.capture_max_attempts,
            )
            worker.start()
        app.state.capture_worker = worker
        # The database checks itself in the background; /healthz reports the verdict.
        monitor = monitor_from_settings(settings, factory, parse_vkey(log_vkey(app.state.ctx)))
        app.state.integrity = monitor
        if monitor is not None:
            monitor.start()
        try:
            yield
        finally:
            if monitor is not None:
                monitor.stop()
            # What this run started, not what app.state names now: a second run of the
            # lifespan on the same app (a test client on a served app) overwrites app.state.
            if worker is not None:
                worker.stop()
            if publisher is not None:
                publisher.stop()
            app.state.live_board.stop()
            app.state.scan_cache.stop()
            submitter.stop()
            flusher.stop()
            if app.state.read_engine is not app.state.engine:
                app.state.read_engine.dispose()

    return lifespan


def _share_state(
    app: FastAPI, settings: Settings, engine: Engine, factory: sessionmaker[Session]
) -> None:
    """What every request may reach through ``request.app.state`` (``api/deps.py``)."""
    app.state.settings = settings
    app.state.integrity = None  # the background self-check, once started
    app.state.engine = engine
    app.state.session_factory = factory
    app.state.read_engine = read_engine_for(engine)
    app.state.read_session_factory = make_session_factory(app.state.read_engine)
    app.state.scan_counter = ScanCounter()
    app.state.scan_cache = ScanCache(app.state.read_session_factory, lambda: app.state.ctx)
    app.state.scan_cache.watch_commits(factory)
    app.state.live_board = LiveBoard(
        app.state.scan_cache,
        app.state.read_session_factory,
        app.state.scan_counter,
        lambda: app.state.ctx,
    )
    app.state.live_board.wake_on_commits(factory)  # after the cache's: it reads the cache


def _add_routes(app: FastAPI, engine: Engine) -> None:
    """Every route, in the order they are matched: the scan path first (see SCAN_ROUTES)."""
    if os.environ.get("REGISTRY_BENCH_HELLO") == "1":
        # First: the strictest baselines for the scan path.
        app.add_api_route("/bench/hello", _bench_hello, include_in_schema=False)
        app.add_route("/bench/hello-raw", _bench_hello_raw, include_in_schema=False)
    for path, endpoint in SCAN_ROUTES:
        app.add_route(path, endpoint, methods=["GET", "HEAD"], include_in_schema=False)
    for router in (admin, tokens, keys, catalog, records, endorsements, log, tiles, exports):
        app.include_router(router.router)
    app.include_router(problem_reports.router)
    app.include_router(trace_api.router)
    for pages in (consumer, qr, batch, overlay):
        app.include_router(pages.router)
    app.include_router(office_router)
    app.include_router(certificate.router)
    app.include_router(trace_pages.router)
    # GS1 Digital Link: paths whose first segment is an Application Identifier (2-4 digits).
    app.include_router(resolver.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", tags=["health"])
    def healthz(request: Request) -> JSONResponse:
        """``{"status", "version", "integrity"}``: the database answers, and what its
        background self-check found (``registry.audit.monitor``); 503 when it failed."""
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        integrity = integrity_status(request.app.state.integrity)
        body = {
            "status": "failed" if integrity.failed else "ok",
            "version": __version__,
            "integrity": integrity.to_json(),
        }
        return JSONResponse(body, status_code=503 if integrity.failed else 200)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app: the API (``api/``) and the pages (``web/``) on one domain
    (``registry/``). The database must already be migrated (``registry db upgrade``)."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.effective_database_url)
    factory = make_session_factory(engine)
    app = FastAPI(
        title="Guarantee Registry",
        version=__version__,
        summary="Signed evidence behind an official's livestream endorsement of a farm product",
        lifespan=_lifespan(factory, settings),
        docs_url=None,  # served by api.docs from this host, not from a CDN
        redoc_url=None,
    )
    _share_state(app, settings, engine, factory)
    # One error handler for every domain error; the office's pages come in its own dress.
    problems.install(app, html_error_page=partial(error_page, office_page=office_error_page))
    docs.install(app)
    _add_routes(app, engine)
    metrics.install(app)  # GET /metrics (docs/scaling.md, "What to watch")
    # Last of all: a compressed GS1 Digital Link is a lone segment no other route claims.
    app.include_router(resolver.compressed_router)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        larger=REPORT_PATHS,  # a problem report may carry the guarantee bundle
        larger_bytes=settings.max_report_body_bytes,
        # An EPCIS capture document of up to GS1-EPCIS-Capture-Limit events; its 413, like
        # every capture answer, states the limits (GS1-EPCIS-Capture-File-Size-Limit).
        paths=[
            (
                exports.CAPTURE_PATHS,
                settings.max_capture_bytes,
                capture_jobs.limits(settings.max_capture_bytes),
            )
        ],
    )
    # Pages and JSON travel compressed: the consumer page's weight budget counts wire bytes.
    app.add_middleware(GZipMiddleware, minimum_size=500, compresslevel=6)
    # Outermost, so every answer carries them, a 413 from the body-size limit included.
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestIds)  # X-Request-Id, and the request's JSON log line
    return app
