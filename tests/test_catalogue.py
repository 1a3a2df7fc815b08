"""The one text catalogue (registry/i18n; docs/i18n.md) against the sources that use it.

Every message marked in the code and templates (extracted with Babel's extractors, as
babel.cfg maps them) must be in both catalogues with a non-empty msgstr, the Chinese
catalogue must say what the msgid says, placeholders must agree, and no catalogue entry
may be left that nobody uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from registry.i18n import LOCALES, catalogue_path, gettext_for, pgettext_for, translations
from registry.i18n.extract import MessageKey, extract

ROOT = Path(__file__).resolve().parent.parent

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.fixture(scope="module")
def used() -> dict[MessageKey, list[str]]:
    found = extract(ROOT).uses
    assert len(found) > 100, "the extractor found almost nothing: is babel.cfg mapped?"
    return found


def _catalogue(lang: str) -> Catalog:
    with catalogue_path(lang).open("rb") as po:
        return read_po(po)


def _entries(catalogue: Catalog) -> dict[MessageKey, str]:
    entries: dict[MessageKey, str] = {}
    for message in catalogue:
        if message.id:
            msgid = message.id[0] if isinstance(message.id, tuple) else message.id
            entries[(message.context, msgid)] = str(message.string or "")
    return entries


@pytest.mark.parametrize("lang", sorted(LOCALES))
def test_every_message_used_is_translated(lang: str, used: dict[MessageKey, list[str]]) -> None:
    entries = _entries(_catalogue(lang))
    missing = {key: where for key, where in used.items() if not entries.get(key)}
    assert not missing, f"not (or emptily) in the {lang} catalogue: {missing}"


@pytest.mark.parametrize("lang", sorted(LOCALES))
def test_no_entry_is_obsolete(lang: str, used: dict[MessageKey, list[str]]) -> None:
    obsolete = sorted(set(_entries(_catalogue(lang))) - set(used), key=str)
    assert not obsolete, f"{lang} catalogue entries nobody uses: {obsolete}"


def test_the_chinese_catalogue_says_the_msgid() -> None:
    differs = {k: v for k, v in _entries(_catalogue("zh")).items() if v != k[1]}
    assert not differs


def test_placeholders_agree_in_both_languages() -> None:
    wrong = {
        key: text
        for key, text in _entries(_catalogue("en")).items()
        if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(key[1]))
    }
    assert not wrong


def test_the_catalogue_is_read_at_run_time() -> None:
    translations.cache_clear()
    assert gettext_for("en")("有效") == "Valid"
    assert gettext_for("zh")("有效") == "有效"
    assert pgettext_for("en")("tag", "已召回") == "recalled"
    assert gettext_for("en")("没有这个背书") == "No such endorsement"


def test_the_back_office_is_in_the_catalogue(used: dict[MessageKey, list[str]]) -> None:
    """The office's templates and handlers are scanned like every other source, and its
    words read in both languages, contexts too."""
    places = {where.split(":")[0] for uses in used.values() for where in uses}
    assert any(p.startswith("web/templates/office/") for p in places)
    assert any(p.startswith("web/office/") for p in places)
    assert gettext_for("en")("背书审核") == "Endorsement review"
    assert pgettext_for("en")("plural", "批次") == "Batches"
    assert gettext_for("en")("检测") == "Lab test"
