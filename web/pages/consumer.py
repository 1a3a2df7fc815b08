"""The consumer page of an endorsement (what a viewer sees after scanning the stream QR),
its verification document, its "report a problem" form, and the code entry page for
viewers who cannot scan.

The consumer page is the scan path: thousands of viewers may scan within seconds of the QR
appearing on stream. Its data (the verification document, with inclusion proofs) comes from
the process's scan cache (``registry.endorsements.scan_cache``), shared with
``GET /api/v1/verify/{code}`` through ``api.scan``: prepared in memory, rendered once per
(status, language), invalidated by a watcher thread when a status-relevant record is logged
(a revocation or recall shows within 2 s). A cached scan makes no database query and no
write (the scan is counted in memory) and runs on the event loop without a worker thread.
The page carries an ETag and ``Cache-Control: public, max-age=1``, so a CDN in front can
absorb a burst of scans without showing a stale status for longer than that
(docs/scaling.md).

On the phone, ``/static/verify.js`` fetches the verification document and checks every
signature, inclusion proof and the checkpoint with WebCrypto; without JavaScript the page
shows the registry's own verification result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import orjson
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import ContextDep, SessionDep
from api.scan import client_address, rate_limiter, scan_entry, scan_response
from registry import qr
from registry.codes import normalize_code
from registry.context import RegistryContext
from registry.endorsements import lookups
from registry.endorsements.bundle import build_bundle
from registry.endorsements.scan_cache import Encoded, ScanCache, ScanEntry
from registry.errors import InvalidInput, NotFound, RateLimited
from registry.i18n import gettext_for
from registry.models import ReportCategory
from registry.reports import problems as report_service
from registry.status import Status
from registry.transparency import log as log_service
from web import labels
from web.errors import NO_ENDORSEMENT, bad_code, not_found
from web.language import Language, language_of, page_context, scan_language
from web.responses import CONTENT_SECURITY_POLICY, GET_HEAD, NO_STORE, PAGE_HEADERS, html
from web.scripts import consumer_script_src
from web.templating import render
from web.viewmodels import endorsement_steps, origins

router = APIRouter(include_in_schema=False)


@dataclass
class ReportForm:
    """The report form as the viewer left it, and what to tell them about it."""

    category: str = ""
    text: str = ""
    contact: str = ""
    attach_bundle: bool = True
    bundle: str = ""
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
    steps = endorsement_steps(document)
    chain = document["chain"]
    return render(
        "endorsement.html",
        language.code,
        **page_context(request, language, f"/e/{view.code}"),
        status=status.value,
        doc=document,
        endorsement=document["endorsement"],
        product=document["product"],
        steps=steps,
        origins=origins(steps),
        server_ok=sum(1 for e in chain if e["verified"]),
        server_total=len(chain),
        log_vkey=log_service.log_vkey(ctx),
        stream_url=qr.stream_url(ctx.settings.base_url, view.code),
        report=report or ReportForm(),
        report_categories=[c.value for c in ReportCategory],
    ).encode()


def _scan_cache(request: Request) -> ScanCache:
    cache: ScanCache = request.app.state.scan_cache
    return cache


def _suggestions(request: Request, typed: str) -> list[str]:
    """suggest_endorsements with a session of its own (for the async scan routes)."""
    with request.app.state.read_session_factory() as session, session.begin():
        return lookups.suggest_endorsements(session, typed)


async def _scan_view(request: Request, code: str) -> ScanEntry:
    """The scan cache's entry of ``code``. A cached code costs no I/O and no worker thread;
    a missing one is a page problem (a mistyped code: with the codes that were meant)."""
    try:
        return await scan_entry(request, code)
    except NotFound as exc:
        try:
            normalize_code(code)
        except InvalidInput as bad:  # a slip of the typist: say which codes were meant
            suggestions = await run_in_threadpool(_suggestions, request, code)
            raise bad_code(bad, suggestions) from bad
        raise not_found(exc, NO_ENDORSEMENT) from exc


def _find_view(request: Request, session: Session, code: str) -> ScanEntry:
    """_scan_view for the synchronous routes (already in a worker thread)."""
    try:
        normalized = normalize_code(code)
    except InvalidInput as exc:
        raise bad_code(exc, lookups.suggest_endorsements(session, code)) from exc
    try:
        return _scan_cache(request).load(normalized)
    except NotFound as exc:
        raise not_found(exc, NO_ENDORSEMENT) from exc


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
# (app.factory.SCAN_ROUTES): no FastAPI parameter handling, ~25 µs less per scan (measured).
async def endorsement_page(request: Request) -> Response:
    """The consumer page: status, the official's guarantee and every signed step. Counts a
    scan (in memory; no IP address or viewer id is stored). Rendered once per entry, status
    and language, then served from the scan cache without I/O. (``code`` is read from the
    path, not declared: parameter validation would cost a fifth of a cached scan.)"""
    view = await _scan_view(request, request.path_params["code"])
    ctx: RegistryContext = request.app.state.ctx
    language = scan_language(request)
    status = view.status(ctx.clock())
    key = (status.value, language.code, language.explicit)
    encoded = view.html.get(key)
    if encoded is None:  # rendering takes milliseconds: not on the event loop
        encoded = await run_in_threadpool(_page_encoded, request, language, view, status, ctx)
    if request.method == "GET":
        request.app.state.scan_counter.record(view.endorsement_id)
    headers = {
        **PAGE_HEADERS,
        "Content-Security-Policy": _consumer_policy(),
        "Content-Language": language.html_lang,
        "Vary": "Accept-Language, Accept-Encoding",
    }
    return scan_response(request, encoded, "text/html; charset=utf-8", headers)


async def endorsement_document(request: Request) -> Response:
    """The verification document (the same bytes as ``GET /api/v1/verify/{code}``) that the
    page's script checks, from the scan cache: every viewer's phone fetches it right after
    the page. Counts no scan (the page view did); cacheable like the page, with the status
    computed per request."""
    view = await _scan_view(request, request.path_params["code"])
    if request.scope["query_string"] and request.query_params.get("live") == "1":
        # verify.js asks so when a (published) document is older than the checkpoint the
        # phone remembers: one as new as the log the watcher saw (docs/scaling.md).
        view = await run_in_threadpool(_scan_cache(request).load_fresh, view.code)
    status = view.status(request.app.state.ctx.clock())
    return scan_response(request, view.document_json(status), "application/json")


def _consumer_policy() -> str:
    """The site's policy with ``script-src`` admitting only the logged scripts' hashes."""
    return CONTENT_SECURITY_POLICY.replace("script-src 'self'", consumer_script_src())


async def endorsement_bundle(request: Request) -> Response:
    """The guarantee bundle (docs/verification.md, "Bundle"): the verification document's
    records, keys, policy and tlog-proofs in one file a viewer keeps and anyone verifies
    offline with ``registry verify-bundle``. Served as a download; counts no scan."""
    view = await _scan_view(request, request.path_params["code"])
    status = view.status(request.app.state.ctx.clock())
    body = orjson.dumps(build_bundle({**view.document, "status": status.value}))
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="guarantee-{view.code}.json"',
            "Cache-Control": "public, max-age=1",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _form_errors(exc: InvalidInput, lang: str) -> dict[str, str]:
    _ = gettext_for(lang)
    fields = {e.get("path", "") for e in exc.extra.get("errors", [])} or {exc.extra.get("field")}
    return {f: _(labels.REPORT_ERRORS[f]) for f in fields if f in labels.REPORT_ERRORS}


def _submit(
    request: Request, session: Session, ctx: RegistryContext, code: str, form: ReportForm
) -> tuple[ReportForm, int, int]:
    """Store the report; the form to show again, the HTTP status and a Retry-After."""
    lang = language_of(request).code
    _ = gettext_for(lang)
    try:
        report = report_service.validate_report(form.category, form.text, form.contact)
        rate_limiter(request).hit(client_address(request))
        attached = None
        if form.attach_bundle and form.bundle:  # the bundle the phone verified (verify.js)
            attached = report_service.validate_bundle(
                form.bundle, code, ctx.log_signer.public_key_raw
            )
        report_service.submit_report(session, code, report, ctx.clock(), attached)
    except InvalidInput as exc:
        form.errors = _form_errors(exc, lang)
        if "bundle" in form.errors:
            form.errors["bundle"] += " (" + exc.detail + ")"
        form.message = _("请修改标出的内容后再提交。")
        form.bundle = ""  # the phone attaches what it verifies again, not this
        return form, 422, 0
    except RateLimited as exc:
        form.message = _("提交太频繁，请 %(seconds)s 秒后再试。") % {"seconds": exc.retry_after}
        return form, 429, exc.retry_after
    thanks = _("已收到，谢谢！合作社、担保官员和主管部门都能看到你的反映。")
    return ReportForm(sent=True, message=thanks), 200, 0


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
    attach_bundle: Annotated[str, Form()] = "",
    bundle: Annotated[str, Form()] = "",
) -> Response:
    """The page's "report a problem" form: stores the report like
    ``POST /api/v1/endorsements/{code}/reports`` and shows the page again with a message,
    keeping what the viewer typed when something must be corrected. Where the phone verified
    the endorsement, verify.js puts the bundle it verified in ``bundle`` when
    ``attach_bundle`` is ticked (the default); without JavaScript there is none."""
    view = _find_view(request, session, code)
    language = language_of(request)
    typed = ReportForm(
        category=category,
        text=text[:4000],
        contact=contact[:400],
        attach_bundle=bool(attach_bundle),
        bundle=bundle,
    )
    form, status_code, retry_after = _submit(request, session, ctx, view.code, typed)
    body = _endorsement_page(request, language, view, view.status(ctx.clock()), ctx, form)
    headers = {
        "Cache-Control": NO_STORE,
        "Content-Security-Policy": _consumer_policy(),
        **language.headers(),
    }
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return html(body, status_code, headers)


def _entry_problem(session: Session, typed: str, lang: str) -> tuple[str, list[str], int]:
    """What the entry page says about a typed code that leads nowhere: the message, the
    codes probably meant and the HTTP status; or no message for a code that exists."""
    _ = gettext_for(lang)
    try:
        normalized = normalize_code(typed)
    except InvalidInput:
        if not typed:
            return _("请输入背书码。"), [], 422
        if lookups.looks_like_code(typed):
            message = _(
                "“%(code)s”的最后一位校验位对不上，可能有一位输错或两位顺序颠倒。"
                "请对照直播画面再核对一遍。"
            )
            return message % {"code": typed}, lookups.suggest_endorsements(session, typed), 422
        message = _("“%(code)s”不是背书码：背书码由 9 位数字和字母组成。")
        return message % {"code": typed}, [], 422
    if lookups.endorsement_exists(session, normalized):
        return "", [], 303
    message = _("没有背书码为“%(code)s”的背书。请核对代码。") % {"code": normalized}
    return message, lookups.suggest_endorsements(session, normalized), 404


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
    language = language_of(request)
    message, status_code = "", 200
    suggestions: list[str] = []
    if code is not None:
        typed = code.strip()
        message, suggestions, status_code = _entry_problem(session, typed, language.code)
        if status_code == 303:
            normalized = normalize_code(typed)
            return RedirectResponse(f"/e/{normalized}{language.suffix}", status_code=303)
    body = render(
        "entry.html",
        language.code,
        **page_context(request, language),
        typed=code or "",
        message=message,
        suggestions=suggestions,
    ).encode()
    cache = {"Cache-Control": "public, max-age=300" if code is None else NO_STORE}
    return html(body, status_code, {**cache, **language.headers()})
