"""GS1 Digital Link URI syntax (GS1 Digital Link URI Syntax 1.4): parse and validate the
path and query of an uncompressed Digital Link URI, AI by AI.

A path is ``/{primary key AI}/{value}`` followed by that key's qualifiers, each
``/{AI}/{value}``, in the one order the standard gives (§4.6, e.g. ``/01/…/22/…/10/…/21/…``;
``/01/…/235/…`` is the other sequence of a GTIN). The query holds data attributes
(``?17=281231&3103=000189``, §4.8: AIs permitted there) and other parameters such as
``linkType`` and ``context`` (GS1-Conformant resolver standard 1.1 §5). Every value is
checked against its AI's format (``registry.gs1_syntax``): length, character set, check
digit, dates; then the AIs of path and query together against the pairing rules (General
Specifications §4.14: ``/00/…?3103=…`` lacks the GTIN a net weight needs). Anything wrong
raises ``InvalidInput`` naming the AI and the fault: a resolver answers 400 to a URI that is
not a Digital Link, never 200 or 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from registry.errors import InvalidInput
from registry.gs1_syntax import (
    AI_TABLE,
    AiSpec,
    ai_label,
    check_ai_pairings,
    validate_ai_value,
)

GS1_VOCABULARY = "https://gs1.org/voc/"
"""The GS1 Web Vocabulary namespace of link types; ``gs1:pip`` is ``https://gs1.org/voc/pip``."""
GS1_VOCABULARY_ALIASES = ("https://ref.gs1.org/voc/", "https://www.gs1.org/voc/")
LINKSET_TYPES = frozenset({"all", "linkset"})
"""``linkType`` values asking for every link: an RFC 9264 linkset (resolver standard §6.5)."""

_AI = re.compile(r"^[0-9]{2,4}$")
_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CURIE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*:[A-Za-z][A-Za-z0-9_-]*$")
_LINK_TYPE_URI = re.compile(r"^https?://[^\s<>\"]+$")


@dataclass(frozen=True)
class DigitalLink:
    """A valid Digital Link: its primary key, key qualifiers (path order), data attributes
    (query order) and the other query parameters."""

    primary_ai: str
    primary_value: str
    qualifiers: tuple[tuple[str, str], ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    parameters: tuple[tuple[str, str], ...] = ()

    def value(self, ai: str) -> str | None:
        """The value of ``ai`` in the path or the query, if present."""
        if ai == self.primary_ai:
            return self.primary_value
        for key, value in (*self.qualifiers, *self.attributes):
            if key == ai:
                return value
        return None

    def parameter(self, name: str) -> str | None:
        """A non-AI query parameter (``linkType``, ``context`` …), if present."""
        return next((v for k, v in self.parameters if k == name), None)

    @property
    def path(self) -> str:
        """The canonical path: the key and its qualifiers, each value percent-encoded
        (RFC 3986 §2.1) so every character of set 82 survives in a path segment."""
        pairs = ((self.primary_ai, self.primary_value), *self.qualifiers)
        return "".join(f"/{ai}/{quote(value, safe='')}" for ai, value in pairs)

    @property
    def link_type(self) -> str | None:
        """The requested link type, normalized: ``all`` or ``linkset`` as given, a GS1 Web
        Vocabulary term as its ``gs1:`` CURIE, any other link relation as given."""
        raw = self.parameter("linkType")
        if raw is None:
            return None
        return normalize_link_type(raw)


def normalize_link_type(raw: str) -> str:
    """A ``linkType`` value as a ``gs1:`` CURIE when it names a GS1 Web Vocabulary term (by
    CURIE or by URI), else unchanged."""
    for namespace in (GS1_VOCABULARY, *GS1_VOCABULARY_ALIASES):
        if raw.startswith(namespace):
            return "gs1:" + raw[len(namespace) :]
    return raw


def percent_decode(text: str, what: str) -> str:
    """Percent-decode once, strictly: a ``%`` must start a valid UTF-8 escape; ``what``
    names the value in the refusal."""
    if _ESCAPE.search(text):
        raise InvalidInput(f"{what}: {text!r} has a % that is not a percent-escape")
    try:
        data = re.sub(
            rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8")
        )
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{what}: {text!r} is not UTF-8 once decoded") from None


def _spec(ai: str, where: str) -> AiSpec:
    if not _AI.match(ai) or ai not in AI_TABLE:
        raise InvalidInput(f"{where}: {ai!r} is not a GS1 Application Identifier", ai=ai)
    return AI_TABLE[ai]


def _checked(ai: str, value: str) -> str:
    if ai in ("01", "02") and value.isascii() and value.isdigit() and len(value) in (8, 12, 13):
        validate_ai_value(ai, value.zfill(14))  # a wrong check digit is the first thing to say
        raise InvalidInput(
            f"{ai_label(ai)} {value!r}: a GTIN in a Digital Link is 14 digits "
            f"(GTIN-8, -12 and -13 with leading zeros: {value.zfill(14)})",
            ai=ai,
        )
    return validate_ai_value(ai, value)


def _in_order(qualifiers: list[str], paths: tuple[tuple[str, ...], ...]) -> bool:
    """Whether ``qualifiers`` follow one of ``paths`` in order, each at most once."""
    if not qualifiers:
        return True
    for path in paths:
        position = 0
        for ai in qualifiers:
            try:
                position = path.index(ai, position) + 1
            except ValueError:
                break
        else:
            return True
    return False


def parse_path(raw_path: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """The primary key (AI, value) and the qualifiers of a raw (still percent-encoded) path."""
    if not raw_path.startswith("/"):
        raise InvalidInput("a Digital Link path starts with /")
    segments = raw_path[1:].split("/")
    if len(segments) % 2:
        raise InvalidInput(
            f"path segment {segments[-1]!r} has no value: a Digital Link path is /AI/value pairs",
            ai=segments[-1],
        )
    pairs = [(segments[i], segments[i + 1]) for i in range(0, len(segments), 2)]
    primary_ai = pairs[0][0]
    spec = _spec(primary_ai, "primary key")
    if not spec.primary_key:
        raise InvalidInput(
            f"({primary_ai}) is not a GS1 primary key: a Digital Link path begins with one "
            "(01 GTIN, 00 SSCC, 414 GLN …)",
            ai=primary_ai,
        )
    decoded = []
    for ai, raw in pairs:
        if not raw:
            raise InvalidInput(f"({ai}) has an empty value", ai=ai)
        decoded.append((ai, percent_decode(raw, f"({ai})")))
    qualifiers = decoded[1:]
    for ai, _ in qualifiers:
        _spec(ai, "key qualifier")
        if ai not in spec.qualifiers:
            allowed = " or ".join("/".join(p) for p in spec.qualifier_paths) or "none"
            raise InvalidInput(
                f"({ai}) is not a key qualifier of ({primary_ai}) (its qualifiers: {allowed})",
                ai=ai,
            )
    if not _in_order([ai for ai, _ in qualifiers], spec.qualifier_paths):
        order = " or ".join("/".join(p) for p in spec.qualifier_paths)
        raise InvalidInput(
            f"key qualifiers of ({primary_ai}) out of order: "
            f"{'/'.join(ai for ai, _ in qualifiers)}, expected the order {order}",
            ai=primary_ai,
        )
    for ai, value in decoded:
        _checked(ai, value)
    return primary_ai, decoded[0][1], tuple(qualifiers)


def parse_query(
    query: str, path_ais: set[str]
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """Data attributes (AIs) and other parameters of a raw query string."""
    attributes: list[tuple[str, str]] = []
    parameters: list[tuple[str, str]] = []
    seen: set[str] = set()
    for part in query.split("&") if query else []:
        if not part:
            continue
        raw_key, _, raw_value = part.partition("=")
        key = percent_decode(raw_key.replace("+", " "), "query")
        value = percent_decode(raw_value.replace("+", " "), f"query {key!r}")
        if key in seen:
            raise InvalidInput(f"query parameter {key!r} is given twice", ai=key)
        seen.add(key)
        if not key.isascii() or not key.isdigit():
            parameters.append((key, value))
            continue
        spec = _spec(key, "query")
        if key in path_ais:
            raise InvalidInput(f"({key}) is in the path already", ai=key)
        if not spec.data_attribute:
            raise InvalidInput(
                f"({key}) may not be a Digital Link data attribute (a key qualifier belongs "
                "in the path, in its order)",
                ai=key,
            )
        attributes.append((key, _checked(key, value)))
    link_type = next((v for k, v in parameters if k == "linkType"), None)
    if link_type is not None and not (
        link_type in LINKSET_TYPES or _CURIE.match(link_type) or _LINK_TYPE_URI.match(link_type)
    ):
        raise InvalidInput(
            f"linkType {link_type!r} must be all, linkset, a CURIE such as gs1:pip, or a URI"
        )
    return tuple(attributes), tuple(parameters)


def parse_digital_link(raw_path: str, query: str = "") -> DigitalLink:
    """Parse and validate an uncompressed Digital Link URI's path (as sent, percent-encoded)
    and query, each value and then the AIs' pairings. Raises ``InvalidInput`` naming what
    is wrong."""
    primary_ai, primary_value, qualifiers = parse_path(raw_path)
    path_ais = {primary_ai, *(ai for ai, _ in qualifiers)}
    attributes, parameters = parse_query(query, path_ais)
    check_ai_pairings([primary_ai, *(ai for ai, _ in (*qualifiers, *attributes))])
    return DigitalLink(primary_ai, primary_value, qualifiers, attributes, parameters)
