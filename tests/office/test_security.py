"""The back office's guards, on SQLite and PostgreSQL: CSRF on every POST, the session
cookie's flags, organizations kept apart, the login rate limit, single-use invite links, and
a password change logging out every other session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from registry.accounts import sessions as session_service
from registry.db import transaction
from registry.models import Account, EndorsementRequest, LoginSession
from tests.office.conftest import Browser, Office, csrf_of

PASSWORD = "a-long-enough-password"


def _cookie(response: object, name: str) -> SimpleCookie:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    for header in headers:
        if header.startswith(f"{name}="):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            return jar
    raise AssertionError(f"no {name} cookie set; got {headers}")


def _invite(office: Office, username: str) -> str:
    """An administrator creates an account through the office; returns its invite URL."""
    admin = office.browser("admin")
    page = admin.get("/office/admin/accounts")
    org_id = re.search(
        r'<option value="([0-9a-f-]{36})"[^>]*>敖汉旗金谷小米种植专业合作社', page.text
    )
    assert org_id, "the cooperative is not offered in the account form"
    response = admin.submit(
        "/office/admin/accounts",
        "/office/admin/accounts",
        {
            "organization": org_id.group(1),
            "role": "clerk",
            "username": username,
            "name_zh": "新记录员",
            "name_en": "New Clerk",
        },
    )
    assert response.status_code == 201, response.text[:500]
    found = re.search(
        r'value="http[^"]+(/office/invite/[^"]+)" data-testid="invite-link"', response.text
    )
    assert found, "the invite link is not shown"
    return found.group(1)


def _set_password(browser: Browser, invite_path: str, password: str = PASSWORD) -> object:
    page = browser.get(invite_path)
    assert page.status_code == 200, page.text[:300]
    return browser.client.post(
        invite_path,
        data={
            "new_password": password,
            "confirm_password": password,
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )


# --- CSRF -----------------------------------------------------------------------------------


def test_a_login_without_its_csrf_token_is_refused(office: Office) -> None:
    browser = office.browser()
    browser.get("/office/login")
    response = browser.client.post(
        "/office/login",
        data={"username": "aohan-clerk", "password": "guarantee-demo-2026"},
        follow_redirects=False,
    )
    assert response.status_code == 403, response.text[:300]
    assert 'data-error="403"' in response.text
    assert "gr_office_session" not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/office/products", {"name_zh": "伪造的产品", "category": "grain"}),
        ("/office/records/new/harvest", {"lot": "FORGED-1", "quantity": "1"}),
        ("/office/logout", {}),
        ("/office/password", {"current_password": "x", "new_password": "y" * 12}),
    ],
)
def test_every_form_without_a_valid_token_is_refused(
    office: Office, path: str, data: dict[str, str]
) -> None:
    clerk = office.browser("aohan-clerk")
    missing = clerk.client.post(path, data=data, follow_redirects=False)
    assert missing.status_code == 403, f"POST {path} without a token: {missing.status_code}"
    wrong = clerk.client.post(path, data={**data, "csrf_token": "0" * 64}, follow_redirects=False)
    assert wrong.status_code == 403, f"POST {path} with a wrong token: {wrong.status_code}"
    # A token from another person's page is no good either: it is bound to the session.
    other = office.browser("shanxian-clerk")
    foreign = csrf_of(other.get("/office/").text)
    stolen = clerk.client.post(path, data={**data, "csrf_token": foreign}, follow_redirects=False)
    assert stolen.status_code == 403, f"POST {path} with another session's token"
    # Still logged in: the refusals changed nothing.
    assert clerk.get("/office/").status_code == 200
    products = clerk.get("/office/products").text
    assert "伪造的产品" not in products


def test_a_json_body_is_refused_like_a_form_without_token(office: Office) -> None:
    clerk = office.browser("aohan-clerk")
    response = clerk.client.post("/office/products", json={"name_zh": "x"})
    assert response.status_code == 403


# --- the session cookie -----------------------------------------------------------------------


def test_session_cookie_flags_over_http(office: Office) -> None:
    response = office.browser().login("aohan-clerk")
    assert response.status_code == 303
    jar = _cookie(response, "gr_office_session")
    morsel = jar["gr_office_session"]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/office"
    assert not morsel["secure"], "plain http on a laptop: no Secure flag, or the cookie is lost"
    assert len(morsel.value) >= 40, "the session token is 256 random bits"


def test_session_cookie_is_secure_behind_https(office: Office) -> None:
    browser = Browser(office.app, base_url="https://testserver")
    response = browser.login("aohan-clerk")
    assert response.status_code == 303
    assert _cookie(response, "gr_office_session")["gr_office_session"]["secure"]


def test_cookies_are_secure_when_the_public_url_is_https(office: Office) -> None:
    """Behind a TLS-terminating proxy the app may see plain http; the public URL decides."""
    settings = office.app.state.settings
    original = settings.base_url
    settings.base_url = "https://registry.example.cn"
    try:
        response = office.browser().get("/office/login")
    finally:
        settings.base_url = original
    assert _cookie(response, "gr_office_pre")["gr_office_pre"]["secure"]


def test_only_the_token_hash_is_stored_and_logout_revokes(office: Office) -> None:
    browser = office.browser()
    response = browser.login("mill-clerk")
    token = _cookie(response, "gr_office_session")["gr_office_session"].value
    factory = office.app.state.session_factory
    with transaction(factory) as session:
        stored = session.scalars(
            select(LoginSession).where(LoginSession.token_hash == session_service.token_hash(token))
        ).one()
        assert token not in stored.token_hash
    page = browser.get("/office/")
    assert page.status_code == 200
    out = browser.client.post(
        "/office/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert out.status_code == 303 and out.headers["location"] == "/office/login"
    # The old cookie, replayed, no longer opens anything.
    replay = TestClient(office.app, cookies={"gr_office_session": token})
    again = replay.get("/office/", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/office/login")


def test_pages_need_a_login(office: Office) -> None:
    anonymous = office.browser()
    response = anonymous.get("/office/batches?q=AH", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/office/login?next=/office/batches%3Fq%3DAH"


# --- organizations kept apart ---------------------------------------------------------------


def test_a_cooperative_cannot_see_another_organizations_batch(office: Office) -> None:
    eggs = office.batch("SX2026-1101")["code"]
    millet = office.batch("AH2026-001")["code"]
    aohan = office.browser("aohan-clerk")
    assert aohan.get(f"/office/batches/{millet}").status_code == 200
    for path in (f"/office/batches/{eggs}", f"/office/batches/{eggs}/label"):
        response = aohan.get(path)
        assert response.status_code == 404, f"{path}: {response.status_code}"
        assert "SX2026" not in response.text
    listing = aohan.get("/office/batches").text
    assert f'href="/office/batches/{millet}"' in listing
    assert eggs not in listing
    # Searching by the other's exact code finds nothing either.
    found = aohan.get(f"/office/batches?q={eggs}").text
    assert f'href="/office/batches/{eggs}"' not in found
    assert 'data-testid="batches"' not in found


def test_a_cooperative_cannot_sign_for_another_organizations_batch(office: Office) -> None:
    eggs = office.batch("SX2026-1101")["code"]
    aohan = office.browser("aohan-clerk")
    response = aohan.submit(
        "/office/records/new/packing",
        "/office/records/new/packing",
        {"batch": eggs, "package.count": "10", "package.size": "30", "package.unit": "piece"},
    )
    assert response.status_code == 422, response.text[:300]
    assert 'data-rule="batch-of-another-organization"' in response.text


def _aohan_request_id(office: Office) -> str:
    with transaction(office.app.state.session_factory) as session:
        clerk = session.scalars(select(Account).where(Account.username == "aohan-clerk")).one()
        request = session.scalars(
            select(EndorsementRequest).where(
                EndorsementRequest.organization_id == clerk.organization_id
            )
        ).first()
        assert request is not None
        return str(request.id)


def test_requests_and_decisions_stay_within_their_organizations(office: Office) -> None:
    request_id = _aohan_request_id(office)
    assert office.browser("aohan-clerk").get(f"/office/requests/{request_id}").status_code == 200
    assert office.browser("aohan-head").get(f"/office/requests/{request_id}").status_code == 200
    for outsider in ("shanxian-clerk", "shanxian-head", "chifeng-analyst"):
        browser = office.browser(outsider)
        assert browser.get(f"/office/requests/{request_id}").status_code == 404, outsider
        page = browser.get("/office/")
        for action in ("approve", "reject"):
            response = browser.client.post(
                f"/office/requests/{request_id}/{action}",
                data={"csrf_token": csrf_of(page.text), "reason": "not mine"},
                follow_redirects=False,
            )
            assert response.status_code == 404, f"{outsider} {action}: {response.status_code}"


def test_an_official_cannot_revoke_another_authoritys_endorsement(office: Office) -> None:
    code = next(e["code"] for e in office.summary["endorsements"] if e["status"] == "valid")
    outsider = office.browser("shanxian-head")
    assert outsider.get(f"/office/endorsements/{code}").status_code == 404
    page = outsider.get("/office/")
    response = outsider.client.post(
        f"/office/endorsements/{code}/revoke",
        data={"csrf_token": csrf_of(page.text), "reason": "not mine"},
        follow_redirects=False,
    )
    assert response.status_code == 404
    assert office.browser("aohan-clerk").get("/office/report").status_code == 403


def test_roles_reach_only_their_forms(office: Office) -> None:
    assert office.browser("chifeng-analyst").get("/office/records/new/harvest").status_code == 403
    assert office.browser("aohan-clerk").get("/office/records/new/inspection").status_code == 403
    assert office.browser("mengdong-driver").get("/office/admin/accounts").status_code == 403
    assert office.browser("aohan-clerk").get("/office/records/new/nonsense").status_code == 404


# --- login rate limit -----------------------------------------------------------------------


@pytest.fixture
def fresh_throttle(office: Office) -> Iterator[None]:
    """Failures counted here must not lock other tests out of the shared app."""
    from web.office.auth import LoginThrottle

    office.app.state.office_login_throttle = LoginThrottle()
    yield
    office.app.state.office_login_throttle = LoginThrottle()


def test_login_is_throttled_after_five_failures(office: Office, fresh_throttle: None) -> None:
    browser = office.browser()
    for attempt in range(5):
        response = browser.login("luxinan-analyst", "wrong-password-123")
        assert response.status_code == 401, f"attempt {attempt + 1}: {response.status_code}"
        assert 'data-testid="login-error"' in response.text
        assert "luxinan-analyst" in response.text, "the username typed is kept"
    blocked = browser.login("luxinan-analyst")  # even the right password waits now
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    # Another user from the same address is not locked out by someone else's mistakes.
    assert office.browser().login("heze-driver").status_code == 303


def test_the_throttle_window_expires() -> None:
    from web.office.auth import LoginThrottle

    now = [1000.0]
    throttle = LoginThrottle(limit=5, window=300, clock=lambda: now[0])
    key = LoginThrottle.key("Someone", "127.0.0.1")
    assert key == LoginThrottle.key("someone", "127.0.0.1")
    for _ in range(5):
        throttle.fail(key)
    assert 0 < throttle.wait_seconds(key) <= 300
    now[0] += 301
    assert throttle.wait_seconds(key) == 0
    throttle.fail(key)
    throttle.reset(key)
    assert throttle.wait_seconds(key) == 0


# --- invites and passwords ------------------------------------------------------------------


def test_an_invite_link_works_once(office: Office) -> None:
    invite = _invite(office, "invited-clerk")
    newcomer = office.browser()
    response = _set_password(newcomer, invite)
    assert response.status_code == 303  # type: ignore[attr-defined]
    home = newcomer.get("/office/")
    assert home.status_code == 200 and "新记录员" in home.text
    # The link is spent: neither showing nor posting it works again.
    stranger = office.browser()
    assert stranger.get(invite).status_code == 410
    page = stranger.get("/office/login")
    again = stranger.client.post(
        invite,
        data={
            "new_password": "someone-elses-password",
            "confirm_password": "someone-elses-password",
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert again.status_code == 410
    assert office.browser().login("invited-clerk", "someone-elses-password").status_code == 401
    assert office.browser().login("invited-clerk", PASSWORD).status_code == 303


def test_an_invite_refuses_a_short_password_and_stays_usable(office: Office) -> None:
    invite = _invite(office, "invited-short")
    browser = office.browser()
    response = _set_password(browser, invite, "short")
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "密码至少 10 个字符" in response.text  # type: ignore[attr-defined]
    assert _set_password(browser, invite).status_code == 303  # type: ignore[attr-defined]


def test_a_password_change_logs_out_every_other_session(office: Office) -> None:
    invite = _invite(office, "changing-clerk")
    laptop = office.browser()
    assert _set_password(laptop, invite).status_code == 303  # type: ignore[attr-defined]
    phone = office.browser().logged_in("changing-clerk", PASSWORD)
    assert phone.get("/office/").status_code == 200

    wrong = laptop.submit(
        "/office/password",
        "/office/password",
        {
            "current_password": "not-the-password",
            "new_password": "the-new-password-1",
            "confirm_password": "the-new-password-1",
        },
    )
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.text
    changed = laptop.submit(
        "/office/password",
        "/office/password",
        {
            "current_password": PASSWORD,
            "new_password": "the-new-password-1",
            "confirm_password": "the-new-password-1",
        },
    )
    assert changed.status_code == 303, changed.text[:300]
    # The browser that changed it carries on with a fresh session; the phone is logged out.
    assert laptop.get("/office/").status_code == 200
    kicked = phone.get("/office/", follow_redirects=False)
    assert kicked.status_code == 303 and kicked.headers["location"].startswith("/office/login")
    assert office.browser().login("changing-clerk", PASSWORD).status_code == 401
    assert office.browser().login("changing-clerk", "the-new-password-1").status_code == 303


def test_demo_accounts_log_in(office: Office) -> None:
    for person in office.summary["accounts"]:
        browser = office.browser()
        response = browser.login(person["username"], person["password"])
        assert response.status_code == 303, person["username"]
        assert browser.get("/office/").status_code == 200, person["username"]


def test_open_redirects_are_refused(office: Office) -> None:
    browser = office.browser()
    page = browser.get("/office/login?next=https://evil.example/")
    assert 'name="next" value="/office/"' in page.text
    response = browser.client.post(
        "/office/login",
        data={
            "username": "aohan-clerk",
            "password": "guarantee-demo-2026",
            "next": "//evil.example/",
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/office/"


def test_the_app_has_no_500_on_odd_input(office: Office) -> None:
    browser = office.browser("aohan-clerk")
    for path in (
        "/office/batches/not-a-code",
        "/office/requests/not-a-uuid",
        "/office/endorsements/ZZZZ",
        "/office/batches/%00",
    ):
        response = browser.get(path)
        assert response.status_code in (404, 422), f"{path}: {response.status_code}"
