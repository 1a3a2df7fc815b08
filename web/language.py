"""The language of a page: ``?lang=zh|en`` (the visible toggle, a plain link that works
without JavaScript), else ``Accept-Language``, else Chinese (``registry.i18n.negotiate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from registry.i18n import HTML_LANG, negotiate, other_language


@dataclass(frozen=True)
class Language:
    """The page language, and whether the viewer chose it (then links keep ``?lang=``)."""

    code: str
    explicit: bool

    @property
    def html_lang(self) -> str:
        """The BCP 47 tag, for ``<html lang>`` and Content-Language."""
        return HTML_LANG[self.code]

    @property
    def suffix(self) -> str:
        """What links append to keep a chosen language."""
        return f"?lang={self.code}" if self.explicit else ""

    def headers(self) -> dict[str, str]:
        """The response headers that say the language and what it depends on."""
        return {"Content-Language": self.html_lang, "Vary": "Accept-Language"}


def language_of(request: Request) -> Language:
    """The language ``request`` asks for."""
    lang, explicit = negotiate(
        request.query_params.get("lang"), request.headers.get("accept-language")
    )
    return Language(lang, explicit)


_SCAN_LANGUAGES: dict[tuple[bytes, bytes], Language] = {}


def scan_language(request: Request) -> Language:
    """language_of for the scan path: remembered per (query string, Accept-Language), since a
    burst of viewers sends a handful of distinct values (bounded: cleared when it grows)."""
    accept = b""
    for name, value in request.scope["headers"]:
        if name == b"accept-language":
            accept = value
            break
    key = (request.scope.get("query_string", b""), accept)
    language = _SCAN_LANGUAGES.get(key)
    if language is None:
        language = language_of(request)
        if len(_SCAN_LANGUAGES) > 1024:
            _SCAN_LANGUAGES.clear()
        _SCAN_LANGUAGES[key] = language
    return language


def toggle_keeping_query(request: Request, language: Language) -> str:
    """The language toggle's link to this page with its other query parameters kept (a
    trace keeps its direction)."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return f"{request.url.path}?{urlencode([*query, ('lang', other_language(language.code))])}"


def page_context(request: Request, language: Language, path: str | None = None) -> dict[str, Any]:
    """What base.html needs besides the language: the language toggle's link (to ``path``,
    by default the page's own) and the suffix that keeps a chosen language on links."""
    return {
        "link_suffix": language.suffix,
        "toggle_url": f"{path or request.url.path}?lang={other_language(language.code)}",
    }
