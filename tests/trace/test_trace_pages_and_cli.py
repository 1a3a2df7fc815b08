"""The trace page, and ``registry trace``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from registry.settings import Settings
from tests.endorsements.world import World, expect
from tests.trace.conftest import Lineage


def test_the_trace_page_draws_the_lineage(world: World, lineage: Lineage) -> None:
    code = lineage.code
    page = world.client.get(f"/b/{code[lineage.packaged]}/trace")
    assert page.status_code == 200, page.text[:500]
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    html = page.text
    assert f'data-batch="{code[lineage.packaged]}"' in html
    assert 'data-direction="backward"' in html and 'data-batches="4"' in html
    assert 'data-recalled="false"' in html
    for ref, depth in ((lineage.hulled, 1), (lineage.raw_a, 2), (lineage.raw_b, 2)):
        assert f'data-batch="{code[ref]}" data-depth="{depth}"' in html, f"{ref} at {depth}"
    assert "敖汉小米（谷子原粮）" in html and "投入 600 " in html
    assert f'href="/b/{code[lineage.packaged]}/trace?direction=forward"' in html

    english = world.client.get(f"/b/{code[lineage.raw_a]}/trace?direction=forward&lang=en")
    assert english.status_code == 200
    assert 'data-direction="forward"' in english.text and 'data-batches="3"' in english.text
    assert "Forward: what was made from it" in english.text
    assert english.headers["content-language"] == "en"


def test_the_trace_page_shows_a_recall_on_the_way(world: World, lineage: Lineage) -> None:
    expect(
        world.client.post(
            f"/api/v1/batches/{lineage.code[lineage.raw_b]}/recall",
            json={"reason": "test"},
            headers=world.coop.headers,
        ),
        201,
        "recall",
    )
    html = world.client.get(f"/b/{lineage.code[lineage.packaged]}/trace").text
    assert 'data-recalled="true"' in html and "banner-recalled" in html


def test_trace_page_errors(world: World, lineage: Lineage) -> None:
    missing = world.client.get("/b/ZZZZZZZZZ/trace")
    assert missing.status_code == 404 and 'data-error="404"' in missing.text
    bad = world.client.get(f"/b/{lineage.code[lineage.packaged]}/trace?direction=up")
    assert bad.status_code == 422 and 'data-error="422"' in bad.text
    as_json = world.client.get("/b/ZZZZZZZZZ/trace", headers={"Accept": "application/json"})
    assert as_json.status_code == 404
    assert as_json.headers["content-type"].startswith("application/problem+json")


def _cli(settings: Settings, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": settings.effective_database_url,
        "REGISTRY_DATA_DIR": str(tmp_path / "cli-data"),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "trace", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_registry_trace_prints_a_tree_and_json(
    world: World, lineage: Lineage, settings: Settings, tmp_path: Path
) -> None:
    code = lineage.code
    expect(
        world.client.post(
            f"/api/v1/batches/{code[lineage.raw_a]}/recall",
            json={"reason": "test"},
            headers=world.head.headers,
        ),
        201,
        "recall",
    )
    done = _cli(settings, tmp_path, code[lineage.packaged])
    assert done.returncode == 0, done.stderr
    out = done.stdout
    lines = out.splitlines()
    assert lines[0].startswith(code[lineage.packaged]) and "backward" in lines[0]
    for ref in (lineage.hulled, lineage.raw_a, lineage.raw_b):
        assert code[ref] in out, f"{ref} missing from:\n{out}"
    assert "RECALLED" in out and "harvest" in out and "processing" in out
    assert "(600 kg via #" in out
    raw_a_line = next(line for line in lines if code[lineage.raw_a] in line)
    hulled_line = next(line for line in lines if code[lineage.hulled] in line)
    assert raw_a_line.index(code[lineage.raw_a]) > hulled_line.index(code[lineage.hulled]), (
        "the raw lot is drawn under the hulled millet it went into"
    )
    assert lines[-1].startswith("4 batches, 3 edges")

    as_json = _cli(settings, tmp_path, code[lineage.raw_a], "--direction", "forward", "--json")
    assert as_json.returncode == 0, as_json.stderr
    api = world.client.get(f"/api/v1/batches/{code[lineage.raw_a]}/trace?direction=forward")
    assert json.loads(as_json.stdout) == api.json()

    unknown = _cli(settings, tmp_path, "ZZZZZZZZZ")
    assert unknown.returncode == 1 and "no batch" in unknown.stderr
    bad = _cli(settings, tmp_path, code[lineage.raw_a], "--direction", "up")
    assert bad.returncode == 2 and "direction" in bad.stderr
