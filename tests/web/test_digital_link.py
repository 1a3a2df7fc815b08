"""The GS1 Digital Link resolver against the demo registry: the table of cases in
``digital_link_cases.tsv`` (every invalid URI a 400 problem, every valid one the lot's page,
its linkset, a 307 to a link type, or a 404 of an unknown item), GET/HEAD/OPTIONS with CORS,
the linkset and its ``Link`` header, and ``/.well-known/gs1resolver``."""

from __future__ import annotations

import base64
import random
import re
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.factory import create_app
from registry.demo import load_demo
from registry.settings import Settings
from tests.support import empty_tables

CASES_FILE = Path(__file__).with_name("digital_link_cases.tsv")
DOCS = Path(__file__).parents[2] / "docs" / "digital-link.md"
BASE_URL = "http://127.0.0.1:8000"
LOT = "GF2026-001"  # packaged millet: a GTIN, a 合格证
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Case:
    line: int
    status: int
    accept: str | None
    uri: str
    check: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.uri}"


def load_cases() -> list[Case]:
    cases = []
    for number, line in enumerate(CASES_FILE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        status, accept, uri, check = line.split("\t")
        cases.append(Case(number, int(status), None if accept == "-" else accept, uri, check))
    return cases


CASES = load_cases()


@dataclass
class Demo:
    client: TestClient
    batch: dict[str, Any]

    def fill(self, text: str) -> str:
        return (
            text.replace("{gtin}", self.batch["gtin"])
            .replace("{lot}", self.batch["lot"])
            .replace("{code}", self.batch["code"])
        )


@pytest.fixture(scope="module")
def demo(
    engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    """The demo dataset, loaded once per backend; the tests here only read."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("dl") / "data",
        database_url=database_url,
        base_url=BASE_URL,
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    empty_tables(engine)
    try:
        with TestClient(create_app(settings, engine), raise_server_exceptions=False) as client:
            summary = load_demo(client.app.state.session_factory, client.app.state.ctx)  # type: ignore[attr-defined]
            batch = next(b for b in summary["batches"] if b["lot"] == LOT)
            assert batch["gtin"], "the demo's packaged millet has a GTIN"
            yield Demo(client, batch)
    finally:
        empty_tables(engine)


def _default_accept(case: Case) -> str:
    if case.accept is not None:
        return case.accept
    if case.status >= 400:
        return PROBLEM_JSON
    return "text/html,application/xhtml+xml,*/*;q=0.8"


def _check(demo: Demo, case: Case, response: Any) -> None:
    kind, _, expected = case.check.partition(":")
    expected = demo.fill(expected)
    assert response.headers.get("access-control-allow-origin") == "*", f"{case}: no CORS"
    if kind == "detail":
        if case.accept == "text/html":
            assert response.headers["content-type"].startswith("text/html"), case
            assert expected in response.text.replace("&#39;", "'"), f"{case}: {expected!r}"
            return
        assert response.headers["content-type"].startswith(PROBLEM_JSON), case
        problem = response.json()
        assert problem["status"] == case.status
        assert expected in problem["detail"], f"{case}: {problem['detail']!r} lacks {expected!r}"
        if case.status == 400:
            assert problem["type"].endswith("/malformed-digital-link"), case
    elif kind == "page":
        assert response.headers["content-type"].startswith("text/html"), case
        match = re.search(r'data-batch="([^"]+)"', response.text)
        assert match and match.group(1) == demo.batch["code"], f"{case}: not the lot's page"
        assert 'rel="linkset"' in response.headers["link"], case
    elif kind == "linkset":
        assert response.headers["content-type"].startswith("application/linkset+json"), case
        linkset = response.json()["linkset"]
        assert len(linkset) == 1 and linkset[0]["anchor"].startswith(f"{BASE_URL}/01/"), case
    elif kind == "location":
        location = response.headers["location"]
        assert location == BASE_URL + expected, f"{case}: Location {location}"
        assert 'rel="linkset"' in response.headers["link"], case
    else:  # pragma: no cover - a typo in the table
        raise AssertionError(f"{case}: unknown check {case.check!r}")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_digital_link_case(demo: Demo, case: Case):
    uri = demo.fill(case.uri)
    headers = {"Accept": _default_accept(case)}
    response = demo.client.get(uri, headers=headers, follow_redirects=False)
    assert response.status_code == case.status, (
        f"{case}: {response.status_code} {response.text[:300]}"
    )
    _check(demo, case, response)
    head = demo.client.head(uri, headers=headers, follow_redirects=False)
    assert head.status_code == case.status, f"{case}: HEAD answered {head.status_code}"
    assert head.content == b"", "HEAD has no body"
    assert head.headers.get("access-control-allow-origin") == "*"


def test_the_case_counts_in_the_docs_are_the_table_s():
    counts = Counter(case.status for case in CASES)
    text = DOCS.read_text(encoding="utf-8")
    stated = re.search(
        r"(\d+) cases: (\d+) answered 400, (\d+) answered 404, (\d+) answered 200, "
        r"(\d+) answered 307",
        text,
    )
    assert stated, "docs/digital-link.md states the case counts"
    assert [int(n) for n in stated.groups()] == [
        len(CASES),
        counts[400],
        counts[404],
        counts[200],
        counts[307],
    ], f"docs/digital-link.md: update the counts to {dict(counts)} ({len(CASES)} cases)"


def test_linkset_holds_the_gs1_link_types_and_the_link_header_points_to_it(demo: Demo):
    path = demo.fill("/01/{gtin}/10/{lot}")
    response = demo.client.get(path, params={"linkType": "all"})
    assert response.status_code == 200
    context = response.json()["linkset"][0]
    assert context["anchor"] == BASE_URL + path
    page = f"{BASE_URL}/b/{demo.batch['code']}"
    vocabulary = "https://gs1.org/voc/"
    assert [t["href"] for t in context[vocabulary + "pip"]] == [page]
    assert context[vocabulary + "defaultLink"][0]["href"] == page
    trace = {t["type"]: t["href"] for t in context[vocabulary + "traceability"]}
    assert trace == {
        "text/html": f"{page}/trace",
        "application/ld+json": f"{BASE_URL}/api/v1/export/epcis?batch={demo.batch['code']}",
    }
    certificate = {t["type"]: t["href"] for t in context[vocabulary + "certificationInfo"]}
    assert certificate == {
        "text/html": f"{page}/certificate",
        "application/pdf": f"{page}/certificate.pdf",
    }
    for targets in (v for k, v in context.items() if k.startswith("https://")):
        for target in targets:
            assert target["title"] and target["hreflang"] == ["zh", "en"]
    assert context[vocabulary + "certificationInfo"][0]["title"] == "承诺达标合格证"
    english = demo.client.get(path, params={"linkType": "all", "lang": "en"}).json()
    assert english["linkset"][0][vocabulary + "pip"][0]["title"] != "批次页面"

    # every link of the linkset resolves, and the Link header names the same ones
    for targets in (v for k, v in context.items() if k.startswith("https://")):
        for target in targets:
            got = demo.client.get(target["href"].removeprefix(BASE_URL))
            assert got.status_code == 200, target
    page_response = demo.client.get(path, headers={"Accept": "text/html"})
    header = page_response.headers["link"]
    assert (
        f'<{BASE_URL}{path}?linkType=linkset>; rel="linkset"; type="application/linkset+json"'
        in header
    )
    for rel in ("pip", "traceability", "certificationInfo"):
        assert f'rel="{vocabulary}{rel}"' in header
    linkset_again = demo.client.get(f"{path}?linkType=linkset")
    assert linkset_again.json() == response.json()


def test_options_answers_the_cors_preflight(demo: Demo):
    path = demo.fill("/01/{gtin}/10/{lot}")
    response = demo.client.options(
        path,
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Accept",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert set(response.headers["access-control-allow-methods"].split(", ")) == {
        "GET",
        "HEAD",
        "OPTIONS",
    }
    assert "Accept" in response.headers["access-control-allow-headers"]
    assert "Link" in response.headers["access-control-expose-headers"]
    bad = demo.client.options(demo.fill("/01/06901234567891/10/{lot}"))
    assert bad.status_code == 400 and bad.headers["access-control-allow-origin"] == "*"
    well_known = demo.client.options("/.well-known/gs1resolver")
    assert well_known.status_code == 204


def test_the_resolver_description_file(demo: Demo):
    response = demo.client.get("/.well-known/gs1resolver")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["access-control-allow-origin"] == "*"
    description = response.json()
    assert description["resolverRoot"] == BASE_URL
    assert description["supportedPrimaryKeys"] == ["01"]
    assert {"namespace": "https://gs1.org/voc/", "prefix": "gs1:"} in description[
        "supportedLinkType"
    ]
    assert description["linkTypeDefaultCanBeLinkset"] is False
    assert description["name"]
    assert demo.client.head("/.well-known/gs1resolver").status_code == 200


def test_other_routes_are_not_shadowed_by_the_resolver(demo: Demo):
    assert demo.client.get(f"/b/{demo.batch['code']}").status_code == 200
    assert demo.client.get("/healthz").status_code == 200
    assert demo.client.get("/log/checkpoint").status_code == 200
    # a path whose first segment is not 2-4 digits is no Digital Link: the site's own 404
    assert demo.client.get("/12345/ABC").status_code == 404


def test_a_bad_pairing_s_problem_names_the_ais(demo: Demo):
    """The problem's extension members name the AIs at fault (RFC 9457 §3.2), so a client
    can point at them without parsing the detail."""
    headers = {"Accept": PROBLEM_JSON}
    excluded = demo.client.get(demo.fill("/01/{gtin}/10/{lot}?37=12"), headers=headers)
    assert excluded.status_code == 400
    assert excluded.json()["ai"] == "01" and excluded.json()["ais"] == ["01", "37"]
    required = demo.client.get("/00/006141411234567890?3103=000189", headers=headers)
    assert required.status_code == 400
    assert required.json()["ai"] == "3103" and required.json()["requires"] == ["01", "02"]
    bad_value = demo.client.get(demo.fill("/01/{gtin}/10/{lot}?17=281399"), headers=headers)
    assert bad_value.json()["ai"] == "17"


def test_a_compressed_link_answers_like_its_uncompressed_form(demo: Demo):
    """GS1's reference encoder's payload of the demo lot: the same page, and a linkset
    anchored at the uncompressed Digital Link."""
    uncompressed = demo.fill("/01/{gtin}/10/{lot}")
    assert demo.batch["gtin"] == "06901234567892", "the vectors were made for this GTIN"
    compressed = demo.client.get("/CwyNo0UVqNQwu2m3X2mmo", params={"linkType": "all"})
    plain = demo.client.get(uncompressed, params={"linkType": "all"})
    assert compressed.status_code == plain.status_code == 200
    assert compressed.json() == plain.json()
    assert compressed.json()["linkset"][0]["anchor"] == BASE_URL + uncompressed
    page = demo.client.get("/CwyNo0UVqNQwu2m3X2mmo", headers={"Accept": "text/html"})
    assert page.headers["link"] == demo.client.get(uncompressed).headers["link"]
    preflight = demo.client.options("/CwyNo0UVqNQwu2m3X2mmo")
    assert preflight.status_code == 204


def test_no_payload_is_answered_with_a_500(demo: Demo):
    """Random and mutated payloads: each is a 400 problem, the 404 of a segment that does not
    begin as a compressed Digital Link (random ones, often) or (when it happens to decompress
    to a valid Digital Link) the 404 of an unknown item or the lot's page; never a 500."""
    rng = random.Random(2026)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    known = "CwyNo0UVqNQwu2m3X2mmo"
    statuses = Counter()
    for i in range(150):
        if i % 2:
            payload = "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 40)))
        else:
            spot = rng.randrange(len(known))
            payload = known[:spot] + rng.choice(alphabet) + known[spot + 1 :]
        response = demo.client.get(f"/{payload}", headers={"Accept": PROBLEM_JSON})
        statuses[response.status_code] += 1
        assert response.status_code in (200, 400, 404), f"/{payload}: {response.status_code}"
        if response.status_code != 200:
            assert response.headers["content-type"].startswith(PROBLEM_JSON), payload
    assert statuses[400] > 50 and statuses[404] > 0, statuses


def test_the_compressed_route_shadows_no_other_route(demo: Demo):
    for path in ("/healthz", "/metrics", "/docs", "/openapi.json"):
        assert demo.client.get(path).status_code == 200, path
    # a lone segment with a character outside base64url is no Digital Link: the site's 404
    assert demo.client.get("/favicon.ico").status_code == 404
