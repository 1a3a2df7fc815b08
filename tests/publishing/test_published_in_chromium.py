"""The published scan path, for real: a registry keeping its files current
(``registry serve --publish``: the publisher thread of the app), deploy/nginx.conf serving them
with Debian's nginx, and Debian's Chromium as the viewer's phone.

A published page must verify on the phone exactly like the dynamic page (the same document,
the same ✓), a revocation must reach the published page within 2 s, and a phone that has seen
a newer checkpoint than a published document carries (it scanned another code since) must not
be failed by that still-current document.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.factory import create_app
from bench import nginx
from registry.db import make_engine, upgrade
from registry.demo import load_demo
from tests.publishing.helpers import published_document, published_status, revoke_code, wait_for
from tests.support import serve_in_thread
from tests.web import test_consumer_page as consumer
from tests.web.test_consumer_page import _settings, needs_browser, root_attribute, wait_for_verdict

browser = consumer.browser  # the consumer-page tests' Chromium and phone fixtures
phone = consumer.phone

MEMORY_PREFIX = "guarantee-registry.checkpoint."
needs_nginx = pytest.mark.skipif(
    not nginx.available(), reason="Debian's nginx is missing (scripts/setup-tests.sh installs it)"
)
pytestmark = [needs_browser, needs_nginx]


@dataclass
class Published:
    dynamic: str  # the registry itself
    static: str  # nginx with deploy/nginx.conf in front of it
    root: Path  # the published directory
    app: Any
    summary: dict[str, Any]

    def code(self, status: str) -> str:
        found = [e["code"] for e in self.summary["endorsements"] if e["status"] == status]
        assert found, f"the demo has no {status} endorsement"
        return found[0]

    def unscanned(self) -> str:
        """A valid code no other test of this module opens: the scan-count test's own, so no
        other test's scans still on their way through nginx's log can reach its count."""
        found = [e["code"] for e in self.summary["endorsements"] if e["status"] == "valid"]
        assert len(found) > 1, "the demo needs a second valid endorsement"
        return found[-1]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    directory = tmp_path_factory.mktemp("published")
    root = directory / "published"
    url = f"sqlite:///{directory / 'registry.db'}"
    upgrade(url)
    engine = make_engine(url)
    scan_log = directory / "nginx" / "registry-scans.log"  # where bench.nginx.Nginx logs
    settings = _settings(directory / "data", url).model_copy(
        update={"publish_dir": str(root), "scan_log": str(scan_log)}
    )
    app = create_app(settings, engine)
    try:
        with serve_in_thread(app) as base:
            summary = load_demo(app.state.session_factory, app.state.ctx)
            codes = [e["code"] for e in summary["endorsements"]]
            wait_for(
                "every demo code published",
                lambda: (
                    all(published_document(root, c) for c in codes)
                    and app.state.publisher.publisher.state.log_size > 0
                ),
                timeout=60,
            )
            upstream = base.removeprefix("http://")
            with nginx.Nginx(root, upstream, directory / "nginx") as server:
                yield Published(base, server.base, root, app, summary)
    finally:
        engine.dispose()


def _static(response: Any) -> bool:
    """Whether nginx answered from a file: its ETag is strong (the registry's are weak)."""
    tag = response.headers.get("etag", "")
    return bool(tag) and not tag.startswith("W/")


def _without_time(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "computed_at"}


@pytest.mark.parametrize("status", ["valid", "not_yet_valid", "expired", "revoked", "recalled"])
def test_a_published_page_verifies_like_the_dynamic_one(published: Published, phone, status: str):
    code = published.code(status)
    documents = {}
    for name, base in (("published", published.static), ("dynamic", published.dynamic)):
        response = httpx.get(f"{base}/e/{code}/verify.json", headers={"Accept-Encoding": "br"})
        assert response.status_code == 200
        assert _static(response) == (name == "published"), (name, response.headers)
        documents[name] = response.json()
    assert _without_time(documents["published"]) == _without_time(documents["dynamic"]), (
        "the published document is not the dynamic one"
    )
    api = httpx.get(f"{published.static}/api/v1/verify/{code}")
    assert _static(api) and api.json() == documents["published"]
    verdicts = {}
    for name, base in (("published", published.static), ("dynamic", published.dynamic)):
        page = phone("zh-CN")
        response = page.goto(f"{base}/e/{code}")
        assert response is not None and response.status == 200
        assert _static(response) == (name == "published")
        headers = response.headers
        assert "script-src 'sha256-" in headers["content-security-policy"]
        assert (
            "'self'" not in headers["content-security-policy"].split("script-src")[1].split(";")[0]
        )
        assert wait_for_verdict(page) == "verified", page.locator("#verify").inner_text()
        consumer.assert_clean_console(page)
        verdicts[name] = (
            root_attribute(page, "data-status"),
            root_attribute(page, "data-verify-state"),
            root_attribute(page, "data-verify-witnessed"),
            page.locator(".timeline .step[data-verify=ok]").count(),
        )
    assert verdicts["published"] == verdicts["dynamic"], verdicts
    assert verdicts["published"][0] == status


def test_the_english_page_and_the_hashed_script_are_served_from_files(published: Published):
    code = published.code("valid")
    english = httpx.get(f"{published.static}/e/{code}", headers={"Accept-Language": "en-US,en"})
    assert _static(english) and '<html lang="en"' in english.text
    chosen = httpx.get(f"{published.static}/e/{code}?lang=zh", headers={"Accept-Language": "en"})
    assert _static(chosen) and 'lang="zh-CN"' in chosen.text
    script = english.text.split('<script src="')[1].split('"')[0]
    assert script.startswith("/static/verify.") and script != "/static/verify.js"
    response = httpx.get(f"{published.static}{script}", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and _static(response)
    assert "immutable" in response.headers["cache-control"]
    assert response.headers["content-encoding"] == "gzip"
    tile = httpx.get(f"{published.static}/log/checkpoint")
    assert _static(tile) and tile.headers["cache-control"] == "public, max-age=1"
    assert httpx.get(f"{published.static}/.publish/state.json").status_code == 404


def test_a_revocation_flips_the_published_page_within_2_s(published: Published, phone):
    code = published.code("not_yet_valid")
    committed = revoke_code(published.app.state.session_factory, published.app.state.ctx, code)

    def flipped() -> bool:
        response = httpx.get(f"{published.static}/e/{code}")
        return _static(response) and 'data-status="revoked"' in response.text

    wait_for("the published page says revoked", flipped, timeout=5)
    elapsed = time.monotonic() - committed
    assert elapsed <= 2.0, f"the revocation took {elapsed:.2f} s to reach the published page"
    # A step writes a page's files in turn (each language, each precompressed copy): the one
    # nginx served may land a moment before index.html itself.
    wait_for(
        "index.html says revoked",
        lambda: published_status(published.root, code) == "revoked",
        timeout=5,
    )
    page = phone("zh-CN")
    page.goto(f"{published.static}/e/{code}")
    assert wait_for_verdict(page) == "verified", page.locator("#verify").inner_text()
    assert root_attribute(page, "data-status") == "revoked"


def _memory(page: Any, vkey: str) -> dict[str, Any] | None:
    text = page.evaluate(f"localStorage.getItem({json.dumps(MEMORY_PREFIX + vkey)})")
    return None if text is None else dict(json.loads(text))


def test_a_phone_that_saw_a_newer_checkpoint_still_verifies_an_older_published_document(
    published: Published, phone
):
    first = published.code("valid")
    old = published_document(published.root, first)
    assert old is not None
    lineage = {b["code"] for b in old["batches"]}
    # A code sharing no batch with the first, not revoked yet: its records concern only it.
    other = next(
        e["code"]
        for e in published.summary["endorsements"]
        if e["code"] not in (first, published.unscanned())
        and (doc := published_document(published.root, e["code"])) is not None
        and doc["status"] not in ("revoked",)
        and not lineage & {b["code"] for b in doc["batches"]}
    )
    page = phone("en-US")
    page.goto(f"{published.static}/e/{first}")
    assert wait_for_verdict(page) == "verified"
    vkey = old["log"]["vkey"]
    # Another code changes (only its files are rewritten) and the phone scans it.
    revoke_code(published.app.state.session_factory, published.app.state.ctx, other)
    wait_for(
        "the other code republished", lambda: published_status(published.root, other) == "revoked"
    )
    page.goto(f"{published.static}/e/{other}")
    assert wait_for_verdict(page) == "verified", page.locator("#verify").inner_text()
    seen = _memory(page, vkey)
    assert seen is not None
    still = published_document(published.root, first)
    assert still is not None and still["checkpoint"]["size"] < seen["size"], (
        "the first code's published document should still carry its older checkpoint"
    )
    # Back to the first code: its published document is older than what the phone saw.
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "verify.json" in r.url else None)
    page.goto(f"{published.static}/e/{first}")
    page.locator("html[data-verify-source=live]").wait_for(state="attached", timeout=10_000)
    assert wait_for_verdict(page) == "verified", page.locator("#verify").inner_text()
    assert fetched == [
        f"{published.static}/e/{first}/verify.json",
        f"{published.static}/e/{first}/verify.json?live=1",
    ]
    assert root_attribute(page, "data-verify-memory") == "ok"
    kept = _memory(page, vkey)
    assert kept is not None and kept["size"] >= seen["size"]


def test_scans_nginx_served_reach_the_overlays_count(published: Published):
    code = published.unscanned()

    def total() -> int:
        response = httpx.get(f"{published.dynamic}/api/v1/endorsements/{code}/scans")
        assert response.status_code == 200
        return int(response.json()["total"])

    before = total()
    for _ in range(3):
        page = httpx.get(f"{published.static}/e/{code}")
        assert _static(page)
    document = httpx.get(f"{published.static}/e/{code}/verify.json")  # the page's own fetch
    assert _static(document)
    # nginx flushes its log each second, the leader reads it each step, the counter flushes
    # each second: about 3 s, given room for a loaded machine's slower steps
    wait_for("the three scans counted", lambda: total() >= before + 3, timeout=30)
    time.sleep(1.5)  # and nothing more (the document fetch is not a scan)
    assert total() == before + 3
