"""The CBV 2.0 event hash of EPCIS 2.0 events: ``ni:///sha-256;<hex>?ver=CBV2.0``.

CBV 2.0 §8.9 ("Event hash") names an event by the SHA-256 of a canonical pre-hash string:
its fields in a fixed order, times in UTC to the millisecond, identifiers as canonical GS1
Digital Link URIs, CBV values as web-vocabulary URIs, user extensions last; ``eventID``,
``recordTime`` and ``errorDeclaration`` are left out, so an error declaration has the hash of
the event it declares wrong. The algorithm is defined by its reference implementation
(``epcis-event-hash-generator``, MIT): this module runs it, rather than a second copy of
its rules that could drift. tests/exports/test_epcis_event_hash.py holds it to the
reference's own published expected hashes (tests/vectors/epcis-thirdparty/event-hash/).

Three things are made safe around it. Its JSON-LD processor would fetch an unknown
``@context`` URL from the network: here only the EPCIS 2.0 context it ships is loaded,
under each URL GS1 publishes it at (``_CONTEXT_FILES``), and any other URL is refused
(``EventHashError`` naming ``@context``): the terms of a context the registry cannot see
cannot be expanded, and a capture never waits on someone else's server. It reads the
namespaces of a document's own context as plain prefix → IRI pairs and fails on a term
definition (``"ex:count": {"@type": "xsd:integer"}``), which JSON-LD allows: those give it
the IRI of a definition that has one (``@id``) and nothing else, as a prefix without an
IRI adds nothing to the pre-hash. And it keeps those namespaces in module state, so calls
are serialized and that state is cleared for each document.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import logging
import threading
from typing import Any

from epcis_event_hash_generator import hash_generator, json_to_py
from epcis_event_hash_generator.json_xml_model_mismatch_correction import (
    deep_structure_correction,
)
from pyld import jsonld

HASH_PREFIX = "ni:///sha-256;"
HASH_SUFFIX = "?ver=CBV2.0"

_RATIFIED = "e532647e8eb371379b8b0e8602d8981c8566bc60f7351f22c76a5bc865962008.jsonld"
_CONTEXT_FILES = {
    # The EPCIS 2.0 JSON-LD context, as the reference implementation ships it, under the
    # URLs GS1 publishes it at: the draft's GitHub pages (the 2.0 terms, a quantity typed
    # xsd:decimal rather than xsd:double, which no pre-hash reads), the ratified 2.0.0
    # one, the current-version URL and its versioned 2.0.1 name (the same terms again:
    # read with the ratified file, as the reference ships no other).
    "https://gs1.github.io/EPCIS/epcis-context.jsonld": (
        "14b10c9d3e92d35f577bfc610fe5ec15aa2941124987919389d7cd9998516861.jsonld"
    ),
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld": _RATIFIED,
    "https://ref.gs1.org/standards/epcis/epcis-context.jsonld": _RATIFIED,
    "https://ref.gs1.org/standards/epcis/2.0.1/epcis-context.jsonld": _RATIFIED,
}
_LOCK = threading.Lock()
_contexts: dict[str, Any] = {}


class EventHashError(ValueError):
    """The event hash of a document cannot be computed: its ``@context`` cannot be read,
    or an event cannot be (``path`` names which, within the document)."""

    def __init__(self, message: str, path: str = "@context") -> None:
        super().__init__(message)
        self.path = path


def _context(url: str) -> Any:
    """A shipped EPCIS context, parsed once."""
    if url not in _contexts:
        name = _CONTEXT_FILES[url]
        resource = importlib.resources.files("epcis_event_hash_generator").joinpath(name)
        _contexts[url] = json.loads(resource.read_text(encoding="utf-8"))
    return copy.deepcopy(_contexts[url])


def _offline_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """JSON-LD document loader: the shipped EPCIS contexts, nothing from the network."""
    if url not in _CONTEXT_FILES:
        raise jsonld.JsonLdError(
            f"@context {url} is not one this registry reads (only the EPCIS 2.0 context)",
            "jsonld.LoadDocumentError",
            code="loading document failed",
        )
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": _context(url),
    }


def is_event_hash(text: object) -> bool:
    """Whether ``text`` is written as a CBV 2.0 SHA-256 event hash."""
    if not isinstance(text, str):
        return False
    if not (text.startswith(HASH_PREFIX) and text.endswith(HASH_SUFFIX)):
        return False
    digest = text[len(HASH_PREFIX) : -len(HASH_SUFFIX)]
    return len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)


def _prefixes(context: Any) -> Any:
    """A document's context as the reference reads namespaces from it: each prefix of a
    local context to its IRI (a term definition to its ``@id``, if it has one)."""
    if not isinstance(context, list):
        return context  # the reference reads no namespaces from a lone URL or object
    read: list[Any] = []
    for item in context:
        if isinstance(item, dict):
            pairs = {
                key: value if isinstance(value, str) else value.get("@id")
                for key, value in item.items()
            }
            read.append({k: v for k, v in pairs.items() if isinstance(v, str)})
        else:
            read.append(item)
    return read


def _event_list(document: dict[str, Any]) -> Any:
    """``json_to_py.event_list_from_epcis_document_json`` with the document's namespaces
    read by ``_prefixes``: the same for every context the reference reads."""
    json_to_py._namespaces.clear()
    expanded = json_to_py._bare_string_pre_preocessing(copy.deepcopy(document))
    if expanded.get("@context") is not None:
        json_to_py._collect_namespaces_from_jsonld_context(_prefixes(expanded["@context"]))
    events = expanded["epcisBody"]["eventList"]
    return ("EventList", "", [deep_structure_correction(json_to_py._json_to_py(e)) for e in events])


def _hashes(document: dict[str, Any]) -> list[str]:
    hashes: list[str] = hash_generator.epcis_hashes_from_events(_event_list(document))
    return hashes


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _check_context(context: Any) -> None:
    """Expand the document's context alone: what is wrong with it (JSON-LD 1.1 forbids
    redefining a term the EPCIS context protects, ``cbvmda`` …) is named as its error."""
    try:
        jsonld.expand({"@context": context, "@id": "urn:x", "urn:x": "x"})
    except Exception as exc:
        cause = exc
        while getattr(cause, "cause", None) is not None:  # pyld wraps the reason
            cause = cause.cause  # type: ignore[attr-defined]
        detail = getattr(cause, "args", [None])[0] or _first_line(cause)
        details = getattr(cause, "details", None) or {}
        where = details.get("context")  # the local context at fault, e.g. {"cbvmda": …}
        detail = f"{detail} ({json.dumps(where)})" if isinstance(where, dict) else detail
        raise EventHashError(f"the @context cannot be read as JSON-LD 1.1: {detail}") from None


def event_hashes(document: dict[str, Any]) -> list[str]:
    """The CBV 2.0 event hash of each event of an EPCISDocument, in ``eventList`` order.

    Raises EventHashError if the document's ``@context`` names a context other than the
    EPCIS 2.0 one, or an event cannot be read by the algorithm."""
    context = document.get("@context")
    cleaned = [c for c in context if c] if isinstance(context, list) else context
    for item in cleaned if isinstance(cleaned, list) else [cleaned]:
        if isinstance(item, str) and item not in _CONTEXT_FILES:
            raise EventHashError(
                f"@context {item} is not one this registry reads: it reads the EPCIS 2.0 "
                "context (under the URLs GS1 publishes it at) and fetches no other, so the "
                "terms of this one cannot be expanded"
            )
    events = document.get("epcisBody", {}).get("eventList", [])
    base = {k: v for k, v in document.items() if k != "epcisBody"}
    base["@context"] = cleaned
    logger = logging.getLogger()
    with _LOCK:
        previous_loader = jsonld.get_document_loader()
        jsonld.set_document_loader(_offline_loader)
        level = logger.level
        logger.setLevel(max(level, logging.CRITICAL))  # the reference logs every failure
        try:
            _check_context(cleaned)
            try:
                hashes = _hashes({**base, "epcisBody": {"eventList": events}})
            except Exception:
                hashes = []  # find the event it cannot read, below
            if len(hashes) != len(events):
                # The reference skips (or fails on) an event it cannot read: find which.
                hashes = []
                for i, event in enumerate(events):
                    where = f"epcisBody.eventList[{i}]"
                    try:
                        one = _hashes({**base, "epcisBody": {"eventList": [event]}})
                    except Exception as exc:
                        message = "the reference event hash algorithm cannot read this event"
                        raise EventHashError(f"{message} ({_first_line(exc)})", where) from None
                    if len(one) != 1:
                        raise EventHashError(f"{where} cannot be hashed", where)
                    hashes.extend(one)
        except EventHashError:
            raise
        except Exception as exc:
            raise EventHashError(f"the event hash cannot be computed: {_first_line(exc)}") from None
        finally:
            jsonld.set_document_loader(previous_loader)
            logger.setLevel(level)
    return hashes


def pre_hash(event: dict[str, Any], context: Any) -> str:
    """The pre-hash string of one event (CBV 2.0 §8.9), its parts joined by newlines: what
    two events' hashes differ by, for a person to read."""
    document = {"@context": context, "type": "EPCISDocument", "epcisBody": {"eventList": [event]}}
    with _LOCK:
        previous_loader = jsonld.get_document_loader()
        jsonld.set_document_loader(_offline_loader)
        try:
            events = _event_list(document)
            return str(hash_generator.derive_prehashes_from_events(events, join_by="\n")[0])
        finally:
            jsonld.set_document_loader(previous_loader)


def event_hash(event: dict[str, Any], context: Any) -> str:
    """The CBV 2.0 event hash of one event read under ``context`` (a document's
    ``@context``). Raises EventHashError as ``event_hashes`` does."""
    return event_hashes(
        {"@context": context, "type": "EPCISDocument", "epcisBody": {"eventList": [event]}}
    )[0]
