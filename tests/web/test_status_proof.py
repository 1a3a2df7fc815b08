"""The phone proves the status is current (docs/records.md, "The status index";
docs/phone-verification.md): the status-index proofs checked by the page's own code in a
real Chromium, with WebCrypto's SHA-256 and with the pure-JavaScript fallback's.

The status-index vectors (tests/vectors/status-index/) and proofs cut from random trees by
``registry.log.status_index`` run through ``indexProofRoot`` in verify.js: the page must
reach the same root as the Python reference, and refuse what it refuses.

Then the whole page against ``registry serve --demo`` (SQLite and PostgreSQL): an honest
server's every demo endorsement proves the status ``registry demo --json`` gives it; a
dishonest one, a test double at the HTTP edge rewriting the real documents (Playwright
route interception) that leaves out a revocation, an ancestor's recall, or serves an older
index, never gets a verified status, and the page names the status step; a claimed status
that differs from the proven one is said and not believed; the saved bundle carries it all.
"""

from __future__ import annotations

import base64
import json
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.errors import VerificationError
from registry.log import status_index as index
from tests.conftest import POSTGRES_URL
from tests.support import cli, drop_database, registry_env, running_registry
from tests.web import test_consumer_page as consumer
from tests.web.test_consumer_page import needs_browser, root_attribute, wait_for_verdict
from tests.web.test_phone_trust import NO_WEBCRYPTO_ED25519  # the fallback's SHA-256 too

browser = consumer.browser  # the consumer-page tests' Chromium and phone fixtures
phone = consumer.phone

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors" / "status-index" / "vectors.json"


@dataclass
class Served:
    """``registry serve --demo`` in its own process; ``summary`` is ``registry demo --json``."""

    url: str
    env: dict[str, str]
    summary: dict[str, Any]

    def code(self, status: str) -> str:
        return str(next(e["code"] for e in self.summary["endorsements"] if e["status"] == status))

    def document(self, code: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/e/{code}/verify.json", timeout=20)
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The registry as a newcomer runs it, on SQLite and on PostgreSQL. No witness, so the
    served checkpoint is always the newest (its status index the log's last entry)."""
    directory = tmp_path_factory.mktemp(f"status-proof-{request.param}")
    env = registry_env(directory, request.param, POSTGRES_URL, "registry_status_proof")
    env["REGISTRY_WITNESSES"] = "[]"
    try:
        with running_registry(env, directory / "serve.log", "--demo") as base:
            env = {**env, "REGISTRY_BASE_URL": base}
            yield Served(base, env, json.loads(cli(env, "demo", "--json")))
    finally:
        drop_database(env)


def _page_with(site: Served, phone: Any, engine: str) -> Any:
    page = phone("en-US")
    if engine == "fallback":
        page.add_init_script(NO_WEBCRYPTO_ED25519)
    page.goto(f"{site.url}/e/{site.code('valid')}")
    page.wait_for_function("window.GuaranteeRegistryVerify !== undefined")
    return page


def _roots_in_page(page: Any, cases: list[dict[str, Any]]) -> list[str | None]:
    """The root verify.js reaches for each case (base64), or None where it refuses."""
    return list(
        page.evaluate(
            """async (cases) => {
              const api = window.GuaranteeRegistryVerify, out = [];
              for (const c of cases) out.push(await api.indexProofRoot(c.key, c.value, c.proof));
              return out;
            }""",
            cases,
        )
    )


def _python_root(case: dict[str, Any]) -> str | None:
    """What registry.log.status_index makes of the case: the root, or None (refused)."""
    try:
        proof = index.proof_from_json(case["proof"])
        return base64.b64encode(index.root_from_proof(case["key"], case["value"], proof)).decode()
    except VerificationError:
        return None


@needs_browser
@pytest.mark.parametrize("engine", ["webcrypto", "fallback"])
def test_the_status_index_vectors_in_chromium(site: Served, phone, engine: str):
    vectors = json.loads(VECTORS.read_text())
    cases = vectors["cases"]
    page = _page_with(site, phone, engine)
    roots = _roots_in_page(page, cases)
    assert page.evaluate("window.GuaranteeRegistryVerify.engine()") == engine
    for case, got in zip(cases, roots, strict=True):
        if case["valid"]:
            assert got == vectors["root"], f"{case['name']}: the page reaches {got}"
        else:
            assert got != vectors["root"], f"{case['name']}: the page accepts it"
    assert sum(1 for c in cases if not c["valid"]) >= 5, "the vectors lost their bad cases"


def _non_collapsed(proof: dict[str, Any]) -> dict[str, Any]:
    """The same path one level deeper beside an empty subtree: the same root by hashing,
    but a form the collapsed tree never has (so a proof cannot be stretched)."""
    return {"siblings": [base64.b64encode(index.EMPTY).decode(), *proof["siblings"]], "other": None}


def _flipped(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[7] ^= 0x20
    return base64.b64encode(bytes(raw)).decode()


def _random_cases(seed: int) -> list[dict[str, Any]]:
    """Proofs for present and absent keys of a random tree, and altered copies of them."""
    rng = random.Random(seed)
    values: dict[str, dict[str, Any]] = {}
    for n in range(300):
        if rng.random() < 0.3:
            revocation = rng.choice([None, rng.randrange(10**6)])
            values[index.endorsement_key(f"GR{n:07d}")] = {
                "endorsement": rng.randrange(10**6),
                "revocation": revocation,
            }
        else:
            recall = rng.choice([None, None, rng.randrange(10**6)])
            values[index.batch_key(f"{rng.getrandbits(128):032x}:L{n}")] = {
                "head": rng.randrange(10**6),
                "recall": recall,
            }
    entries = {index.key_hash(k): index.value_hash(v) for k, v in values.items()}
    cases: list[dict[str, Any]] = []
    keys = sorted(values)
    for key in rng.sample(keys, 40):
        proof = index.proof_to_json(index.prove(entries, index.key_hash(key)))
        cases.append({"key": key, "value": values[key], "proof": proof})
        other = dict(values[key])
        field = "revocation" if "revocation" in other else "recall"
        other[field] = None if other[field] is not None else 7  # hide or invent it
        cases.append({"key": key, "value": other, "proof": proof})
        if proof["siblings"]:
            bad = {"siblings": list(proof["siblings"]), "other": None}
            at = rng.randrange(len(bad["siblings"]))
            bad["siblings"][at] = _flipped(bad["siblings"][at])
            cases.append({"key": key, "value": values[key], "proof": bad})
            cases.append({"key": key, "value": values[key], "proof": _non_collapsed(proof)})
            cases.append({"key": key, "value": None, "proof": proof})  # claimed absent
    for n in range(30):
        absent = index.batch_key(f"{rng.getrandbits(128):032x}:MISSING{n}")
        proof = index.proof_to_json(index.prove(entries, index.key_hash(absent)))
        cases.append({"key": absent, "value": None, "proof": proof})
        cases.append({"key": absent, "value": {"head": 1, "recall": None}, "proof": proof})
        if proof["other"] is not None:
            # The other leaf moved off the path: its key hash no longer shares the prefix.
            moved = dict(proof["other"])
            raw = bytearray(base64.b64decode(moved["key_hash"]))
            raw[0] ^= 0x80
            moved["key_hash"] = base64.b64encode(bytes(raw)).decode()
            cases.append({"key": absent, "value": None, "proof": {**proof, "other": moved}})
    root = base64.b64encode(index.root_of(entries)).decode()
    for case in cases:
        case["expected"] = _python_root(case)
        case["holds"] = case["expected"] == root
    return cases


@needs_browser
@pytest.mark.parametrize("engine", ["webcrypto", "fallback"])
def test_random_trees_the_page_agrees_with_the_reference(site: Served, phone, engine: str):
    cases = _random_cases(18)
    assert sum(c["holds"] for c in cases) >= 60 and sum(not c["holds"] for c in cases) >= 100
    assert any(c["expected"] is None for c in cases), "no case the reference refuses"
    page = _page_with(site, phone, engine)
    roots = _roots_in_page(page, cases)
    assert page.evaluate("window.GuaranteeRegistryVerify.engine()") == engine
    for case, got in zip(cases, roots, strict=True):
        assert got == case["expected"], (
            f"{case['key']} holding {case['value']}: the page reaches {got}, "
            f"registry.log.status_index {case['expected']}"
        )


# --- an honest server: the page proves each demo endorsement's real status ------------------


def _status_step(page: Any) -> str | None:
    return page.get_attribute("[data-log-step=status]", "data-verify")


@needs_browser
@pytest.mark.parametrize("engine", ["webcrypto", "fallback"])
def test_an_honest_server_each_endorsement_proves_its_real_status(site: Served, phone, engine: str):
    statuses = {e["status"] for e in site.summary["endorsements"]}
    assert statuses == {"valid", "not_yet_valid", "expired", "revoked", "recalled"}
    for endorsement in site.summary["endorsements"]:
        page = phone("en-US")
        if engine == "fallback":
            page.add_init_script(NO_WEBCRYPTO_ED25519)
        page.goto(f"{site.url}/e/{endorsement['code']}")
        code, status = endorsement["code"], endorsement["status"]
        assert wait_for_verdict(page) == "verified", f"{code}: {page.inner_text('#verify')}"
        assert root_attribute(page, "data-verify-engine") == engine
        assert root_attribute(page, "data-proven-status") == status, code
        assert root_attribute(page, "data-status-claimed") is None, code
        assert page.locator("#status-claimed").is_hidden()
        assert _status_step(page) == "ok"
        assert float(root_attribute(page, "data-verify-status-ms") or "-1") >= 0
        word = consumer.STATUS_WORDS[status][1]
        assert word in page.inner_text("[data-testid=banner] [data-testid=status]")
        assert word in page.inner_text("[data-log-step=status]"), "the step names the status"


# --- a dishonest server, at the HTTP edge ---------------------------------------------------


def _lie(page: Any, code: str, change: Callable[[dict[str, Any]], None], steps: list[int]) -> None:
    """Serve the real documents changed: the verification document by ``change``, the page
    claiming "valid" without the steps at ``steps`` (what a server hiding them would show)."""

    def document(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        change(body)
        route.fulfill(response=response, body=json.dumps(body))

    def html(route: Any) -> None:
        response = route.fetch()
        text = re.sub(r'data-status="[a-z_]+"', 'data-status="valid"', response.text(), count=1)
        for index_ in steps:
            text, n = re.subn(
                rf'<li class="step [^"]*" id="step-{index_}".*?</li>', "", text, flags=re.S
            )
            assert n == 1, f"step {index_} is not on the page"
        route.fulfill(response=response, body=text)

    page.route(f"**/e/{code}/verify.json", document)
    page.route(f"**/e/{code}", html)


def _drop(kind: str) -> Callable[[dict[str, Any]], list[int]]:
    def drop(document: dict[str, Any]) -> list[int]:
        gone = [e["index"] for e in document["chain"] if e["kind"] == kind]
        document["chain"] = [e for e in document["chain"] if e["kind"] != kind]
        document.update(status="valid", status_reason=None, revocation=None, recall=None)
        for batch in document["batches"]:
            batch["recalled"] = False
        return gone

    return drop


def _proofs(document: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [p for p in document["status_index"]["proofs"] if p["key"].startswith(prefix)]


def _assert_failed_at_status(page: Any, why: str) -> None:
    assert wait_for_verdict(page) == "failed", "the lie went unnoticed"
    assert root_attribute(page, "data-verify-failed") == "status"
    assert root_attribute(page, "data-proven-status") is None, "a status proved from a lie"
    assert _status_step(page) == "failed"
    message = page.inner_text("#verify-failed-step")
    assert "The status is current" in message and why in message, message
    assert page.locator(".banner-unverified").is_visible(), "the banner is not marked unverified"


def _hide_revocation(how: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        _drop("endorsement_revocation")(document)
        if how == "value":
            for p in _proofs(document, "endorsement:"):
                p["value"]["revocation"] = None
        elif how == "proof":
            document["status_index"]["proofs"] = [
                p
                for p in document["status_index"]["proofs"]
                if not p["key"].startswith("endorsement:")
            ]
        else:
            del document["status_index"]

    return change


@needs_browser
@pytest.mark.parametrize(
    ("how", "why"),
    [
        ("value", "a status proof does not lead to the status index"),
        ("proof", "the status index names another endorsement record"),
        ("index", "the verification data carries no status proof"),
    ],
)
def test_a_server_omitting_the_revocation_never_gets_a_verified_valid(
    site: Served, phone, how: str, why: str
):
    code = site.code("revoked")
    revocation = [
        e["index"] for e in site.document(code)["chain"] if e["kind"] == "endorsement_revocation"
    ]
    assert revocation, "the demo's revoked endorsement has no revocation in its chain"
    page = phone("en-US")
    _lie(page, code, _hide_revocation(how), revocation)
    page.goto(f"{site.url}/e/{code}")
    _assert_failed_at_status(page, why)


def _hide_recall(how: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        _drop("recall")(document)
        if how == "values":
            for p in _proofs(document, "batch:"):
                p["value"]["recall"] = None
        elif how == "ancestor":
            # The recalled ancestor's proof left out: only the covered batch's is served.
            covered = {b["ref"] for b in document["batches"] if b["covered"]}
            document["status_index"]["proofs"] = [
                p
                for p in document["status_index"]["proofs"]
                if not p["key"].startswith("batch:") or p["key"].removeprefix("batch:") in covered
            ]
        # "record": only the recall record left out, the index proofs untouched

    return change


@needs_browser
@pytest.mark.parametrize(
    ("how", "why"),
    [
        ("values", "a status proof does not lead to the status index"),
        ("ancestor", "a batch's status proof or its newest record is missing"),
        ("record", "a batch's status proof or its newest record is missing"),
    ],
)
def test_a_server_omitting_an_ancestors_recall_never_gets_a_verified_valid(
    site: Served, phone, how: str, why: str
):
    code = site.code("recalled")
    document = site.document(code)
    recall = [e for e in document["chain"] if e["kind"] == "recall"]
    covered = {b["ref"] for b in document["batches"] if b["covered"]}
    assert recall and not set(recall[0]["record"]["batches"]) & covered, (
        "the demo's recall should be of an ancestor, not of the covered batch"
    )
    page = phone("en-US")
    _lie(page, code, _hide_recall(how), [e["index"] for e in recall])
    page.goto(f"{site.url}/e/{code}")
    _assert_failed_at_status(page, why)


@needs_browser
def test_a_claimed_status_that_differs_is_said_and_not_believed(site: Served, phone):
    code = site.code("revoked")
    page = phone("zh-CN")

    def claim_valid(document: dict[str, Any]) -> None:
        document["status"] = "valid"

    _lie(page, code, claim_valid, [])
    page.goto(f"{site.url}/e/{code}")
    assert wait_for_verdict(page) == "verified", page.inner_text("#verify")
    assert root_attribute(page, "data-proven-status") == "revoked"
    assert root_attribute(page, "data-status-claimed") == "valid"
    notice = page.locator("#status-claimed")
    assert notice.is_visible()
    assert "“有效”" in notice.inner_text() and "“已撤销”" in notice.inner_text(), (
        notice.inner_text()
    )
    banner = page.locator("[data-testid=banner]")
    assert "已撤销" in banner.locator("[data-testid=status]").inner_text()
    assert "banner-revoked" in (banner.get_attribute("class") or "")
    assert page.title().startswith("已撤销")
    consumer.shoot(page, "status-claimed-zh")


# --- the saved bundle carries the status index ----------------------------------------------


@needs_browser
def test_an_opened_bundle_proves_the_status_offline(site: Served, phone, tmp_path: Path):
    code = site.code("recalled")
    page = phone("en-US")
    page.goto(f"{site.url}/e/{code}")
    assert wait_for_verdict(page) == "verified"
    with page.expect_download() as download:
        page.click("#bundle-save")
    saved = tmp_path / "bundle.json"
    download.value.save_as(saved)
    bundle = json.loads(saved.read_text())
    assert bundle["status_index"]["proofs"], "the saved bundle has no status proofs"
    assert "tlog_proof" in bundle["status_index"]["head"]

    page.route("**/*.json", lambda route: route.abort())
    page.route("**/log/**", lambda route: route.abort())
    page.set_input_files("#bundle-open", str(saved))
    page.locator("html[data-verify-source=bundle]").wait_for(state="attached")
    assert wait_for_verdict(page) == "verified"
    assert root_attribute(page, "data-proven-status") == "recalled"

    for name, change in (
        (
            "stale",
            lambda b: [
                p["value"].update(recall=None)
                for p in b["status_index"]["proofs"]
                if p["key"].startswith("batch:")
            ],
        ),
        ("none", lambda b: b.update(status_index=None)),
    ):
        changed = json.loads(saved.read_text())
        change(changed)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(changed))
        page.set_input_files("#bundle-open", str(path))
        page.locator("html[data-verify-state=failed]").wait_for(state="attached")
        assert root_attribute(page, "data-verify-failed") == "status", name
        assert root_attribute(page, "data-proven-status") is None

    # Nor does a file that is no bundle leave the earlier proof standing.
    page.set_input_files("#bundle-open", str(saved))
    page.locator("html[data-proven-status=recalled]").wait_for(state="attached")
    other = tmp_path / "document.json"
    other.write_text(json.dumps({"not": "a bundle"}))
    page.set_input_files("#bundle-open", str(other))
    page.locator("html[data-verify-failed=bundle]").wait_for(state="attached")
    assert root_attribute(page, "data-proven-status") is None


# --- an old index proof: the log moved on (a revocation), the server serves the older index ---
# (changes the log: last in the module)


@needs_browser
def test_a_server_serving_an_older_index_never_gets_a_verified_valid(site: Served, phone):
    endorsement = next(
        e
        for e in site.summary["endorsements"]
        if e["status"] == "valid" and "Aohan" in e["product"]["en"]
    )
    code = endorsement["code"]
    before = site.document(code)
    assert before["status"] == "valid"
    official = next(a for a in site.summary["accounts"] if a["username"] == "aohan-head")
    token = cli(site.env, "admin", "create-token", "--username", official["username"]).strip()
    revoked = httpx.post(
        f"{site.url}/api/v1/endorsements/{code}/revoke",
        json={"reason": "直播中的说法与检测报告不符 The stream's claims did not match the report"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    )
    assert revoked.status_code == 200, revoked.text
    deadline = time.monotonic() + 10
    while (after := site.document(code))["status"] != "revoked":
        assert time.monotonic() < deadline, "the revocation did not show"
        time.sleep(0.2)
    old_head = before["status_index"]["head"]
    size = after["checkpoint"]["size"]
    assert old_head["index"] < after["status_index"]["head"]["index"] == size - 1
    # A careful liar proves the older head into the current checkpoint: a genuine proof.
    into_current = httpx.get(
        f"{site.url}/log/proof/inclusion", params={"index": old_head["index"], "tree_size": size}
    ).json()["hashes"]
    revocation = [e["index"] for e in after["chain"] if e["kind"] == "endorsement_revocation"]

    def older_head(document: dict[str, Any]) -> None:
        _drop("endorsement_revocation")(document)
        document["status_index"] = {
            "head": {**old_head, "inclusion_proof": into_current},
            "proofs": before["status_index"]["proofs"],
        }

    def stale_proofs(document: dict[str, Any]) -> None:
        _drop("endorsement_revocation")(document)
        document["status_index"]["proofs"] = before["status_index"]["proofs"]

    for change, why in (
        (older_head, "the status index is not the checkpoint's last entry"),
        (stale_proofs, "a status proof does not lead to the status index"),
    ):
        page = phone("en-US")
        _lie(page, code, change, revocation)
        page.goto(f"{site.url}/e/{code}")
        _assert_failed_at_status(page, why)
    # The honest document now proves the revocation.
    page = phone("en-US")
    page.goto(f"{site.url}/e/{code}")
    assert wait_for_verdict(page) == "verified"
    assert root_attribute(page, "data-proven-status") == "revoked"
