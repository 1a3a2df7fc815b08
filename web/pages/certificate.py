"""Printable pages of exports: a batch's 承诺达标合格证 as an HTML page with a print stylesheet
(A6/A5 labels) and as a PDF. Both carry the batch's package-label QR and the log index of
the certificate record they print. A batch without a certificate record has none (404).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import ContextDep, SessionDep
from registry import exports
from registry.errors import InvalidInput, NotFound
from registry.exports.certificate_pdf import render_certificate_pdf
from registry.i18n import N_
from web.errors import PageProblem
from web.pages.qr import QR_CACHE
from web.responses import GET_HEAD, PAGE_HEADERS
from web.templating import render

router = APIRouter(include_in_schema=False)
# A batch gains records (a newer certificate, a recall): revalidate often.
CACHE = "public, max-age=60"


NO_CERTIFICATE = N_("没有这个合格证")


def _view(session: SessionDep, ctx: ContextDep, code: str) -> exports.CertificateView:
    """The certificate of the batch ``code``; a batch without one (or no such batch) is the
    certificate page's own bilingual not-found page."""
    try:
        return exports.certificate_view(session, ctx.settings.base_url, code)
    except (InvalidInput, NotFound) as exc:
        raise PageProblem(
            exc.detail, NO_CERTIFICATE, template="certificate.html", lang="zh"
        ) from exc


@router.api_route("/b/{code}/certificate", methods=GET_HEAD, response_class=HTMLResponse)
@router.api_route("/B/{code}/certificate", methods=GET_HEAD, response_class=HTMLResponse)
def certificate_page(code: str, request: Request, session: SessionDep, ctx: ContextDep) -> Response:
    """The 合格证 of a batch, laid out to print on an A6 (or A5) label."""
    view = _view(session, ctx, code)
    # Printed in both languages, Chinese first (a page of its own, without the site chrome).
    body = render(
        "certificate.html",
        "zh",
        cert=view,
        qr_svg=QR_CACHE.svg(view.label_url).body.decode(),
    )
    return HTMLResponse(body, headers={**PAGE_HEADERS, "Cache-Control": CACHE})


@router.api_route("/b/{code}/certificate.pdf", methods=GET_HEAD)
@router.api_route("/B/{code}/certificate.pdf", methods=GET_HEAD)
def certificate_pdf(code: str, request: Request, session: SessionDep, ctx: ContextDep) -> Response:
    """The same 合格证 as a one-page 100 × 70 mm PDF, its font embedded."""
    view = _view(session, ctx, code)
    pdf = render_certificate_pdf(
        view, generated_by=ctx.settings.base_url, font=ctx.settings.cjk_font
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="certificate-{view.batch_code}.pdf"',
            "Cache-Control": CACHE,
            "X-Content-Type-Options": "nosniff",
        },
    )
