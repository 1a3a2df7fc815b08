"""The one Jinja environment of the site: the public pages and the office alike.

Templates live under ``web/templates/`` (the office's under ``web/templates/office/``) and
take their words from the text catalogue (``registry.i18n``; docs/i18n.md): ``{{ _("中文") }}``
or ``{% trans %}中文{% endtrans %}``, with ``pgettext(context, "中文")`` where one Chinese word
needs two English ones and ``%(name)s`` placeholders (new-style gettext: the callable fills
them in and escapes the values). ``render(name, lang, **context)`` renders a template in one
language; the translation callables are passed with each call, never installed on the shared
environment, so pages in two languages can render at once in two threads.

Times are shown in China Standard Time (``registry.clock.CHINA_TZ``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from registry import places, units
from registry.clock import CHINA_TZ
from registry.i18n import HTML_LANG, LANGUAGE_NAMES, SWITCH_TO, other_language, translations
from web import labels
from web.names import Names

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"


def cst(value: str | datetime | None, with_time: bool = True) -> str:
    """A time as viewers read it: Beijing time, ``YYYY-MM-DD HH:MM`` (or the date alone).
    A naive time is UTC, as the database stores it."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def _escaped(context: Context, text: str) -> str:
    # The catalogue is trusted markup-free text; the values put into it are escaped by Markup.
    return Markup(text) if context.eval_ctx.autoescape else text  # noqa: S704


def _gettext(translate: Callable[[str], str]) -> Callable[..., str]:
    @pass_context
    def gettext(context: Context, message: str, /, **variables: Any) -> str:
        return _escaped(context, translate(message)) % variables

    return gettext


def _ngettext(translate: Callable[[str, str, int], str]) -> Callable[..., str]:
    @pass_context
    def ngettext(
        context: Context, singular: str, plural: str, num: int, /, **variables: Any
    ) -> str:
        variables.setdefault("num", num)
        return _escaped(context, translate(singular, plural, num)) % variables

    return ngettext


def _pgettext(translate: Callable[[str, str], str]) -> Callable[..., str]:
    @pass_context
    def pgettext(context: Context, ctx: str, message: str, /, **variables: Any) -> str:
        return _escaped(context, translate(ctx, message)) % variables

    return pgettext


def _npgettext(translate: Callable[[str, str, str, int], str]) -> Callable[..., str]:
    @pass_context
    def npgettext(
        context: Context, ctx: str, singular: str, plural: str, num: int, /, **variables: Any
    ) -> str:
        variables.setdefault("num", num)
        return _escaped(context, translate(ctx, singular, plural, num)) % variables

    return npgettext


@cache
def language_context(lang: str) -> Mapping[str, Any]:
    """What every template gets for ``lang``: the gettext callables (new style, as
    ``jinja2.ext.i18n`` calls them), ``other_gettext`` for a line shown in the other language
    alongside, the language codes, and ``names`` (data names in this language first)."""
    catalogue = translations(lang)
    other = other_language(lang)
    return {
        "_": _gettext(catalogue.gettext),
        "gettext": _gettext(catalogue.gettext),
        "ngettext": _ngettext(catalogue.ngettext),
        "pgettext": _pgettext(catalogue.pgettext),
        "npgettext": _npgettext(catalogue.npgettext),
        "other_gettext": _gettext(translations(other).gettext),
        "other_pgettext": _pgettext(translations(other).pgettext),
        "lang": lang,
        "other_lang": other,
        "html_lang": HTML_LANG.get(lang, lang),
        "names": Names(lang),
    }


@pass_context
def word(context: Context, table: Mapping[str, str], key: str | None) -> str:
    """``key``'s entry of a ``web.labels`` table in the page language; an unknown key is
    shown as itself, its underscores as spaces."""
    message = table.get(key or "")
    if message is None:
        return (key or "").replace("_", " ")
    return str(context.call(context.resolve("_"), message))


@pass_context
def unit(context: Context, code: str | None) -> str:
    """A unit of quantity in the page language (``registry.units``; an unknown unit as
    written)."""
    return units.unit_label(code, str(context.resolve("lang"))) if code else ""


@pass_context
def quantity(context: Context, amount: object, code: str | None) -> str:
    """A quantity with its unit in the page language: ``2800 袋``, ``2,800 bags``."""
    if amount is None or amount == "":
        return ""
    return units.format_quantity(str(amount), code or "", str(context.resolve("lang")))


_REGION_FACTS = ("region", "jurisdiction")


@pass_context
def problem_detail(context: Context, problem: Any) -> str:
    """A refusal's detail in the page language (``web.office.messages.Problem``): its
    catalogue message with the facts filled in and regions named, else the service's words."""
    message = getattr(problem, "message", None)
    if not message:
        return str(getattr(problem, "detail", ""))
    return _say(context, message, dict(problem.facts))


def _say(context: Context, message: str, facts: dict[str, Any]) -> str:
    lang = str(context.resolve("lang"))
    for key in _REGION_FACTS:
        if facts.get(key):
            facts[key] = places.region_label(str(facts[key]), lang)
    return str(context.call(context.resolve("_"), message, **facts))


@pass_context
def precondition_detail(context: Context, result: Any) -> str:
    """What a precondition found, in the page language: each finding through the text
    catalogue (``labels.PRECONDITION_FINDINGS``) with regions named; a result without
    findings (as an endorsement record signs it) as its own words."""
    findings = _field(result, "findings") or ()
    lang = str(context.resolve("lang"))
    sentences = []
    for finding in findings:
        message = labels.PRECONDITION_FINDINGS.get(str(_field(finding, "reason")))
        if message is None:
            return str(_field(result, "detail") or "")
        sentences.append(_say(context, message, dict(_field(finding, "facts") or {})))
    if not sentences:
        return str(_field(result, "detail") or "")
    return ("；" if lang == "zh" else "; ").join(sentences)


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


templates = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
templates.newstyle_gettext = True  # type: ignore[attr-defined]
templates.filters["cst"] = cst
templates.filters["cst_date"] = lambda v: cst(v, with_time=False)
templates.globals.update(
    word=word,
    unit=unit,
    quantity=quantity,
    precondition_detail=precondition_detail,
    problem_detail=problem_detail,
    labels=labels,
    language_names=LANGUAGE_NAMES,
    switch_to=SWITCH_TO,
)


def render(name: str, lang: str, /, **context: Any) -> str:
    """The template ``name`` rendered in ``lang`` with ``context``."""
    return templates.get_template(name).render({**language_context(lang), **context})
