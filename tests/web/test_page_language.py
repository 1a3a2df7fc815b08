"""Each page speaks one language: in real headless Chromium, the consumer page, the batch
page, the trace page and an official's review show no English interface text in Chinese and
no Chinese interface text in English.

What a page shows that is not interface text is left out before the check: data (every
string the signed records, products, organizations, accounts and requests carry: names,
stream titles, substances, reasons — Chinese with English alongside is how the data is
written), the other language's names marked ``lang`` as the page shows them alongside, and
codes (lots, report numbers, standards, URLs, units of lab results). Whatever is left that
is in the wrong script is a word the catalogue or a unit or region table should have given.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from registry.demo import DEMO_PASSWORD
from tests.office import conftest as office_fixtures
from tests.office.conftest import LiveOffice
from tests.web.test_consumer_page import CHROMIUM, CHROMIUM_ARGS

live_office = office_fixtures.live_office  # the demo served live, as the office tests use it

CST = timezone(timedelta(hours=8))

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip("Debian's Chromium is missing at /usr/bin/chromium", allow_module_level=True)
if not os.environ.get("CI"):
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (the package)")

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

# Technical words Chinese pages use as they are, and codes that are not words.
TECHNICAL = {"JSON", "Cookie", "HTTP", "GB", "GB/T", "QR", "GTIN", "GS1", "GLN", "ID"}
CODE = re.compile(
    r"https?://\S+|\S+\.\S+/\S*|\b[A-Z0-9]+(?:[-/.·][A-Z0-9]+)+\b|\b(?=\w*\d)\w+\b"
    r"|[μµm]?g/(?:kg|L)|mg/kg|CFU/g|°[CFNSEW]?"
    # Batch and endorsement codes (Crockford base 32), which may happen to hold no digit.
    r"|\b[0-9A-HJKMNP-TV-Z]{8,10}\b"
)
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
HAN = re.compile(r"[\u3400-\u9fff]+")

# The page's text without what another language's ``lang`` marks, scripts and <code>.
VISIBLE_TEXT = """(lang) => {
  const root = document.body.cloneNode(true);
  root.querySelectorAll('[lang]').forEach(e => {
    if (!e.getAttribute('lang').toLowerCase().startsWith(lang)) e.remove();
  });
  root.querySelectorAll('script, style, code, svg').forEach(e => e.remove());
  root.style.position = 'absolute';
  document.body.appendChild(root);
  const text = root.innerText;
  root.remove();
  return text;
}"""


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            # An endorsement signs its precondition results in the registry's English
            # words: interface text the page must say in its language, not data.
            if key != "preconditions":
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.fixture(scope="module")
def data_strings(live_office: LiveOffice, a_request: str) -> list[str]:
    """Every free-text string of the data, longest first. Single lowercase words (``bag``,
    ``harvest``, ``pass``: codes the pages must put into words) are not data."""
    from registry.db import transaction
    from registry.models import Account, EndorsementRequest, Organization, Product, Record

    found: set[str] = set()
    with transaction(live_office.app.state.session_factory) as session:
        for payload in session.scalars(select(Record.payload)):
            if payload:
                found.update(_strings(json.loads(payload)))
        for stream in session.scalars(select(EndorsementRequest.stream)):
            found.update(_strings(stream))
        for model, fields in (
            (Product, ("name_zh", "name_en")),
            (Organization, ("name_zh", "name_en")),
            (Account, ("name_zh", "name_en", "title_zh", "title_en")),
        ):
            for row in session.scalars(select(model)):
                found.update(str(getattr(row, f) or "") for f in fields)
    words = {s.strip() for s in found if len(s.strip()) > 1}
    return sorted(
        (
            s
            for s in words
            if (LATIN_WORD.search(s) or HAN.search(s)) and not re.fullmatch(r"[a-z_]+", s)
        ),
        key=lambda s: (-len(s), s),
    )


@pytest.fixture(scope="module")
def a_request(live_office: LiveOffice) -> str:
    """A pending request in the banner head's queue: the page an official reviews."""
    from registry.db import transaction
    from registry.endorsements import requests as endorsement_service
    from registry.models import Account, Batch

    start = datetime.now(CST).replace(second=0, microsecond=0) + timedelta(days=3)
    with transaction(live_office.app.state.session_factory) as session:
        clerk = session.query(Account).filter_by(username="aohan-clerk").one()
        batch = session.query(Batch).filter_by(lot="GF2026-002").one()
        request = endorsement_service.request_endorsement(
            session,
            live_office.app.state.ctx,
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
        return str(request.id)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wrong_script(text: str, lang: str, data: list[str]) -> list[str]:
    """The lines of ``text`` with words in the other language's script once the data and
    codes are taken out, each with the offending words."""
    found = []
    for line in text.splitlines():
        rest = line
        for item in data:
            if item in rest:
                rest = rest.replace(item, " ")
        rest = CODE.sub(" ", rest)
        if lang == "zh":
            words = [w for w in LATIN_WORD.findall(rest) if w not in TECHNICAL]
        else:
            words = HAN.findall(rest)
        if words:
            found.append(f"{line.strip()!r}: {words}")
    return found


def _pages(live: LiveOffice, request_id: str) -> list[tuple[str, str]]:
    by_status = {e["status"]: e["code"] for e in live.summary["endorsements"]}
    batches = live.summary["batches"]
    paths = [(f"consumer ({s})", f"/e/{by_status[s]}") for s in ("valid", "revoked", "recalled")]
    paths += [(f"batch {b['code']}", f"/b/{b['code']}") for b in batches[:4]]
    paths += [(f"trace {b['code']}", f"/b/{b['code']}/trace") for b in batches[:2]]
    paths += [("unknown page", f"/e/{by_status['valid']}/foo")]
    paths += [("official review", f"/office/requests/{request_id}")]
    return paths


@pytest.mark.parametrize(("lang", "locale"), [("zh", "zh-CN"), ("en", "en-US")])
def test_every_page_speaks_the_page_language_only(
    chromium: Browser,
    live_office: LiveOffice,
    a_request: str,
    data_strings: list[str],
    lang: str,
    locale: str,
) -> None:
    context = chromium.new_context(base_url=live_office.url, locale=locale)
    context.set_default_timeout(15_000)
    page: Page = context.new_page()
    page.goto("/office/login")
    page.fill("#f-username", "aohan-head")
    page.fill("#f-password", DEMO_PASSWORD)
    page.click("[data-testid=login-submit]")
    expect(page.locator("[data-testid=whoami]")).to_be_visible()

    problems = {}
    for name, path in _pages(live_office, a_request):
        page.goto(f"{path}?lang={lang}")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if lang == "zh" else "en")
        text = page.evaluate(VISIBLE_TEXT, lang)
        assert len(text) > 40, f"{name} ({path}) shows almost nothing: {text!r}"
        wrong = wrong_script(text, lang, data_strings)
        if wrong:
            problems[f"{name} {path}"] = wrong
    context.close()
    assert not problems, f"{lang} pages show the other language's words:\n" + "\n".join(
        f"{where}:\n  " + "\n  ".join(lines) for where, lines in problems.items()
    )


def test_the_check_finds_english_on_a_chinese_page(data_strings: list[str]) -> None:
    """The filter above can fail: interface English, a raw unit or an English precondition
    line is caught, data and codes are not."""
    assert wrong_script("数量 2800 bag", "zh", data_strings)
    assert wrong_script("全部 10 条记录验签通过；all 10 records verify", "zh", data_strings)
    assert wrong_script("Quantity 2,800 袋", "en", data_strings)
    assert not wrong_script("批号 AH2026-001 · GB 23200.113-2018 · 0.1 mg/kg", "zh", [])
    assert not wrong_script("核验数据（JSON） https://m.tb.cn/live/x", "zh", [])
    assert not wrong_script("Quantity 2,800 bags", "en", [])
