"""The HTML error page, rendered at the edge: a page raises a ``PageProblem`` (a domain
error, ``registry.errors``) saying what went wrong in the viewer's words, and the app's one
domain-error handler (``api.problems.install``) asks ``error_page`` for the HTML page when
the request wants HTML, else answers with RFC 9457 problem details like the API. An
expected error is never a 500.

The page shows its heading and hint in the page language first and the other language
alongside (a viewer who landed here may read either). Paths under ``/office`` get the
office's error page for any domain error, not only a page's: rendered by the office itself
(``OfficeErrorPage``, given by the composition root) so that it carries the office's
language, cookies and headers, with the heading of its status (``ERROR_HEADINGS``) unless
the error is a ``PageProblem`` that names its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from fastapi import Request
from fastapi.responses import Response

from api.problems import status_for
from registry.errors import RegistryError
from registry.i18n import N_
from web.language import Language, language_of, toggle_keeping_query
from web.responses import html
from web.templating import render

NO_ENDORSEMENT = N_("没有这个背书")
NO_BATCH = N_("没有这个批次")
NOT_FOUND_HINT = N_("请核对代码，或扫描直播画面上的二维码。")
BAD_CODE = N_("没有这个代码，请核对")
BAD_CODE_HINT = N_(
    "代码由数字和字母组成，最后一位是校验位。请核对直播画面上的代码，注意 0 与 O、1 与 I。"
)
NO_PAGE = N_("没有这个页面")
NO_PAGE_HINT = N_("请核对网址，或扫描直播画面上的二维码。")
MALFORMED_LINK = N_("二维码链接格式有误")
MALFORMED_LINK_HINT = N_("请重新扫描包装上的二维码；若仍有误，请联系生产者。")

OFFICE_PREFIX = "/office"

# Paths that answer JSON or text for programs, never an HTML page: the API, the log, the
# tiles, health, the API's documentation, static files.
MACHINE_PREFIXES = ("/api/", "/log/", "/tile/", "/healthz", "/docs", "/openapi", "/static/")

# The office error page's heading of a domain error that names none, by HTTP status.
ERROR_HEADINGS: dict[int, str] = {
    400: N_("请求有误"),
    403: N_("没有权限"),
    404: N_("找不到"),
    409: N_("与已有记录冲突"),
    410: N_("链接已失效"),
    422: N_("输入有误"),
    429: N_("尝试次数过多"),
}
OTHER_ERROR = N_("出错了")


class PageProblem(RegistryError):
    """What a page could not show, and what its error page says: ``heading`` and ``hint``
    are catalogue messages, ``suggestions`` codes the viewer probably meant. ``http_status``
    and ``code`` (the problem type slug) are those of the HTML page and of its problem+json
    twin alike. ``template`` and ``lang`` fix a page of its own (the printable certificate's
    not-found page is bilingual and has no site chrome)."""

    code = "not-found"
    http_status = 404

    def __init__(
        self,
        detail: str,
        heading: str,
        hint: str | None = None,
        *,
        suggestions: Sequence[str] = (),
        http_status: int | None = None,
        code: str | None = None,
        template: str | None = None,
        lang: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.heading = heading
        self.hint = hint
        self.suggestions = list(suggestions)
        self.http_status = http_status or self.http_status
        self.code = code or self.code
        self.template = template
        self.lang = lang


def not_found(exc: RegistryError, heading: str, hint: str | None = NOT_FOUND_HINT) -> PageProblem:
    """A page's subject does not exist (404)."""
    return PageProblem(exc.detail, heading, hint)


def bad_code(exc: RegistryError, suggestions: Sequence[str] = ()) -> PageProblem:
    """A malformed or mistyped code (404, like a code that does not exist), with the codes
    that were probably meant."""
    return PageProblem(exc.detail, BAD_CODE, BAD_CODE_HINT, suggestions=suggestions)


def wants_json(request: Request) -> bool:
    """Whether the client asks for JSON rather than a page."""
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


def _is_unrouted(exc: RegistryError) -> bool:
    """Whether ``exc`` stands for a path that no route serves (the edge's 404)."""
    return exc.extra.get("route") is False


def _page_for_browser(request: Request) -> bool:
    """A browser asking for a page: HTML accepted, a path of the pages, not the API's."""
    path = request.url.path
    accept = request.headers.get("accept", "")
    return "text/html" in accept and not path.lower().startswith(MACHINE_PREFIXES)


class OfficeErrorPage(Protocol):
    """Renders the office's error page (``office/error.html``) in the office's own way:
    ``heading`` and ``hint`` are catalogue messages, ``detail`` the service's words."""

    def __call__(
        self, request: Request, status_code: int, heading: str, detail: str, hint: str | None
    ) -> Response: ...


def _office_page(request: Request, exc: RegistryError, office: OfficeErrorPage) -> Response:
    """The office's error page of any domain error, with the status ``status_for`` gives it
    and the heading of that status, unless it is a ``PageProblem`` with its own."""
    status = status_for(exc)
    if isinstance(exc, PageProblem):
        return office(request, status, exc.heading, exc.detail, exc.hint)
    return office(request, status, ERROR_HEADINGS.get(status, OTHER_ERROR), exc.detail, None)


def error_page(
    request: Request, exc: RegistryError, office_page: OfficeErrorPage | None = None
) -> Response | None:
    """The HTML error page of ``exc`` for ``request``; None when the request wants JSON or
    the error is not a page's (then the caller answers with problem details). Under
    ``/office`` every domain error gets ``office_page``'s page (the office answers in HTML,
    whatever the client accepts)."""
    path = request.url.path
    if office_page is not None and path.startswith(OFFICE_PREFIX):
        return _office_page(request, exc, office_page)
    if _is_unrouted(exc) and _page_for_browser(request):
        exc = PageProblem(exc.detail, NO_PAGE, NO_PAGE_HINT)
    if not isinstance(exc, PageProblem) or wants_json(request):
        return None
    language = language_of(request)
    lang = exc.lang or language.code
    office = path.startswith(OFFICE_PREFIX)
    template = exc.template or ("office/error.html" if office else "error.html")
    body = render(
        template,
        lang,
        link_suffix=language.suffix if exc.lang is None else "",
        toggle_url=toggle_keeping_query(request, Language(lang, language.explicit)),
        status_code=exc.http_status,
        error_status=exc.http_status,
        heading=exc.heading,
        hint=exc.hint,
        detail=exc.detail,
        suggestions=exc.suggestions,
        show_entry=path.lower().startswith(("/e/", "/overlay/")),
        cert=None,
    )
    headers = language.headers() if exc.lang is None else {}
    if office:
        headers["Cache-Control"] = "no-store"
    return html(body.encode(), exc.http_status, headers)
