"""The whole consumer page in Chromium against `registry serve --demo` and its real witness:
the witnessed step is ok on the cosigned checkpoint, and fails, naming the step, when the
cosignature lines are stripped from the verification document on its way to the phone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import POSTGRES_URL
from tests.support import registry_env, running_registry
from tests.web import test_consumer_page as consumer
from tests.web.test_consumer_page import _tamper, needs_browser, root_attribute, wait_for_verdict

browser = consumer.browser  # the consumer-page tests' Chromium and phone fixtures
phone = consumer.phone

WITNESS = "demo-witness.localhost"


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
