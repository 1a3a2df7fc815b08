"""The back office's plumbing: the router, page rendering, language, cookies, CSRF and the
logged-in user.

- **Sessions**: a random token in an HttpOnly, SameSite=Lax cookie scoped to ``/office``
  (``Secure`` when the request came over HTTPS or the registry's public URL is https); the
  database keeps only its SHA-256 (``registry.accounts.sessions``).
- **CSRF**: every POST carries ``csrf_token`` = HMAC-SHA256(secret, binding), where the
  binding is the session cookie's token (or, before login, a random pre-session cookie) and
  the secret is derived from the registry's master key. A cross-site page can neither read
  the cookie nor compute the token, so a forged form is refused with a 403 page.
- **Errors**: every route here answers in HTML. A domain error that escapes a handler
  becomes the office's error page with its HTTP status (never a 500), rendered by the app's
  error handler at the edge (``web.errors``) through ``render_error``; a missing login
  becomes a redirect to the login page.
- **Language**: zh-CN first; a cookie switches to English. Every text comes from the one
  catalogue (``registry.i18n``; docs/i18n.md): ``{{ _("登录") }}`` in templates, ``_("登录")``
  with the request's ``translator`` in handlers, ``N_`` in tables shown through ``_()``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from markupsafe import Markup
from starlette.datastructures import FormData

from api.deps import SessionDep
from registry.accounts import queries as account_queries
from registry.accounts import sessions as session_service
from registry.audit.monitor import IntegrityStatus, integrity_status
from registry.errors import Forbidden, Unauthenticated
from registry.i18n import N_, gettext_for, pgettext_for
from registry.models import Account, LoginSession, Organization, OrgKind, Role
from web import templating
from web.errors import PageProblem
from web.office import labels
from web.office.fields import translate
from web.responses import PAGE_HEADERS

SESSION_COOKIE = "gr_office_session"
PRE_COOKIE = "gr_office_pre"  # binds the CSRF token of forms shown before login
FLASH_COOKIE = "gr_office_flash"
LANG_COOKIE = "gr_office_lang"
COOKIE_PATH = "/office"
CSRF_FIELD = "csrf_token"

# --- errors -------------------------------------------------------------------------------


class LoginRequired(Unauthenticated):
    """No valid session: the user is sent to the login page (by ``OfficeRoute``)."""

    code = "login-required"

    def __init__(self, detail: str = "sign in to the back office") -> None:
        super().__init__(detail)


class CsrfRefused(PageProblem):
    """A POST without a valid CSRF token: a 403 page asking to reload the form."""

    code = "forbidden"
    http_status = 403

    def __init__(self) -> None:
        super().__init__(
            "CSRF token missing or wrong: the form was not accepted.",
            N_("表单已失效或来自其他网站"),
            N_("请返回上一页，刷新后重新提交。"),
        )


class OfficeRoute(APIRoute):
    """Sends a request without a valid session to the login page. Every other error that
    escapes a handler is a domain error, and the app's error handler at the edge answers it
    with the office's error page (``web.errors``, ``render_error``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def office_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                target = request.url.path
                if request.method == "GET" and request.url.query:
                    target += "?" + request.url.query
                response = RedirectResponse(
                    f"/office/login?next={quote(target, safe='/')}", status_code=303
                )
                if request.cookies.get(SESSION_COOKIE):
                    _delete_cookie(response, SESSION_COOKIE)
                return response

        return office_handler


router = APIRouter(prefix="/office", route_class=OfficeRoute, include_in_schema=False)


# --- language and templates -----------------------------------------------------------------


def current_lang(request: Request) -> str:
    """``?lang=zh|en`` for one page, else the toggle's cookie, else Chinese."""
    asked = request.query_params.get("lang")
    if asked in ("zh", "en"):
        return asked
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh"


def translator(request: Request) -> Callable[[str], str]:
    """The ``_`` of the request's language, for text a handler puts on a page or a flash."""
    return gettext_for(current_lang(request))


def field_value(values: dict[str, Any], name: str) -> str:
    """What a form field shows: the typed (or default) value."""
    value = values.get(name, "")
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return str(value) if value is not None else ""


def field_values(values: dict[str, Any], name: str) -> list[str]:
    """The checked values of a group of checkboxes."""
    value = values.get(name)
    if not value:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


# --- the logged-in user ---------------------------------------------------------------------


@dataclass(frozen=True)
class OfficeUser:
    account: Account
    org: Organization
    login: LoginSession

    @property
    def kind(self) -> OrgKind:
        return self.org.kind

    @property
    def is_admin(self) -> bool:
        return self.account.role is Role.ADMIN

    @property
    def is_official(self) -> bool:
        return self.account.role is Role.OFFICIAL and self.org.kind is OrgKind.AUTHORITY

    @property
    def is_producer(self) -> bool:
        return self.org.kind in (OrgKind.COOPERATIVE, OrgKind.PROCESSOR)

    def require(self, allowed: bool, why: str) -> None:
        if not allowed:
            raise Forbidden(why)


def current_user(request: Request, session: SessionDep) -> OfficeUser:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired
    try:
        login, account = session_service.authenticate_session(session, token)
    except Unauthenticated:
        raise LoginRequired from None
    org = account_queries.organization(session, account.organization_id)
    assert org is not None
    return OfficeUser(account=account, org=org, login=login)


UserDep = Annotated[OfficeUser, Depends(current_user)]


def optional_user(request: Request, session: SessionDep) -> OfficeUser | None:
    try:
        return current_user(request, session)
    except LoginRequired:
        return None


# --- CSRF -----------------------------------------------------------------------------------


def _csrf_secret(request: Request) -> bytes:
    master: bytes = request.app.state.ctx.master_key
    return hmac.new(master, b"guarantee-registry office csrf v1", hashlib.sha256).digest()


def _binding(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRE_COOKIE)


def csrf_token_for(request: Request, binding: str) -> str:
    return hmac.new(_csrf_secret(request), binding.encode(), hashlib.sha256).hexdigest()


async def csrf_guard(request: Request) -> None:
    """Refuse any unsafe request whose form lacks the token bound to this browser."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    try:
        form = await request.form()
    except Exception:  # a body that is not a form at all
        raise CsrfRefused from None
    sent = form.get(CSRF_FIELD)
    binding = _binding(request)
    if (
        not binding
        or not isinstance(sent, str)
        or not hmac.compare_digest(sent, csrf_token_for(request, binding))
    ):
        raise CsrfRefused


router.dependencies.append(Depends(csrf_guard))


class Form:
    """The submitted form, trimmed; what the user typed is shown again on an error."""

    def __init__(self, data: FormData) -> None:
        self._data = data

    def get(self, name: str, default: str = "") -> str:
        value = self._data.get(name)
        return value.strip() if isinstance(value, str) else default

    def raw(self, name: str) -> str:
        """Untrimmed (passwords)."""
        value = self._data.get(name)
        return value if isinstance(value, str) else ""

    def getlist(self, name: str) -> list[str]:
        return [v.strip() for v in self._data.getlist(name) if isinstance(v, str)]

    def has(self, name: str) -> bool:
        return name in self._data

    def values(self) -> dict[str, Any]:
        """Everything typed, for re-showing a form (lists for repeated names)."""
        shown: dict[str, Any] = {}
        for key in self._data:
            if key == CSRF_FIELD or "password" in key:
                continue
            items = [v for v in self._data.getlist(key) if isinstance(v, str)]
            shown[key] = items if len(items) > 1 else (items[0] if items else "")
        return shown


async def read_form(request: Request) -> Form:
    return Form(await request.form())


FormDep = Annotated[Form, Depends(read_form)]


# --- cookies, flash, rendering ----------------------------------------------------------------


def secure_cookies(request: Request) -> bool:
    base_url: str = request.app.state.settings.base_url
    return request.url.scheme == "https" or base_url.startswith("https://")


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None = None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )


def _delete_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="lax")


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    lifetime = int(session_service.SESSION_LIFETIME.total_seconds())
    set_cookie(request, response, SESSION_COOKIE, token, max_age=lifetime)
    _delete_cookie(response, PRE_COOKIE)


def clear_session_cookie(response: Response) -> None:
    _delete_cookie(response, SESSION_COOKIE)


def redirect(request: Request, url: str, flash: str | None = None) -> RedirectResponse:
    """Post/redirect/get; ``flash`` (translated) says on the next page what the action did."""
    response = RedirectResponse(url, status_code=303)
    if flash is not None:
        encoded = base64.urlsafe_b64encode(json.dumps(flash).encode()).decode()
        set_cookie(request, response, FLASH_COOKIE, encoded, max_age=120)
    return response


def _read_flash(request: Request) -> str | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        flash = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, TypeError):
        return None
    return flash if isinstance(flash, str) else None


def safe_next(target: str | None, default: str = "/office/") -> str:
    """Only back-office paths: no open redirect."""
    if target and target.startswith("/office") and not any(c in target for c in ("\\", "\n", "\r")):
        return target
    return default


@dataclass(frozen=True)
class NavItem:
    """One entry of the menu, its label in the page language."""

    href: str
    label: str
    key: str


def navigation(user: OfficeUser | None, lang: str) -> list[NavItem]:
    """The menu of the user's role, in ``lang``."""
    if user is None:
        return []
    _, pgettext = gettext_for(lang), pgettext_for(lang)
    items = [NavItem("/office/", _("首页"), "home")]
    if user.is_admin:
        items += [
            NavItem("/office/admin/organizations", pgettext("plural", "机构"), "orgs"),
            NavItem("/office/admin/accounts", _("账号"), "accounts"),
            NavItem("/office/report", pgettext("plural", "成绩单"), "report"),
        ]
    if user.is_producer:
        items += [
            NavItem("/office/products", pgettext("plural", "产品"), "products"),
            NavItem("/office/batches", pgettext("plural", "批次"), "batches"),
            NavItem("/office/requests", pgettext("nav", "背书申请"), "requests"),
        ]
    if user.kind in (OrgKind.CARRIER, OrgKind.LAB):
        items.append(NavItem("/office/batches", pgettext("plural", "批次"), "batches"))
    if user.is_official:
        items += [
            NavItem("/office/requests", _("待审"), "requests"),
            NavItem("/office/endorsements", _("背书"), "endorsements"),
            NavItem("/office/batches", pgettext("plural", "批次"), "batches"),
            NavItem("/office/report", _("成绩单"), "report"),
        ]
    if user.is_producer or user.is_official or user.is_admin:
        items.append(NavItem("/office/complaints", _("投诉"), "complaints"))
    return items


def integrity_alert(request: Request, user: OfficeUser | None) -> IntegrityStatus | None:
    """For an admin, the server's failed self-check of its database (``/healthz``'s
    ``integrity``), shown on every office page until it verifies again; else ``None``."""
    if user is None or not user.is_admin:
        return None
    status = integrity_status(getattr(request.app.state, "integrity", None))
    return status if status.failed else None


def render(
    request: Request,
    name: str,
    *,
    user: OfficeUser | None = None,
    status_code: int = 200,
    active: str = "",
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render an office page with the language, CSRF token, navigation and flash message."""
    binding = _binding(request)
    new_binding = None
    if binding is None:
        binding = new_binding = secrets.token_urlsafe(32)
    flash = _read_flash(request)
    lang = current_lang(request)
    body = templating.render(
        name,
        lang,
        user=user,
        csrf_token=csrf_token_for(request, binding),
        csrf_field=Markup('<input type="hidden" name="{}" value="{}">').format(
            CSRF_FIELD, csrf_token_for(request, binding)
        ),
        flash=flash,
        nav=navigation(user, lang),
        active=active,
        path=request.url.path,
        full_path=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        field_value=field_value,
        field_values=field_values,
        office_labels=labels,
        say=partial(translate, lang=lang),
        integrity_alert=integrity_alert(request, user),
        **context,
    )
    response = HTMLResponse(
        body,
        status_code=status_code,
        headers={**PAGE_HEADERS, "Cache-Control": "no-store", **(headers or {})},
    )
    if new_binding is not None:
        set_cookie(request, response, PRE_COOKIE, new_binding)
    if flash is not None:
        _delete_cookie(response, FLASH_COOKIE)
    return response


def render_error(
    request: Request,
    status_code: int,
    heading: str,
    detail: str,
    hint: str | None = None,
) -> HTMLResponse:
    """The error page, as the edge's error handler asks for it (``web.errors``): ``heading``
    and ``hint`` are catalogue messages, ``detail`` the service's own (English) words."""
    return render(
        request,
        "office/error.html",
        status_code=status_code,
        heading=heading,
        detail=detail,
        hint=hint,
        error_status=status_code,
    )
