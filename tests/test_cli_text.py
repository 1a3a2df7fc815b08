"""The ``registry`` command's messages for people come from the text catalogue, in the
language the environment asks for (docs/i18n.md): English unless it asks for Chinese."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from registry.i18n import cli_language, gettext_for

LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")


@pytest.mark.parametrize(
    ("environ", "lang"),
    [
        ({}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "POSIX"}, "en"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "zh_TW.UTF-8"}, "zh"),
        ({"LANG": "zh"}, "zh"),
        ({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
        ({"LC_ALL": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "en"),
        ({"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LC_ALL": "", "LANG": "zh_CN.UTF-8"}, "zh"),
        # LANGUAGE is a priority list, read when the locale is not C (as GNU gettext does).
        ({"LANG": "en_US.UTF-8", "LANGUAGE": "zh_CN:en"}, "zh"),
        ({"LANG": "zh_CN.UTF-8", "LANGUAGE": "fr:en"}, "en"),
        ({"LANG": "zh_CN.UTF-8", "LANGUAGE": "fr"}, "zh"),
        ({"LANG": "C.UTF-8", "LANGUAGE": "zh_CN"}, "en"),
        ({"LANGUAGE": "zh_CN"}, "en"),
    ],
)
def test_cli_language(environ: dict[str, str], lang: str) -> None:
    assert cli_language(environ) == lang


def _db_upgrade(tmp_path: Path, **locale: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in LOCALE_VARIABLES}
    env.pop("REGISTRY_DATABASE_URL", None)  # SQLite in the data dir
    env.update(REGISTRY_DATA_DIR=str(tmp_path / "data"), **locale)
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_cli_messages_in_chinese_when_asked(tmp_path: Path) -> None:
    chinese = _db_upgrade(tmp_path, LANG="zh_CN.UTF-8")
    assert chinese.stderr == "数据库已是最新\n"
    assert gettext_for("en")("数据库已是最新") == "database is up to date"
    for locale in ({}, {"LANG": "C.UTF-8"}, {"LANG": "en_US.UTF-8"}):
        assert _db_upgrade(tmp_path, **locale).stderr == "database is up to date\n", locale
