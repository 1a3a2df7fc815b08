"""The web pages on the demo dataset (SQLite and PostgreSQL): the consumer page of each
endorsement status, codes typed in any case or mistyped, GS1 Digital Link, the QR images,
the OBS overlay (same-origin assets only) and scan counting."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
import zxingcpp
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, select

from app.factory import create_app
from registry import qr
from registry.codes import ALPHABET, check_character
from registry.db import transaction
from registry.demo import load_demo
from registry.endorsements import decisions as endorsement_service
from registry.models import Account, Endorsement, EndorsementSigner
from registry.settings import Settings
from tests.support import empty_tables

STATUS_WORDS = {
    "valid": "有效",
    "not_yet_valid": "未生效",
    "expired": "已过期",
    "revoked": "已撤销",
    "recalled": "已召回",
}


@dataclass
class Demo:
    client: TestClient
    app: FastAPI
    summary: dict[str, Any]
    settings: Settings

    def endorsement(self, status: str, last: bool = False) -> dict[str, Any]:
        found = [e for e in self.summary["endorsements"] if e["status"] == status]
        assert found, f"the demo has no {status} endorsement"
        return found[-1] if last else found[0]

    def batch(self, lot: str) -> dict[str, Any]:
        return next(b for b in self.summary["batches"] if b["lot"] == lot)

    def scans(self, code: str) -> int:
        response = self.client.get(f"/api/v1/endorsements/{code}/scans")
        assert response.status_code == 200, response.text
        return int(response.json()["total"])


@pytest.fixture(scope="module")
def demo(
    engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    """The demo dataset, loaded once per backend for this module (it takes seconds). Tests
    here only read, except the last one, which revokes an endorsement of its own."""
    import base64
    import secrets

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("web") / "data",
        database_url=database_url,
        base_url="http://127.0.0.1:8000",
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    empty_tables(engine)
    try:
        with TestClient(create_app(settings, engine)) as client:
            app = client.app
            assert isinstance(app, FastAPI)
            summary = load_demo(app.state.session_factory, app.state.ctx)
            yield Demo(client, app, summary, settings)
    finally:
        empty_tables(engine)


@pytest.fixture
def lenient(demo: Demo) -> TestClient:
    """A client that returns a 500 as a response (to assert there is none)."""
    return TestClient(demo.app, raise_server_exceptions=False)


# --- HTML helpers -----------------------------------------------------------------------------


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def root_of(html: str) -> dict[str, str | None]:
    tag, attrs = parse(html).elements[0]
    assert tag == "html", f"the first element is <{tag}>"
    return attrs


def assert_html(response: Any, status: int) -> str:
    what = f"GET {response.request.url.path}"
    assert response.status_code == status, (
        f"{what}: expected {status}, got {response.status_code}: {response.text[:400]}"
    )
    assert response.headers["content-type"].startswith("text/html"), (
        f"{what}: expected HTML, got {response.headers['content-type']}"
    )
    return str(response.text)


def decode_png(data: bytes) -> str:
    image = Image.open(io.BytesIO(data))
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, f"expected one QR code, zxing found {len(found)}"
    return str(found[0].text)


def mistyped(code: str) -> str:
    """The code with its check character replaced by a wrong one."""
    wrong = next(c for c in ALPHABET if c != check_character(code[:-1]))
    return code[:-1] + wrong


# --- the consumer page ------------------------------------------------------------------------


def test_every_demo_status_renders_its_data_status(demo: Demo):
    statuses = {e["status"] for e in demo.summary["endorsements"]}
    assert statuses >= set(STATUS_WORDS), f"the demo lacks statuses: {statuses}"
    for endorsement in demo.summary["endorsements"]:
        html = assert_html(demo.client.get(f"/e/{endorsement['code']}"), 200)
        root = root_of(html)
        assert root.get("data-status") == endorsement["status"], (
            f"{endorsement['code']}: data-status {root.get('data-status')!r}, "
            f"expected {endorsement['status']!r}"
        )
        assert root.get("data-verify-state") == "pending"
        assert STATUS_WORDS[endorsement["status"]] in html, "the status is not said in Chinese"
        assert endorsement["product"]["zh"] in html and endorsement["product"]["en"] in html


def test_the_page_shows_the_guarantee_and_every_signed_step(demo: Demo):
    code = demo.endorsement("valid")["code"]
    html = assert_html(demo.client.get(f"/e/{code}"), 200)
    shown = " ".join(parse(html).text)
    document = demo.client.get(f"/api/v1/verify/{code}").json()
    official = document["endorsement"]["officials"][0]
    for text_ in (
        official["name_zh"],
        official["title_zh"],
        official["name_en"],
        document["endorsement"]["authority"]["name_zh"],
        document["endorsement"]["stream"]["title"],
        document["endorsement"]["quantity"],
        "产地核验",  # a claim, in words
        "背书前提",  # the precondition results
    ):
        assert text_ in shown, f"the page does not show {text_!r}"
    elements = parse(html).elements
    preconditions = [a for t, a in elements if "data-precondition" in a]
    assert {p["data-precondition"] for p in preconditions} == {
        p["id"] for p in document["preconditions"]
    }
    steps = [int(a["data-index"] or -1) for t, a in elements if t == "li" and "data-kind" in a]
    expected = [e["index"] for e in document["chain"] if not e["kind"].startswith("key_")]
    assert steps == expected, "the page lists other signed steps than the verify document"
    assert '<meta name="viewport"' in html, "the page is not set up for phones"


@pytest.mark.parametrize("status", ["revoked", "recalled"])
def test_revoked_and_recalled_pages_say_why(demo: Demo, status: str):
    code = demo.endorsement(status)["code"]
    document = demo.client.get(f"/api/v1/verify/{code}").json()
    reason = document["status_reason"]
    assert reason, f"the verify document of a {status} endorsement has no reason"
    html = assert_html(demo.client.get(f"/e/{code}"), 200)
    assert reason in "".join(parse(html).text), f"the {status} page does not say why"


def test_codes_work_in_any_case(demo: Demo):
    code = demo.endorsement("valid")["code"]
    for path in (f"/e/{code.lower()}", f"/E/{code}", f"/E/{code.lower()}", f"/e/{code}"):
        html = assert_html(demo.client.get(path), 200)
        assert root_of(html)["data-code"] == code, path


def test_a_mistyped_check_character_is_a_helpful_404_never_a_500(demo: Demo, lenient):
    code = mistyped(demo.endorsement("valid")["code"])
    for path in (f"/e/{code}", f"/E/{code.lower()}", f"/overlay/{code}", f"/e/{code}/qr.png"):
        html = assert_html(lenient.get(path), 404)
        assert "check the code" in html.lower() and "请核对" in html, f"{path}: no hint"
    for junk in ("x", "ABC", "!!!!!!!!!", "U" * 9, "A" * 40):
        assert_html(lenient.get(f"/e/{junk}"), 404)


def test_an_unknown_code_is_a_404_page(demo: Demo, lenient):
    body = "ZZZZZZZZ"
    unknown = body + check_character(body)
    for path in (f"/e/{unknown}", f"/overlay/{unknown}", f"/e/{unknown}/qr.svg", f"/b/{unknown}"):
        html = assert_html(lenient.get(path), 404)
        assert "No such" in html, path
    problem = demo.client.get(f"/e/{unknown}", headers={"Accept": "application/json"})
    assert problem.status_code == 404
    assert problem.headers["content-type"].startswith("application/problem+json")


def test_a_path_no_route_serves_is_the_html_404_page_for_a_browser(demo: Demo, lenient):
    """``/e/CODE/foo`` (a mangled scan URL) is the page's 404 in the browser's language;
    the API's unknown paths, and any path asked for as JSON, stay problem details."""
    code = demo.endorsement("valid")["code"]
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    # /nowhere and /helthz: one segment that does not begin as a compressed Digital Link
    for path in (f"/e/{code}/foo", f"/b/{code}/x/y", "/nowhere", "/helthz"):
        html = assert_html(lenient.get(path, headers=browser), 404)
        assert "没有这个页面" in html and 'lang="zh-CN"' in html, f"{path}: {html[:300]}"
        english = lenient.get(path, headers={**browser, "Accept-Language": "en-US,en;q=0.9"})
        assert "No such page" in assert_html(english, 404), path
    for path, headers in (
        (f"/e/{code}/foo", {"Accept": "application/json"}),
        ("/api/v1/nowhere", browser),
        ("/log/nowhere", browser),
    ):
        problem = lenient.get(path, headers=headers)
        assert problem.status_code == 404, path
        assert problem.headers["content-type"].startswith("application/problem+json"), path


def test_page_status_follows_the_clock_without_a_new_record(demo: Demo):
    code = demo.endorsement("valid")["code"]
    assert root_of(demo.client.get(f"/e/{code}").text)["data-status"] == "valid"
    ctx = demo.app.state.ctx
    clock = ctx.clock
    try:
        ctx.clock = lambda: clock() + timedelta(days=365)
        assert root_of(demo.client.get(f"/e/{code}").text)["data-status"] == "expired"
    finally:
        ctx.clock = clock
    assert root_of(demo.client.get(f"/e/{code}").text)["data-status"] == "valid"


# --- batches and GS1 Digital Link -------------------------------------------------------------


def test_batch_page_by_code_in_any_case(demo: Demo):
    batch = demo.batch("GF2026-001")
    for path in (f"/b/{batch['code']}", f"/B/{batch['code'].lower()}"):
        html = assert_html(demo.client.get(path), 200)
        assert batch["lot"] in html and batch["product"]["zh"] in html
        assert root_of(html)["data-batch"] == batch["code"]
    records = [a for t, a in parse(html).elements if t == "li" and "data-kind" in a]
    assert len(records) == batch["records"], "the batch page does not list its records"


def test_a_digital_link_resolves_to_the_batch_page(demo: Demo):
    batch = demo.batch("GF2026-001")
    assert batch["gtin"], "the demo's packaged millet has a GTIN"
    html = assert_html(demo.client.get(f"/01/{batch['gtin']}/10/{batch['lot']}"), 200)
    assert root_of(html)["data-batch"] == batch["code"]
    # a Digital Link writes a GTIN-13 as 14 digits (GS1 Digital Link 1.4): the short form is
    # malformed, and the problem says the padded form
    html = assert_html(demo.client.get(f"/01/{batch['gtin'][1:]}/10/{batch['lot']}"), 400)
    assert batch["gtin"] in html


@pytest.mark.parametrize(
    ("gtin", "lot", "why"),
    [
        ("06901234567891", "GF2026-001", "check digit"),
        ("0690123456789", "GF2026-001", "check digit"),  # 13 digits, wrong check digit
        ("069012345678", "GF2026-001", "check digit"),
        ("12345", "GF2026-001", "digits"),
        ("0690123456789X", "GF2026-001", "digits"),
        ("06901234567892", "GF2026~001", "lot code"),  # outside GS1 set 82
        ("06901234567892", "A" * 21, "lot code"),  # longer than 20
        ("06901234567892", "GF%202026", "lot code"),  # a space
        ("06901234567892", "GF2026-001/10/123", "out of order"),  # a qualifier twice
    ],
)
def test_a_malformed_digital_link_is_a_400(demo: Demo, lenient, gtin: str, lot: str, why: str):
    path = f"/01/{gtin}/10/{lot}"
    html = assert_html(lenient.get(path), 400)
    assert why in html, f"{path}: the page does not say what is wrong ({why!r})"
    problem = lenient.get(path, headers={"Accept": "application/problem+json"})
    assert problem.status_code == 400
    assert problem.json()["type"].endswith("/malformed-digital-link")


def test_an_unknown_lot_of_a_good_gtin_is_a_404(demo: Demo):
    batch = demo.batch("GF2026-001")
    assert_html(demo.client.get(f"/01/{batch['gtin']}/10/NO-SUCH-LOT"), 404)
    assert_html(demo.client.get(f"/01/{batch['gtin']}/10/A%2FB"), 404)  # "A/B" is well-formed


# --- QR images --------------------------------------------------------------------------------


def test_stream_qr_images_decode_to_the_upper_case_stream_url(demo: Demo):
    code = demo.endorsement("valid")["code"]
    url = qr.stream_url(demo.settings.base_url, code)
    assert url == f"HTTP://127.0.0.1:8000/E/{code}"
    png = demo.client.get(f"/e/{code.lower()}/qr.png", params={"size": 300})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert decode_png(png.content) == url
    assert Image.open(io.BytesIO(png.content)).size == (300, 300)
    assert "immutable" in png.headers["cache-control"]
    assert "max-age=31536000" in png.headers["cache-control"]
    assert int(png.headers["x-qr-version"]) <= 4
    svg = demo.client.get(f"/e/{code}/qr.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text == qr.render_svg(url), "the served SVG is not the tested rendering"
    # The decoded URL, as a phone would open it (scheme and host are case-insensitive).
    path = urlsplit(url).path
    assert root_of(assert_html(demo.client.get(path), 200))["data-status"] == "valid"


def test_qr_images_have_an_etag_and_clamped_sizes(demo: Demo):
    code = demo.endorsement("expired")["code"]
    first = demo.client.get(f"/e/{code}/qr.png")
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = demo.client.get(f"/e/{code}/qr.png", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content
    small = demo.client.get(f"/e/{code}/qr.png", params={"size": 1})
    large = demo.client.get(f"/e/{code}/qr.png", params={"size": 100000})
    assert Image.open(io.BytesIO(small.content)).size == (64, 64)
    assert Image.open(io.BytesIO(large.content)).size == (2048, 2048)
    assert decode_png(large.content) == qr.stream_url(demo.settings.base_url, code)
    bad = demo.client.get(f"/e/{code}/qr.png", params={"size": "big"})
    assert bad.status_code == 422


def test_batch_label_qr_is_the_digital_link_or_the_batch_url(demo: Demo):
    with_gtin = demo.batch("GF2026-001")
    without = next(b for b in demo.summary["batches"] if not b["gtin"])
    png = demo.client.get(f"/b/{with_gtin['code']}/qr.png", params={"size": 400})
    url = decode_png(png.content)
    assert url == f"http://127.0.0.1:8000/01/{with_gtin['gtin']}/10/{with_gtin['lot']}"
    page = assert_html(demo.client.get(urlsplit(url).path), 200)
    assert root_of(page)["data-batch"] == with_gtin["code"]
    png = demo.client.get(f"/B/{without['code'].lower()}/qr.png")
    url = decode_png(png.content)
    assert url == f"HTTP://127.0.0.1:8000/B/{without['code']}"
    page = assert_html(demo.client.get(urlsplit(url).path), 200)
    assert root_of(page)["data-batch"] == without["code"]
    svg = demo.client.get(f"/b/{without['code']}/qr.svg")
    assert svg.status_code == 200 and svg.text == qr.render_svg(url)


# --- the OBS overlay --------------------------------------------------------------------------


def _same_origin(reference: str) -> bool:
    parts = urlsplit(reference)
    return not parts.scheme and not parts.netloc  # relative or root-relative: this host


def test_overlay_has_the_qr_the_counter_and_only_same_origin_assets(demo: Demo):
    endorsement = demo.endorsement("valid")
    code = endorsement["code"]
    response = demo.client.get(f"/overlay/{code}")
    html = assert_html(response, 200)
    assert "default-src 'self'" in response.headers["content-security-policy"]
    parsed = parse(html)
    # The QR: the very SVG served at /e/{code}/qr.svg, inline.
    url = qr.stream_url(demo.settings.base_url, code)
    assert qr.render_svg(url) in html, "the overlay does not inline the stream QR"
    assert endorsement["product"]["zh"] in html
    # The live counter and its same-origin scans URL.
    main = next(a for t, a in parsed.elements if a.get("id") == "overlay")
    assert main["data-events-url"] == f"/api/v1/endorsements/{code}/events"
    assert main["data-status-url"] == f"/api/v1/endorsements/{code}"
    assert any(a.get("id") == "scan-count" for _, a in parsed.elements)
    # Assets: every src/href is same-origin, and they exist.
    references = [
        value
        for _, attrs in parsed.elements
        for name, value in attrs.items()
        if name in ("src", "href", "data-events-url", "data-status-url") and value
    ]
    assert any(r.endswith(".js") for r in references), "no script: the counter would not update"
    assert any(r.endswith(".css") for r in references)
    foreign = [r for r in references if not _same_origin(r)]
    assert not foreign, f"the overlay references other hosts: {foreign}"
    for reference in references:
        if reference.startswith("/static/"):
            asset = demo.client.get(reference)
            assert asset.status_code == 200, reference
            assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", asset.text, re.I), (
                f"{reference} loads something from another host"
            )
    assert "@import" not in demo.client.get("/static/overlay.css").text
    assert "background: transparent" in demo.client.get("/static/overlay.css").text


def test_the_overlay_takes_its_corner_scale_and_margin_from_the_query(demo: Demo):
    code = demo.endorsement("recalled")["code"]
    main = next(
        a
        for _, a in parse(demo.client.get(f"/overlay/{code}").text).elements
        if a.get("id") == "overlay"
    )
    assert "corner-br" in (main["class"] or "").split(), "the default corner is bottom right"
    assert (main["data-scale"], main["data-margin"]) == ("1.0", "")
    response = demo.client.get(f"/overlay/{code}?corner=TL&scale=1.5&margin=40")
    main = next(
        a for _, a in parse(assert_html(response, 200)).elements if a.get("id") == "overlay"
    )
    assert "corner-tl" in (main["class"] or "").split()
    assert (main["data-scale"], main["data-margin"]) == ("1.5", "40")
    for query in ("scale=0.5", "scale=2", "margin=0", "margin=200", "corner=bl", "corner=tr"):
        assert demo.client.get(f"/overlay/{code}?{query}").status_code == 200, query


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("corner=middle", "corner"),
        ("corner=", "corner"),
        ("scale=big", "scale"),
        ("scale=0.49", "scale"),
        ("scale=2.01", "scale"),
        ("scale=nan", "scale"),
        ("scale=inf", "scale"),
        ("margin=-1", "margin"),
        ("margin=201", "margin"),
        ("margin=1e9", "margin"),
    ],
)
def test_a_wrong_overlay_parameter_is_a_400_naming_it(demo: Demo, query: str, field: str):
    code = demo.endorsement("valid")["code"]
    answer = demo.client.get(f"/overlay/{code}?{query}", headers={"Accept": "application/json"})
    assert answer.status_code == 400, f"{query}: {answer.status_code}"
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["field"] == field and field in problem["detail"], problem
    # A browser source (OBS's preview) gets the page in both languages.
    page = demo.client.get(f"/overlay/{code}?{query}", headers={"Accept": "text/html"})
    html = assert_html(page, 400)
    assert "叠加层参数有误" in html and "Wrong overlay parameter" in html
    assert "0.5" in html and "200" in html, "the page does not say what is accepted"
    # Checked before the code: an unknown code with a wrong parameter is still the 400.
    assert demo.client.get(f"/overlay/{mistyped(code)}?{query}").status_code == 400


def test_the_overlay_counts_no_scan_and_the_scans_api_counts_verifications(demo: Demo):
    code = demo.endorsement("not_yet_valid")["code"]
    before = demo.scans(code)
    demo.client.get(f"/overlay/{code}")
    demo.client.get(f"/e/{code}/qr.svg")
    demo.client.get(f"/e/{code}/qr.png")
    assert demo.client.head(f"/e/{code}").status_code == 200
    assert demo.scans(code) == before, "showing the QR (or a HEAD request) is not a scan"
    assert demo.client.get(f"/api/v1/verify/{code}").status_code == 200
    assert demo.scans(code) == before + 1, "a verification was not counted"
    assert_html(demo.client.get(f"/e/{code.lower()}"), 200)
    assert demo.scans(code) == before + 2, "a page view was not counted"
    overlay = demo.client.get(f"/overlay/{code}").text
    shown = next(a for t, a in parse(overlay).elements if a.get("id") == "overlay")["data-scans"]
    assert shown == str(before + 2), "the overlay starts from another count than the API"
    # A mistyped code counts nothing and does not fail.
    demo.client.get(f"/e/{mistyped(code)}")
    assert demo.scans(code) == before + 2


def test_a_revocation_shows_within_two_seconds_on_a_cached_page(demo: Demo):
    """Runs last in this module: it revokes the demo's last valid endorsement. Pages come
    from the scan cache (registry.endorsements.scan_cache); its watcher thread sees the
    revocation in the log and drops the cached documents."""
    code = demo.endorsement("valid", last=True)["code"]
    other = demo.endorsement("valid")["code"]
    assert code != other
    for page in (code, other):  # both pages are now cached
        assert root_of(demo.client.get(f"/e/{page}").text)["data-status"] == "valid"
    cache = demo.app.state.scan_cache
    builds = cache.builds
    demo.client.get(f"/e/{other}")
    assert cache.builds == builds, "a cached page was rebuilt though nothing changed"
    factory = demo.app.state.session_factory
    with transaction(factory) as session:
        endorsement = session.scalars(select(Endorsement).where(Endorsement.code == code)).one()
        signer = session.scalars(
            select(EndorsementSigner).where(EndorsementSigner.endorsement_id == endorsement.id)
        ).first()
        assert signer is not None
        official = session.get(Account, signer.account_id)
        assert official is not None
        endorsement_service.revoke(
            session, demo.app.state.ctx, code, official, "测试撤销 revoked by a test"
        )
    revoked_at = time.monotonic()
    while True:
        html = assert_html(demo.client.get(f"/e/{code}"), 200)
        if root_of(html)["data-status"] == "revoked":
            break
        assert time.monotonic() - revoked_at < 2, "the revocation did not show within 2 s"
        time.sleep(0.05)
    assert "测试撤销 revoked by a test" in html
    assert root_of(demo.client.get(f"/e/{other}").text)["data-status"] == "valid"
    overlay = demo.client.get(f"/overlay/{code}").text
    main = next(a for t, a in parse(overlay).elements if a.get("id") == "overlay")
    assert main["data-status"] == "revoked", "the overlay still shows a revoked endorsement"
