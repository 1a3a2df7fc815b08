"""Reading one captured EPCIS 2.0 event: accessors that collect problems instead of
stopping, so a capture report names everything wrong with an event at once.

Also the shared readers of quantities (EPCIS 2.0 QuantityElement: ``epcClass``, ``quantity``,
``uom``) and the resolution of class identifiers to batches of this registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from registry.crypto.jcs import canonicalize
from registry.exports.epcis.document import MasterClass
from registry.exports.epcis.values import decimal_text
from registry.exports.epcis.vocabulary import CODE_UNITS, NS


@dataclass(frozen=True)
class ResolvedClass:
    """A class identifier resolved to a batch ref, and the unit the registry knows for it."""

    ref: str
    unit: str | None = None


Resolver = Callable[[str, bool], ResolvedClass]
"""``resolve(identifier, creating)``: the batch ref of a class identifier; ``creating`` when
the event makes the batch (so it cannot be looked up by code). Raises ValueError."""


class EventView:
    """Accessors over one captured event that collect problems instead of stopping."""

    def __init__(
        self,
        event: dict[str, Any],
        prefixes: frozenset[str],
        classes: dict[str, MasterClass],
        namespaces: dict[str, str] | None = None,
    ) -> None:
        self.event = event
        self.prefixes = prefixes
        self.classes = classes
        self.namespaces = namespaces or {}
        self.items: list[str] = []  # the instance-level identifiers read (epcList …)
        self.problems: list[tuple[str, str]] = []

    def problem(self, path: str, message: str) -> None:
        """Note a problem at ``path`` (within the event)."""
        self.problems.append((path, message))

    def ext(self, name: str, where: dict[str, Any] | None = None) -> Any:
        """A registry extension field of the event (or of ``where``), under any prefix the
        document binds to the registry namespace, or as a full IRI."""
        source = self.event if where is None else where
        for prefix in self.prefixes:
            if f"{prefix}:{name}" in source:
                return source[f"{prefix}:{name}"]
        return source.get(NS + name)

    def text(self, key: str) -> str | None:
        """A standard field if it is a string, else None."""
        value = self.event.get(key)
        return value if isinstance(value, str) else None

    def list(self, key: str) -> list[Any]:
        """A standard list field (empty if absent; a problem if not a list)."""
        value = self.event.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(key, "must be a list")
            return []
        return value

    def ilmd(self) -> dict[str, Any]:
        """The event's ILMD (instance/lot master data), or an empty one."""
        ilmd = self.event.get("ilmd")
        return ilmd if isinstance(ilmd, dict) else {}


def keep_extension(
    view: EventView, path: str, key: str, value: object, into: dict[str, str]
) -> None:
    """A user extension field (EPCIS 2.0 §6.4) into ``into``, its value as RFC 8785 JSON
    text; a problem naming ``path`` if its name is not a namespaced IRI or its value no JSON."""
    prefix, colon, _ = key.partition(":")
    if not colon or (prefix not in view.namespaces and "//" not in key):
        view.problem(path, "cannot be represented: an extension field is a namespaced IRI")
        return
    try:
        into[key] = canonicalize(value).decode()
    except Exception as exc:
        view.problem(path, f"cannot be represented as RFC 8785 JSON ({exc})")


def extension_namespaces(view: EventView, extensions: Iterable[dict[str, str]]) -> dict[str, str]:
    """The namespaces of the document's prefixes that extension fields use, in their names
    or inside their values."""
    used: set[str] = set()
    for kept in extensions:
        used |= {k.partition(":")[0] for k in kept}
        used |= set(re.findall(r'"([A-Za-z_][\w.-]*):', "".join(kept.values())))
    return {p: iri for p, iri in view.namespaces.items() if p in used}


def event_id(event: object) -> str | None:
    """The ``eventID`` of an event, if it has one."""
    if isinstance(event, dict) and isinstance(event.get("eventID"), str):
        return str(event["eventID"])
    return None


def quantity_elements(view: EventView, key: str) -> list[tuple[str, dict[str, Any]]]:
    """(path, element) of each QuantityElement of the list ``key`` that has an epcClass."""
    found = []
    for i, element in enumerate(view.list(key)):
        path = f"{key}[{i}]"
        if not isinstance(element, dict) or not isinstance(element.get("epcClass"), str):
            view.problem(path, "needs an epcClass")
            continue
        found.append((path, element))
    return found


def resolve_class(
    view: EventView, path: str, identifier: str, resolve: Resolver, creating: bool
) -> ResolvedClass | None:
    """``resolve`` the identifier, noting a problem (and None) if it cannot be."""
    try:
        return resolve(identifier, creating)
    except ValueError as exc:
        view.problem(path, str(exc))
        return None


def amount(view: EventView, path: str, element: dict[str, Any], required: bool) -> str | None:
    """The quantity of a QuantityElement as a registry decimal string."""
    if "quantity" not in element:
        if required:
            view.problem(f"{path}.quantity", "required")
        return None
    try:
        return decimal_text(element["quantity"])
    except ValueError as exc:
        view.problem(f"{path}.quantity", str(exc))
        return None


def unit_of(view: EventView, path: str, element: dict[str, Any], fallback: str | None) -> str:
    """The registry unit of a QuantityElement: ``gr:units``, else its UN/ECE ``uom``."""
    units = view.ext("units")
    if isinstance(units, dict) and isinstance(units.get(element["epcClass"]), str):
        return str(units[element["epcClass"]])
    uom = element.get("uom")
    if isinstance(uom, str):
        unit = CODE_UNITS.get(uom)
        if unit is None:
            view.problem(f"{path}.uom", f"unit {uom!r} is not one the registry knows")
            return uom
        return unit
    # EPCIS 2.0 §7.3.3.3: a quantity without uom counts instances of the class.
    return fallback or "piece"


def instance_batches(
    view: EventView, key: str, resolve: Resolver
) -> list[tuple[str, dict[str, Any], str]]:
    """(path, element, ref) of the batch of each instance-level identifier of the list
    ``key`` (epcList, childEPCs …), one per batch; the identifiers go to ``view.items``.

    An instance names its batch when it carries its lot: a GS1 Digital Link URI
    ``/01/{GTIN}/10/{lot}/21/{serial}``. One that carries none (an SGTIN URN, a Digital Link
    ``/01/{GTIN}/21/{serial}``) names the batch an earlier record listed it in with its lot
    (the resolver's to find)."""
    found: dict[str, tuple[str, dict[str, Any], str]] = {}
    for i, identifier in enumerate(view.list(key)):
        path = f"{key}[{i}]"
        if isinstance(identifier, str):
            view.items.append(identifier)
        resolved = instance_batch(view, path, identifier, resolve, False)
        if resolved is not None and resolved.ref not in found:
            found[resolved.ref] = (path, {"epcClass": identifier}, resolved.ref)
    return list(found.values())


def instance_batch(
    view: EventView, path: str, identifier: object, resolve: Resolver, creating: bool
) -> ResolvedClass | None:
    """The batch an instance-level identifier names, noting a problem (and None) if none.

    An instance names its batch when it carries its lot: a GS1 Digital Link URI
    ``/01/{GTIN}/10/{lot}/21/{serial}``. One that carries none (an SGTIN URN, a Digital Link
    ``/01/{GTIN}/21/{serial}``) names the batch an earlier record listed it in with its lot
    (the resolver's to find)."""
    if not isinstance(identifier, str):
        view.problem(path, "must be an identifier (a URI)")
        return None
    return resolve_class(view, path, identifier, resolve, creating)


def named_batches(view: EventView, resolve: Resolver) -> list[tuple[str, dict[str, Any], str]]:
    """(path, quantity element, ref) of every class the event's quantityList names, and of
    the batches of its instance-level identifiers (epcList)."""
    found = []
    for path, element in quantity_elements(view, "quantityList"):
        resolved = resolve_class(view, f"{path}.epcClass", element["epcClass"], resolve, False)
        if resolved is not None:
            found.append((path, element, resolved.ref))
    refs = {ref for _, _, ref in found}
    found += [b for b in instance_batches(view, "epcList", resolve) if b[2] not in refs]
    if not found and not view.problems:
        view.problem("quantityList", "names no batch (a class-level epcClass per batch)")
    return found
