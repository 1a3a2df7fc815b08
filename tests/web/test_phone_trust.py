"""The phone trusts nothing that only the operator says (docs/verification.md), in a real
Chromium against a real server with the demo dataset: the checkpoint it remembers and the
consistency proof it demands, each key's life rebuilt from the logged key records (the
shared cases in tests/vectors/keylife/ run through the page's own ``keyLife``), the
pure-JavaScript Ed25519 where WebCrypto has none, and the saved evidence opened again.

The tests that change the log (a revoked key, a rogue operator) run last: they use their own
registry, not the one the consumer-page tests share.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update

from app.factory import create_app
from registry.db import make_engine, transaction, upgrade
from registry.demo import load_demo
from registry.endorsements.bundle import build_bundle
from registry.log.cosignature import CosignatureSigner, add_signatures
from registry.log.note_keys import NoteSigner
from registry.models import Account, Checkpoint, KeyStatus, SigningKey
from registry.records import ingest
from registry.records.keys import revoke_key
from tests.support import serve_in_thread
from tests.web import test_consumer_page as consumer
from tests.web.test_consumer_page import (
    Live,
    _settings,
    _tamper,
    needs_browser,
    root_attribute,
    wait_for_verdict,
)

browser = consumer.browser  # the consumer-page tests' Chromium and phone fixtures
phone = consumer.phone

REPO = Path(__file__).resolve().parents[2]
KEYLIFE = REPO / "tests" / "vectors" / "keylife"
VERIFY_JS = REPO / "web" / "static" / "verify.js"
NOBLE_JS = REPO / "web" / "static" / "vendor" / "noble.js"
MEMORY_PREFIX = "guarantee-registry.checkpoint."

# Old webviews: WebCrypto without Ed25519 (importKey refuses the algorithm, as Chrome < 113 does).
NO_WEBCRYPTO_ED25519 = """
(() => {
  const importKey = crypto.subtle.importKey.bind(crypto.subtle);
  crypto.subtle.importKey = function (format, data, algorithm, ...rest) {
    const name = typeof algorithm === "string" ? algorithm : algorithm && algorithm.name;
    if (String(name).toLowerCase() === "ed25519") {
      return Promise.reject(new DOMException("Unrecognized name.", "NotSupportedError"));
    }
    return importKey(format, data, algorithm, ...rest);
  };
})();
"""


@pytest.fixture(scope="module")
def registry_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A registry of this module's own: these tests add records to its log."""
    directory = tmp_path_factory.mktemp("phone-trust")
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


def _document(live: Live, code: str) -> dict[str, Any]:
    # From the running server: a TestClient context on ``live.app`` would run its lifespan a
    # second time, and the first run's background threads (their handles overwritten in
    # ``app.state``) would then outlive the module.
    response = httpx.get(f"{live.url}/e/{code}/verify.json", timeout=30)
    assert response.status_code == 200
    return dict(response.json())


def _remember(page: Any, vkey: str, size: int, root: bytes) -> None:
    """What this phone would remember from an earlier scan (set before the page loads)."""
    value = json.dumps({"size": size, "root": base64.b64encode(root).decode()})
    page.add_init_script(
        f"try {{ localStorage.setItem({json.dumps(MEMORY_PREFIX + vkey)}, {json.dumps(value)}); }}"
        " catch (e) {}"
    )


def _memory(page: Any, vkey: str) -> dict[str, Any] | None:
    text = page.evaluate(f"localStorage.getItem({json.dumps(MEMORY_PREFIX + vkey)})")
    return None if text is None else dict(json.loads(text))


# --- the vendored fallback is the one pinned ------------------------------------------------


def test_the_fallback_script_is_pinned_by_its_hash():
    sri = "sha256-" + base64.b64encode(hashlib.sha256(NOBLE_JS.read_bytes()).digest()).decode()
    assert f'FALLBACK_INTEGRITY = "{sri}"' in VERIFY_JS.read_text(), "verify.js pins another build"
    readme = (NOBLE_JS.parent / "README.md").read_text()
    assert sri in readme, "the vendor README names another hash"
    assert (NOBLE_JS.parent / "LICENSE.noble-ed25519").exists()


def test_the_page_script_stays_at_old_webview_syntax():
    """WeChat/Douyin webviews are old: no optional chaining, no ??, no eval, no inline code."""
    source = VERIFY_JS.read_text()
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    for construct in ("?.", "??", "eval(", "new Function", "innerHTML"):
        assert construct not in code, f"verify.js uses {construct!r}"


# --- memory: the largest checkpoint this phone verified -------------------------------------


@needs_browser
def test_the_phone_remembers_and_checks_consistency_from_an_older_checkpoint(
    registry_live: Live, phone
):
    live = registry_live
    code = live.code("valid")
    document = _document(live, code)
    vkey, size = document["log"]["vkey"], document["checkpoint"]["size"]
    with transaction(live.app.state.session_factory) as session:
        older = session.scalars(
            select(Checkpoint).where(Checkpoint.size < size - 3).order_by(Checkpoint.size.desc())
        ).first()
        assert older is not None
        old_size, old_root = older.size, older.root_hash
    page = phone("en-US")
    proofs: list[str] = []
    page.on("request", lambda r: proofs.append(r.url) if "/proof/consistency" in r.url else None)
    _remember(page, vkey, old_size, old_root)
    page.goto(f"{live.url}/e/{code}")
    assert wait_for_verdict(page) == "verified", page.locator("#verify").inner_text()
    assert proofs == [f"{live.url}/log/proof/consistency?old={old_size}&new={size}"]
    assert root_attribute(page, "data-verify-memory") == "ok"
    assert page.locator("[data-log-step=consistent]").get_attribute("data-verify") == "ok"
    kept = _memory(page, vkey)
    assert kept is not None, "the phone remembered nothing"
    assert (kept["size"], kept["root"]) == (size, document["checkpoint"]["root"]), (
        "the phone did not remember the larger checkpoint"
    )


@needs_browser
def test_a_first_scan_or_private_mode_skips_the_memory_step(registry_live: Live, phone):
    page = phone("zh-CN")
    page.add_init_script(
        "Object.defineProperty(window, 'localStorage', {get() { throw new DOMException('no', "
        "'SecurityError'); }});"
    )
    page.goto(f"{registry_live.url}/e/{registry_live.code('expired')}")
    assert wait_for_verdict(page) == "verified"
    assert root_attribute(page, "data-verify-memory") == "skipped"
    step = page.locator("[data-log-step=consistent]")
    assert step.get_attribute("data-verify") == "skipped"
    assert "跳过" in step.inner_text()


@needs_browser
def test_an_older_view_than_one_seen_before_fails(registry_live: Live, phone):
    live = registry_live
    code = live.code("valid")
    document = _document(live, code)
    page = phone("en-US")
    _remember(page, document["log"]["vkey"], document["checkpoint"]["size"] + 5, b"\x07" * 32)
    page.goto(f"{live.url}/e/{code}")
    assert wait_for_verdict(page) == "failed"
    assert root_attribute(page, "data-verify-failed") == "consistent"
    message = page.locator("#verify-failed-step").inner_text()
    assert "older view than one seen before" in message, message


@needs_browser
@pytest.mark.parametrize("smaller", [True, False], ids=["proof-fails", "same-size-other-root"])
def test_a_checkpoint_inconsistent_with_the_remembered_one_fails(
    registry_live: Live, phone, smaller: bool
):
    """The phone remembers a tree the log never had (a split view shown to it before):
    the genuine checkpoint cannot be proven to extend it."""
    live = registry_live
    code = live.code("revoked")
    document = _document(live, code)
    size = document["checkpoint"]["size"]
    page = phone("zh-CN")
    _remember(page, document["log"]["vkey"], size - 2 if smaller else size, b"\x5a" * 32)
    page.goto(f"{live.url}/e/{code}")
    assert wait_for_verdict(page) == "failed"
    assert root_attribute(page, "data-verify-failed") == "consistent"
    assert "日志历史被改写" in page.locator("#verify-failed-step").inner_text()
    assert page.locator("[data-log-step=consistent]").get_attribute("data-verify") == "failed"


# --- every phone: the pure-JavaScript fallback ----------------------------------------------


@needs_browser
def test_without_webcrypto_ed25519_the_fallback_verifies(registry_live: Live, phone):
    page = phone("zh-CN")
    page.add_init_script(NO_WEBCRYPTO_ED25519)
    loaded: list[str] = []
    page.on("requestfinished", lambda r: loaded.append(r.url))
    page.goto(f"{registry_live.url}/e/{registry_live.code('recalled')}")
    assert wait_for_verdict(page) == "verified", page.locator("#verify").inner_text()
    assert root_attribute(page, "data-verify-engine") == "fallback"
    assert f"{registry_live.url}/static/vendor/noble.js" in loaded


@needs_browser
def test_the_fallback_catches_tampering_too(registry_live: Live, phone):
    page = phone("en-US")
    page.add_init_script(NO_WEBCRYPTO_ED25519)

    def flip(document: dict[str, Any]) -> None:
        entry = next(e for e in document["chain"] if e["kind"] == "harvest")
        signature = bytearray(base64.b64decode(entry["envelope"]["signatures"][0]["sig"]))
        signature[3] ^= 0x10
        entry["envelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
        flipped.append(entry["index"])

    flipped: list[int] = []
    _tamper(page, flip)
    page.goto(f"{registry_live.url}/e/{registry_live.code('valid')}")
    assert wait_for_verdict(page) == "failed"
    assert root_attribute(page, "data-verify-engine") == "fallback"
    assert root_attribute(page, "data-verify-failed") == str(flipped[0])


@needs_browser
def test_the_normal_path_does_not_load_the_fallback(registry_live: Live, phone):
    page = phone("zh-CN")
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(f"{registry_live.url}/e/{registry_live.code('valid')}")
    assert wait_for_verdict(page) == "verified"
    assert root_attribute(page, "data-verify-engine") == "webcrypto"
    assert not [u for u in urls if "/vendor/" in u], urls


@needs_browser
def test_a_different_fallback_body_is_refused_by_its_integrity(registry_live: Live, phone):
    """The fallback is loaded with its SRI hash: a changed body does not run, and the page
    says this browser cannot verify instead of verifying with the operator's code."""
    page = phone("en-US")
    page.add_init_script(NO_WEBCRYPTO_ED25519)
    body = NOBLE_JS.read_text().replace("zip215", "zip216")
    page.route(
        "**/static/vendor/noble.js",
        lambda route: route.fulfill(body=body, content_type="text/javascript"),
    )
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    page.goto(f"{registry_live.url}/e/{registry_live.code('valid')}")
    page.locator(".verify-unsupported").wait_for(state="visible", timeout=10_000)
    assert root_attribute(page, "data-verify-detail") == "unsupported"
    assert root_attribute(page, "data-verify-state") == "pending"
    assert any("integrity" in m for m in messages), messages


# --- keys as the log says: the shared cases through the page's own function -----------------


def _cases() -> list[Path]:
    return sorted(KEYLIFE.glob("chains/*.json"))


def _signature_cases() -> list[Path]:
    return sorted(KEYLIFE.glob("*.json"))


@needs_browser
@pytest.mark.parametrize("case", _signature_cases(), ids=lambda p: p.stem)
def test_shared_key_life_cases_in_chromium(registry_live: Live, phone, case: Path):
    """The cases the audit's rules run (tests/audit/test_keylife_vectors.py): one signature
    after the key records; the page's keyLife must give the same verdict."""
    spec = json.loads(case.read_text())
    entries = [
        {"index": k["index"], "kind": k["record"]["kind"], "keyids": [], "record": k["record"]}
        for k in spec["key_records"]
    ]
    signature = spec["signature"]
    entries.append(
        {
            "index": signature["index"],
            "kind": "storage",
            "keyids": [signature["keyid"]],
            "record": {"kind": "storage", "time": signature["time"]},
        }
    )
    page = phone("en-US")
    page.goto(f"{registry_live.url}/healthz")
    page.add_script_tag(url="/static/verify.js")
    verdicts = page.evaluate(
        "entries => window.GuaranteeRegistryVerify.keyLife(entries).verdicts", entries
    )
    got = verdicts[str(signature["index"])]["verdict"]
    assert got == spec["expected"]["verdict"], f"{case.stem}: the page says {got}"


@needs_browser
@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.stem)
def test_key_life_cases_in_chromium(registry_live: Live, phone, case: Path):
    spec = json.loads(case.read_text())
    page = phone("en-US")
    page.goto(f"{registry_live.url}/healthz")
    page.add_script_tag(url="/static/verify.js")
    verdicts = page.evaluate(
        "entries => window.GuaranteeRegistryVerify.keyLife(entries).verdicts", spec["entries"]
    )
    for entry in spec["entries"]:
        index = str(entry["index"])
        want = spec["verdicts"].get(index, {"verdict": "ok"})
        got = verdicts[index]
        assert got == want, f"{case.stem}: record {index}: the page says {got}, the case {want}"


# --- a saved bundle opened again, offline ---------------------------------------------------


@needs_browser
def test_the_evidence_is_saved_and_opens_again(registry_live: Live, phone, tmp_path: Path):
    live = registry_live
    code = live.code("valid")
    page = phone("zh-CN")
    with page.expect_response(lambda r: r.url.endswith("/verify.json")) as fetched:
        page.goto(f"{live.url}/e/{code}")
    document = fetched.value.json()  # what the page verified
    assert wait_for_verdict(page) == "verified"
    with page.expect_download() as download_info:
        page.click("#bundle-save")
    saved = tmp_path / "bundle.json"
    download_info.value.save_as(saved)
    bundle = json.loads(saved.read_text())
    # The server's bundle format, field for field what the server builds of that document.
    assert bundle["format"] == "guarantee-registry-bundle/v1"
    assert bundle["code"] == code
    assert bundle == build_bundle(document)

    # Opened again with the network gone: verified from the file alone.
    page.route("**/*.json", lambda route: route.abort())
    page.route("**/log/**", lambda route: route.abort())
    page.set_input_files("#bundle-open", str(saved))
    page.locator("html[data-verify-source=bundle]").wait_for(state="attached")
    assert wait_for_verdict(page) == "verified"
    assert root_attribute(page, "data-verify-memory") == "offline"

    # A changed file fails, naming the record.
    entry = next(e for e in bundle["records"] if e["kind"] == "inspection")
    signature = bytearray(base64.b64decode(entry["envelope"]["signatures"][0]["sig"]))
    signature[9] ^= 0x01
    entry["envelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(bundle))
    page.set_input_files("#bundle-open", str(changed))
    page.locator("html[data-verify-state=failed]").wait_for(state="attached")
    assert root_attribute(page, "data-verify-failed") == str(entry["index"])
    assert page.locator("#bundle-save").is_hidden()  # only what verifies is saved

    # A file of another format (the verification document itself) is not a bundle.
    other = tmp_path / "document.json"
    other.write_text(json.dumps(document))
    page.set_input_files("#bundle-open", str(other))
    page.locator("html[data-verify-failed=bundle]").wait_for(state="attached")


# --- keys in the real log: a compromise, and a rogue operator (these change the log) --------


def _signer_of(document: dict[str, Any], kind: str) -> tuple[int, str]:
    entry = next(e for e in document["chain"] if e["kind"] == kind)
    return int(entry["index"]), entry["envelope"]["signatures"][0]["keyid"]


@needs_browser
def test_a_record_dated_after_its_keys_compromise_is_marked_suspect(registry_live: Live, phone):
    live = registry_live
    code = live.code("recalled")
    document = _document(live, code)
    index, keyid = _signer_of(document, "inspection")
    record = next(e for e in document["chain"] if e["index"] == index)["record"]
    signed = datetime.fromisoformat(record["time"])
    with transaction(live.app.state.session_factory) as session:
        key = session.get(SigningKey, keyid)
        assert key is not None and key.account_id is not None
        holder = session.get(Account, key.account_id)
        assert holder is not None
        since = signed - timedelta(hours=1)
        revoke_key(session, live.app.state.ctx, holder, keyid, "phone stolen", since)
    live.app.state.scan_cache.invalidate()
    page = phone("en-US")
    page.goto(f"{live.url}/e/{code}")
    assert wait_for_verdict(page) == "verified", page.locator("#verify").inner_text()
    assert str(index) in (root_attribute(page, "data-verify-suspect") or "").split(",")
    step = page.locator(f"#step-{index}")
    assert step.get_attribute("data-verify") == "suspect"
    assert "compromised" in step.inner_text()
    assert "compromised" in page.locator(".verify-verified").inner_text()


@needs_browser
def test_a_record_signed_after_its_keys_revocation_fails_naming_it(registry_live: Live, phone):
    """A rogue operator: the key is revoked in the log, the operator's database is set back
    to say it is active, and the key signs one more record, which the registry logs. The
    server's own check is fooled; the phone, reading the key's life from the log, is not."""
    live = registry_live
    code = live.code("expired")
    document = _document(live, code)
    _, keyid = _signer_of(document, "storage")
    storage = next(e for e in document["chain"] if e["kind"] == "storage")["record"]
    ctx = live.app.state.ctx
    with transaction(live.app.state.session_factory) as session:
        key = session.get(SigningKey, keyid)
        assert key is not None and key.account_id is not None
        holder = session.get(Account, key.account_id)
        assert holder is not None
        revoke_key(session, ctx, holder, keyid, "left the company")
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with transaction(live.app.state.session_factory) as session:
        session.execute(
            update(SigningKey)
            .where(SigningKey.key_id == keyid)
            .values(status=KeyStatus.ACTIVE, revoked_at=None)
        )
        holder = session.get(Account, holder.id)
        assert holder is not None
        accepted = ingest.sign_and_submit(
            session,
            ctx,
            holder,
            {
                "kind": "storage",
                "time": now,
                "batches": storage["batches"],
                "location": "无名仓库",
                "readings": [{"time": now, "celsius": "4"}],
            },
        )
    live.app.state.scan_cache.invalidate()
    assert any(e["index"] == accepted.index for e in _document(live, code)["chain"])
    page = phone("en-US")
    page.goto(f"{live.url}/e/{code}")
    assert wait_for_verdict(page) == "failed"
    assert root_attribute(page, "data-verify-failed") == str(accepted.index)
    message = page.locator("#verify-failed-step").inner_text()
    assert f"#{accepted.index}" in message, message
    assert "signed after its key was revoked" in message, message
    assert page.locator(f"#step-{accepted.index}").get_attribute("data-verify") == "failed"


# --- cosignatures against the policy, through the page's own code ---------------------------


def _cosigned(timestamp: int) -> tuple[str, list[CosignatureSigner], str]:
    """A checkpoint note signed by a log key and cosigned by two of three witnesses, and the
    policy (2 of the three)."""
    log = NoteSigner("example.org/log", Ed25519PrivateKey.generate())
    witnesses = [
        CosignatureSigner(f"witness-{n}.example", Ed25519PrivateKey.generate()) for n in "abc"
    ]
    root = base64.b64encode(hashlib.sha256(b"tree").digest()).decode()
    text = f"example.org/log\n7\n{root}\n"
    note = add_signatures(f"{text}\n{log.signature_line(text)}", witnesses[:2], timestamp=timestamp)
    policy = "\n".join(f"witness w{i} {w.to_vkey()}" for i, w in enumerate(witnesses))
    return note, witnesses, policy + "\ngroup all-of-us 2 w0 w1 w2\nquorum all-of-us\n"


@needs_browser
@pytest.mark.parametrize("engine", ["webcrypto", "fallback"])
def test_cosignatures_are_checked_against_the_policy(registry_live: Live, phone, engine: str):
    now = int(time.time())
    note, witnesses, policy = _cosigned(now - 30)
    page = phone("en-US")
    if engine == "fallback":
        page.add_init_script(NO_WEBCRYPTO_ED25519)
    page.goto(f"{registry_live.url}/healthz")
    page.add_script_tag(url="/static/verify.js")

    def check(text: str, max_age: int = 3600, rules: str = policy) -> dict[str, Any]:
        return dict(
            page.evaluate(
                "([n, p, m, t]) => window.GuaranteeRegistryVerify.witnessedNote(n, p, m, t)",
                [text, rules, max_age, now],
            )
        )

    result = check(note)
    assert result["ok"] and not result["stale"], result
    assert [w["name"] for w in result["witnesses"]] == [w.name for w in witnesses[:2]]
    assert all(w["time"] == now - 30 for w in result["witnesses"])
    assert page.evaluate("window.GuaranteeRegistryVerify.engine()") == engine
    # One cosignature stripped: 1 of the 2 needed.
    lines = note.split("\n")
    stripped = "\n".join(line for line in lines if witnesses[1].name not in line)
    assert not check(stripped)["ok"]
    # A cosignature with one bit changed does not count.
    forged = note.replace(
        next(line for line in lines if witnesses[1].name in line),
        _flip_last_signature_bit(next(line for line in lines if witnesses[1].name in line)),
    )
    assert not check(forged)["ok"]
    # Older than the policy's window: verified, not recently witnessed.
    assert check(note, max_age=10)["stale"]
    # A witness outside the policy does not count towards it.
    outsider = CosignatureSigner(witnesses[1].name, Ed25519PrivateKey.generate())
    foreign = add_signatures(stripped, [outsider], timestamp=now)
    assert not check(foreign)["ok"]
    assert check(note, rules="quorum none\n")["ok"]


def _flip_last_signature_bit(line: str) -> str:
    prefix, _, blob = line.rpartition(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 0x01
    return f"{prefix} {base64.b64encode(bytes(raw)).decode()}"


@needs_browser
def test_a_different_page_script_body_is_blocked(registry_live: Live, phone):
    """The consumer page names verify.js by its SRI hash and admits only that hash in its
    CSP: a script body the operator changed in flight never runs."""
    page = phone("en-US")
    body = VERIFY_JS.read_text().replace('"verified"', '"verified" ')
    page.route(
        "**/static/verify.js",
        lambda route: route.fulfill(body=body, content_type="text/javascript"),
    )
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    page.goto(f"{registry_live.url}/e/{registry_live.code('valid')}")
    page.wait_for_load_state("networkidle")
    assert any("integrity" in m for m in messages), messages
    assert root_attribute(page, "data-verify-state") == "pending"
    assert page.evaluate("typeof window.GuaranteeRegistryVerify") == "undefined"
    # The genuine body runs.
    page.unroute("**/static/verify.js")
    page.reload()
    assert wait_for_verdict(page) == "verified"


# --- an engine whose CSP does not admit the script (CSP Level 2: hashes match inline only) --


@needs_browser
def test_a_blocked_script_leaves_the_registrys_own_verdict_labelled_as_such(
    registry_live: Live, phone
):
    """Where the hash-only script-src does not admit verify.js (an engine without CSP Level 3
    hash matching of external scripts behaves so), nothing runs: the page shows the
    registry's own result, says so, and offers neither a bundle nor a pending spinner."""
    live = registry_live
    code = live.code("valid")
    page = phone("en-US")
    blocked: list[str] = []
    page.on(
        "console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None
    )

    def refuse_script(route: Any) -> None:
        response = route.fetch()
        csp = response.headers["content-security-policy"]
        # Admit only hashes no external script matches: what a CSP2 engine makes of ours.
        refused = re.sub(r"script-src [^;]*", "script-src 'sha256-" + "A" * 43 + "='", csp)
        route.fulfill(
            response=response, headers={**response.headers, "content-security-policy": refused}
        )

    page.route(f"**/e/{code}", refuse_script)
    page.goto(f"{live.url}/e/{code}")
    page.wait_for_timeout(1500)
    assert blocked, "the script was not refused by the page's CSP"
    assert page.evaluate("document.documentElement.classList.contains('js')") is False
    assert page.locator(".verify-server").is_visible()
    assert "registry's own check" in page.locator(".verify-server").inner_text()
    assert not page.locator(".verify-pending").is_visible()
    assert page.locator("#bundle-save").is_hidden()
    assert page.locator("#report-bundle").is_hidden()
