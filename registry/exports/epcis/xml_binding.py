"""The EPCIS 2.0 XML binding, read into the JSON-LD form that capture takes.

An ``EPCISDocument`` of the EPCIS 2.0.1 XML schema (namespace ``urn:epcglobal:epcis:xsd:2``)
becomes the JSON-LD document GS1's XML ↔ JSON-LD mapping gives (EPCIS 2.0.1 §9.1 and the
JSON-LD binding): events under ``EPCISBody/EventList`` become ``epcisBody.eventList`` with
their ``type``; the ``extension`` and ``baseExtension`` wrappers of the schema (also the
EPCIS 1.2-style ``extension/extension`` nesting it keeps) are flattened; list wrappers
(``epcList/epc``, ``quantityList/quantityElement``, ``sensorElementList/sensorElement`` …)
become arrays; ``bizTransaction``, ``source`` and ``destination`` become objects with their
``type`` attribute; ``sensorMetadata`` and ``sensorReport`` attributes become fields (numbers
as numbers, ``booleanValue`` a boolean); CBV URNs (``urn:epcglobal:cbv:bizstep:shipping``)
become the bare CBV terms of the JSON-LD binding; a user extension element becomes a field
named by its prefix (``example:userElement``) whose namespace is declared in ``@context``.

What the capture then does to the document is exactly what it does to one sent as JSON-LD:
the same checks, records and CBV 2.0 event hash. So a refused event names its field by the
JSON path the converted event has (``epcisBody.eventList[0].quantityList[0].quantity``). Only
what cannot be converted at all is refused here: XML that is not well-formed, a document of
another kind, and DTD entity declarations.

The parser loads no DTD, resolves no entity and reads nothing from the network; a document
that declares an entity is refused rather than read with the entity left out.

``document_to_xml`` writes the other way, for the XML export: the elements in the order of
the EPCIS 2.0 XSD, CBV terms as their URNs, GS1 sensor terms as ``gs1:…``.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from registry.errors import InvalidInput
from registry.exports.epcis.vocabulary import EPCIS_CONTEXT

EPCIS_NS = "urn:epcglobal:epcis:xsd:2"
"""The namespace of the EPCIS 2.0 XML schema's document elements."""

XML_MEDIA_TYPES = frozenset({"application/xml", "text/xml"})
"""The media types of the XML binding (RFC 7303); ``…+xml`` is read as XML too."""

_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_CBVMDA = "urn:epcglobal:cbv:mda#"
# Prefixes the EPCIS 2.0 context defines (protected: a document may not redefine them).
_CONTEXT_PREFIXES = frozenset({"epcis", "cbv", "cbvmda", "gs1", "rdfs", "owl", "xsd", "dcterms"})
_EVENT_TYPES = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent"}
    | {"AssociationEvent"}
)
_WRAPPERS = frozenset({"extension", "baseExtension"})
# List elements of the schema and the name of their items.
_LISTS = {
    "epcList": "epc",
    "childEPCs": "epc",
    "inputEPCList": "epc",
    "outputEPCList": "epc",
    "quantityList": "quantityElement",
    "childQuantityList": "quantityElement",
    "inputQuantityList": "quantityElement",
    "outputQuantityList": "quantityElement",
    "bizTransactionList": "bizTransaction",
    "sourceList": "source",
    "destinationList": "destination",
    "sensorElementList": "sensorElement",
    "correctiveEventIDs": "correctiveEventID",
}
# Items written as text with a ``type`` attribute: ``{"type": …, "<name>": text}``.
_TYPED_ITEMS = frozenset({"bizTransaction", "source", "destination"})
# The CBV 2.0 vocabularies of fields (CBV 2.0 §6, §7): the URN form's prefix and the web
# vocabulary's term prefix (``https://ref.gs1.org/cbv/BizStep-``, compact ``cbv:BizStep-``).
_CBV_VOCABULARIES = {
    "bizStep": ("urn:epcglobal:cbv:bizstep:", "BizStep-"),
    "disposition": ("urn:epcglobal:cbv:disp:", "Disp-"),
    "set": ("urn:epcglobal:cbv:disp:", "Disp-"),
    "unset": ("urn:epcglobal:cbv:disp:", "Disp-"),
    "reason": ("urn:epcglobal:cbv:er:", "ER-"),
    "bizTransaction.type": ("urn:epcglobal:cbv:btt:", "BTT-"),
    "source.type": ("urn:epcglobal:cbv:sdt:", "SDT-"),
    "destination.type": ("urn:epcglobal:cbv:sdt:", "SDT-"),
}
_CBV_WEB = ("https://ref.gs1.org/cbv/", "cbv:")
# Fields that may repeat in XML and are arrays in JSON-LD.
_ARRAYS = frozenset({"set", "unset", "sensorReport"})
_QUANTITIES = frozenset({"quantity"})
_SENSOR_NUMBERS = frozenset(
    {"value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"}
)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")


class XmlDocumentError(InvalidInput):
    """An XML body that cannot be read as an EPCIS 2.0 document. ``errors`` names where, as
    the capture's envelope errors do (``path``, ``message``)."""

    code = "invalid-epcis-xml"

    def __init__(self, path: str, message: str, status: int = 422) -> None:
        super().__init__(f"{path}: {message}", errors=[{"path": path, "message": message}])
        self.http_status = status


def is_xml(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` names the XML binding (``application/xml``, ``text/xml``,
    or a ``+xml`` type), parameters such as ``charset`` aside."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media in XML_MEDIA_TYPES or media.endswith("+xml")


def _parser() -> etree.XMLParser:
    # No DTD, no entity substitution, no network, no huge-tree lifting of lxml's limits.
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(body: bytes) -> etree._Element:
    """The root element of an XML body, parsed safely (see the module docstring).

    Raises XmlDocumentError (400) if the body is not well-formed or declares entities."""
    try:
        tree = etree.fromstring(body, _parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise XmlDocumentError(
            "(document)", f"malformed XML at line {line}, column {column}: {exc.msg}", 400
        ) from None
    dtd = tree.docinfo.internalDTD
    if dtd is not None and (list(dtd.iterentities()) or list(dtd.iterelements())):
        raise XmlDocumentError(
            "(document)", "a DTD with declarations is not accepted (no entities, no DTD)", 400
        )
    root = tree.getroot()
    if any(isinstance(node, etree._Entity) for node in root.iter()):
        raise XmlDocumentError("(document)", "entity references are not accepted", 400)
    return root


def document_from_xml(body: bytes) -> dict[str, Any]:
    """The JSON-LD ``EPCISDocument`` of an EPCIS 2.0 XML ``EPCISDocument`` (module
    docstring). Raises XmlDocumentError if the body is not one."""
    root = parse_xml(body)
    if root.tag != f"{{{EPCIS_NS}}}EPCISDocument":
        raise XmlDocumentError(
            "type",
            f"the XML document is {_clark_name(root.tag)}, not an EPCIS 2.0 EPCISDocument "
            f"({{{EPCIS_NS}}}EPCISDocument)",
        )
    return _Converter().document(root)


def _clark_name(tag: object) -> str:
    return tag if isinstance(tag, str) else "(not an element)"


def _local(element: etree._Element) -> str:
    return str(etree.QName(element).localname)


def _is_standard(element: etree._Element) -> bool:
    """An element of the schema itself: unqualified (or, at the top, in the EPCIS namespace)."""
    namespace = etree.QName(element).namespace
    return namespace is None or namespace == EPCIS_NS


def _children(element: etree._Element) -> list[etree._Element]:
    """The child elements, the schema's extension wrappers flattened (at any depth)."""
    out: list[etree._Element] = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if _is_standard(child) and _local(child) in _WRAPPERS:
            out.extend(_children(child))
        else:
            out.append(child)
    return out


def _text(element: etree._Element) -> str:
    return (element.text or "").strip()


def _number(text: str) -> Any:
    """A number written in XML as a JSON number; anything else stays the text it is (so the
    capture refuses it naming the field, as it refuses a JSON string)."""
    if _INTEGER.fullmatch(text):
        return int(text)
    if _NUMBER.fullmatch(text):
        return float(text)
    return text


def _cbv(field: str, value: str) -> str:
    """A CBV value as the JSON-LD binding writes it: the bare term (``shipping``) for its
    URN (``urn:epcglobal:cbv:bizstep:shipping``) or web-vocabulary IRI, full or compact
    (``cbv:BizStep-shipping``); any other value as it is."""
    vocabulary = _CBV_VOCABULARIES.get(field)
    if vocabulary is None:
        return value
    urn, term = vocabulary
    prefixes = (urn, *(web + term for web in _CBV_WEB))
    for prefix in prefixes:
        if value.startswith(prefix) and len(value) > len(prefix):
            return value[len(prefix) :]
    return value


class _Converter:
    """One document's conversion: it collects the namespaces of the user extensions."""

    def __init__(self) -> None:
        self.prefixes: dict[str, str] = {}  # prefix -> namespace, for @context
        self.by_namespace: dict[str, str] = {}

    def document(self, root: etree._Element) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "EPCISDocument"}
        for name in ("schemaVersion", "creationDate"):
            if root.get(name) is not None:
                out[name] = root.get(name)
        events: list[Any] = []
        header: dict[str, Any] | None = None
        for child in _children(root):
            name = _local(child)
            if name == "EPCISHeader" and _is_standard(child):
                header = self.header(child)
            elif name == "EPCISBody" and _is_standard(child):
                for part in _children(child):
                    if _local(part) == "EventList" and _is_standard(part):
                        events.extend(self.event(e) for e in _children(part))
        if header:
            out["epcisHeader"] = header
        out["epcisBody"] = {"eventList": events}
        context: list[Any] = [EPCIS_CONTEXT]
        if self.prefixes:
            context.append(dict(sorted(self.prefixes.items())))
        return {"@context": context, **out}

    def header(self, element: etree._Element) -> dict[str, Any] | None:
        """``EPCISHeader``'s master data (``extension/EPCISMasterData/VocabularyList``); the
        Standard Business Document Header says nothing capture reads."""
        vocabularies: list[Any] = []
        for child in _children(element):
            if _local(child) != "EPCISMasterData" or not _is_standard(child):
                continue
            for listed in _children(child):
                if _local(listed) != "VocabularyList":
                    continue
                for vocabulary in _children(listed):
                    vocabularies.append(self.vocabulary(vocabulary))
        return {"epcisMasterData": {"vocabularyList": vocabularies}} if vocabularies else None

    def vocabulary(self, element: etree._Element) -> dict[str, Any]:
        out: dict[str, Any] = {"type": element.get("type")}
        elements: list[Any] = []
        for listed in _children(element):
            for item in _children(listed) if _local(listed) == "VocabularyElementList" else []:
                attributes = []
                for attribute in _children(item):
                    if _local(attribute) != "attribute":
                        continue
                    value: Any = _text(attribute)
                    inner = _children(attribute)
                    if inner:
                        value = self.fields(inner)
                    attributes.append({"id": attribute.get("id"), "attribute": value})
                entry: dict[str, Any] = {"id": item.get("id")}
                if attributes:
                    entry["attributes"] = attributes
                elements.append(entry)
        out["vocabularyElementList"] = elements
        return out

    def event(self, element: etree._Element) -> dict[str, Any]:
        # An element of EventList that is not an event type keeps its name as the event's
        # type, so the capture refuses it naming ``type``, as it would in JSON-LD.
        name = _local(element) if _is_standard(element) else self.key(element)
        out: dict[str, Any] = {"type": name}
        out.update(self.fields(_children(element)))
        return out

    def fields(self, children: list[etree._Element], parent: str = "") -> dict[str, Any]:
        """The fields of a standard structure; a repeated field becomes an array."""
        out: dict[str, Any] = {}
        repeated: set[str] = set()
        for child in children:
            if child.get(f"{{{_XSI}}}nil") in ("true", "1"):
                continue  # xsi:nil: no value, as a field left out in JSON-LD
            key = self.key(child)
            value = self.value(child, parent)
            if key in _ARRAYS:
                out.setdefault(key, []).append(value)
            elif key in repeated:
                out[key].append(value)
            elif key in out:
                out[key] = [out[key], value]
                repeated.add(key)
            else:
                out[key] = value
        return out

    def key(self, element: etree._Element) -> str:
        """A field's name: the local name of a schema element, ``prefix:local`` of a user
        extension element, its namespace declared for ``@context``."""
        qname = etree.QName(element)
        if qname.namespace is None or qname.namespace == EPCIS_NS:
            return str(qname.localname)
        return f"{self.prefix(qname.namespace, element.prefix)}:{qname.localname}"

    def prefix(self, namespace: str, wanted: str | None) -> str:
        """The ``@context`` prefix of a namespace: the document's own where it can be."""
        known = self.by_namespace.get(namespace)
        if known is not None:
            return known
        if namespace.rstrip("#") == _CBVMDA.rstrip("#"):
            return "cbvmda"  # the EPCIS context's own prefix (CBV master data attributes)
        candidate = wanted or "ns"
        if candidate in self.prefixes or candidate in _CONTEXT_PREFIXES:
            n = 1
            while f"{candidate}{n}" in self.prefixes:
                n += 1
            candidate = f"{candidate}{n}"
        self.prefixes[candidate] = namespace
        self.by_namespace[namespace] = candidate
        return candidate

    def value(self, element: etree._Element, parent: str) -> Any:
        if not _is_standard(element):
            return self.extension(element)
        name = _local(element)
        if name in _LISTS:
            return [self.item(c, _LISTS[name]) for c in _children(element)]
        if name in ("sensorMetadata", "sensorReport"):
            return self.attributes(element)
        if name == "quantityElement":
            return self.fields(_children(element))
        children = _children(element)
        if children:
            return self.fields(children, name)
        text = _text(element)
        if name in _QUANTITIES:
            return _number(text)
        return _cbv(name, text)

    def item(self, element: etree._Element, expected: str) -> Any:
        """An item of a list element (``epc``, ``quantityElement``, ``bizTransaction`` …)."""
        name = _local(element) if _is_standard(element) else None
        if name != expected:
            # Something other than the list's items: kept under its own name so the capture
            # names it (``quantityList[0].ex:note``).
            return {self.key(element): self.value(element, "")}
        if name in _TYPED_ITEMS:
            out: dict[str, Any] = {}
            if element.get("type") is not None:
                out["type"] = _cbv(f"{name}.type", element.get("type") or "")
            out[name] = _text(element)
            return out
        if name in ("quantityElement", "sensorElement"):
            return self.fields(_children(element))
        return _text(element)

    def attributes(self, element: etree._Element) -> dict[str, Any]:
        """``sensorMetadata`` and ``sensorReport``: their attributes are their fields."""
        out: dict[str, Any] = {}
        for name, text in element.attrib.items():
            qname = etree.QName(name)
            if qname.namespace == _XSI:
                continue
            if qname.namespace is not None:
                out[self.attribute_key(element, name)] = text
            elif qname.localname in _SENSOR_NUMBERS:
                out[qname.localname] = _number(text.strip())
            elif qname.localname in ("type", "exception"):
                # The XML binding writes GS1's terms as ``gs1:Temperature``, the JSON-LD
                # binding bare (``Temperature``): the same IRI.
                out[qname.localname] = text.removeprefix("gs1:")
            elif qname.localname == "booleanValue":
                out[qname.localname] = {"true": True, "1": True, "false": False, "0": False}.get(
                    text.strip(), text
                )
            else:
                out[qname.localname] = text
        for child in _children(element):  # user extension elements inside a report
            out[self.key(child)] = self.value(child, "")
        return out

    def extension(self, element: etree._Element) -> Any:
        """A user extension element: its text, or an object of its child elements (each
        named by its prefix, or by its local name if unqualified) and attributes."""
        children = [c for c in element if isinstance(c.tag, str)]
        attributes = {
            self.attribute_key(element, name): text
            for name, text in element.attrib.items()
            if etree.QName(name).namespace != _XSI
        }
        if not children and not attributes:
            return _text(element)
        out: dict[str, Any] = dict(attributes)
        for child in children:
            key = self.key(child)
            value = self.extension(child)
            if key in out:
                out[key] = out[key] if isinstance(out[key], list) else [out[key]]
                out[key].append(value)
            else:
                out[key] = value
        if not children and _text(element):
            out["@value"] = _text(element)
        return out

    def attribute_key(self, element: etree._Element, name: str) -> str:
        qname = etree.QName(name)
        if qname.namespace is None:
            return str(qname.localname)
        prefix = self.prefix(qname.namespace, _prefix_of(element, qname.namespace))
        return f"{prefix}:{qname.localname}"


def _prefix_of(element: etree._Element, namespace: str) -> str | None:
    for prefix, uri in element.nsmap.items():
        if uri == namespace and prefix:
            return str(prefix)
    return None


# --- writing ---------------------------------------------------------------------------------

_HEAD = ("eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "errorDeclaration")
_HEAD_END = ("certificationInfo",)
_TAIL = ("sensorElementList", "persistentDisposition")
# The element order of each event type (EPCIS 2.0.1 XSD, EPCglobal-epcis-2_0.xsd).
_ORDER = {
    "ObjectEvent": (
        *("epcList", "action", "bizStep", "disposition", "readPoint", "bizLocation"),
        *("bizTransactionList", "quantityList", "sourceList", "destinationList", *_TAIL),
        "ilmd",
    ),
    "AggregationEvent": (
        *("parentID", "childEPCs", "action", "bizStep", "disposition", "readPoint"),
        *("bizLocation", "bizTransactionList", "childQuantityList", "sourceList"),
        *("destinationList", *_TAIL),
    ),
    "TransactionEvent": (
        *("bizTransactionList", "parentID", "epcList", "action", "bizStep", "disposition"),
        *("readPoint", "bizLocation", "quantityList", "sourceList", "destinationList", *_TAIL),
    ),
    "TransformationEvent": (
        *("inputEPCList", "inputQuantityList", "outputEPCList", "outputQuantityList"),
        *("transformationID", "bizStep", "disposition", "readPoint", "bizLocation"),
        *("bizTransactionList", "sourceList", "destinationList", *_TAIL, "ilmd"),
    ),
    "AssociationEvent": (
        *("parentID", "childEPCs", "childQuantityList", "action", "bizStep", "disposition"),
        *("readPoint", "bizLocation", "bizTransactionList", "sourceList", "destinationList"),
        *_TAIL,
    ),
}
_GS1_VOC = "https://gs1.org/voc/"


def document_to_xml(document: dict[str, Any]) -> bytes:
    """The EPCIS 2.0 XML binding of a JSON-LD ``EPCISDocument`` as this registry exports it
    (the inverse of ``document_from_xml``: CBV terms as their URNs, GS1 sensor terms as
    ``gs1:…``, extension fields as elements of their ``@context`` namespaces)."""
    namespaces: dict[str, str] = {}
    for item in document.get("@context") or []:
        if isinstance(item, dict):
            namespaces.update((k, v) for k, v in item.items() if isinstance(v, str))
    writer = _Writer(namespaces)
    nsmap = {"epcis": EPCIS_NS, "gs1": _GS1_VOC, "cbvmda": _CBVMDA.rstrip("#")}
    nsmap.update({p: ns for p, ns in namespaces.items() if p not in nsmap})
    root = etree.Element(f"{{{EPCIS_NS}}}EPCISDocument", nsmap=nsmap)
    for name in ("schemaVersion", "creationDate"):
        if isinstance(document.get(name), str):
            root.set(name, document[name])
    header = document.get("epcisHeader")
    vocabularies = (header or {}).get("epcisMasterData", {}).get("vocabularyList")
    if vocabularies:
        master = etree.SubElement(etree.SubElement(root, "EPCISHeader"), "extension")
        listed = etree.SubElement(etree.SubElement(master, "EPCISMasterData"), "VocabularyList")
        for vocabulary in vocabularies:
            writer.vocabulary(listed, vocabulary)
    event_list = etree.SubElement(etree.SubElement(root, "EPCISBody"), "EventList")
    for event in document.get("epcisBody", {}).get("eventList", []):
        writer.event(event_list, event)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


class _Writer:
    def __init__(self, namespaces: dict[str, str]) -> None:
        self.namespaces = namespaces

    def tag(self, key: str) -> str:
        prefix, sep, local = key.partition(":")
        if sep and prefix in self.namespaces:
            return f"{{{self.namespaces[prefix]}}}{local}"
        if sep and prefix == "cbvmda":
            return f"{{{_CBVMDA.rstrip('#')}}}{local}"
        return key

    def vocabulary(self, parent: etree._Element, vocabulary: dict[str, Any]) -> None:
        element = etree.SubElement(parent, "Vocabulary", type=str(vocabulary.get("type")))
        items = etree.SubElement(element, "VocabularyElementList")
        for item in vocabulary.get("vocabularyElementList") or []:
            entry = etree.SubElement(items, "VocabularyElement", id=str(item.get("id")))
            for attribute in item.get("attributes") or []:
                node = etree.SubElement(entry, "attribute", id=str(attribute.get("id")))
                self.content(node, attribute.get("attribute"))

    def event(self, parent: etree._Element, event: dict[str, Any]) -> None:
        kind = str(event.get("type"))
        element = etree.SubElement(parent, kind)
        order = (*_HEAD, *_HEAD_END, *_ORDER.get(kind, ()))
        for key in order:
            if key in event:
                self.field(element, key, event[key])
        for key, value in event.items():
            if key not in order and key not in ("type", "@context"):
                self.extension(element, key, value)

    def field(self, parent: etree._Element, key: str, value: Any) -> None:
        if key in _LISTS:
            listed = etree.SubElement(parent, key)
            for item in value or []:
                self.item(listed, _LISTS[key], item)
        elif key in ("readPoint", "bizLocation", "errorDeclaration", "ilmd"):
            element = etree.SubElement(parent, key)
            fields = value if isinstance(value, dict) else {}
            for name in ("id", "declarationTime", "reason", "correctiveEventIDs"):
                if name in fields:
                    self.field(element, name, fields[name])
            for name, inner in fields.items():
                if name not in ("id", "declarationTime", "reason", "correctiveEventIDs"):
                    self.extension(element, name, inner)
        elif key == "persistentDisposition":
            element = etree.SubElement(parent, key)
            for name in ("unset", "set"):
                for term in (value or {}).get(name) or []:
                    etree.SubElement(element, name).text = _urn(name, str(term))
        elif isinstance(value, list):
            for item in value:
                self.field(parent, key, item)
        else:
            etree.SubElement(parent, key).text = _urn(key, _text_of(value))

    def item(self, parent: etree._Element, name: str, item: Any) -> None:
        if name in _TYPED_ITEMS and isinstance(item, dict):
            element = etree.SubElement(parent, name)
            if item.get("type") is not None:
                element.set("type", _urn(f"{name}.type", str(item["type"])))
            element.text = _text_of(item.get(name))
        elif name == "quantityElement" and isinstance(item, dict):
            element = etree.SubElement(parent, name)
            for key in ("epcClass", "quantity", "uom"):
                if key in item:
                    etree.SubElement(element, key).text = _text_of(item[key])
        elif name == "sensorElement" and isinstance(item, dict):
            element = etree.SubElement(parent, name)
            if isinstance(item.get("sensorMetadata"), dict):
                self.attributes(etree.SubElement(element, "sensorMetadata"), item["sensorMetadata"])
            for report in item.get("sensorReport") or []:
                self.attributes(etree.SubElement(element, "sensorReport"), report)
            for key, value in item.items():
                if key not in ("sensorMetadata", "sensorReport"):
                    self.extension(element, key, value)
        else:
            etree.SubElement(parent, name).text = _text_of(item)

    def attributes(self, element: etree._Element, fields: dict[str, Any]) -> None:
        for key, value in fields.items():
            text = _text_of(value)
            if key in ("type", "exception") and ":" not in text and "/" not in text:
                text = f"gs1:{text}"  # a GS1 web-vocabulary term, as the XML binding writes it
            element.set(self.tag(key), text)

    def extension(self, parent: etree._Element, key: str, value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                self.extension(parent, key, item)
            return
        self.content(etree.SubElement(parent, self.tag(key)), value)

    def content(self, element: etree._Element, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "@value":
                    element.text = _text_of(inner)
                else:
                    self.extension(element, key, inner)
        else:
            element.text = _text_of(value)


def _text_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _urn(field: str, value: str) -> str:
    """A bare CBV term as its URN (``shipping`` → ``urn:epcglobal:cbv:bizstep:shipping``)."""
    vocabulary = _CBV_VOCABULARIES.get(field)
    if vocabulary is None or ":" in value or "/" in value or not value:
        return value
    return vocabulary[0] + value
