"""The whole consumer page in Chromium against `registry serve --demo` and its real witness:
the witnessed step is ok on the cosigned checkpoint, and fails, naming the step, when the
cosignature lines are stripped from the verification document on its way to the phone."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.demo import DEMO_PASSWORD
from tests.conftest import POSTGRES_URL
from tests.support import registry_env, running_registry
from tests.web import test_consumer_page as consumer
from tests.web.test_consumer_page import _tamper, needs_browser, root_attribute, wait_for_verdict

browser = consumer.browser  # the consumer-page tests' Chromium and phone fixtures
phone = consumer.phone

WITNESS = "demo-witness.localhost"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def witnessed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A served demo registry with its witness; the URL and an endorsement code whose
    verification document already carries the witness's cosignature."""
    tmp_path = tmp_path_factory.mktemp("phone-witnessed")
    env = registry_env(tmp_path, "sqlite", POSTGRES_URL, "unused")
    env.pop("REGISTRY_WITNESSES", None)
    with running_registry(env, tmp_path / "serve.log", "--demo") as base:
        code = httpx.get(f"{base}/api/v1/endorsements", timeout=10).json()[0]["code"]
        deadline = time.monotonic() + 30
        while f"— {WITNESS} " not in _note(base, code):
            assert time.monotonic() < deadline, "no cosigned checkpoint in 30 s"
            time.sleep(0.5)
        yield base, code


def _note(base: str, code: str) -> str:
    document = httpx.get(f"{base}/e/{code}/verify.json", timeout=10).json()
    return str(document["checkpoint"]["note"])


@needs_browser
def test_the_page_shows_the_checkpoint_witnessed(witnessed: tuple[str, str], phone: Any):
    base, code = witnessed
    page = phone("en-US")
    page.goto(f"{base}/e/{code}")
    assert wait_for_verdict(page) == "verified"
    assert root_attribute(page, "data-verify-witnessed") == "ok"
    step = page.locator("[data-log-step=witnessed]")
    assert step.get_attribute("data-verify") == "ok"
    assert WITNESS in step.inner_text()


@needs_browser
def test_stripped_cosignatures_fail_the_witnessed_step(witnessed: tuple[str, str], phone: Any):
    base, code = witnessed
    page = phone("en-US")
    stripped: list[str] = []

    def strip(document: dict[str, Any]) -> None:
        note = document["checkpoint"]["note"]
        lines = note.split("\n")
        kept = [line for line in lines if not line.startswith(f"— {WITNESS} ")]
        assert len(kept) < len(lines), note  # there was a cosignature to strip
        document["checkpoint"]["note"] = "\n".join(kept)
        stripped.append(document["checkpoint"]["note"])

    _tamper(page, strip)
    page.goto(f"{base}/e/{code}")
    assert wait_for_verdict(page) == "failed"
    assert stripped, "the document was not intercepted"
    assert root_attribute(page, "data-verify-failed") == "witnessed"
    step = page.locator("[data-log-step=witnessed]")
    assert step.get_attribute("data-verify") == "failed"
    failed_line = page.locator("#verify-failed-step").inner_text()
    # The verdict names the step and why: the witnessed step, too few cosignatures.
    assert "Independent witnesses cosigned the log checkpoint" in failed_line, failed_line
    assert "too few valid witness cosignatures" in failed_line, failed_line
    assert "too few valid witness cosignatures" in step.inner_text()


def _verify_bundle(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "verify-bundle", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@needs_browser
def test_the_page_saves_what_verify_bundle_verifies_and_opens_it_again(
    witnessed: tuple[str, str], phone: Any, tmp_path: Path
):
    """One bundle format: the file the page saves from what it verified is the server's
    bundle.json, `registry verify-bundle` verifies it (pinned to the log and the witness),
    and the page opens it again offline; a tampered copy fails both, naming the record."""
    base, code = witnessed
    page = phone("zh-CN")
    page.goto(f"{base}/e/{code}")
    assert wait_for_verdict(page) == "verified"
    with page.expect_download() as download_info:
        page.click("#bundle-save")
    saved = tmp_path / "saved.json"
    download_info.value.save_as(saved)
    bundle = json.loads(saved.read_text())
    assert bundle["format"] == "guarantee-registry-bundle/v1" and bundle["code"] == code
    assert f"\n— {WITNESS} " in bundle["checkpoint"]
    for record in bundle["records"]:
        assert record["tlog_proof"].startswith("c2sp.org/tlog-proof@v1\nextra ")
        assert record["tlog_proof"].endswith("\n\n" + bundle["checkpoint"])
    served = httpx.get(f"{base}/e/{code}/bundle.json", timeout=10).json()
    if served["checkpoint"] == bundle["checkpoint"]:  # no fresher cosignature in between
        assert served == bundle

    vkey = httpx.get(f"{base}/log/vkey", timeout=10).text.strip()
    ok = _verify_bundle(saved, "--vkey", vkey)
    assert ok.returncode == 0, ok.stderr
    assert f"OK: endorsement {code}: {len(bundle['records'])} records verified" in ok.stdout
    assert f"witnessed by {WITNESS}" in ok.stdout

    # Opened again in the page with the network gone: verified from the file alone.
    page.route("**/*.json", lambda route: route.abort())
    page.route("**/log/**", lambda route: route.abort())
    page.set_input_files("#bundle-open", str(saved))
    page.locator("html[data-verify-source=bundle]").wait_for(state="attached")
    assert wait_for_verdict(page) == "verified"
    assert root_attribute(page, "data-verify-memory") == "offline"
    assert root_attribute(page, "data-verify-witnessed") == "ok"

    # Tampered: one signature bit of the inspection record.
    record = next(r for r in bundle["records"] if r["kind"] == "inspection")
    signature = bytearray(base64.b64decode(record["envelope"]["signatures"][0]["sig"]))
    signature[9] ^= 0x01
    record["envelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(bundle))
    bad = _verify_bundle(tampered, "--vkey", vkey)
    assert bad.returncode == 1, bad.stdout
    assert (
        f"FAILED: bundle: record at index {record['index']} (inspection): bad signature"
        in bad.stderr
    ), bad.stderr
    page.set_input_files("#bundle-open", str(tampered))
    page.locator("html[data-verify-state=failed]").wait_for(state="attached")
    assert root_attribute(page, "data-verify-failed") == str(record["index"])

    # Tampered: the cosignature line taken out of every proof's checkpoint and the bundle's.
    stripped = json.loads(saved.read_text())
    bare = "\n".join(
        line for line in stripped["checkpoint"].split("\n") if not line.startswith(f"— {WITNESS} ")
    )
    for item in [*stripped["records"], stripped["witness_policy"]["record"]]:
        item["tlog_proof"] = item["tlog_proof"].replace(stripped["checkpoint"], bare)
    stripped["checkpoint"] = bare
    unwitnessed = tmp_path / "unwitnessed.json"
    unwitnessed.write_text(json.dumps(stripped))
    bad = _verify_bundle(unwitnessed)
    assert bad.returncode == 1 and "FAILED: bundle: checkpoint:" in bad.stderr, bad.stderr
    page.set_input_files("#bundle-open", str(unwitnessed))
    page.locator("html[data-verify-failed=witnessed]").wait_for(state="attached")


@needs_browser
def test_a_report_from_the_phone_carries_the_bundle_it_verified(
    witnessed: tuple[str, str], phone: Any, tmp_path: Path
):
    """The report form attaches the bundle the phone verified (ticked by default); the
    office's complaints page offers it for download, and verify-bundle verifies it. Unticked,
    the report goes without one."""
    base, code = witnessed
    page = phone("en-US")
    page.goto(f"{base}/e/{code}")
    assert wait_for_verdict(page) == "verified"
    attach = page.locator("#report-attach")
    assert attach.is_visible() and attach.is_checked()
    marker = f"{time.time_ns()}"
    for ticked in (True, False):
        page.check("input[name=category][value=quality_problem]")
        page.fill("#report-text", f"The millet smelled musty ({marker} {ticked}).")
        if not ticked:
            page.uncheck("#report-attach")
        page.click(".report-form button[type=submit]")
        page.locator("[data-testid=report-message]").wait_for()
        assert "Thank you" in page.locator("[data-testid=report-message]").inner_text()
        page.goto(f"{base}/e/{code}")
        assert wait_for_verdict(page) == "verified"

    office = phone("zh-CN")
    office.goto(f"{base}/office/login")
    office.fill("#f-username", "admin")
    office.fill("#f-password", DEMO_PASSWORD)
    office.click("[data-testid=login-submit]")
    office.locator("[data-testid=whoami]").wait_for()
    office.goto(f"{base}/office/complaints")
    with_bundle = office.locator("[data-testid=complaint]", has_text=f"({marker} True)")
    without = office.locator("[data-testid=complaint]", has_text=f"({marker} False)")
    assert without.count() == 1 and without.locator("[data-testid=complaint-bundle]").count() == 0
    link = with_bundle.locator("[data-testid=complaint-bundle] a")
    response = office.request.get(f"{base}{link.get_attribute('href')}")
    assert response.ok, response.status
    saved = tmp_path / "attached.json"
    saved.write_bytes(response.body())
    assert json.loads(saved.read_text())["code"] == code
    checked = _verify_bundle(saved)
    assert checked.returncode == 0, checked.stderr
    assert f"witnessed by {WITNESS}" in checked.stdout
