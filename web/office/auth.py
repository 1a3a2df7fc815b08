"""Logging in and out, changing a password, redeeming an invite link, and the language.

Failed logins are throttled in memory per (username, client address), stored as a SHA-256 of
the pair: after ``LoginThrottle.limit`` failures within ``window`` seconds that pair is told
to wait, without the password even being checked.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable

from fastapi import Request
from fastapi.responses import Response

from api.deps import ContextDep, SessionDep
from registry.accounts import accounts as account_service
from registry.accounts import sessions as session_service
from registry.errors import InvalidInput, NotFound, Unauthenticated
from registry.i18n import N_
from web.errors import PageProblem
from web.names import Names
from web.office.core import (
    LANG_COOKIE,
    SESSION_COOKIE,
    FormDep,
    UserDep,
    clear_session_cookie,
    current_lang,
    optional_user,
    redirect,
    render,
    router,
    safe_next,
    set_cookie,
    set_session_cookie,
    translator,
)
from web.office.messages import explain


class LoginThrottle:
    """At most ``limit`` failed logins per key within ``window`` seconds (in memory, per
    process: a restart forgets, which is acceptable for slowing down password guessing)."""

    def __init__(
        self, limit: int = 5, window: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    @staticmethod
    def key(username: str, address: str) -> str:
        return hashlib.sha256(f"{username.lower()}\n{address}".encode()).hexdigest()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def wait_seconds(self, key: str) -> int:
        """0 when a login may be tried; else how long until the oldest failure expires."""
        with self._lock:
            now = self.clock()
            failures = self._recent(key, now)
            if len(failures) < self.limit:
                return 0
            return max(1, int(failures[0] + self.window - now + 0.999))

    def fail(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            failures = self._recent(key, now)
            failures.append(now)
            self._failures[key] = failures
            if len(self._failures) > 10_000:  # bound the memory an attacker can fill
                for stale in [k for k, v in self._failures.items() if not self._recent(k, now)]:
                    del self._failures[stale]

    def reset(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


_THROTTLE_LOCK = threading.Lock()


def login_throttle(request: Request) -> LoginThrottle:
    state = request.app.state
    with _THROTTLE_LOCK:
        throttle: LoginThrottle | None = getattr(state, "office_login_throttle", None)
        if throttle is None:
            throttle = LoginThrottle()
            state.office_login_throttle = throttle
        return throttle


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# --- login and logout -----------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, session: SessionDep, next: str = "") -> Response:
    if optional_user(request, session) is not None:
        return redirect(request, safe_next(next))
    return render(request, "office/login.html", values={}, next=safe_next(next))


@router.post("/login")
def login(request: Request, session: SessionDep, form: FormDep) -> Response:
    _ = translator(request)
    username = form.get("username").lower()
    password = form.raw("password")
    target = safe_next(form.get("next"))
    values = {"username": form.get("username")}
    if not username or not password:
        return render(
            request,
            "office/login.html",
            status_code=422,
            values=values,
            next=target,
            error=_("请输入用户名和密码"),
        )
    throttle = login_throttle(request)
    key = LoginThrottle.key(username, _address(request))
    wait = throttle.wait_seconds(key)
    if wait:
        minutes = (wait + 59) // 60
        return render(
            request,
            "office/login.html",
            status_code=429,
            values=values,
            next=target,
            error=_("登录失败次数过多，请 %(minutes)s 分钟后再试") % {"minutes": minutes},
            headers={"Retry-After": str(wait)},
        )
    try:
        account = account_service.check_password(session, username, password)
    except Unauthenticated:
        throttle.fail(key)
        return render(
            request,
            "office/login.html",
            status_code=401,
            values=values,
            next=target,
            error=_("用户名或密码不正确"),
        )
    throttle.reset(key)
    _login, token = session_service.start_session(session, account)
    names = Names(current_lang(request))
    response = redirect(request, target, _("欢迎，%(name)s") % {"name": names.name(account)})
    set_session_cookie(request, response, token)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        session_service.end_session(session, token)
    _ = translator(request)
    response = redirect(request, "/office/login", _("已退出登录"))
    clear_session_cookie(response)
    return response


# --- password -------------------------------------------------------------------------------


@router.get("/password")
def password_page(request: Request, user: UserDep) -> Response:
    return render(request, "office/password.html", user=user, errors={}, active="password")


@router.post("/password")
def change_password(
    request: Request, session: SessionDep, user: UserDep, form: FormDep
) -> Response:
    _ = translator(request)
    try:
        ended = session_service.change_password(
            session,
            user.account,
            form.raw("current_password"),
            form.raw("new_password"),
            form.raw("confirm_password"),
        )
    except InvalidInput as exc:
        field = str(exc.extra.get("field") or "new_password")
        problem = explain(exc)
        return render(
            request,
            "office/password.html",
            user=user,
            status_code=422,
            errors={field: _(problem.heading)},
            active="password",
        )
    # Every session of the account ended, this one too; this browser gets a fresh one.
    _login, token = session_service.start_session(session, user.account)
    others = max(ended - 1, 0)
    response = redirect(
        request, "/office/", _("密码已修改；其他 %(count)s 个登录已退出") % {"count": others}
    )
    set_session_cookie(request, response, token)
    return response


# --- invite links ---------------------------------------------------------------------------


def _invite_gone() -> PageProblem:
    """An invite link that has been used, has expired or never existed (410)."""
    return PageProblem(
        "this invite link has been used, has expired or does not exist",
        N_("邀请链接已失效"),
        N_("每个邀请链接只能使用一次。请联系管理员获取新链接。"),
        http_status=410,
        code="gone",
    )


@router.get("/invite/{token}")
def invite_page(token: str, request: Request, session: SessionDep) -> Response:
    try:
        _, account = session_service.open_invite(session, token)
    except NotFound:
        raise _invite_gone() from None
    return render(request, "office/invite.html", account=account, errors={}, token=token)


@router.post("/invite/{token}")
def redeem_invite(
    token: str, request: Request, session: SessionDep, ctx: ContextDep, form: FormDep
) -> Response:
    _ = translator(request)
    try:
        _invite, account = session_service.open_invite(session, token)
    except NotFound:
        raise _invite_gone() from None
    try:
        account = session_service.redeem_invite(
            session, token, form.raw("new_password"), form.raw("confirm_password")
        )
    except NotFound:
        raise _invite_gone() from None
    except InvalidInput as exc:
        field = str(exc.extra.get("field") or "new_password")
        return render(
            request,
            "office/invite.html",
            status_code=422,
            account=account,
            token=token,
            errors={field: _(explain(exc).heading)},
        )
    _login, session_token = session_service.start_session(session, account)
    response = redirect(request, "/office/", _("密码已设置，欢迎使用"))
    set_session_cookie(request, response, session_token)
    return response


# --- language -------------------------------------------------------------------------------


@router.get("/lang/{lang}")
def switch_language(lang: str, request: Request, next: str = "") -> Response:
    response = redirect(request, safe_next(next))
    set_cookie(request, response, LANG_COOKIE, "en" if lang == "en" else "zh", 365 * 86400)
    return response
