"""Security headers (``api/security.py`` and the pages' own): nosniff and no referrer on every
response; a Content-Security-Policy on every HTML page, with no inline or eval'd script and
``frame-ancestors 'none'``, except the OBS overlay, the one page meant to be embedded; HSTS
only on HTTPS (a trusted proxy's ``X-Forwarded-Proto`` counts, a client's own does not)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from tests.endorsements.world import World
from web.responses import CONTENT_SECURITY_POLICY
from web.scripts import consumer_script_src, integrity


@pytest.fixture
def code(world: World) -> str:
    return world.endorse(world.good_millet("HDR"))


def _pages(world: World, code: str) -> dict[str, str]:
    """Paths of every kind of response: HTML pages, JSON, problems, text, files."""
    batch = world.code_of(world.coop.ref("millet", "HDR"))
    return {
        "consumer page": f"/e/{code}",
        "batch page": f"/b/{batch}",
        "overlay": f"/overlay/{code}",
        "code entry": "/e",
        "unknown code page": "/e/ZZZZZZZZ2",
        "recalls page": "/recalls",
        "back-office login": "/office/login",
        "back-office 404": "/office/nowhere",
        "API docs": "/docs",
        "OpenAPI": "/openapi.json",
        "verify JSON": f"/api/v1/verify/{code}?count=0",
        "API problem": "/api/v1/records/999999",
        "unknown path": "/nowhere",
        "checkpoint": "/log/checkpoint",
        "static script": "/static/verify.js",
        "QR image": f"/e/{code}/qr.svg",
        "health": "/healthz",
    }


def _directives(policy: str) -> dict[str, list[str]]:
    found = {}
    for part in policy.split(";"):
        name, *values = part.split()
        found[name.lower()] = values
    return found


def _responses(world: World, code: str) -> Iterator[tuple[str, str, httpx.Response]]:
    for what, path in _pages(world, code).items():
        response = world.client.get(path, follow_redirects=False)
        assert response.status_code < 500, f"{what} {path}: {response.status_code}"
        yield what, path, response


def test_every_response_says_nosniff_and_no_referrer(world: World, code: str) -> None:
    for what, path, response in _responses(world, code):
        assert response.headers.get("x-content-type-options") == "nosniff", f"{what} {path}"
        assert response.headers.get("referrer-policy") in ("no-referrer", "strict-origin"), (
            f"{what} {path}: Referrer-Policy {response.headers.get('referrer-policy')!r}"
        )


def test_every_html_page_has_a_csp_without_inline_scripts(world: World, code: str) -> None:
    pages = 0
    for what, path, response in _responses(world, code):
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        pages += 1
        policy = response.headers.get("content-security-policy")
        assert policy, f"{what} {path} has no Content-Security-Policy"
        directives = _directives(policy)
        scripts = directives.get("script-src", directives.get("default-src"))
        assert scripts is not None and scripts, f"{what}: {policy}"
        if path.startswith(("/e/", "/E/")) and "'self'" not in scripts:
            # The consumer page admits exactly its logged scripts, by hash (web/scripts.py).
            assert all(s.startswith("'sha256-") for s in scripts), f"{what}: {policy}"
        else:
            assert "'self'" in scripts, f"{what}: {policy}"
        assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, (
            f"{what} {path} allows inline or eval'd scripts: {policy}"
        )
        assert directives.get("object-src") == ["'none'"], f"{what}: {policy}"
        assert directives.get("base-uri") == ["'none'"], f"{what}: {policy}"
        framing = directives.get("frame-ancestors")
        if path.startswith("/overlay/"):
            assert framing is None, f"the overlay must be embeddable: {policy}"
            assert "x-frame-options" not in response.headers
        else:
            assert framing == ["'none'"], f"{what} {path} can be framed: {policy}"
            assert response.headers.get("x-frame-options") == "DENY", f"{what} {path}"
    assert pages >= 8, f"only {pages} HTML pages checked"


def test_the_pages_own_policy_is_kept(world: World, code: str) -> None:
    """The middleware adds a policy only where a page set none: it does not fight the
    consumer page's."""
    page = world.client.get(f"/e/{code}")
    expected = CONTENT_SECURITY_POLICY.replace("script-src 'self'", consumer_script_src())
    assert page.headers["content-security-policy"] == expected
    assert f"'{integrity('verify.js')}'" in expected
    assert f'integrity="{integrity("verify.js")}"' in page.text
    assert len(page.headers.get_list("content-security-policy")) == 1


def test_the_overlay_can_be_embedded_but_not_its_neighbours(world: World, code: str) -> None:
    overlay = world.client.get(f"/overlay/{code}")
    assert overlay.status_code == 200
    assert "frame-ancestors" not in overlay.headers["content-security-policy"]
    consumer = world.client.get(f"/e/{code}")
    assert "frame-ancestors 'none'" in consumer.headers["content-security-policy"]
    # Only the overlay path: a look-alike path elsewhere is not embeddable.
    office = world.client.get("/office/overlay/x")
    assert "frame-ancestors 'none'" in office.headers["content-security-policy"]


def test_the_docs_inline_scripts_are_allowed_by_hash_only(world: World) -> None:
    for path in ("/docs", "/docs/oauth2-redirect"):
        response = world.client.get(path)
        scripts = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
        assert scripts, f"{path} has no inline script to check"
        allowed = _directives(response.headers["content-security-policy"])["script-src"]
        for script in scripts:
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in allowed, f"{path}: an inline script is not allowed"


def test_hsts_only_over_https(world: World, code: str) -> None:
    plain = world.client.get(f"/e/{code}")
    assert "strict-transport-security" not in plain.headers, "HSTS over plain HTTP"
    # A client claiming HTTPS itself is not a trusted proxy.
    spoofed = world.client.get(f"/e/{code}", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in spoofed.headers

    secure = TestClient(world.app, base_url="https://registry.example.cn")
    for path in (f"/e/{code}", "/api/v1/records/999999", "/healthz"):
        hsts = secure.get(path).headers.get("strict-transport-security", "")
        assert re.match(r"max-age=(\d+)", hsts), f"{path} over HTTPS: no HSTS"
        assert int(re.match(r"max-age=(\d+)", hsts).group(1)) >= 15552000  # type: ignore[union-attr]


def test_hsts_behind_a_trusted_tls_proxy(world: World, code: str) -> None:
    """What ``registry serve`` runs: uvicorn's proxy-headers middleware, trusting the proxy's
    address (FORWARDED_ALLOW_IPS), turns its X-Forwarded-Proto into the request's scheme."""
    proxied = ProxyHeadersMiddleware(world.app, trusted_hosts=["testclient"])
    client = TestClient(proxied)  # type: ignore[arg-type]
    behind_tls = client.get(f"/e/{code}", headers={"X-Forwarded-Proto": "https"})
    assert behind_tls.headers.get("strict-transport-security", "").startswith("max-age=")
    behind_plain = client.get(f"/e/{code}", headers={"X-Forwarded-Proto": "http"})
    assert "strict-transport-security" not in behind_plain.headers
    untrusted = TestClient(ProxyHeadersMiddleware(world.app, trusted_hosts=["10.0.0.1"]))  # type: ignore[arg-type]
    spoofed = untrusted.get(f"/e/{code}", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in spoofed.headers
