"""Units of quantity in words: ``bag`` is 袋 on a Chinese page and "bags" on an English one.

A record's ``unit`` is a short code (``kg``, ``box`` …; ``registry.records.fields.Unit``), the
same codes the EPCIS export maps to UN/ECE Recommendation 20 (``registry.exports.epcis.
vocabulary.UNIT_CODES``). The table below names each in both languages; a unit it does not
know is shown as written. Symbols (kg, g, t, L, mL) stay symbols in English and take no
plural; counted things (bag, box …) do.

Pure core, like ``registry.places``: the words are data of the unit, not interface text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class UnitName:
    """A unit's Chinese measure word and its English singular and plural."""

    zh: str
    en: str
    en_plural: str


def _counted(zh: str, en: str, plural: str | None = None) -> UnitName:
    return UnitName(zh, en, plural or en + "s")


def _symbol(zh: str, en: str) -> UnitName:
    return UnitName(zh, en, en)


UNITS: dict[str, UnitName] = {
    "kg": _symbol("千克", "kg"),
    "g": _symbol("克", "g"),
    "mg": _symbol("毫克", "mg"),
    "t": _symbol("吨", "t"),
    "L": _symbol("升", "L"),
    "l": _symbol("升", "L"),
    "mL": _symbol("毫升", "mL"),
    "ml": _symbol("毫升", "mL"),
    "piece": _counted("个", "piece"),
    "pcs": _counted("个", "piece"),
    "bag": _counted("袋", "bag"),
    "box": _counted("盒", "box", "boxes"),
    "carton": _counted("箱", "carton"),
    "case": _counted("箱", "case"),
    "bottle": _counted("瓶", "bottle"),
    "jar": _counted("罐", "jar"),
    "tray": _counted("托", "tray"),
    "dozen": _counted("打", "dozen", "dozen"),
    "head": _counted("头", "head", "head"),
    "egg": _counted("枚", "egg"),
    "pack": _counted("包", "pack"),
    "bundle": _counted("捆", "bundle"),
    "barrel": _counted("桶", "barrel"),
}
"""Every unit code the registry names, in both languages."""

_DECIMAL_RE = re.compile(r"^(-?)([0-9]+)((?:\.[0-9]+)?)$")


def _is_chinese(lang: str) -> bool:
    return lang.lower().startswith("zh")


def unit_label(unit: str, lang: str = "zh-CN") -> str:
    """The word for ``unit`` in ``lang`` (``bag`` → 袋 / bag); an unknown unit as written."""
    name = UNITS.get(unit)
    if name is None:
        return unit
    return name.zh if _is_chinese(lang) else name.en


def format_quantity(quantity: str, unit: str, lang: str = "zh-CN") -> str:
    """A quantity with its unit: ``2800 袋`` in Chinese, ``2,800 bags`` in English (thousands
    grouped, the plural unless the quantity is exactly one; the decimal string's digits are
    kept as they are)."""
    name = UNITS.get(unit)
    if _is_chinese(lang):
        return f"{quantity} {name.zh if name else unit}".strip()
    number = _grouped(quantity)
    if name is None:
        return f"{number} {unit}".strip()
    word = name.en if _is_one(quantity) else name.en_plural
    return f"{number} {word}"


def _grouped(quantity: str) -> str:
    """``2800`` → ``2,800``; ``12345.50`` → ``12,345.50``; anything else as written."""
    match = _DECIMAL_RE.match(quantity)
    if match is None:
        return quantity
    sign, whole, fraction = match.groups()
    return f"{sign}{int(whole):,}{fraction}"


def _is_one(quantity: str) -> bool:
    match = _DECIMAL_RE.match(quantity)
    if match is None:
        return False
    _, whole, fraction = match.groups()
    return int(whole) == 1 and not fraction.strip(".0")
