"""The one text catalogue: every word the registry shows a person, in Chinese and English.

Standard gettext (one domain, ``messages``), read through Babel. The source language is
zh-CN: a message id is the Chinese text itself, and the English catalogue translates it
(``locale/en/LC_MESSAGES/messages.po``). The Chinese catalogue maps each id to itself, so a
page in Chinese goes through the same lookup as one in English.

Compiled ``.mo`` files are built at install time (``scripts/i18n.sh compile``; docs/i18n.md)
and are not kept in git. A checkout without them still works: the ``.po`` is then compiled
in memory on first use.

Data that carries both languages itself (product, organization and person names) is not
interface text and stays in the data.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("zh", "en")
"""The languages of the pages, as ``?lang=`` spells them."""

DEFAULT_LANGUAGE = "zh"
"""The language of a request that asks for none we have."""

HTML_LANG = {"zh": "zh-CN", "en": "en"}
"""The BCP 47 tag (RFC 5646) of each language, for ``<html lang>`` and Content-Language."""

LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
"""Each language's name in itself, as a language toggle shows it (never translated)."""

SWITCH_TO = {"zh": "切换到中文", "en": "Switch to English"}
"""What a toggle to each language says, in that language (its accessible name)."""

DOMAIN = "messages"
"""The gettext domain of the catalogue."""

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
"""Where the catalogues live: ``{LOCALE_DIR}/{locale}/LC_MESSAGES/messages.po``."""

LOCALES = {"zh": "zh_CN", "en": "en"}
"""The gettext locale directory of each language."""


def negotiate(requested: str | None, accept_language: str | None) -> tuple[str, bool]:
    """The page language and whether it was asked for explicitly (``?lang=``).

    ``Accept-Language`` (RFC 9110 §12.5.4) is read for its best-weighted ``zh`` or ``en``
    range; anything else, or nothing, means Chinese."""
    if requested in LANGUAGES:
        return requested, True
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for item in (accept_language or "").split(","):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        # Strictly greater: of equally weighted ranges, the one listed first wins.
        if q > best_q:
            best, best_q = primary, q
    return best, False


def cli_language(environ: Mapping[str, str]) -> str:
    """The language of a command line's messages, chosen as gettext chooses it.

    The message locale is the first non-empty of ``LC_ALL``, ``LC_MESSAGES`` and ``LANG``;
    when it is set and not ``C``/``POSIX`` (``C.UTF-8`` too), ``LANGUAGE`` (a colon-separated
    priority list) is read first, as GNU gettext does. A locale or entry starting with ``zh``
    means Chinese; anything else, or nothing, means English (the language of scripts and CI).
    """
    locale = next(
        (environ[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(name)), ""
    )
    if not locale or locale.split(".")[0] in ("C", "POSIX"):
        return "en"
    for entry in environ.get("LANGUAGE", "").split(":"):
        if entry.startswith(("zh", "en")):
            return entry[:2]
    return "zh" if locale.startswith("zh") else "en"


def other_language(lang: str) -> str:
    """The language a page's toggle switches to."""
    return "en" if lang == "zh" else "zh"


def catalogue_path(lang: str, suffix: str = ".po") -> Path:
    """The catalogue file of ``lang`` (``.po`` source, or ``.mo`` compiled)."""
    return LOCALE_DIR / LOCALES[lang] / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang`` (cached for the process): the compiled ``.mo`` when it is
    there and not older than its ``.po``, else the ``.po`` compiled in memory with Babel.
    An unknown language gets the identity (the Chinese source text)."""
    if lang not in LOCALES:
        return gettext.NullTranslations()
    po, mo = catalogue_path(lang), catalogue_path(lang, ".mo")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as compiled:
            return gettext.GNUTranslations(compiled)
    if not po.exists():
        return gettext.NullTranslations()
    return gettext.GNUTranslations(io.BytesIO(compile_catalogue(po)))


def compile_catalogue(po: Path) -> bytes:
    """The ``.mo`` bytes of the catalogue ``po`` (GNU gettext MO format, via Babel)."""
    with po.open("rb") as source:
        catalog = read_po(source)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def gettext_for(lang: str) -> Callable[[str], str]:
    """The ``_`` of ``lang``: a Chinese message id to its text in that language."""
    return translations(lang).gettext


def pgettext_for(lang: str) -> Callable[[str, str], str]:
    """``pgettext`` of ``lang``, for one Chinese word that needs two English ones."""
    return translations(lang).pgettext


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue without translating it: for module-level tables
    whose entries are translated when a page is rendered."""
    return message
