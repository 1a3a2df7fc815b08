"""The OBS overlay ``/overlay/{code}`` as OBS shows it, in a real headless Chromium
(Playwright) against a real server (uvicorn on 127.0.0.1) with the demo dataset:

- at every common browser-source size (landscape 1280×720, 1920×1080, 800×600; portrait
  720×1280 and 1080×1920 for Douyin and Kuaishou), in every corner and scale, the card is
  inside the source and its QR inside the card; a screenshot laid over a busy video frame and
  re-encoded as JPEG at quality 30 (a compressed stream) still decodes with zxing-cpp to the
  endorsement's stream URL, with at least 3 px per module at 720p; also for the tallest card
  (two officials and a recall);
- a revocation turns the overlay red, and a scan moves its counter, within 2 s (measured and
  printed); the overlay reconnects when the server ends its event stream, and polls when
  the stream cannot be had.

On SQLite only, like the consumer page's browser tests: the data comes from the queries the
other tests run on both backends. Screenshots go to ``test-artifacts/screenshots/overlay-*``.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp
from fastapi import FastAPI
from PIL import Image, ImageDraw
from sqlalchemy import select

from app.factory import create_app
from registry import qr
from registry.db import make_engine, transaction, upgrade
from registry.demo import load_demo
from registry.endorsements import decisions as endorsement_service
from registry.models import Account, Endorsement, EndorsementSigner
from tests.support import serve_in_thread
from tests.web import test_consumer_page as consumer
from tests.web.test_consumer_page import _settings, needs_browser

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
browser = consumer.browser  # the consumer-page tests' Chromium, one per module
SOURCES = {
    "720p": (1280, 720),
    "1080p": (1920, 1080),
    "svga": (800, 600),
    "portrait-720": (720, 1280),
    "portrait-1080": (1080, 1920),
}
FLIP_SECONDS = 2.0


@dataclass
class Live:
    url: str
    app: FastAPI
    summary: dict[str, Any]

    def endorsement(self, status: str, index: int = 0) -> dict[str, Any]:
        found = [e for e in self.summary["endorsements"] if e["status"] == status]
        assert len(found) > index, f"the demo has no {status} endorsement #{index}"
        return found[index]

    def stream_url(self, code: str) -> str:
        return qr.stream_url(self.app.state.settings.base_url, code)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    directory = tmp_path_factory.mktemp("overlay")
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


@pytest.fixture
def source(browser: Any) -> Iterator[Callable[[int, int], Any]]:
    """A new browser source of ``width`` × ``height`` CSS pixels (device scale 1, like OBS).
    Its pages are closed before the test ends, so no event stream outlives the test."""
    contexts = []

    def open_source(width: int, height: int) -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height}, device_scale_factor=1
        )
        contexts.append(context)
        page = context.new_page()
        page.problems_seen = []  # type: ignore[attr-defined]
        page.on("console", lambda m: _console(page, m))
        page.on("response", lambda r: _response(page, r))
        page.on("pageerror", lambda e: page.problems_seen.append(f"pageerror: {e}"))  # type: ignore[attr-defined]
        return page

    yield open_source
    for context in contexts:
        context.close()


def _console(page: Any, message: Any) -> None:
    # A failed load is reported with its address by _response (the favicon's 404 is fine).
    if message.type in ("error", "warning") and "Failed to load resource" not in message.text:
        page.problems_seen.append(message.text)


def _response(page: Any, response: Any) -> None:
    if response.status >= 400 and not response.url.endswith("/favicon.ico"):
        page.problems_seen.append(f"HTTP {response.status} {response.url}")


def open_overlay(page: Any, live: Live, code: str, query: str = "") -> None:
    response = page.goto(f"{live.url}/overlay/{code}{query}")
    assert response is not None and response.status == 200, response and response.status
    # overlay.js has laid the QR out on whole pixels and the event stream has spoken.
    page.wait_for_selector("#overlay[data-qr-module-px]", state="attached", timeout=5000)
    page.wait_for_selector("#overlay[data-live=ok]", state="attached", timeout=5000)


def boxes(page: Any) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = page.evaluate(
        """() => {
          const box = (el) => { const r = el.getBoundingClientRect();
            return {left: r.left, top: r.top, right: r.right, bottom: r.bottom,
                    width: r.width, height: r.height}; };
          return {card: box(document.getElementById("overlay")),
                  qr: box(document.querySelector(".qr svg")),
                  panel: box(document.querySelector(".panel")),
                  warning: box(document.getElementById("status-warning")),
                  view: {left: 0, top: 0, right: innerWidth, bottom: innerHeight,
                         width: innerWidth, height: innerHeight}};
        }"""
    )
    return found


def inside(inner: dict[str, float], outer: dict[str, float], slack: float = 0.5) -> bool:
    return (
        inner["left"] >= outer["left"] - slack
        and inner["top"] >= outer["top"] - slack
        and inner["right"] <= outer["right"] + slack
        and inner["bottom"] <= outer["bottom"] + slack
    )


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["right"] <= b["left"]
        or b["right"] <= a["left"]
        or a["bottom"] <= b["top"]
        or b["bottom"] <= a["top"]
    )


def video_frame(width: int, height: int) -> Image.Image:
    """A busy, colourful stand-in for the stream behind the overlay (fixed seed)."""
    rng = random.Random(width * 10_000 + height)
    frame = Image.new("RGB", (width, height), (40, 90, 60))
    draw = ImageDraw.Draw(frame)
    for _ in range(300):
        x, y = rng.randrange(width), rng.randrange(height)
        size = rng.randrange(10, max(11, width // 6))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.rectangle((x, y, x + size, y + size // 2), fill=colour)
    return frame


def on_stream(page: Any, name: str) -> Image.Image:
    """The overlay over a video frame, as a viewer's stream shows it: a transparent
    screenshot composited on the frame, then JPEG at quality 30."""
    shot = Image.open(io.BytesIO(page.screenshot(omit_background=True))).convert("RGBA")
    frame = video_frame(*shot.size).convert("RGBA")
    frame.alpha_composite(shot)
    buffer = io.BytesIO()
    frame.convert("RGB").save(buffer, "JPEG", quality=30)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / f"overlay-{name}.jpg").write_bytes(buffer.getvalue())
    return Image.open(io.BytesIO(buffer.getvalue()))


def decode_one(image: Image.Image) -> zxingcpp.Barcode:
    found = [
        b for b in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode) if b.valid
    ]
    assert len(found) == 1, f"expected one QR code on the stream, zxing found {len(found)}"
    return found[0]


def module_pixels(barcode: zxingcpp.Barcode, version: int) -> float:
    """Pixels per module from where zxing found the symbol (its corners span the symbol,
    without the quiet zone)."""
    p = barcode.position
    top = ((p.top_right.x - p.top_left.x) ** 2 + (p.top_right.y - p.top_left.y) ** 2) ** 0.5
    left = ((p.bottom_left.x - p.top_left.x) ** 2 + (p.bottom_left.y - p.top_left.y) ** 2) ** 0.5
    return min(top, left) / (17 + 4 * version)


def assert_clean_console(page: Any) -> None:
    assert not page.problems_seen, f"the overlay logged problems: {page.problems_seen}"


def check_layout(page: Any, live: Live, code: str, name: str) -> dict[str, dict[str, float]]:
    """The card inside the source, the QR inside the card and clear of the text, the QR on
    the stream decodes to the stream URL; returns the boxes."""
    found = boxes(page)
    view, card, code_qr = found["view"], found["card"], found["qr"]
    assert inside(card, view), f"{name}: the card {card} leaves the source {view}"
    assert inside(code_qr, card), f"{name}: the QR {code_qr} is cut off by the card {card}"
    assert not overlaps(code_qr, found["panel"]), f"{name}: the text covers the QR"
    if found["warning"]["height"]:
        assert not overlaps(code_qr, found["warning"]), f"{name}: the warning covers the QR"
    symbol = qr.encode(live.stream_url(code))
    per_module = code_qr["width"] / symbol.width_with_quiet_zone
    assert per_module == int(per_module), f"{name}: {per_module} px per module is not whole"
    barcode = decode_one(on_stream(page, name))
    assert barcode.text == live.stream_url(code), f"{name}: the QR says {barcode.text!r}"
    measured = module_pixels(barcode, symbol.version)
    assert abs(measured - per_module) < 0.75, f"{name}: zxing saw {measured} px per module"
    return found


# --- every source size, the tallest card, every corner and scale ----------------------------


@needs_browser
@pytest.mark.parametrize("size", list(SOURCES))
@pytest.mark.parametrize("status", ["valid", "recalled"])
def test_the_card_fits_and_its_qr_decodes_at_every_source_size(
    live: Live, source: Callable[[int, int], Any], size: str, status: str
) -> None:
    """The recalled endorsement is the tallest card: Pingyin's two officials and a recall."""
    endorsement = live.endorsement(status)
    code = endorsement["code"]
    width, height = SOURCES[size]
    page = source(width, height)
    open_overlay(page, live, code)
    if status == "recalled":
        assert page.locator(".official").count() == 2, "the tall card needs two officials"
        assert page.locator("#status-warning").is_visible(), "the recall warning is hidden"
    found = check_layout(page, live, code, f"{size}-{status}")
    if size == "720p":
        per_module = int(page.get_attribute("#overlay", "data-qr-module-px") or 0)
        assert per_module >= 3, f"{per_module} px per module at 720p: too small to scan"
    # Every line of the panel is inside the card: text is cut short, never the card.
    lines = page.eval_on_selector_all(
        ".panel .line", "els => els.map(e => e.getBoundingClientRect().right)"
    )
    assert max(lines) <= found["card"]["right"] + 0.5
    assert_clean_console(page)


@needs_browser
@pytest.mark.parametrize("corner", ["br", "bl", "tr", "tl"])
def test_each_corner_places_the_card_there(
    live: Live, source: Callable[[int, int], Any], corner: str
) -> None:
    code = live.endorsement("recalled")["code"]
    for width, height in (SOURCES["720p"], SOURCES["portrait-720"]):
        page = source(width, height)
        open_overlay(page, live, code, f"?corner={corner}&margin=20")
        found = check_layout(page, live, code, f"corner-{corner}-{width}x{height}")
        card = found["card"]
        horizontal = card["left"] if corner[1] == "l" else width - card["right"]
        vertical = card["top"] if corner[0] == "t" else height - card["bottom"]
        assert abs(horizontal - 20) < 1 and abs(vertical - 20) < 1, (
            f"corner {corner}: the card is {horizontal}, {vertical} px from its edges, not 20"
        )
        assert_clean_console(page)


@needs_browser
def test_scale_sizes_the_card_but_never_beyond_the_source(
    live: Live, source: Callable[[int, int], Any]
) -> None:
    code = live.endorsement("valid")["code"]
    widths = {}
    for scale in ("0.5", "1", "2"):
        page = source(*SOURCES["1080p"])
        open_overlay(page, live, code, f"?scale={scale}")
        widths[scale] = check_layout(page, live, code, f"scale-{scale}-1080p")["card"]["width"]
    assert widths["0.5"] < widths["1"] < widths["2"]
    assert abs(widths["2"] / widths["1"] - 2) < 0.05, f"scale=2 is not twice as big: {widths}"
    # At 720p, scale 0.5 would give the QR fewer than 3 px per module: the floor holds.
    page = source(*SOURCES["720p"])
    open_overlay(page, live, code, "?scale=0.5")
    check_layout(page, live, code, "scale-0.5-720p")
    assert int(page.get_attribute("#overlay", "data-qr-module-px") or 0) >= 3
    # In a narrow portrait source, scale 2 is as big as fits, and it all still fits.
    page = source(*SOURCES["portrait-720"])
    open_overlay(page, live, code, "?scale=2")
    card = check_layout(page, live, code, "scale-2-portrait-720")["card"]
    assert card["width"] > 0.9 * (720 - 2 * 18), "scale 2 does not use the portrait width"


# --- live: the 2-second flip, scans, reconnecting, polling ----------------------------------


def _revoke(live: Live, code: str, reason: str) -> None:
    factory = live.app.state.session_factory
    with transaction(factory) as session:
        endorsement = session.scalars(select(Endorsement).where(Endorsement.code == code)).one()
        signer = session.scalars(
            select(EndorsementSigner).where(EndorsementSigner.endorsement_id == endorsement.id)
        ).first()
        assert signer is not None
        official = session.get(Account, signer.account_id)
        assert official is not None
        endorsement_service.revoke(session, live.app.state.ctx, code, official, reason)


def _wait_seconds(page: Any, selector: str, started: float, limit: float) -> float:
    """Seconds from ``started`` until ``selector`` matches (a selector, not a script: the
    overlay's CSP forbids evaluating strings)."""
    page.wait_for_selector(selector, state="attached", timeout=limit * 1000 + 1000)
    return time.monotonic() - started


@needs_browser
def test_a_revocation_turns_the_overlay_red_within_two_seconds(
    live: Live, source: Callable[[int, int], Any]
) -> None:
    """Revokes the demo's last valid endorsement (the other tests use the first)."""
    valid = [e for e in live.summary["endorsements"] if e["status"] == "valid"]
    assert len(valid) >= 2, "the demo needs two valid endorsements"
    code = valid[-1]["code"]
    page = source(*SOURCES["720p"])
    open_overlay(page, live, code)
    assert page.get_attribute("#overlay", "data-status") == "valid"
    assert not page.locator("#status-warning").is_visible()
    started = time.monotonic()
    _revoke(live, code, "测试撤销 revoked on air by a test")
    latency = _wait_seconds(page, "#overlay[data-status=revoked]", started, 2)
    print(f"\noverlay status flip: {latency * 1000:.0f} ms after the revocation committed")
    assert latency < FLIP_SECONDS, f"the overlay turned revoked after {latency:.2f} s"
    warning = page.locator("#status-warning")
    assert warning.is_visible() and "已撤销" in warning.inner_text()
    assert "revoked" in warning.inner_text().lower()
    check_layout(page, live, code, "revoked-720p")  # the warning did not push the QR out
    assert_clean_console(page)


@needs_browser
def test_a_scan_moves_the_counter_within_two_seconds(
    live: Live, source: Callable[[int, int], Any]
) -> None:
    code = live.endorsement("valid")["code"]
    page = source(*SOURCES["1080p"])
    open_overlay(page, live, code)
    before = int(page.get_attribute("#overlay", "data-scans") or -1)
    # A viewer's scan; it is counted while being answered, so the clock starts at the answer
    # (building a page the cache had dropped can take a while on a busy machine).
    assert httpx.get(f"{live.url}/e/{code}").status_code == 200
    started = time.monotonic()
    latency = _wait_seconds(page, f"#overlay[data-scans='{before + 1}']", started, 2)
    print(f"\noverlay scan count: {latency * 1000:.0f} ms after the scan")
    assert latency < FLIP_SECONDS, f"the scan showed after {latency:.2f} s"
    assert page.inner_text("#scan-count") == f"{before + 1:,}"
    assert_clean_console(page)


@needs_browser
def test_the_overlay_reconnects_when_the_server_ends_the_stream(
    live: Live, source: Callable[[int, int], Any]
) -> None:
    board = live.app.state.live_board
    board.stream_seconds = 1.5
    try:
        code = live.endorsement("valid")["code"]
        page = source(*SOURCES["720p"])
        open_overlay(page, live, code)
        page.wait_for_selector("#overlay[data-live-connects='3']", state="attached", timeout=8000)
        # Still live after reconnecting: a scan shows.
        before = int(page.get_attribute("#overlay", "data-scans") or -1)
        assert httpx.get(f"{live.url}/api/v1/verify/{code}").status_code == 200
        page.wait_for_selector(
            f"#overlay[data-scans='{before + 1}']", state="attached", timeout=4000
        )
        assert_clean_console(page)
    finally:
        board.stream_seconds = 30.0


@needs_browser
def test_the_overlay_polls_when_the_event_stream_is_unavailable(
    live: Live, source: Callable[[int, int], Any]
) -> None:
    code = live.endorsement("valid")["code"]
    page = source(*SOURCES["720p"])
    page.route("**/events", lambda route: route.fulfill(status=503, body="unavailable"))
    response = page.goto(f"{live.url}/overlay/{code}")
    assert response is not None and response.status == 200
    page.wait_for_selector("#overlay[data-live=polling]", state="attached", timeout=6000)
    before = int(page.get_attribute("#overlay", "data-scans") or -1)
    assert httpx.get(f"{live.url}/api/v1/verify/{code}").status_code == 200
    page.wait_for_selector(f"#overlay[data-scans='{before + 1}']", state="attached", timeout=6000)
