"""``registry sign`` with a file that is missing, unreadable or not a key: one ``error:``
line on standard error and exit status 2, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")


def _registry(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in LOCALE_VARIABLES}
    env["REGISTRY_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key.json"
    done = _registry(tmp_path, "keys", "generate", "--out", str(path))
    assert done.returncode == 0, done.stderr
    return path


def _assert_one_error_line(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, f"exit {done.returncode}: {done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"
    assert done.stdout == "", "nothing may be printed as if signed"


def test_a_missing_record_file(tmp_path: Path, key_file: Path):
    done = _registry(tmp_path, "sign", "missing.json", "--key", str(key_file))
    _assert_one_error_line(done, "missing.json", "No such file")


def test_a_record_path_that_is_a_directory(tmp_path: Path, key_file: Path):
    (tmp_path / "records").mkdir()
    done = _registry(tmp_path, "sign", "records", "--key", str(key_file))
    _assert_one_error_line(done, "records")


def test_a_missing_key_file(tmp_path: Path):
    (tmp_path / "record.json").write_text("{}")
    done = _registry(tmp_path, "sign", "record.json", "--key", "no-such-key.json")
    _assert_one_error_line(done, "no-such-key.json", "No such file")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not json", ["not valid JSON"]),
        ("[]", ["JSON object"]),
        (json.dumps({"type": "ed25519"}), ["['key_id', 'private_key', 'public_key', 'type']"]),
        (b"\xff\xfe".decode("latin-1"), []),
    ],
)
def test_a_file_that_is_not_a_key(tmp_path: Path, content: str, words: list[str]):
    (tmp_path / "record.json").write_text("{}")
    (tmp_path / "bad-key.json").write_text(content, encoding="latin-1")
    done = _registry(tmp_path, "sign", "record.json", "--key", "bad-key.json")
    _assert_one_error_line(done, "bad-key.json", *words)


def test_a_record_that_is_not_json(tmp_path: Path, key_file: Path):
    (tmp_path / "record.json").write_text("{nope")
    done = _registry(tmp_path, "sign", "record.json", "--key", str(key_file))
    _assert_one_error_line(done, "record.json", "not JSON")
