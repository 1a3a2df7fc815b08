"""The back office in a real headless Chromium (Debian's ``/usr/bin/chromium`` driven by
Playwright): the whole story end to end, CSRF and cross-organization refusals as a browser
meets them, and screenshots of each role's main page at 360 px and 1280 px, saved under
``test-artifacts/screenshots/office/``.

The lab works with JavaScript switched off: the inspection form must work without it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from registry.demo import DEMO_PASSWORD
from tests.office.conftest import LiveOffice

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots" / "office"
CST = timezone(timedelta(hours=8))
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
LAPTOP = {"width": 1280, "height": 800}

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(
        "Debian's Chromium is not installed at /usr/bin/chromium "
        "(apt-get install -y chromium); in CI this test fails instead",
        allow_module_level=True,
    )
if not os.environ.get("CI"):
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (the package)")

from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _context(
    browser: Browser, live: LiveOffice, viewport: dict[str, int], javascript: bool = True
) -> BrowserContext:
    context = browser.new_context(
        base_url=live.url,
        viewport=viewport,
        locale="zh-CN",
        java_script_enabled=javascript,
        device_scale_factor=1,
    )
    context.set_default_timeout(15_000)
    return context


def login(page: Page, username: str) -> None:
    page.goto("/office/login")
    page.fill("#f-username", username)
    page.fill("#f-password", DEMO_PASSWORD)
    page.click("[data-testid=login-submit]")
    expect(page.locator("[data-testid=whoami]")).to_be_visible()


def local(moment: datetime) -> str:
    """The value a datetime-local input takes (Beijing time)."""
    return moment.astimezone(CST).strftime("%Y-%m-%dT%H:%M")


def flash(page: Page) -> str:
    locator = page.locator("[data-testid=flash]")
    expect(locator).to_be_visible()
    return locator.inner_text()


def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_the_whole_story_in_the_browser(chromium: Browser, live_office: LiveOffice) -> None:
    """A cooperative registers a batch and its chain, a lab records a test (without
    JavaScript), the cooperative requests an endorsement, the official reviews each
    precondition and approves, and the consumer page shows the endorsement valid."""
    now = datetime.now(CST)
    lot = f"AH-E2E-{now.strftime('%H%M%S')}"

    # --- the cooperative, on a phone --------------------------------------------------------
    coop_context = _context(chromium, live_office, PHONE)
    coop = coop_context.new_page()
    login(coop, "aohan-clerk")
    coop.goto("/office/records/new/harvest")
    coop.select_option("#f-product", label="敖汉小米（谷子原粮）")
    coop.fill("#f-lot", lot)
    coop.fill("#f-quantity", "5000")
    coop.fill("#f-place\\.name", "敖汉旗四家子镇")
    coop.fill("#f-time", local(now - timedelta(hours=5)))
    shot(coop, "form-harvest-360")
    coop.click("[data-testid=submit]")
    assert "已签名并记入公开日志" in flash(coop)
    batch = coop.locator("[data-testid=batch]")
    code = batch.get_attribute("data-code")
    assert code and re.fullmatch(r"[0-9A-Z]{9}", code), code

    # A mistake is shown next to the field and keeps what was typed.
    coop.goto(f"/office/records/new/storage?batch={code}")
    coop.fill("#f-location", "合作社2号粮仓")
    coop.fill("#f-readings\\.0\\.time", local(now - timedelta(hours=4)))
    coop.fill("#f-readings\\.0\\.celsius", "十四度")
    coop.click("[data-testid=submit]")
    expect(coop.locator("[data-error-for='readings.0.celsius']")).to_be_visible()
    expect(coop.locator("#f-location")).to_have_value("合作社2号粮仓")
    expect(coop.locator("#f-readings\\.0\\.celsius")).to_have_value("十四度")
    coop.fill("#f-readings\\.0\\.celsius", "14.2")
    coop.click("[data-testid=submit]")
    assert "仓储" in flash(coop)

    coop.goto(f"/office/records/new/certificate?batch={code}")
    coop.fill("#f-certificate_number", f"HG-150430-{lot[-6:]}")
    coop.fill("#f-time", local(now - timedelta(hours=4)))
    coop.click("[data-testid=submit]")
    assert "合格证" in flash(coop)

    coop.goto(f"/office/records/new/packing?batch={code}")
    coop.fill("#f-package\\.count", "200")
    coop.fill("#f-package\\.size", "25")
    coop.fill("#f-package\\.unit", "kg")
    coop.fill("#f-packaging", "编织袋")
    coop.click("[data-testid=submit]")
    assert "包装" in flash(coop)
    expect(coop.locator("[data-testid=records] li")).to_have_count(4)
    shot(coop, "batch-360")

    # The holder asks the lab to test it: only an assigned lab may sign its inspection.
    coop.goto(f"/office/records/new/assignment?batch={code}")
    coop.select_option("#f-task", value="inspection")
    coop.select_option("#f-to\\.org", label="赤峰谷检检测技术有限公司")
    coop.click("[data-testid=submit]")
    assert "委托" in flash(coop)

    # --- the lab, JavaScript off: five fixed substance rows ---------------------------------
    lab_context = _context(chromium, live_office, LAPTOP, javascript=False)
    lab = lab_context.new_page()
    login(lab, "chifeng-analyst")
    lab.goto("/office/records/new/inspection")
    expect(lab.locator("[data-rows=results] [data-row]")).to_have_count(5)
    expect(lab.locator("[data-add-row]")).to_be_hidden()
    lab.fill("#f-batch", code)
    lab.fill("#f-report_number", f"GJ-E2E-{lot[-6:]}")
    lab.fill("#f-time", local(now - timedelta(hours=3)))
    rows = [
        ("毒死蜱 chlorpyrifos", "0.004", "0.1", "mg/kg", "GB 23200.113-2018"),
        ("镉 cadmium", "0.02", "0.1", "mg/kg", "GB 5009.15-2014"),
        ("铅 lead", "0.05", "0.2", "mg/kg", "GB 5009.12-2017"),
    ]
    for i, (substance, value, limit, unit, method) in enumerate(rows):
        lab.fill(f"#f-results\\.{i}\\.substance", substance)
        lab.fill(f"#f-results\\.{i}\\.value", value)
        lab.fill(f"#f-results\\.{i}\\.limit", limit)
        lab.fill(f"#f-results\\.{i}\\.unit", unit)
        lab.fill(f"#f-results\\.{i}\\.method", method)
    shot(lab, "form-inspection-1280")
    lab.click("[data-testid=submit]")
    assert "检测报告" in flash(lab)
    expect(lab.locator("[data-testid=records] li[data-kind=inspection]")).to_have_count(1)
    lab_context.close()

    # --- the cooperative asks the banner head ---------------------------------------------
    coop.goto(f"/office/requests/new?batch={code}")
    expect(coop.locator(f"input[name=batches][value='{code}']")).to_be_checked()
    coop.select_option("#f-official", value="aohan-head")
    coop.fill("#f-stream\\.room", "https://m.tb.cn/live/aohan-e2e")
    coop.fill("#f-stream\\.title", "旗长带你尝新米 E2E")
    coop.fill("#f-stream\\.start", local(now - timedelta(hours=1)))
    coop.fill("#f-stream\\.end", local(now + timedelta(hours=2)))
    coop.fill("#f-stream\\.hosts", "小米姐姐")
    shot(coop, "form-request-360")
    coop.click("[data-testid=submit]")
    assert "背书申请已提交" in flash(coop)
    request_url = coop.url
    expect(coop.locator("[data-testid=request]")).to_have_attribute("data-status", "pending")

    # --- the official reviews the evidence and approves ------------------------------------
    official_context = _context(chromium, live_office, LAPTOP)
    official = official_context.new_page()
    login(official, "aohan-head")
    queue = official.locator("[data-testid=review-queue]")
    expect(queue).to_contain_text("旗长带你尝新米 E2E")
    official.goto(request_url)
    preconditions = official.locator("[data-testid=preconditions] [data-precondition]")
    expect(preconditions).to_have_count(5)
    for item in preconditions.all():
        assert item.get_attribute("data-ok") == "true", item.inner_text()
    expect(official.locator("[data-testid=evidence]")).to_contain_text("GJ-E2E")
    shot(official, "review-1280")
    official.click("[data-testid=approve]")
    assert "已签名批准" in flash(official)
    endorsement = official.locator("[data-testid=endorsement]")
    expect(endorsement).to_have_attribute("data-status", "valid")
    shot(official, "endorsement-1280")
    consumer_href = official.locator("[data-testid=consumer-link]").get_attribute("href")
    assert consumer_href and consumer_href.startswith("/e/")
    official_context.close()

    # --- the consumer scans -------------------------------------------------------------------
    consumer_context = _context(chromium, live_office, PHONE)
    consumer = consumer_context.new_page()
    consumer.goto(consumer_href)
    expect(consumer.locator("html")).to_have_attribute("data-status", "valid")
    shot(consumer, "consumer-after-approval-360")
    consumer_context.close()

    # The cooperative sees the approval on its request.
    coop.goto(request_url)
    expect(coop.locator("[data-testid=request]")).to_have_attribute("data-status", "approved")
    coop_context.close()


def test_a_form_without_its_csrf_token_is_refused(
    chromium: Browser, live_office: LiveOffice
) -> None:
    context = _context(chromium, live_office, LAPTOP)
    page = context.new_page()
    login(page, "shanxian-clerk")
    page.goto("/office/products")
    page.fill("#f-name_zh", "单县羊肉汤料")
    page.fill("#f-category", "meat")
    page.evaluate("document.querySelector('form.grid-form input[name=csrf_token]').remove()")
    with page.expect_response(lambda r: r.url.endswith("/office/products")) as answer:
        page.click("form.grid-form button[type=submit]")
    assert answer.value.status == 403
    expect(page.locator(".error-card")).to_have_attribute("data-error", "403")
    page.goto("/office/products")
    expect(page.locator("[data-testid=products]")).not_to_contain_text("单县羊肉汤料")
    context.close()


def test_another_organizations_data_is_out_of_reach(
    chromium: Browser, live_office: LiveOffice
) -> None:
    aohan_batch = next(b for b in live_office.summary["batches"] if b["lot"] == "AH2026-001")
    context = _context(chromium, live_office, PHONE)
    page = context.new_page()
    login(page, "shanxian-clerk")
    response = page.goto(f"/office/batches/{aohan_batch['code']}")
    assert response is not None and response.status == 404
    page.goto("/office/batches")
    expect(page.locator("[data-testid=batches]")).not_to_contain_text(aohan_batch["code"])
    response = page.goto("/office/admin/accounts")
    assert response is not None and response.status == 403
    context.close()


@pytest.fixture(scope="module")
def something_to_review(live_office: LiveOffice) -> None:
    """A pending request in the banner head's queue and a viewer's complaint, so the main
    pages show work waiting, as they would on a working day."""
    from registry.db import transaction
    from registry.endorsements import requests as endorsement_service
    from registry.models import Account, Batch, Endorsement
    from registry.reports import problems as report_service

    factory = live_office.app.state.session_factory
    ctx = live_office.app.state.ctx
    start = datetime.now(CST).replace(second=0, microsecond=0) + timedelta(days=3)
    with transaction(factory) as session:
        clerk = session.query(Account).filter_by(username="aohan-clerk").one()
        batch = session.query(Batch).filter_by(lot="GF2026-002").one()
        endorsement_service.request_endorsement(
            session,
            ctx,
            clerk,
            batches=[batch.code],
            official="aohan-head",
            stream={
                "platform": "douyin",
                "room": "https://v.douyin.com/aohan-harvest",
                "title": "敖汉小米丰收节第二场 Harvest festival, part two",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=3)).isoformat(),
                "hosts": [{"name": "小米姐姐", "role": "streamer"}],
            },
            claims=["origin_verified", "lab_tested", "certified", "personally_vouched"],
            quantity="1500",
        )
        first = session.query(Endorsement).order_by(Endorsement.record_index).first()
        assert first is not None
        report_service.submit_report(
            session,
            first.code,
            report_service.validate_report(
                "quality_problem", "收到的小米有些受潮结块，请核实。", "138****2026"
            ),
            datetime.now(CST),
        )


ROLES = [
    ("cooperative", "aohan-clerk"),
    ("processor", "mill-clerk"),
    ("carrier", "mengdong-driver"),
    ("lab", "chifeng-analyst"),
    ("official", "aohan-head"),
    ("admin", "admin"),
]


@pytest.mark.parametrize(("role", "username"), ROLES, ids=[r for r, _ in ROLES])
def test_screenshots_of_each_roles_main_page(
    chromium: Browser,
    live_office: LiveOffice,
    something_to_review: None,
    role: str,
    username: str,
) -> None:
    for width, viewport in (("360", PHONE), ("1280", LAPTOP)):
        context = _context(chromium, live_office, viewport)
        page = context.new_page()
        login(page, username)
        page.goto("/office/")
        expect(page.locator("html")).to_have_attribute("data-page", "dashboard")
        # Nothing wider than the screen: a phone never scrolls sideways.
        overflow: Any = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{role} at {width}px is {overflow}px wider than the screen"
        path = shot(page, f"{role}-{width}")
        assert path.stat().st_size > 5_000
        context.close()


def test_screenshots_of_the_officials_other_pages(
    chromium: Browser, live_office: LiveOffice, something_to_review: None
) -> None:
    """The report card with its scan chart, and the complaints, at both widths."""
    for width, viewport in (("360", PHONE), ("1280", LAPTOP)):
        context = _context(chromium, live_office, viewport)
        page = context.new_page()
        login(page, "aohan-head")
        page.goto("/office/report")
        expect(page.locator("[data-testid=report-card]")).to_be_visible()
        expect(page.locator("svg[data-testid=chart-hourly] rect.bar")).to_have_count(48)
        shot(page, f"official-report-{width}")
        page.goto("/office/complaints")
        expect(page.locator("[data-testid=complaint]").first).to_be_visible()
        shot(page, f"official-complaints-{width}")
        context.close()


def test_the_office_in_english(chromium: Browser, live_office: LiveOffice) -> None:
    """The language toggle is a plain link; the choice sticks for the following pages."""
    context = _context(chromium, live_office, PHONE)
    page = context.new_page()
    login(page, "aohan-clerk")
    page.click("a.lang")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("[data-testid=quick-actions] h2")).to_have_text("Record a step")
    page.goto("/office/records/new/certificate")
    expect(page.locator("h1.page-title")).to_contain_text("Compliance certificate")
    page.goto("/office/")
    shot(page, "cooperative-en-360")
    page.click("a.lang")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    context.close()


def test_an_administrator_invites_a_new_clerk(chromium: Browser, live_office: LiveOffice) -> None:
    admin_context = _context(chromium, live_office, LAPTOP)
    admin = admin_context.new_page()
    login(admin, "admin")
    admin.goto("/office/admin/accounts")
    admin.select_option("#f-organization", label="单县绿源蛋鸡养殖专业合作社（合作社）")
    admin.fill("#f-username", "shanxian-clerk2")
    admin.fill("#f-name_zh", "赵小红")
    admin.fill("#f-name_en", "Zhao Xiaohong")
    admin.fill("#f-title_zh", "合作社记录员")
    admin.click("[data-testid=account-form] button[type=submit]")
    link = admin.locator("[data-testid=invite-link]").input_value()
    assert "/office/invite/" in link
    shot(admin, "admin-invite-1280")
    admin_context.close()

    newcomer_context = _context(chromium, live_office, PHONE)
    newcomer = newcomer_context.new_page()
    newcomer.goto(link)
    expect(newcomer.locator("[data-testid=invite-username]")).to_have_text("shanxian-clerk2")
    newcomer.fill("#f-new_password", "eggs-are-fresh-2026")
    newcomer.fill("#f-confirm_password", "eggs-are-fresh-2026")
    newcomer.click("button[type=submit]")
    expect(newcomer.locator("[data-testid=whoami]")).to_contain_text("赵小红")
    assert "密码已设置" in flash(newcomer)
    response = newcomer.goto(link)
    assert response is not None and response.status == 410
    newcomer_context.close()
