"""The consumer page ``/e/{code}`` as a viewer's phone sees it, in a real headless Chromium
(Playwright) against a real server (uvicorn on 127.0.0.1) with the demo dataset; plus the
HTTP side of the page (caching, compression, languages, the entry page) and the problem
reports API on SQLite and PostgreSQL.

The browser tests run on SQLite only: the page's data comes from the same queries the
non-browser tests (here and in ``test_pages.py``) run on both backends. They need Chromium at
/usr/bin/chromium (``apt-get install chromium``); without it they are skipped on a developer's
machine and fail in CI (``CI`` set). Screenshots (360×740, each status, both languages) go to
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.factory import create_app
from registry.accounts import accounts
from registry.codes import ALPHABET, check_character
from registry.db import make_engine, transaction, upgrade
from registry.demo import load_demo
from registry.endorsements.lookups import code_candidates
from registry.i18n import negotiate
from registry.models import Account, Endorsement, EndorsementRequest, ProblemReport
from registry.reports.problems import RateLimited, RateLimiter
from registry.settings import Settings
from tests.support import empty_tables, serve_in_thread

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 740}
BUDGET_BYTES = 100 * 1024
VERIFY_TIMEOUT_MS = 10_000
STATUS_WORDS = {
    "valid": ("有效", "Valid"),
    "not_yet_valid": ("未生效", "Not yet valid"),
    "expired": ("已过期", "Expired"),
    "revoked": ("已撤销", "Revoked"),
    "recalled": ("已召回", "Recalled"),
}


def _browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None. In CI they must run: no skip."""
    if os.environ.get("CI"):
        return None
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium); CI runs these tests"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -e '.[test]')"
    return None


needs_browser = pytest.mark.skipif(
    _browser_unavailable() is not None, reason=str(_browser_unavailable())
)


def _settings(data_dir: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        base_url="http://127.0.0.1:8000",
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )


def mistyped(code: str) -> str:
    wrong = next(c for c in ALPHABET if c != check_character(code[:-1]))
    return code[:-1] + wrong


# --- a live registry for the browser (SQLite) ---------------------------------------------


@dataclass
class Live:
    url: str
    app: FastAPI
    summary: dict[str, Any]

    def code(self, status: str) -> str:
        found = [e["code"] for e in self.summary["endorsements"] if e["status"] == status]
        assert found, f"the demo has no {status} endorsement"
        return found[0]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    directory = tmp_path_factory.mktemp("consumer-page")
    url = f"sqlite:///{directory / 'registry.db'}"
    upgrade(url)
    engine = make_engine(url)
    app = create_app(_settings(directory / "data", url), engine)
    try:
        with serve_in_thread(app) as base:
            summary = load_demo(app.state.session_factory, app.state.ctx)
            yield Live(base, app, summary)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Callable[..., Any]]:
    """A new phone-sized page: ``phone(locale="zh-CN", javascript=True)``."""
    contexts = []

    def open_page(locale: str = "zh-CN", javascript: bool = True) -> Any:
        context = browser.new_context(
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale=locale,
            java_script_enabled=javascript,
        )
        contexts.append(context)
        page = context.new_page()
        page.console_messages_seen = []  # type: ignore[attr-defined]
        page.on("console", lambda m: page.console_messages_seen.append(m.text))  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: page.console_messages_seen.append(f"pageerror: {e}"))  # type: ignore[attr-defined]
        return page

    yield open_page
    for context in contexts:
        context.close()


def wait_for_verdict(page: Any) -> str:
    page.locator("html[data-verify-state=verified], html[data-verify-state=failed]").wait_for(
        state="attached", timeout=VERIFY_TIMEOUT_MS
    )
    return str(page.evaluate("document.documentElement.dataset.verifyState"))


def root_attribute(page: Any, name: str) -> str | None:
    value = page.evaluate(f"document.documentElement.getAttribute({name!r})")
    return None if value is None else str(value)


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    page.screenshot(path=str(SCREENSHOTS / f"{name}-full.png"), full_page=True)


def assert_clean_console(page: Any) -> None:
    problems = [
        m
        for m in page.console_messages_seen
        if "Content Security Policy" in m or "pageerror" in m or "Refused" in m
    ]
    assert not problems, f"the page logged problems: {problems}"


# --- every status, verified on the phone ----------------------------------------------------


@needs_browser
@pytest.mark.parametrize("status", list(STATUS_WORDS))
def test_each_status_shows_its_banner_and_verifies_on_the_phone(live: Live, phone, status: str):
    page = phone("zh-CN")
    code = live.code(status)
    response = page.goto(f"{live.url}/e/{code}")
    assert response is not None and response.status == 200
    assert root_attribute(page, "data-status") == status
    banner = page.locator("[data-testid=banner]")
    assert STATUS_WORDS[status][0] in banner.inner_text(), f"the {status} banner lacks its word"
    # Not colour alone: the banner has an icon shape and words, and says why when withdrawn.
    assert banner.locator("svg.status-icon").count() == 1
    if status in ("revoked", "recalled"):
        reason = page.locator("[data-testid=reason]").inner_text()
        assert len(reason) > 10, f"the {status} page does not say why"
    assert wait_for_verdict(page) == "verified", (
        f"{status}: the phone did not verify the genuine data: "
        + page.locator("#verify").inner_text()
    )
    steps = page.locator(".timeline .step")
    assert steps.count() > 3
    marks = page.eval_on_selector_all(".timeline .step", "els => els.map(e => e.dataset.verify)")
    assert set(marks) == {"ok"}, f"steps not all verified on the phone: {marks}"
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide at 360 px: it scrolls sideways"
    assert_clean_console(page)
    shoot(page, f"{status}-zh")


@needs_browser
@pytest.mark.parametrize("status", ["valid", "recalled"])
def test_english_screens(live: Live, phone, status: str):
    page = phone("en-US")
    page.goto(f"{live.url}/e/{live.code(status)}")
    assert root_attribute(page, "lang") == "en"
    assert STATUS_WORDS[status][1] in page.locator("[data-testid=status]").inner_text()
    assert wait_for_verdict(page) == "verified"
    assert "This phone verified" in page.locator("#verify").inner_text()
    shoot(page, f"{status}-en")


# --- tampering in flight is caught, and the step is named -----------------------------------


def _tamper(page: Any, change: Callable[[dict[str, Any]], None]) -> None:
    def handle(route: Any) -> None:
        response = route.fetch()
        document = response.json()
        change(document)
        route.fulfill(response=response, body=json.dumps(document))

    page.route("**/verify.json", handle)


def _entry(document: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e for e in document["chain"] if e["kind"] == kind)


def _flip_payload_digit(document: dict[str, Any], kind: str) -> int:
    """Change one byte of the payload of the first ``kind`` entry (a digit, so it stays
    JSON); returns its log index."""
    entry = _entry(document, kind)
    payload = bytearray(base64.b64decode(entry["envelope"]["payload"]))
    at = next(i for i in range(len(payload) - 1, 0, -1) if chr(payload[i]).isdigit())
    payload[at] = ord("7") if payload[at] != ord("7") else ord("8")
    entry["envelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
    return int(entry["index"])


def _flip_proof_hash(document: dict[str, Any], kind: str) -> int:
    entry = _entry(document, kind)
    first = bytearray(base64.b64decode(entry["inclusion_proof"][0]))
    first[0] ^= 0x01
    entry["inclusion_proof"][0] = base64.b64encode(bytes(first)).decode()
    return int(entry["index"])


def _flip_signature(document: dict[str, Any], kind: str) -> int:
    entry = _entry(document, kind)
    signature = bytearray(base64.b64decode(entry["envelope"]["signatures"][0]["sig"]))
    signature[5] ^= 0x80
    entry["envelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
    return int(entry["index"])


@needs_browser
@pytest.mark.parametrize(
    ("what", "tamper", "kind", "why"),
    [
        ("one payload byte", _flip_payload_digit, "inspection", "content does not match"),
        ("one proof hash", _flip_proof_hash, "harvest", "not in the log"),
        ("one signature", _flip_signature, "certificate", "signature does not verify"),
        ("a key registration", _flip_payload_digit, "key_registration", "content does not"),
    ],
)
def test_tampering_in_flight_fails_and_names_the_step(
    live: Live, phone, what: str, tamper: Callable[[dict[str, Any], str], int], kind: str, why: str
):
    page = phone("en-US")
    altered: list[int] = []
    _tamper(page, lambda document: altered.append(tamper(document, kind)))
    page.goto(f"{live.url}/e/{live.code('valid')}")
    assert wait_for_verdict(page) == "failed", f"altering {what} went unnoticed"
    index = altered[0]
    assert root_attribute(page, "data-verify-failed") == str(index)
    message = page.locator("#verify-failed-step").inner_text()
    assert f"#{index}" in message and why in message, f"the failure is not named: {message!r}"
    if not kind.startswith("key_"):
        step = page.locator(f"#step-{index}")
        assert step.get_attribute("data-verify") == "failed"
        assert "failed on this phone" in step.inner_text()
    others = page.eval_on_selector_all(
        f".timeline .step:not(#step-{index})", "els => els.map(e => e.dataset.verify)"
    )
    assert "ok" in others, "the untouched steps should still verify"
    shoot(page, f"tampered-{kind}")


@needs_browser
def test_a_forged_checkpoint_fails(live: Live, phone):
    page = phone("zh-CN")

    def forge(document: dict[str, Any]) -> None:
        note = document["checkpoint"]["note"]
        lines = note.split("\n")
        lines[1] = str(int(lines[1]) + 1)  # claim a bigger tree under the same signature
        document["checkpoint"]["note"] = "\n".join(lines)

    _tamper(page, forge)
    page.goto(f"{live.url}/e/{live.code('expired')}")
    assert wait_for_verdict(page) == "failed"
    assert root_attribute(page, "data-verify-failed") == "checkpoint"
    assert "日志检查点" in page.locator("#verify-failed-step").inner_text()


@needs_browser
def test_a_network_failure_is_not_called_tampering(live: Live, phone):
    page = phone("en-US")
    page.route("**/verify.json", lambda route: route.abort())
    page.goto(f"{live.url}/e/{live.code('valid')}")
    page.locator(".verify-network").wait_for(state="visible", timeout=VERIFY_TIMEOUT_MS)
    assert root_attribute(page, "data-verify-state") == "pending"
    assert root_attribute(page, "data-verify-detail") == "network"
    page.unroute("**/verify.json")
    page.click("#verify-retry")
    assert wait_for_verdict(page) == "verified", "retrying after the network came back"


@needs_browser
def test_a_status_newer_than_the_cached_page_is_announced(live: Live, phone):
    page = phone("zh-CN")
    _tamper(page, lambda document: document.update(status="revoked"))
    page.goto(f"{live.url}/e/{live.code('valid')}")
    page.locator("#status-changed").wait_for(state="visible", timeout=VERIFY_TIMEOUT_MS)
    assert "请刷新" in page.locator("#status-changed").inner_text()


@needs_browser
@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_batch_pages(live: Live, phone, locale: str):
    recalled = next(b for b in live.summary["batches"] if b["recalled"] and b["gtin"])
    page = phone(locale)
    response = page.goto(f"{live.url}/b/{recalled['code']}")
    assert response is not None and response.status == 200
    assert root_attribute(page, "data-recalled") == "true"
    word = STATUS_WORDS["recalled"][0 if locale == "zh-CN" else 1]
    assert word in page.locator(".banner").inner_text()
    assert page.locator(".timeline .step").count() == recalled["records"]
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"the batch page is {width} px wide"
    assert_clean_console(page)
    shoot(page, f"batch-recalled-{locale[:2]}")


# --- languages, weight, other hosts ---------------------------------------------------------


@needs_browser
def test_languages_by_accept_language_and_the_toggle(live: Live, phone):
    code = live.code("valid")
    page = phone("zh-CN")
    page.goto(f"{live.url}/e/{code}")
    assert root_attribute(page, "lang") == "zh-CN"
    assert "有效" in page.locator("[data-testid=status]").inner_text()
    page.click("[data-testid=lang-toggle]")
    page.wait_for_load_state()
    assert root_attribute(page, "lang") == "en"
    assert "Valid" in page.locator("[data-testid=status]").inner_text()
    assert page.url.endswith("?lang=en")
    assert wait_for_verdict(page) == "verified"
    # Links keep the chosen language.
    href = page.locator(".batches a.lot").first.get_attribute("href")
    assert href is not None and href.endswith("?lang=en")

    english = phone("en-GB")
    english.goto(f"{live.url}/e/{code}")
    assert root_attribute(english, "lang") == "en"
    english.click("[data-testid=lang-toggle]")
    english.wait_for_load_state()
    assert root_attribute(english, "lang") == "zh-CN"
    assert "有效" in english.locator("[data-testid=status]").inner_text()


@needs_browser
def test_the_page_stays_on_this_host_and_under_100_kb(live: Live, phone):
    page = phone("zh-CN")
    requests: list[Any] = []
    page.on("requestfinished", lambda r: requests.append(r))
    page.on("requestfailed", lambda r: requests.append(r))
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(f"{live.url}/e/{live.code('recalled')}")
    assert wait_for_verdict(page) == "verified"
    page.wait_for_load_state("networkidle")
    foreign = [u for u in urls if not u.startswith(live.url + "/") and not u.startswith("data:")]
    assert not foreign, f"the page made requests to other hosts: {foreign}"
    sizes = []
    for request in requests:
        response = request.response()
        measured = request.sizes()
        sizes.append(
            {
                "url": request.url.removeprefix(live.url),
                "body": measured["responseBodySize"],
                "headers": measured["responseHeadersSize"],
                "encoding": response.headers.get("content-encoding") if response else None,
            }
        )
    total = sum(s["body"] + s["headers"] for s in sizes)
    report = {"total_bytes": total, "budget_bytes": BUDGET_BYTES, "requests": sizes}
    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS.parent / "consumer-page-weight.json").write_text(json.dumps(report, indent=1))
    print(f"consumer page transfer: {total} bytes in {len(sizes)} requests")
    assert total <= BUDGET_BYTES, f"the page transfers {total} bytes: {sizes}"
    compressed = {s["url"].split("?")[0]: s["encoding"] for s in sizes}
    assert any(url.endswith("/verify.json") for url in compressed), "no verify fetch"
    for url, encoding in compressed.items():
        if url.startswith("/e/"):
            assert encoding == "gzip", f"{url} is not compressed"
    assert len(urls) == len(set(urls)), f"something was fetched twice: {urls}"


# --- report a problem, in the browser ------------------------------------------------------


@needs_browser
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_report_form_rejects_bad_input_and_accepts_good(live: Live, phone, javascript: bool):
    page = phone("en-US", javascript=javascript)
    code = live.code("valid")
    page.goto(f"{live.url}/e/{code}")
    page.fill("#report-text", "bad")
    page.fill("#report-contact", "13800138000")
    page.click(".report-form button[type=submit]")
    page.wait_for_load_state()
    message = page.locator("[data-testid=report-message]")
    assert "correct the marked fields" in message.inner_text()
    errors = page.eval_on_selector_all(".field-error", "els => els.map(e => e.dataset.field)")
    assert set(errors) == {"category", "text"}, errors
    # What the viewer typed is still there.
    assert page.input_value("#report-text") == "bad"
    assert page.input_value("#report-contact") == "13800138000"
    if javascript:
        assert wait_for_verdict(page) == "verified", "the re-rendered page verifies too"
    else:
        assert root_attribute(page, "data-verify-state") == "pending"
        assert "The registry's own check" in page.locator("#verify").inner_text()
    page.check("input[name=category][value=quality_problem]")
    page.fill("#report-text", "The millet smelled musty when the bag was opened.")
    page.click(".report-form button[type=submit]")
    page.wait_for_load_state()
    assert "Thank you" in page.locator("[data-testid=report-message]").inner_text()
    shoot(page, f"report-sent-{'js' if javascript else 'nojs'}")
    with transaction(live.app.state.session_factory) as session:
        stored = session.scalars(
            select(ProblemReport).where(ProblemReport.text.like("The millet smelled musty%"))
        ).all()
    assert stored, "the report was not stored"
    assert stored[-1].contact == "13800138000"


# --- the entry page -------------------------------------------------------------------------


@needs_browser
def test_entry_page_helps_with_a_mistyped_code(live: Live, phone):
    code = live.code("valid")
    page = phone("zh-CN")
    page.goto(f"{live.url}/e")
    page.fill("#code", mistyped(code).lower())
    page.click(".entry-form button[type=submit]")
    page.wait_for_load_state()
    message = page.locator("[data-testid=entry-message]").inner_text()
    assert "校验位对不上" in message, message
    assert page.locator(".suggestions a", has_text=code).count() == 1, "no suggestion"
    shoot(page, "entry-mistyped")
    page.click(f".suggestions a:has-text('{code}')")
    page.wait_for_load_state()
    assert root_attribute(page, "data-code") == code
    page.goto(f"{live.url}/e")
    page.fill("#code", code.lower())
    page.click(".entry-form button[type=submit]")
    page.wait_for_load_state()
    assert page.url.endswith(f"/e/{code}")
    assert wait_for_verdict(page) == "verified"


# --- the page over HTTP (both backends) -----------------------------------------------------


@dataclass
class Demo:
    client: TestClient
    app: FastAPI
    summary: dict[str, Any]

    def code(self, status: str) -> str:
        return next(e["code"] for e in self.summary["endorsements"] if e["status"] == status)

    def token(self, username: str) -> dict[str, str]:
        with transaction(self.app.state.session_factory) as session:
            account = session.scalars(select(Account).where(Account.username == username)).one()
            _, token = accounts.issue_token(session, account, "test")
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def demo(
    engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    empty_tables(engine)
    try:
        settings = _settings(tmp_path_factory.mktemp("consumer-http") / "data", database_url)
        with TestClient(create_app(settings, engine)) as client:
            app = client.app
            assert isinstance(app, FastAPI)
            summary = load_demo(app.state.session_factory, app.state.ctx)
            yield Demo(client, app, summary)
    finally:
        empty_tables(engine)


@pytest.fixture
def fresh_limiter(demo: Demo) -> Iterator[None]:
    demo.app.state.report_limiter = RateLimiter()
    yield
    demo.app.state.report_limiter = RateLimiter()


def test_page_is_cacheable_briefly_with_an_etag_and_compressed(demo: Demo):
    code = demo.code("valid")
    first = demo.client.get(f"/e/{code}", headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200
    assert first.headers["content-encoding"] == "gzip"
    cache = first.headers["cache-control"]
    max_age = int(re.search(r"max-age=(\d+)", cache).group(1))  # type: ignore[union-attr]
    assert "public" in cache and 1 <= max_age <= 10, cache
    assert "Accept-Language" in first.headers["vary"]
    etag = first.headers["etag"]
    again = demo.client.get(f"/e/{code}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag
    english = demo.client.get(f"/e/{code}", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert english.headers["etag"] != etag, "the English page has the Chinese page's ETag"
    assert english.headers["content-language"] == "en"
    csp = first.headers["content-security-policy"]
    # Hash-only: the logged page script and the pinned fallback, nothing else (web/scripts.py).
    script_src = next(d for d in csp.split("; ") if d.startswith("script-src "))
    assert script_src.split()[1:] and all(
        s.startswith("'sha256-") for s in script_src.split()[1:]
    ), script_src
    assert "unsafe-inline" not in csp
    assert "<script>" not in first.text and " style=" not in first.text, "inline script/style"


def test_page_view_counts_once_and_the_script_fetch_does_not(demo: Demo):
    code = demo.code("not_yet_valid")

    def scans() -> int:
        return int(demo.client.get(f"/api/v1/endorsements/{code}/scans").json()["total"])

    before = scans()
    demo.client.get(f"/e/{code}")
    script = demo.client.get(f"/e/{code}/verify.json", headers={"Accept": "application/json"})
    assert script.status_code == 200 and script.headers["content-type"] == "application/json"
    assert "max-age=1" in script.headers["cache-control"]  # a status change shows within 2 s
    again = demo.client.get(
        f"/e/{code}/verify.json", headers={"If-None-Match": script.headers["etag"]}
    )
    assert again.status_code == 304
    api = demo.client.get(f"/api/v1/verify/{code}", params={"count": "0"})
    assert api.status_code == 200
    assert scans() == before + 1, "a page view and its verification fetch are one scan"
    # The page's script checks the same document the API serves.
    served, published = script.json(), api.json()
    for volatile in ("scans", "computed_at"):
        served.pop(volatile, None)
        published.pop(volatile, None)
    assert served == published
    assert demo.client.get(f"/api/v1/verify/{code}").status_code == 200
    assert scans() == before + 2, "the API without count=0 counts a scan"
    missing = demo.client.get("/e/ZZZZZZZZZ/verify.json", headers={"Accept": "application/json"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_language_negotiation():
    assert negotiate(None, None) == ("zh", False)
    assert negotiate(None, "en-US,en;q=0.9") == ("en", False)
    assert negotiate(None, "zh-CN,zh;q=0.9,en;q=0.8") == ("zh", False)
    assert negotiate(None, "fr-FR, en;q=0.5") == ("en", False)
    assert negotiate(None, "fr-FR, de") == ("zh", False)
    assert negotiate(None, "en;q=0.3, zh-TW;q=0.8") == ("zh", False)
    assert negotiate("en", "zh-CN") == ("en", True)
    assert negotiate("xx", "en") == ("en", False)


def test_entry_page_messages(demo: Demo):
    code = demo.code("expired")
    page = demo.client.get("/e")
    assert page.status_code == 200 and 'name="code"' in page.text
    moved = demo.client.get("/e", params={"code": f" {code.lower()} "}, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == f"/e/{code}"
    bad = demo.client.get("/e", params={"code": mistyped(code)})
    assert bad.status_code == 422 and "校验位对不上" in bad.text
    assert f'href="/e/{code}"' in bad.text, "the likely code is not suggested"
    english = demo.client.get("/e", params={"code": mistyped(code), "lang": "en"})
    assert "check character" in english.text and f'href="/e/{code}?lang=en"' in english.text
    junk = demo.client.get("/e", params={"code": "!!"})
    assert junk.status_code == 422 and "不是背书码" in junk.text
    body = "ZZZZZZZZ"
    unknown = demo.client.get("/e", params={"code": body + check_character(body)})
    assert unknown.status_code == 404 and "没有背书码" in unknown.text
    # The page behind a mistyped QR or link suggests the code too.
    page404 = demo.client.get(f"/e/{mistyped(code)}")
    assert page404.status_code == 404 and f'href="/e/{code}"' in page404.text


def test_code_candidates_cover_every_single_slip():
    body = "K7Q2M9XA"
    code = body + check_character(body)
    for i in range(len(code)):
        for char in ALPHABET:
            slipped = code[:i] + char + code[i + 1 :]
            if slipped != code:
                assert code in code_candidates(slipped), f"{slipped} does not lead back"
    swapped = code[1] + code[0] + code[2:]
    if swapped != code:
        assert code in code_candidates(swapped)


# --- the problem reports API ----------------------------------------------------------------


def test_report_api_validates_each_field(demo: Demo, fresh_limiter):
    code = demo.code("valid")
    url = f"/api/v1/endorsements/{code}/reports"
    cases = [
        ({"category": "broken", "text": "long enough text"}, "category"),
        ({"category": "other", "text": "abc"}, "text"),
        ({"category": "other", "text": "x" * 2001}, "text"),
        ({"category": "other", "text": "     \n    "}, "text"),
        ({"category": "other", "text": "long enough text", "contact": "c" * 201}, "contact"),
        ({"category": "other", "text": "long enough text", "extra": 1}, "extra"),
    ]
    for body, field in cases:
        response = demo.client.post(url, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        named = {e["path"] for e in problem.get("errors", [])} | {problem.get("field")}
        assert field in named, f"{body}: the problem does not name {field!r}: {problem}"
    assert (
        demo.client.post(
            "/api/v1/endorsements/ZZZZZZZZZ/reports",
            json={"category": "other", "text": "no such code here"},
        ).status_code
        == 404
    )


def test_reports_are_rate_limited_per_client(demo: Demo, fresh_limiter):
    code = demo.code("expired")
    url = f"/api/v1/endorsements/{code}/reports"
    body = {"category": "not_as_described", "text": "The box held 20 eggs, not 30."}
    for _ in range(5):
        assert demo.client.post(url, json=body).status_code == 201
    refused = demo.client.post(url, json=body)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_rate_limiter_window_and_no_addresses_kept():
    now = [0.0]
    limiter = RateLimiter(limit=2, window=60, clock=lambda: now[0])
    limiter.hit("203.0.113.7")
    limiter.hit("203.0.113.7")
    with pytest.raises(RateLimited) as refused:
        limiter.hit("203.0.113.7")
    assert refused.value.retry_after == 60
    limiter.hit("203.0.113.8")  # another client is not affected
    now[0] = 61.0
    limiter.hit("203.0.113.7")
    kept = repr(limiter.__dict__)
    assert "203.0.113" not in kept, "the limiter keeps client addresses"


def test_reports_are_visible_to_the_cooperative_the_authority_and_admins(demo: Demo, fresh_limiter):
    code = demo.code("revoked")  # Shan County eggs
    text_ = f"Several eggs were cracked and smelled bad ({secrets.token_hex(4)})."
    created = demo.client.post(
        f"/api/v1/endorsements/{code}/reports",
        json={"category": "quality_problem", "text": text_, "contact": "wx: viewer-42"},
    )
    assert created.status_code == 201, created.text
    receipt = created.json()
    assert receipt["code"] == code and "contact" not in receipt and "text" not in receipt
    with transaction(demo.app.state.session_factory) as session:
        endorsement = session.scalars(select(Endorsement).where(Endorsement.code == code)).one()
        assert endorsement.request_id is not None
        request = session.get(EndorsementRequest, endorsement.request_id)
        assert request is not None

    def seen(username: str, **params: str) -> list[dict[str, Any]]:
        response = demo.client.get("/api/v1/reports", headers=demo.token(username), params=params)
        assert response.status_code == 200, response.text
        return [r for r in response.json()["items"] if r["text"] == text_]

    for username in ("shanxian-clerk", "shanxian-head", "admin"):
        found = seen(username)
        assert len(found) == 1, f"{username} does not see the report"
        assert found[0]["contact"] == "wx: viewer-42" and found[0]["category"] == "quality_problem"
        assert found[0]["organization_id"] == str(request.organization_id)
    for username in ("aohan-clerk", "aohan-head", "heze-driver"):
        assert not seen(username), f"{username} sees another organization's report"
    assert len(seen("shanxian-clerk", code=code)) == 1
    assert demo.client.get("/api/v1/reports").status_code == 401


def test_reports_page_through_with_a_cursor(demo: Demo, fresh_limiter):
    code = demo.code("recalled")
    for i in range(3):
        demo.client.post(
            f"/api/v1/endorsements/{code}/reports",
            json={"category": "other", "text": f"paging report number {i}"},
        )
    headers = demo.token("admin")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "code": code}
        if cursor:
            params["cursor"] = cursor
        page = demo.client.get("/api/v1/reports", headers=headers, params=params).json()
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) >= 3
    assert (
        demo.client.get(
            "/api/v1/reports", headers=headers, params={"cursor": "nonsense"}
        ).status_code
        == 422
    )


def test_report_form_without_javascript_over_http(demo: Demo, fresh_limiter):
    code = demo.code("valid")
    bad = demo.client.post(
        f"/e/{code}/report", data={"category": "", "text": "hm", "contact": "a@b.c"}
    )
    assert bad.status_code == 422
    assert (
        "请修改标出的内容" in bad.text
        and ">hm</textarea>" in bad.text
        and 'value="a@b.c"' in bad.text
    )
    assert bad.headers["cache-control"] == "no-store"
    good = demo.client.post(
        f"/e/{code}/report?lang=en",
        data={"category": "suspected_counterfeit", "text": "The seal on the bag was different."},
    )
    assert good.status_code == 200 and "Thank you" in good.text
    assert 'href="/e/' + code + '?lang=zh"' in good.text, "the toggle must lead to the page"
