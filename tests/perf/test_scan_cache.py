"""The scan path (``registry.endorsements.scan_cache``): cached scans make no database query,
ETag / If-None-Match give 304s, unknown codes are remembered, and a status change made by
another process shows everywhere within 2 s. Nothing here is timed except that bound."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest
from sqlalchemy import select

from registry import trace as trace_service
from registry.db import transaction
from registry.endorsements import decisions as endorsement_decisions
from registry.endorsements.scan_cache import Encoded, ScanCache
from registry.models import Account, Batch, Endorsement, EndorsementBatch, EndorsementSigner
from tests.perf.conftest import Scan, counting_statements

SCAN_URLS = ("/api/v1/verify/{code}", "/e/{code}", "/e/{code}/verify.json")
CHANGE_BOUND_S = 2.0


def _status(scan: Scan, url: str) -> str:
    response = scan.client.get(url, headers={"Accept": "application/json"})
    assert response.status_code == 200, f"{url}: {response.status_code} {response.text[:200]}"
    if url.endswith("verify.json") or url.startswith("/api/"):
        return str(response.json()["status"])
    marker = 'data-status="'
    start = response.text.index(marker) + len(marker)
    return response.text[start : response.text.index('"', start)]


def _signer(session: Any, code: str) -> Account:
    endorsement = session.scalars(select(Endorsement).where(Endorsement.code == code)).one()
    signer = session.scalars(
        select(EndorsementSigner).where(EndorsementSigner.endorsement_id == endorsement.id)
    ).first()
    official = session.get(Account, signer.account_id) if signer else None
    assert official is not None, f"no signing official for {code}"
    return official


def _wait_for(scan: Scan, code: str, status: str) -> float:
    """Seconds until every scan URL of ``code`` shows ``status`` (fails after the bound)."""
    started = time.monotonic()
    pending = [u.format(code=code) for u in SCAN_URLS]
    while pending:
        pending = [u for u in pending if _status(scan, u) != status]
        elapsed = time.monotonic() - started
        assert elapsed < CHANGE_BOUND_S, f"{pending} still not {status} after {elapsed:.2f} s"
        if pending:
            time.sleep(0.05)
    return time.monotonic() - started


def test_a_cached_scan_makes_no_database_query(scan: Scan):
    code = scan.codes("valid")[0]
    urls = [u.format(code=code) for u in SCAN_URLS] + [f"/e/{code.lower()}"]
    for url in urls:  # the first request of each builds (and renders) what is then reused
        assert scan.client.get(url).status_code == 200, url
    with counting_statements(scan.app) as statements:
        for _ in range(20):
            for url in urls:
                assert scan.client.get(url).status_code == 200, url
            assert scan.client.get(urls[1], headers={"Accept-Language": "en"}).status_code == 200
    assert statements.by_requests == [], (
        f"cached scans queried the database: {statements.by_requests[:3]}"
    )
    with counting_statements(scan.app) as control:  # the counter does see request queries
        scan.client.get(f"/api/v1/endorsements/{code}/scans")
    assert control.by_requests, "the statement counter saw nothing: the test proves nothing"


def test_etag_304_gzip_and_cache_control(scan: Scan):
    code = scan.codes("expired")[0]
    documents = []
    for url in (u.format(code=code) for u in SCAN_URLS):
        first = scan.client.get(url)
        assert first.status_code == 200, url
        etag = first.headers["etag"]
        assert etag.startswith('W/"'), f"{url}: {etag}"
        assert first.headers["cache-control"] == "public, max-age=1", url
        assert "Accept-Encoding" in first.headers["vary"], url
        again = scan.client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"", url
        assert again.headers["etag"] == etag
        listed = scan.client.get(url, headers={"If-None-Match": f'"other", {etag}'})
        assert listed.status_code == 304, f"{url}: a tag among others"
        strong = scan.client.get(url, headers={"If-None-Match": etag.removeprefix("W/")})
        assert strong.status_code == 304, f"{url}: weak comparison"
        other = scan.client.get(url, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200 and other.content == first.content, url
        # The stored gzip: the same representation, the same ETag.
        request = scan.client.build_request("GET", url, headers={"Accept-Encoding": "gzip"})
        zipped = scan.client.send(request, stream=True)
        wire = b"".join(zipped.iter_raw())
        zipped.close()
        assert zipped.headers["content-encoding"] == "gzip", url
        assert zipped.headers["etag"] == etag
        assert gzip.decompress(wire) == first.content, f"{url}: the gzip is another document"
        if url.endswith("verify.json") or url.startswith("/api/"):
            documents.append(json.loads(first.content))
    api, script = documents
    assert api == script, "the page's script and the API get different documents"
    assert api["code"] == code and api["status"] == "expired"


def test_unknown_codes_are_remembered_and_malformed_ones_cost_nothing(scan: Scan):
    cache: ScanCache = scan.app.state.scan_cache
    code = scan.codes("valid")[0]
    unknown = next(  # well formed (its check character matches), but never issued
        c
        for c in ("ZZZZZZZZ", "ZZZZZZZZZ", "0000000000")
        if scan.client.get(f"/api/v1/verify/{c}").status_code == 404 and cache.known_missing(c)
    )
    with counting_statements(scan.app) as statements:
        for url in ("/api/v1/verify/{c}", "/e/{c}/verify.json"):
            accept = {"Accept": "application/json"}
            response = scan.client.get(url.format(c=unknown), headers=accept)
            assert response.status_code == 404, url
            assert response.headers["content-type"].startswith("application/problem+json")
        malformed = scan.client.get("/api/v1/verify/NOT-A-CODE!")
        assert malformed.status_code == 404
        assert malformed.headers["content-type"].startswith("application/problem+json")
        mistyped = code[:-1] + ("0" if code[-1] != "0" else "1")
        assert scan.client.get(f"/api/v1/verify/{mistyped}").status_code == 404
    assert statements.by_requests == [], (
        f"unknown or malformed codes queried the database: {statements.by_requests[:3]}"
    )


def test_scans_are_counted_in_memory_and_count_0_is_not_a_scan(scan: Scan):
    code = scan.codes("not_yet_valid")[0]
    counter = scan.app.state.scan_counter
    entry = scan.app.state.scan_cache.load(code)
    scan.app.state.scan_flusher.stop()  # flushes what is pending, then leaves it to us

    def counted() -> int:
        return int(scan.client.get(f"/api/v1/endorsements/{code}/scans").json()["total"])

    before = counted()
    scan.client.get(f"/api/v1/verify/{code}")
    scan.client.get(f"/api/v1/verify/{code}", params={"count": "0"})
    scan.client.get(f"/api/v1/verify/{code}", params={"count": "false"})
    scan.client.get(f"/e/{code}/verify.json")
    scan.client.head(f"/e/{code}")
    scan.client.get(f"/e/{code}")
    assert counted() == before + 2, "one API scan and one page view"
    assert counter.pending(entry.endorsement_id) == 2, "scans are counted in memory"
    assert counter.flush(scan.app.state.session_factory) == 2
    assert counter.pending(entry.endorsement_id) == 0 and counted() == before + 2
    bad = scan.client.get(f"/api/v1/verify/{code}", params={"count": "maybe"})
    assert bad.status_code == 422, "count must be a boolean, as before"


def test_an_untrusted_cache_builds_from_the_database(scan: Scan):
    """A cache whose watcher has not polled lately serves nothing from memory."""
    cache: ScanCache = scan.app.state.scan_cache
    code = scan.codes("valid")[0]
    scan.client.get(f"/api/v1/verify/{code}")
    builds = cache.builds
    # No poll counts as recent. (Setting last_poll back instead races a poll already in
    # flight on the watcher thread, which overwrites it a moment later.)
    saved = cache.trust_seconds
    cache.trust_seconds = -1.0
    try:
        assert not cache.trusted()
        assert cache.lookup(code) is None
        assert scan.client.get(f"/api/v1/verify/{code}").status_code == 200
        assert cache.builds == builds + 1, "an untrusted cache still served from memory"
    finally:
        cache.trust_seconds = saved


def test_a_build_raced_by_an_invalidation_is_served_once_and_not_kept(
    scan: Scan, monkeypatch: pytest.MonkeyPatch
):
    from registry.endorsements import scan_cache

    cache: ScanCache = scan.app.state.scan_cache
    code = scan.codes("expired")[0]
    cache.invalidate()
    real = scan_cache.build_entry

    def racing(*args: Any, **kwargs: Any) -> Any:
        entry = real(*args, **kwargs)
        cache.invalidate()  # e.g. the watcher saw a revocation while this build read
        return entry

    monkeypatch.setattr(scan_cache, "build_entry", racing)
    assert cache.load(code).code == code
    assert cache.lookup(code) is None, "a possibly stale build was kept"
    monkeypatch.setattr(scan_cache, "build_entry", real)
    assert cache.load(code).code == code
    assert cache.lookup(code) is not None


def test_the_verify_endpoint_stays_documented(scan: Scan):
    """Served by a plain Starlette route (app.factory.SCAN_ROUTES), described by its FastAPI one."""
    spec = scan.client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/verify/{code}"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"code", "count"}
    assert "application/json" in operation["responses"]["200"]["content"]


def test_encoded_matches_if_none_match():
    encoded = Encoded.of(b'{"a":1}')
    assert encoded.matches(encoded.etag)
    assert encoded.matches(encoded.etag.removeprefix("W/"))
    assert encoded.matches(f'"x", {encoded.etag}')
    assert encoded.matches("*")
    assert not encoded.matches("")
    assert not encoded.matches('"x"')
    assert gzip.decompress(encoded.gzipped) == encoded.body


# --- status changes by another process: run last in this module (they change the demo) --------


def test_a_revocation_elsewhere_shows_within_two_seconds(scan: Scan):
    code = scan.codes("valid")[0]
    for url in SCAN_URLS:
        assert _status(scan, url.format(code=code)) == "valid"
    old_etag = scan.client.get(f"/api/v1/verify/{code}").headers["etag"]
    with transaction(scan.outside) as session:
        endorsement_decisions.revoke(
            session, scan.app.state.ctx, code, _signer(session, code), "撤销测试 revoked by a test"
        )
    print(f"revocation shown after {_wait_for(scan, code, 'revoked'):.2f} s")
    revoked = scan.client.get(f"/api/v1/verify/{code}")
    assert revoked.headers["etag"] != old_etag
    assert revoked.json()["revocation"]["reason"] == "撤销测试 revoked by a test"


def test_a_recall_elsewhere_shows_within_two_seconds(scan: Scan):
    code = scan.codes("valid")[-1]
    for url in SCAN_URLS:
        assert _status(scan, url.format(code=code)) == "valid"
    with transaction(scan.outside) as session:
        endorsement = session.scalars(select(Endorsement).where(Endorsement.code == code)).one()
        batch = session.scalars(
            select(Batch)
            .join(EndorsementBatch, EndorsementBatch.batch_id == Batch.id)
            .where(EndorsementBatch.endorsement_id == endorsement.id)
        ).first()
        assert batch is not None
        trace_service.issue_recall(
            session, scan.app.state.ctx, _signer(session, code), batch.code, "召回测试 a test"
        )
    print(f"recall shown after {_wait_for(scan, code, 'recalled'):.2f} s")
