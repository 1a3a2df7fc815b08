"""The demo accounts ``registry serve --demo`` prints: each with its password, role, and the
organization it belongs to with the organization's kind, in the environment's language."""

from __future__ import annotations

import pytest

from app.cli.serve import _print_accounts

ACCOUNTS = [
    {
        "role": "clerk",
        "username": "aohan-clerk",
        "password": "guarantee-demo-2026",
        "organization": "敖汉旗金谷小米种植专业合作社",
        "organization_en": "Aohan Golden Millet Growers' Cooperative",
        "organization_kind": "cooperative",
    },
    {
        "role": "official",
        "username": "aohan-head",
        "password": "guarantee-demo-2026",
        "organization": "敖汉旗人民政府",
        "organization_en": "Aohan Banner People's Government [test]",
        "organization_kind": "authority",
    },
]


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "C.UTF-8",
            [
                ("aohan-clerk", "Clerk", "Aohan Golden Millet Growers' Cooperative (Cooperative)"),
                ("aohan-head", "Official", "Aohan Banner People's Government [test] (Authority)"),
            ],
        ),
        (
            "zh_CN.UTF-8",
            [
                ("aohan-clerk", "记录员", "敖汉旗金谷小米种植专业合作社 (合作社)"),
                ("aohan-head", "官员", "敖汉旗人民政府 (政府机关)"),
            ],
        ),
    ],
)
def test_each_account_names_its_organization_and_kind(monkeypatch, capsys, lang, expected):
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", lang)
    _print_accounts(ACCOUNTS)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 + len(ACCOUNTS), lines  # a heading, then one line each
    for line, (username, role, organization) in zip(lines[1:], expected, strict=True):
        assert line.split()[0] == username, line
        assert "guarantee-demo-2026" in line and role in line, line
        assert line.endswith(organization), f"{line!r} does not end with {organization!r}"
