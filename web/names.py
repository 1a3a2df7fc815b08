"""Names that come from the data (products, organizations, people, places), in the page's
language first. Such data carries both languages itself (``name_zh``/``name_en``): a page
shows the one in its language and the other alongside ("Chinese names first, English
alongside"; docs/i18n.md). Not interface text, so not in the text catalogue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# GB/T 2260 region names: every province-level division, and the prefectures and counties of
# the products the registry was started with. Unknown codes fall back to their province.
REGIONS: dict[str, tuple[str, str]] = {
    "11": ("北京市", "Beijing"),
    "12": ("天津市", "Tianjin"),
    "13": ("河北省", "Hebei"),
    "14": ("山西省", "Shanxi"),
    "15": ("内蒙古自治区", "Inner Mongolia"),
    "21": ("辽宁省", "Liaoning"),
    "22": ("吉林省", "Jilin"),
    "23": ("黑龙江省", "Heilongjiang"),
    "31": ("上海市", "Shanghai"),
    "32": ("江苏省", "Jiangsu"),
    "33": ("浙江省", "Zhejiang"),
    "34": ("安徽省", "Anhui"),
    "35": ("福建省", "Fujian"),
    "36": ("江西省", "Jiangxi"),
    "37": ("山东省", "Shandong"),
    "41": ("河南省", "Henan"),
    "42": ("湖北省", "Hubei"),
    "43": ("湖南省", "Hunan"),
    "44": ("广东省", "Guangdong"),
    "45": ("广西壮族自治区", "Guangxi"),
    "46": ("海南省", "Hainan"),
    "50": ("重庆市", "Chongqing"),
    "51": ("四川省", "Sichuan"),
    "52": ("贵州省", "Guizhou"),
    "53": ("云南省", "Yunnan"),
    "54": ("西藏自治区", "Xizang"),
    "61": ("陕西省", "Shaanxi"),
    "62": ("甘肃省", "Gansu"),
    "63": ("青海省", "Qinghai"),
    "64": ("宁夏回族自治区", "Ningxia"),
    "65": ("新疆维吾尔自治区", "Xinjiang"),
    "71": ("台湾省", "Taiwan"),
    "81": ("香港特别行政区", "Hong Kong"),
    "82": ("澳门特别行政区", "Macao"),
    "1504": ("赤峰市", "Chifeng"),
    "150402": ("红山区", "Hongshan District"),
    "150404": ("松山区", "Songshan District"),
    "150430": ("敖汉旗", "Aohan Banner"),
    "3701": ("济南市", "Jinan"),
    "370102": ("历下区", "Lixia District"),
    "370124": ("平阴县", "Pingyin County"),
    "3715": ("聊城市", "Liaocheng"),
    "371526": ("高唐县", "Gaotang County"),
    "3717": ("菏泽市", "Heze"),
    "371702": ("牡丹区", "Mudan District"),
    "371722": ("单县", "Shan County"),
    "6323": ("黄南藏族自治州", "Huangnan Prefecture"),
    "632324": ("河南蒙古族自治县", "Henan Mongol Autonomous County"),
}


@dataclass(frozen=True)
class Names:
    """Data names in one language, for templates."""

    lang: str

    @property
    def other(self) -> str:
        """The other language."""
        return "en" if self.lang == "zh" else "zh"

    def name(self, item: Mapping[str, Any] | Any, field: str = "name") -> str:
        """``item``'s ``{field}_zh`` or ``{field}_en``, falling back to the other one."""
        first, second = (f"{field}_{self.lang}", f"{field}_{self.other}")
        value = _get(item, first) or _get(item, second)
        return str(value or "")

    def other_name(self, item: Mapping[str, Any] | Any, field: str = "name") -> str:
        """The name in the other language, when it says something the first one did not."""
        value = _get(item, f"{field}_{self.other}")
        return str(value) if value and value != self.name(item, field) else ""

    def region(self, code: str | None) -> str:
        """A GB/T 2260 code in words, from the province down to what is known."""
        if not code:
            return ""
        parts = [REGIONS[code[:n]] for n in (2, 4, 6) if code[:n] in REGIONS and len(code) >= n]
        names = [zh if self.lang == "zh" else en for zh, en in parts]
        if self.lang == "zh":
            return "".join(names)
        return ", ".join(reversed(names))


def _get(item: Mapping[str, Any] | Any, key: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)
