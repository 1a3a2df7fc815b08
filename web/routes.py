"""Server-rendered pages: the consumer page of an endorsement (what a viewer sees after
scanning the stream QR), the code entry page for viewers who cannot scan, the batch page
(package labels, GS1 Digital Link), the QR images, and the OBS overlay a streamer shows.

Errors here are HTML pages (a phone's browser shows them), except that a client asking for
JSON gets RFC 9457 problem details like the API. An expected error is never a 500.

Pages are Chinese by default, English by ``Accept-Language`` or ``?lang=en`` (the visible
toggle); every word comes from ``web/i18n.py``.

The consumer page is the scan path: thousands of viewers may scan within seconds of the QR
appearing on stream. Its data (the verification document, with inclusion proofs) comes from
the process's scan cache (``registry.endorsements.scan_cache``), shared with
``GET /api/v1/verify/{code}``: prepared in memory, rendered once per (status, language),
invalidated by a watcher thread when a status-relevant record is logged (a revocation or recall
shows within 2 s). A cached scan makes no database query and no write (the scan is counted in
memory) and runs on the event loop without a worker thread. The page carries an ETag and
``Cache-Control: public, max-age=1``, so a CDN in front can absorb a burst of scans without
showing a stale status for longer than that.

On the phone, ``/static/verify.js`` fetches the verification document and checks every
signature, inclusion proof and the checkpoint with WebCrypto; without JavaScript the page
shows the registry's own verification result.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import ContextDep, SessionDep
from api.problems import problem
from api.routers.endorsements import scan_entry, scan_response
from api.routers.reports import client_address, rate_limiter
from registry import qr
from registry.catalog import batches as batch_service
from registry.codes import ALPHABET, check_character, normalize_code
from registry.context import RegistryContext
from registry.endorsements import published as endorsement_service
from registry.endorsements.scan_cache import Encoded, ScanCache, ScanEntry
from registry.endorsements.scans import total_scans
from registry.errors import InvalidInput, NotFound, RateLimited
from registry.gs1 import parse_digital_link
from registry.models import (
    Account,
    Batch,
    Endorsement,
    EndorsementBatch,
    Organization,
    Product,
    Record,
    ReportCategory,
    SigningKey,
)
from registry.records import stored as stored_records
from registry.records.stored import find_batch
from registry.reports import problems as report_service
from registry.status import Status
from registry.transparency import log as log_service
from web.i18n import TEXT, Translator, negotiate

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"

router = APIRouter(include_in_schema=False)
GET_HEAD = ["GET", "HEAD"]  # HEAD for link checkers and caches; only a GET counts a scan

# Every asset comes from this origin: an OBS browser source or a viewer's phone loads
# nothing from elsewhere (no CDN, no web fonts, no trackers), and no script or style is
# inline, so an injected one cannot run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# The OBS overlay is the one page meant to be embedded (a browser source, or a streaming
# dashboard's iframe): its policy is the same without frame-ancestors.
OVERLAY_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("; frame-ancestors 'none'", "")
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Batch pages: a CDN (and the phone) may reuse one this long, then must revalidate with the
# ETag. The consumer page and its verification document use SCAN_CACHE_CONTROL (one second).
PAGE_CACHE = "public, max-age=5"
NO_STORE = "no-store"
# A code's stream QR never changes (the URL is the base URL plus the code).
IMMUTABLE = "public, max-age=31536000, immutable"
# A batch label could change if its product's GTIN were set later; revalidate daily.
LABEL_CACHE = "public, max-age=86400"
DEFAULT_PNG_WIDTH = 512

CST = timezone(timedelta(hours=8), "CST")  # China Standard Time, what viewers read

# Kept for the overlay template, which shows both languages side by side.
STATUS_LABELS: dict[str, tuple[str, str]] = {s.value: TEXT[f"status.{s.value}"] for s in Status}
STATUS_ICONS = {
    Status.VALID: "✓",
    Status.NOT_YET_VALID: "◷",
    Status.EXPIRED: "⌛",
    Status.REVOKED: "✕",
    Status.RECALLED: "⚠",
}
KIND_ICONS = {
    "harvest": "🌾",
    "processing": "🏭",
    "packing": "📦",
    "inspection": "🔬",
    "certificate": "📜",
    "storage": "🌡",
    "shipping": "🚚",
    "receiving": "📥",
    "recall": "⚠",
    "correction": "✎",
    "endorsement": "🤝",
    "endorsement_revocation": "✕",
}


# --- templates ------------------------------------------------------------------------------


def _cst(value: str | datetime | None, with_time: bool = True) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:  # stored as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CST).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def _label(table: dict[str, tuple[str, str]], key: str) -> tuple[str, str]:
    return table.get(key, (key, key))


templates = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["cst"] = _cst
templates.filters["cst_date"] = lambda v: _cst(v, with_time=False)
templates.globals.update(
    status_label=lambda s: _label(STATUS_LABELS, s),
    status_icon=lambda s: STATUS_ICONS.get(s, "•"),
    kind_icon=lambda k: KIND_ICONS.get(k, "•"),
    report_categories=[c.value for c in ReportCategory],
)


def _render(name: str, **context: Any) -> bytes:
    return templates.get_template(name).render(**context).encode()


def _html(
    body: bytes, status_code: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    return HTMLResponse(body, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})})


@dataclass(frozen=True)
class Language:
    """The page language, and whether the viewer chose it (then links keep ``?lang=``)."""

    t: Translator
    explicit: bool

    @property
    def code(self) -> str:
        return self.t.lang

    @property
    def suffix(self) -> str:
        return f"?lang={self.code}" if self.explicit else ""

    def headers(self) -> dict[str, str]:
        return {"Content-Language": self.t.html_lang, "Vary": "Accept-Language"}


def _language(request: Request) -> Language:
    lang, explicit = negotiate(
        request.query_params.get("lang"), request.headers.get("accept-language")
    )
    return Language(Translator(lang), explicit)


_SCAN_LANGUAGES: dict[tuple[bytes, bytes], Language] = {}


def _scan_language(request: Request) -> Language:
    """_language for the scan path: remembered per (query string, Accept-Language), since a
    burst of viewers sends a handful of distinct values (bounded: cleared when it grows)."""
    accept = b""
    for name, value in request.scope["headers"]:
        if name == b"accept-language":
            accept = value
            break
    key = (request.scope.get("query_string", b""), accept)
    language = _SCAN_LANGUAGES.get(key)
    if language is None:
        language = _language(request)
        if len(_SCAN_LANGUAGES) > 1024:
            _SCAN_LANGUAGES.clear()
        _SCAN_LANGUAGES[key] = language
    return language


def _page_context(request: Request, language: Language, path: str | None = None) -> dict[str, Any]:
    """What base.html needs: the translator and the language toggle's link (to ``path``,
    by default the page's own)."""
    other = language.t.other
    return {
        "t": language.t,
        "lang": language.code,
        "link_suffix": language.suffix,
        "toggle_url": f"{path or request.url.path}?lang={other}",
    }


# --- errors ---------------------------------------------------------------------------------


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


def _error(
    request: Request,
    status_code: int,
    slug: str,
    heading: str,
    detail: str,
    hint: str | None = None,
    suggestions: list[str] | None = None,
) -> Response:
    """An error page; ``heading`` and ``hint`` are TEXT keys, shown in the page language
    first and the other one alongside (a viewer who landed here may read either)."""
    if _wants_json(request):
        return problem(status_code, detail, slug, request.url.path)
    language = _language(request)
    body = _render(
        "error.html",
        **_page_context(request, language),
        other_t=Translator(language.t.other),
        status_code=status_code,
        heading=heading,
        detail=detail,
        hint=hint,
        suggestions=suggestions or [],
        show_entry=request.url.path.lower().startswith(("/e/", "/overlay/")),
    )
    return _html(body, status_code, language.headers())


def _clean_code(text: str) -> str:
    # What normalize_code reads: upper case, no separators, Crockford's look-alikes mapped.
    aliases = str.maketrans({"O": "0", "I": "1", "L": "1"})
    return text.strip().upper().replace("-", "").replace(" ", "").translate(aliases)


def code_candidates(typed: str) -> list[str]:
    """Well-formed codes one typing slip away from ``typed``: one character changed, or two
    neighbours swapped. The Luhn mod 32 check character catches these slips (all but a
    swap of 0 and Z), so for a code with a bad check character this is the short list of
    what was meant: about a dozen codes, one query."""
    code = _clean_code(typed)
    if not 8 <= len(code) <= 11 or any(c not in ALPHABET for c in code):
        return []
    found: set[str] = set()
    body, check = code[:-1], code[-1]
    found.add(body + check_character(body))  # the check character itself mistyped
    for i in range(len(body)):
        for char in ALPHABET:
            if char != body[i]:
                changed = body[:i] + char + body[i + 1 :]
                if check_character(changed) == check:
                    found.add(changed + check)
    for i in range(len(code) - 1):
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        if swapped != code and check_character(swapped[:-1]) == swapped[-1]:
            found.add(swapped)
    found.discard(code)
    return sorted(found)


def suggest_endorsements(session: Session, typed: str) -> list[str]:
    """Endorsement codes that ``typed`` probably meant (one query)."""
    candidates = code_candidates(typed)
    if not candidates:
        return []
    return sorted(session.scalars(select(Endorsement.code).where(Endorsement.code.in_(candidates))))


def _bad_code(
    request: Request, exc: InvalidInput, suggestions: list[str] | None = None
) -> Response:
    return _error(
        request,
        404,
        "not-found",
        "error.bad_code",
        exc.detail,
        "error.bad_code_hint",
        suggestions,
    )


def _not_found(request: Request, what: str, exc: NotFound) -> Response:
    return _error(request, 404, "not-found", what, exc.detail, "error.not_found_hint")


# --- the endorsement page (the scan path) ---------------------------------------------------


QR_CACHE = qr.QRCache()  # images depend only on their URL, so one cache serves every app


def _scan_cache(request: Request) -> ScanCache:
    cache: ScanCache = request.app.state.scan_cache
    return cache


# --- what a step shows ----------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


@dataclass(frozen=True)
class Batches:
    """Batch references (``product:lot``) to what a page links: lot and public code."""

    by_ref: dict[str, dict[str, Any]]

    def link(self, ref: str) -> dict[str, Any]:
        known = self.by_ref.get(ref)
        if known is not None:
            return known
        return {"lot": ref.rpartition(":")[2], "code": None, "product": None}


def _place(place: dict[str, Any] | None) -> dict[str, Any] | None:
    """A place with, when it has coordinates, where its marker sits on the locator map.

    The locator is a plain longitude/latitude grid (73-135°E, 18-54°N) with a pin: no
    borders are drawn, so nothing on it can be a wrong or outdated boundary."""
    if not place:
        return None
    lat, lon = _decimal(place.get("lat")), _decimal(place.get("lon"))
    marker = None
    if lat is not None and lon is not None and 73 <= lon <= 135 and 18 <= lat <= 54:
        marker = {
            "x": round(float((lon - 73) / 62 * 240), 1),
            "y": round(float((54 - lat) / 36 * 140), 1),
        }
    return {
        "name": place.get("name"),
        "region": place.get("region"),
        "lat": place.get("lat"),
        "lon": place.get("lon"),
        "marker": marker,
    }


def _chart(readings: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A small temperature chart: an SVG polyline 240×64 with the points' coordinates."""
    values = [(r.get("time"), _decimal(r.get("celsius"))) for r in readings]
    points = [(when, c) for when, c in values if c is not None]
    if not points:
        return None
    low = min(c for _, c in points)
    high = max(c for _, c in points)
    span = max(high - low, Decimal(2))
    floor = (low + high) / 2 - span / 2 - span / 4
    ceiling = floor + span * Decimal("1.5")
    width, height, pad = 240, 64, 18
    step = (width - 2 * pad) / max(len(points) - 1, 1)
    coords = []
    for i, (when, c) in enumerate(points):
        x = pad + i * step if len(points) > 1 else width / 2
        y = height - pad - float((c - floor) / (ceiling - floor)) * (height - 2 * pad)
        coords.append({"x": round(x, 1), "y": round(y, 1), "c": str(c), "time": when})
    return {
        "width": width,
        "height": height,
        "points": coords,
        "polyline": " ".join(f"{p['x']},{p['y']}" for p in coords),
        "low": str(low),
        "high": str(high),
        "count": len(points),
    }


def _result(result: dict[str, Any]) -> dict[str, Any]:
    """A lab result, with how far the value is toward its limit (for a small bar)."""
    value, limit = _decimal(result.get("value")), _decimal(result.get("limit"))
    share = None
    if value is not None and limit is not None and limit > 0:
        share = min(float(value / limit), 1.2)
    return {
        **result,
        "share": share,
        "bar": round(share * 100, 1) if share is not None else None,
        "not_detected": value == 0 if value is not None else False,
    }


def _detail(record: dict[str, Any], batches: Batches) -> dict[str, Any]:
    """The kind-specific part of a step, ready for the template."""
    kind = record.get("kind")
    if kind == "harvest":
        return {
            "quantity": record.get("quantity"),
            "unit": record.get("unit"),
            "harvest_date": record.get("harvest_date"),
            "best_before": record.get("best_before"),
            "place": _place(record.get("place")),
        }
    if kind == "processing":
        return {
            "process": record.get("process"),
            "inputs": [
                {**batches.link(i.get("batch", "")), "quantity": i.get("quantity")}
                for i in record.get("inputs", [])
            ],
            "outputs": [
                {
                    **batches.link(o.get("batch", "")),
                    "quantity": o.get("quantity"),
                    "unit": o.get("unit"),
                    "best_before": o.get("best_before"),
                }
                for o in record.get("outputs", [])
            ],
        }
    if kind == "packing":
        return {"package": record.get("package") or {}, "packaging": record.get("packaging")}
    if kind == "inspection":
        return {
            "report_number": record.get("report_number"),
            "sampled_on": record.get("sampled_on"),
            "verdict": record.get("verdict"),
            "results": [_result(r) for r in record.get("results", [])],
        }
    if kind == "certificate":
        return {
            "certificate_number": record.get("certificate_number"),
            "promise": record.get("promise"),
            "quantity": record.get("quantity"),
            "unit": record.get("unit"),
        }
    if kind == "storage":
        return {"location": record.get("location"), "chart": _chart(record.get("readings", []))}
    if kind == "shipping":
        to = record.get("to") or {}
        return {
            "to": to.get("name"),
            "region": (to.get("place") or {}).get("region"),
            "waybill": record.get("waybill"),
            "vehicle": record.get("vehicle"),
            "quantity": record.get("quantity"),
            "unit": record.get("unit"),
        }
    if kind == "receiving":
        return {
            "source": (record.get("source") or {}).get("name"),
            "waybill": record.get("waybill"),
            "quantity": record.get("quantity"),
            "unit": record.get("unit"),
        }
    if kind in ("recall", "endorsement_revocation", "correction"):
        return {"reason": record.get("reason")}
    if kind == "endorsement":
        return {"claims": record.get("claims", []), "quantity": record.get("quantity")}
    return {}


def _step(
    index: int,
    kind: str,
    record: dict[str, Any] | None,
    logged_at: str,
    signers: list[dict[str, Any]],
    batches: Batches,
    *,
    digest: str = "",
    verified: bool = True,
    problem: str | None = None,
) -> dict[str, Any]:
    document = record or {}
    return {
        "index": index,
        "kind": kind,
        "time": document.get("time") or logged_at,
        "digest": digest,
        "signers": signers,
        "batches": [batches.link(ref) for ref in document.get("batches", [])],
        "detail": _detail(document, batches),
        "erased": record is None,
        "verified": verified,
        "problem": problem,
    }


def _steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The signed steps a viewer reads: every record of the chain except key bookkeeping,
    in log order, each with who signed it (from the keys' registrations)."""
    batches = Batches(
        {
            b["ref"]: {"lot": b["lot"], "code": b["code"], "product": b["product"]}
            for b in document["batches"]
        }
    )
    keys = {k["key_id"]: k for k in document["keys"]}
    steps = []
    for entry in document["chain"]:
        if entry["kind"].startswith("key_"):
            continue
        signers = []
        for signature in entry["envelope"]["signatures"]:
            key = keys.get(signature["keyid"], {})
            signers.append(
                {"org": key.get("organization") or {}, "holder": key.get("holder") or {}}
            )
        steps.append(
            _step(
                entry["index"],
                entry["kind"],
                entry["record"],
                entry["logged_at"],
                signers,
                batches,
                digest=entry["digest"],
                verified=entry["verified"],
                problem=entry["problem"],
            )
        )
    return steps


def _origins(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Where the batches were grown: one entry per harvest step."""
    return [
        {"place": s["detail"]["place"], "batches": s["batches"], "signers": s["signers"]}
        for s in steps
        if s["kind"] == "harvest" and s["detail"].get("place")
    ]


# --- the endorsement page -------------------------------------------------------------------


@dataclass
class ReportForm:
    """The report form as the viewer left it, and what to tell them about it."""

    category: str = ""
    text: str = ""
    contact: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    sent: bool = False
    message: str = ""


def _endorsement_page(
    request: Request,
    language: Language,
    view: ScanEntry,
    status: Status,
    ctx: RegistryContext,
    report: ReportForm | None = None,
) -> bytes:
    document = view.document
    steps = _steps(document)
    chain = document["chain"]
    return _render(
        "endorsement.html",
        **_page_context(request, language, f"/e/{view.code}"),
        status=status.value,
        doc=document,
        endorsement=document["endorsement"],
        product=document["product"],
        steps=steps,
        origins=_origins(steps),
        server_ok=sum(1 for e in chain if e["verified"]),
        server_total=len(chain),
        log_vkey=log_service.log_vkey(ctx),
        stream_url=qr.stream_url(ctx.settings.base_url, view.code),
        report=report or ReportForm(),
    )


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _not_modified(request: Request, etag: str) -> bool:
    tags = request.headers.get("if-none-match", "")
    return any(t.strip().removeprefix("W/") == etag for t in tags.split(",")) or tags == "*"


def _suggestions(request: Request, typed: str) -> list[str]:
    """suggest_endorsements with a session of its own (for the async scan routes)."""
    with request.app.state.read_session_factory() as session, session.begin():
        return suggest_endorsements(session, typed)


async def _scan_view(request: Request, code: str) -> ScanEntry | Response:
    """The scan cache's entry of ``code``, or the error page (HTML, or problem+json for a
    client asking for JSON). A cached code costs no I/O and no worker thread."""
    try:
        return await scan_entry(request, code)
    except NotFound as exc:
        try:
            normalize_code(code)
        except InvalidInput as bad:  # a slip of the typist: say which codes were meant
            return _bad_code(request, bad, await run_in_threadpool(_suggestions, request, code))
        return _not_found(request, "error.no_endorsement", exc)


def _find_view(request: Request, session: Session, code: str) -> ScanEntry | Response:
    """_scan_view for the synchronous routes (already in a worker thread)."""
    try:
        normalized = normalize_code(code)
    except InvalidInput as exc:
        return _bad_code(request, exc, suggest_endorsements(session, code))
    try:
        return _scan_cache(request).load(normalized)
    except NotFound as exc:
        return _not_found(request, "error.no_endorsement", exc)


def _page_encoded(
    request: Request, language: Language, view: ScanEntry, status: Status, ctx: RegistryContext
) -> Encoded:
    """The rendered page of ``view`` for this status and language, rendered once: concurrent
    first viewers (a burst right after an invalidation) wait for one render instead of each
    rendering (measured: 32 concurrent renders pushed p99 past a second)."""
    key = (status.value, language.code, language.explicit)
    with view.render_lock:
        encoded = view.html.get(key)
        if encoded is None:
            encoded = Encoded.of(_endorsement_page(request, language, view, status, ctx))
            view.html[key] = encoded
    return encoded


# The scan path's two routes are plain Starlette routes registered ahead of every other route
# (api.app.SCAN_ROUTES): no FastAPI parameter handling, ~25 µs less per scan (measured).
async def endorsement_page(request: Request) -> Response:
    """The consumer page: status, the official's guarantee and every signed step. Counts a
    scan (in memory; no IP address or viewer id is stored). Rendered once per entry, status
    and language, then served from the scan cache without I/O. (``code`` is read from the
    path, not declared: parameter validation would cost a fifth of a cached scan.)"""
    found = await _scan_view(request, request.path_params["code"])
    if isinstance(found, Response):
        return found
    view = found
    ctx: RegistryContext = request.app.state.ctx
    language = _scan_language(request)
    status = view.status(ctx.clock())
    key = (status.value, language.code, language.explicit)
    encoded = view.html.get(key)
    if encoded is None:  # rendering takes milliseconds: not on the event loop
        encoded = await run_in_threadpool(_page_encoded, request, language, view, status, ctx)
    if request.method == "GET":
        request.app.state.scan_counter.record(view.endorsement_id)
    headers = {
        **PAGE_HEADERS,
        "Content-Language": language.t.html_lang,
        "Vary": "Accept-Language, Accept-Encoding",
    }
    return scan_response(request, encoded, "text/html; charset=utf-8", headers)


async def endorsement_document(request: Request) -> Response:
    """The verification document (the same bytes as ``GET /api/v1/verify/{code}``) that the
    page's script checks, from the scan cache: every viewer's phone fetches it right after
    the page. Counts no scan (the page view did); cacheable like the page, with the status
    computed per request."""
    found = await _scan_view(request, request.path_params["code"])
    if isinstance(found, Response):
        return found
    status = found.status(request.app.state.ctx.clock())
    return scan_response(request, found.document_json(status), "application/json")


def _form_errors(exc: InvalidInput, t: Translator) -> dict[str, str]:
    fields = {e.get("path", "") for e in exc.extra.get("errors", [])} or {exc.extra.get("field")}
    return {f: t(f"report.error.{f}") for f in fields if f in ("category", "text", "contact")}


@router.post("/e/{code}/report", response_class=HTMLResponse)
@router.post("/E/{code}/report", response_class=HTMLResponse)
def report_problem_form(
    code: str,
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    category: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    contact: Annotated[str, Form()] = "",
) -> Response:
    """The page's "report a problem" form without JavaScript: stores the report like
    ``POST /api/v1/endorsements/{code}/reports`` and shows the page again with a message,
    keeping what the viewer typed when something must be corrected."""
    found = _find_view(request, session, code)
    if isinstance(found, Response):
        return found
    view = found
    language = _language(request)
    t = language.t
    form = ReportForm(category=category, text=text[:4000], contact=contact[:400])
    status_code = 200
    retry_after = 0
    try:
        report = report_service.validate_report(category, text, contact)
        rate_limiter(request).hit(client_address(request))
        report_service.submit_report(session, view.code, report, ctx.clock())
    except InvalidInput as exc:
        form.errors = _form_errors(exc, t)
        form.message = t("report.invalid")
        status_code = 422
    except RateLimited as exc:
        form.message = t("report.rate_limited", seconds=exc.retry_after)
        status_code, retry_after = 429, exc.retry_after
    else:
        form = ReportForm(sent=True, message=t("report.thanks"))
    body = _endorsement_page(request, language, view, view.status(ctx.clock()), ctx, form)
    headers = {"Cache-Control": NO_STORE, **language.headers()}
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return _html(body, status_code, headers)


# --- the code entry page --------------------------------------------------------------------


@router.api_route("/e", methods=GET_HEAD, response_class=HTMLResponse)
@router.api_route("/e/", methods=GET_HEAD, response_class=HTMLResponse)
@router.api_route("/E", methods=GET_HEAD, response_class=HTMLResponse)
def entry_page(
    request: Request,
    session: SessionDep,
    code: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """For viewers who cannot scan: type the code. A good code goes to its page; a mistyped
    one gets the page again, saying what is wrong and which codes were probably meant."""
    language = _language(request)
    t = language.t
    message = ""
    suggestions: list[str] = []
    status_code = 200
    if code is not None:
        typed = code.strip()
        try:
            normalized = normalize_code(typed)
        except InvalidInput:
            cleaned = _clean_code(typed)
            status_code = 422
            if not typed:
                message = t("entry.empty")
            elif 8 <= len(cleaned) <= 11 and all(c in ALPHABET for c in cleaned):
                message = t("entry.check", code=typed)
                suggestions = suggest_endorsements(session, typed)
            else:
                message = t("entry.malformed", code=typed)
        else:
            exists = session.scalar(select(Endorsement.id).where(Endorsement.code == normalized))
            if exists is not None:
                return RedirectResponse(f"/e/{normalized}{language.suffix}", status_code=303)
            status_code = 404
            message = t("entry.unknown", code=normalized)
            suggestions = suggest_endorsements(session, normalized)
    body = _render(
        "entry.html",
        **_page_context(request, language),
        typed=code or "",
        message=message,
        suggestions=suggestions,
    )
    cache = {"Cache-Control": "public, max-age=300" if code is None else NO_STORE}
    return _html(body, status_code, {**cache, **language.headers()})


# --- QR images ------------------------------------------------------------------------------

PngWidth = Annotated[int, Query(description="width in pixels, clamped to 64-2048")]


def _image(request: Request, rendered: qr.Rendered, cache_control: str) -> Response:
    headers = {
        "ETag": rendered.etag,
        "Cache-Control": cache_control,
        "X-QR-Version": str(rendered.version),
        "X-Content-Type-Options": "nosniff",
    }
    if rendered.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type=rendered.media_type, headers=headers)


def _stream_url_for_image(
    session: Session, request: Request, base_url: str, code: str
) -> str | Response:
    """The stream URL of an endorsement that exists, or the error page to answer with.

    Only codes that exist get a QR: rendering costs milliseconds, so a stranger must not be
    able to make the server render (and cache) QRs of arbitrary strings."""
    try:
        endorsement = endorsement_service.get_endorsement(session, normalize_code(code))
    except InvalidInput as exc:
        return _bad_code(request, exc)
    except NotFound as exc:
        return _not_found(request, "error.no_endorsement", exc)
    return qr.stream_url(base_url, endorsement.code)


@router.api_route("/e/{code}/qr.svg", methods=GET_HEAD)
@router.api_route("/E/{code}/qr.svg", methods=GET_HEAD)
def endorsement_qr_svg(
    code: str, request: Request, session: SessionDep, ctx: ContextDep
) -> Response:
    """The stream QR as SVG (error correction Q, 4-module quiet zone)."""
    url = _stream_url_for_image(session, request, ctx.settings.base_url, code)
    if isinstance(url, Response):
        return url
    return _image(request, QR_CACHE.svg(url), IMMUTABLE)


@router.api_route("/e/{code}/qr.png", methods=GET_HEAD)
@router.api_route("/E/{code}/qr.png", methods=GET_HEAD)
def endorsement_qr_png(
    code: str,
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    size: PngWidth = DEFAULT_PNG_WIDTH,
) -> Response:
    """The stream QR as a PNG ``size`` pixels wide (whole pixels per module)."""
    url = _stream_url_for_image(session, request, ctx.settings.base_url, code)
    if isinstance(url, Response):
        return url
    return _image(request, QR_CACHE.png(url, size), IMMUTABLE)


# --- batches and GS1 Digital Link -----------------------------------------------------------


def _label_url(session: Session, base_url: str, batch: Batch) -> str:
    product = session.get(Product, batch.product_id)
    gtin = product.gtin if product else None
    try:
        return qr.batch_url(base_url, gtin, batch.lot, batch.code)
    except InvalidInput:  # a lot outside the GS1 character set: label with the short code
        return qr.batch_url(base_url, None, batch.lot, batch.code)


def _signers(session: Session, records: list[Record]) -> dict[str, dict[str, Any]]:
    """Key id to the organization and holder it was registered to (for "signed by")."""
    key_ids = {s["keyid"] for r in records for s in r.signatures}
    keys = session.scalars(select(SigningKey).where(SigningKey.key_id.in_(key_ids))).all()
    org_ids = {k.organization_id for k in keys if k.organization_id}
    orgs = {
        o.id: o for o in session.scalars(select(Organization).where(Organization.id.in_(org_ids)))
    }
    account_ids = {k.account_id for k in keys if k.account_id}
    accounts = {
        a.id: a for a in session.scalars(select(Account).where(Account.id.in_(account_ids)))
    }
    found: dict[str, dict[str, Any]] = {}
    for key in keys:
        org = orgs.get(key.organization_id) if key.organization_id else None
        holder = accounts.get(key.account_id) if key.account_id else None
        found[key.key_id] = {
            "org": {"name_zh": org.name_zh, "name_en": org.name_en} if org else {},
            "holder": {
                "name_zh": holder.name_zh,
                "name_en": holder.name_en,
                "title_zh": holder.title_zh,
                "title_en": holder.title_en,
            }
            if holder
            else {},
        }
    return found


def _batch_links(session: Session, records: list[Record]) -> Batches:
    refs: set[str] = set()
    for record in records:
        document = json.loads(record.payload) if record.payload is not None else {}
        refs.update(document.get("batches", []))
        refs.update(i.get("batch", "") for i in document.get("inputs", []))
        refs.update(o.get("batch", "") for o in document.get("outputs", []))
    links: dict[str, dict[str, Any]] = {}
    for ref in sorted(r for r in refs if ":" in r):
        try:
            batch = find_batch(session, ref)
        except ValueError:  # not a "<product uuid>:<lot>" reference
            continue
        if batch is not None:
            product = session.get(Product, batch.product_id)
            links[ref] = {
                "lot": batch.lot,
                "code": batch.code,
                "product": {"name_zh": product.name_zh, "name_en": product.name_en}
                if product
                else None,
            }
    return Batches(links)


def _batch_page(
    request: Request, language: Language, session: Session, ctx: RegistryContext, batch: Batch
) -> bytes:
    product = session.get(Product, batch.product_id)
    origin = session.get(Organization, batch.origin_org_id)
    records = batch_service.batch_records(session, batch.id)
    signers = _signers(session, records)
    links = _batch_links(session, records)
    key_ids = {s["keyid"] for r in records for s in r.signatures}
    keys = {
        k.key_id: k
        for k in session.scalars(select(SigningKey).where(SigningKey.key_id.in_(key_ids)))
    }
    steps = []
    for record in records:
        problem = stored_records.record_problem(record, keys)
        steps.append(
            _step(
                record.log_index,
                record.kind,
                json.loads(record.payload) if record.payload is not None else None,
                record.logged_at.isoformat(),
                [signers.get(s["keyid"], {}) for s in record.signatures],
                links,
                digest=record.digest,
                verified=problem is None,
                problem=problem,
            )
        )
    endorsements = session.scalars(
        select(Endorsement)
        .join(EndorsementBatch, EndorsementBatch.endorsement_id == Endorsement.id)
        .where(EndorsementBatch.batch_id == batch.id)
        .order_by(Endorsement.record_index)
    ).all()
    now = ctx.clock()
    return _render(
        "batch.html",
        **_page_context(request, language),
        batch=batch,
        product=product,
        origin=origin,
        steps=steps,
        origins=_origins(steps),
        endorsements=[
            (e, endorsement_service.status_of(session, e, now).value) for e in endorsements
        ],
        label_url=_label_url(session, ctx.settings.base_url, batch),
    )


def _batch_response(
    request: Request, session: Session, ctx: RegistryContext, batch: Batch
) -> Response:
    language = _language(request)
    body = _batch_page(request, language, session, ctx, batch)
    etag = _etag(body)
    headers = {"ETag": etag, "Cache-Control": PAGE_CACHE, **language.headers()}
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return _html(body, headers=headers)


def _find_batch(session: Session, request: Request, code: str) -> Batch | Response:
    try:
        return batch_service.get_batch(session, normalize_code(code))
    except InvalidInput as exc:
        return _bad_code(request, exc)
    except NotFound as exc:
        return _not_found(request, "error.no_batch", exc)


@router.api_route("/b/{code}", methods=GET_HEAD, response_class=HTMLResponse)
@router.api_route("/B/{code}", methods=GET_HEAD, response_class=HTMLResponse)
def batch_page(code: str, request: Request, session: SessionDep, ctx: ContextDep) -> Response:
    """A batch (lot): product, origin, and its own signed records."""
    found = _find_batch(session, request, code)
    if isinstance(found, Response):
        return found
    return _batch_response(request, session, ctx, found)


@router.api_route("/b/{code}/qr.svg", methods=GET_HEAD)
@router.api_route("/B/{code}/qr.svg", methods=GET_HEAD)
def batch_qr_svg(code: str, request: Request, session: SessionDep, ctx: ContextDep) -> Response:
    """The package label QR: GS1 Digital Link when the product has a GTIN, else /B/{code}."""
    found = _find_batch(session, request, code)
    if isinstance(found, Response):
        return found
    url = _label_url(session, ctx.settings.base_url, found)
    return _image(request, QR_CACHE.svg(url), LABEL_CACHE)


@router.api_route("/b/{code}/qr.png", methods=GET_HEAD)
@router.api_route("/B/{code}/qr.png", methods=GET_HEAD)
def batch_qr_png(
    code: str,
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    size: PngWidth = DEFAULT_PNG_WIDTH,
) -> Response:
    found = _find_batch(session, request, code)
    if isinstance(found, Response):
        return found
    url = _label_url(session, ctx.settings.base_url, found)
    return _image(request, QR_CACHE.png(url, size), LABEL_CACHE)


def _raw_digital_link(request: Request, gtin: str, lot: str) -> tuple[str, str]:
    """The (01) and (10) values as written in the request, still percent-encoded.

    The server has already decoded the path once (so ``%2F`` in a lot became ``/``); the raw
    path keeps a lot such as ``A%2FB`` apart from extra path segments and is decoded exactly
    once, by ``parse_digital_link``."""
    raw = request.scope.get("raw_path")
    if not raw:
        return gtin, lot
    segments = raw.decode("latin-1").split("?", 1)[0].split("/")
    # ['', '01', gtin, '10', lot, ...]
    if len(segments) != 5 or segments[1] != "01" or segments[3] != "10":
        raise InvalidInput(
            "a Digital Link here is /01/{GTIN}/10/{lot} (other key qualifiers are not supported)"
        )
    return unquote(segments[2]), segments[4]


@router.api_route("/01/{gtin}/10/{lot:path}", methods=GET_HEAD, response_class=HTMLResponse)
def digital_link(
    gtin: str, lot: str, request: Request, session: SessionDep, ctx: ContextDep
) -> Response:
    """GS1 Digital Link (``/01/{GTIN}/10/{lot}``) to the batch page. A malformed GTIN (length,
    check digit) or lot (GS1 AI character set 82, 1-20 characters) is a 400."""
    try:
        raw_gtin, raw_lot = _raw_digital_link(request, gtin, lot)
        gtin14, lot_value = parse_digital_link(raw_gtin, raw_lot)
    except InvalidInput as exc:
        return _error(
            request,
            400,
            "malformed-digital-link",
            "error.malformed_link",
            exc.detail,
            "error.malformed_link_hint",
        )
    batch = session.scalars(
        select(Batch)
        .join(Product, Product.id == Batch.product_id)
        .where(Product.gtin == gtin14, Batch.lot == lot_value)
    ).first()
    if batch is None:
        return _not_found(
            request, "error.no_batch", NotFound(f"no batch {lot_value!r} of GTIN {gtin14}")
        )
    return _batch_response(request, session, ctx, batch)


# --- the OBS overlay ------------------------------------------------------------------------


@router.api_route("/overlay/{code}", methods=GET_HEAD, response_class=HTMLResponse)
def overlay(code: str, request: Request, session: SessionDep, ctx: ContextDep) -> Response:
    """A 1920×1080 OBS browser source: transparent background, a large stream QR, the product,
    the official, and a live scan counter. Everything is served from this origin."""
    try:
        normalized = normalize_code(code)
    except InvalidInput as exc:
        return _bad_code(request, exc)
    try:
        view = _scan_cache(request).load(normalized)
    except NotFound as exc:
        return _not_found(request, "error.no_endorsement", exc)
    url = qr.stream_url(ctx.settings.base_url, view.code)
    document = view.document
    body = _render(
        "overlay.html",
        code=view.code,
        status=view.status(ctx.clock()).value,
        product=document["product"],
        officials=document["endorsement"]["officials"],
        authority=document["endorsement"]["authority"],
        qr_svg=QR_CACHE.svg(url).body.decode(),
        qr_version=qr.encode(url).version,
        scans=total_scans(session, request.app.state.scan_counter, view.endorsement_id),
        stream_url=url,
    )
    return _html(
        body,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": OVERLAY_CONTENT_SECURITY_POLICY,
        },
    )
