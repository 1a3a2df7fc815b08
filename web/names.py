"""Names that come from the data (products, organizations, people, places), in the page's
language first. Such data carries both languages itself (``name_zh``/``name_en``): a page
shows the one in its language and the other alongside ("Chinese names first, English
alongside"; docs/i18n.md). Not interface text, so not in the text catalogue. Region names
come from the GB/T 2260 dataset (``registry.places``; docs/regions.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from registry import places


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
        """A GB/T 2260 code (or a jurisdiction's prefix) in words (``registry.places``);
        a code that names no division as itself."""
        if not code:
            return ""
        return places.region_name(code, self.lang) or code

    def other_region(self, code: str | None) -> str:
        """The code in words in the other language, when that says something else."""
        if not code:
            return ""
        other = places.region_name(code, self.other) or ""
        return other if other != self.region(code) else ""

    def region_label(self, code: str | None) -> str:
        """A code in words with the code after it: ``内蒙古自治区赤峰市红山区（150402）``."""
        return places.region_label(code, self.lang) if code else ""


def _get(item: Mapping[str, Any] | Any, key: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)
