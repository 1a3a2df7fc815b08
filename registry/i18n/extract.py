"""What the sources ask of the text catalogue: every message marked in the Python code and
the templates, found with Babel's extractors as ``babel.cfg`` at the repository root maps
them (docs/i18n.md). Used by the catalogue's test and by ``scripts/i18n.sh``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "N_": None,
    "_zh": None,
    "_en": None,
    "_pzh": ((1, "c"), 2),
    "_pen": ((1, "c"), 2),
}
"""The marker functions of a message: ``_``, ``N_``, ``gettext``, ``ngettext``, ``pgettext``
(and Babel's other defaults); ``_zh``/``_en`` and ``_pzh``/``_pen`` (gettext and pgettext in
a fixed language, for text printed in both, e.g. the 合格证 PDF)."""

MessageKey = tuple[str | None, str]
"""A message as the catalogue keys it: (``msgctxt`` or None, ``msgid``)."""


@dataclass
class Extracted:
    """The messages found, each with where it is used (``path:line``)."""

    uses: dict[MessageKey, list[str]] = field(default_factory=dict)

    def add(self, key: MessageKey, where: str) -> None:
        """Record one use of ``key``."""
        self.uses.setdefault(key, []).append(where)


def extract(root: Path, config: Path | None = None, only: Iterable[str] = ()) -> Extracted:
    """Every message marked under ``root`` as ``config`` (default ``root/babel.cfg``) maps
    the files; with ``only``, just the files whose path (relative to ``root``) starts with
    one of those prefixes."""
    with (config or root / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]
    prefixes = tuple(only)
    found = Extracted()
    for path, line, message, _comments, context in extract_from_dir(
        root, method_map, options_map, keywords=KEYWORDS
    ):
        if prefixes and not path.startswith(prefixes):
            continue
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.add((context, msgid), f"{path}:{line}")
    return found
