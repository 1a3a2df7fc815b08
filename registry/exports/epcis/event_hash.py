"""The CBV 2.0 event hash of EPCIS 2.0 events: ``ni:///sha-256;<hex>?ver=CBV2.0``.

CBV 2.0 §8.9 ("Event hash") names an event by the SHA-256 of a canonical pre-hash string:
its fields in a fixed order, times in UTC to the millisecond, identifiers as canonical GS1
Digital Link URIs, CBV values as web-vocabulary URIs, user extensions last; ``eventID``,
``recordTime`` and ``errorDeclaration`` are left out, so an error declaration has the hash of
the event it declares wrong. The algorithm is defined by its reference implementation
(``epcis-event-hash-generator``, MIT): this module runs it, rather than a second copy of
its rules that could drift. tests/exports/test_epcis_event_hash.py holds it to the
reference's own published expected hashes (tests/vectors/epcis-thirdparty/event-hash/).

Two things are made safe around it. Its JSON-LD processor would fetch an unknown
``@context`` URL from the network: here only the EPCIS 2.0 contexts it ships are loaded,
and any other URL is refused (``EventHashError``), so a capture never waits on someone
else's server. And it keeps the namespaces of the document it reads in module state, so
calls are serialized and that state is cleared for each document.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import logging
import threading
from typing import Any

from epcis_event_hash_generator import hash_generator, json_to_py
from pyld import jsonld

HASH_PREFIX = "ni:///sha-256;"
HASH_SUFFIX = "?ver=CBV2.0"

_CONTEXT_FILES = {
    # The EPCIS 2.0 JSON-LD contexts, as the reference implementation ships them.
    "https://gs1.github.io/EPCIS/epcis-context.jsonld": (
        "14b10c9d3e92d35f577bfc610fe5ec15aa2941124987919389d7cd9998516861.jsonld"
    ),
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld": (
        "e532647e8eb371379b8b0e8602d8981c8566bc60f7351f22c76a5bc865962008.jsonld"
    ),
    "https://ref.gs1.org/standards/epcis/epcis-context.jsonld": (
        "e532647e8eb371379b8b0e8602d8981c8566bc60f7351f22c76a5bc865962008.jsonld"
    ),
}
_LOCK = threading.Lock()
_contexts: dict[str, Any] = {}


class EventHashError(ValueError):
    """The event hash of a document cannot be computed (its ``@context`` cannot be read)."""


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


def _hashes(document: dict[str, Any]) -> list[str]:
    json_to_py._namespaces.clear()
    events = json_to_py.event_list_from_epcis_document_json(copy.deepcopy(document))
    hashes: list[str] = hash_generator.epcis_hashes_from_events(events)
    return hashes


def event_hashes(document: dict[str, Any]) -> list[str]:
    """The CBV 2.0 event hash of each event of an EPCISDocument, in ``eventList`` order.

    Raises EventHashError if the document's ``@context`` names a context other than the
    EPCIS 2.0 one, or an event cannot be read by the algorithm."""
    context = document.get("@context")
    cleaned = [c for c in context if c] if isinstance(context, list) else context
    for item in cleaned if isinstance(cleaned, list) else [cleaned]:
        if isinstance(item, str) and item not in _CONTEXT_FILES:
            raise EventHashError(
                f"@context {item} is not one this registry reads (only the EPCIS 2.0 context)"
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
            hashes = _hashes({**base, "epcisBody": {"eventList": events}})
            if len(hashes) != len(events):
                # The reference skips an event it cannot read: find which, one at a time.
                hashes = []
                for i, event in enumerate(events):
                    one = _hashes({**base, "epcisBody": {"eventList": [event]}})
                    if len(one) != 1:
                        raise EventHashError(f"epcisBody.eventList[{i}] cannot be hashed")
                    hashes.extend(one)
        except EventHashError:
            raise
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise EventHashError(f"the event hash cannot be computed: {first}") from None
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
            json_to_py._namespaces.clear()
            events = json_to_py.event_list_from_epcis_document_json(copy.deepcopy(document))
            return str(hash_generator.derive_prehashes_from_events(events, join_by="\n")[0])
        finally:
            jsonld.set_document_loader(previous_loader)


def event_hash(event: dict[str, Any], context: Any) -> str:
    """The CBV 2.0 event hash of one event read under ``context`` (a document's
    ``@context``). Raises EventHashError as ``event_hashes`` does."""
    return event_hashes(
        {"@context": context, "type": "EPCISDocument", "epcisBody": {"eventList": [event]}}
    )[0]
