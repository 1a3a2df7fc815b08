"""The vocabulary of the EPCIS 2.0 JSON-LD binding as this registry writes and reads it.

Namespaces and master-data types (EPCIS 2.0.1 §7.5, CBV 2.0 §10), the registry's own
extension namespace (``gr:``), and the UN/ECE Recommendation 20 unit codes of quantities and
sensor reports. The record kinds that are supply-chain events are listed in docs/records.md.
"""

from __future__ import annotations

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
"""The JSON-LD ``@context`` of EPCIS 2.0 documents (EPCIS 2.0.1 JSON-LD binding)."""

NS = "https://guarantee-registry.org/ns/epcis/"
"""The registry's extension namespace: fields that standard EPCIS cannot say."""

PREFIX = "gr"
"""The compact prefix of ``NS`` in the documents this registry writes."""

CERTIFYING = NS + "certifying"
"""bizStep of a 合格证 event: CBV 2.0 has no business step for it."""

ASSIGNING = NS + "assigning"
"""bizStep of an assignment (委托): CBV 2.0 has no business step for handing a batch to a
carrier or a lab for a task; the organization it goes to is a ``possessing_party``."""

SCHEMA_VERSION = "2.0"
"""``schemaVersion`` of an EPCISDocument."""

VTYPE_CLASS = "urn:epcglobal:epcis:vtype:EPCClass"
"""Master-data vocabulary type of class-level identifiers (CBV 2.0 §10)."""

VTYPE_LOCATION = "urn:epcglobal:epcis:vtype:BusinessLocation"
"""Master-data vocabulary type of locations (CBV 2.0 §10)."""

CBVMDA = "urn:epcglobal:cbv:mda#"
"""The CBV master-data attribute namespace (``cbvmda:``, CBV 2.0 §10)."""

GS1_RESOLVER = "https://id.gs1.org"
"""The GS1 resolver that GS1 Digital Link URIs of GTINs and GLNs are written under."""

# Registry units ↔ UN/ECE Recommendation 20 codes (the ``uom`` of EPCIS quantities, which
# the schema restricts to 2-3 upper-case letters or digits). The first unit of a code is
# the one a capture writes back.
UNIT_CODES: dict[str, str] = {
    "kg": "KGM",
    "g": "GRM",
    "mg": "MGM",
    "t": "TNE",
    "L": "LTR",
    "l": "LTR",
    "mL": "MLT",
    "ml": "MLT",
    "piece": "H87",
    "pcs": "H87",
    "bag": "XBG",
    "box": "XBX",
    "carton": "XCT",
    "case": "XCS",
    "bottle": "XBO",
    "jar": "XJR",
    "tray": "XPU",
    "dozen": "DZN",
}
"""Registry units of quantities to UN/ECE Recommendation 20 codes (EPCIS 2.0 ``uom``)."""

CODE_UNITS: dict[str, str] = {
    **{code: unit for unit, code in reversed(list(UNIT_CODES.items()))},
    "EA": "piece",
    "C62": "piece",
}
"""UN/ECE codes of captured quantities back to registry units (first listed unit wins)."""

# Units of measured values (sensorReport ``uom``), with the kind of quantity they measure.
MEASURE_CODES: dict[str, tuple[str, str]] = {
    "mg/kg": ("NA", "Dimensionless"),
    "μg/kg": ("J33", "Dimensionless"),
    "µg/kg": ("J33", "Dimensionless"),
    "ug/kg": ("J33", "Dimensionless"),
    "mg/L": ("M1", "MassConcentration"),
    "mg/l": ("M1", "MassConcentration"),
    "μg/L": ("H29", "MassConcentration"),
    "µg/L": ("H29", "MassConcentration"),
    "%": ("P1", "Dimensionless"),
    "CFU/g": ("CFU", "Dimensionless"),
}
"""Units of lab results to (UN/ECE code, sensorReport ``type``) of EPCIS 2.0 sensor data."""

MEASURE_UNITS = {code: unit for unit, (code, _) in reversed(list(MEASURE_CODES.items()))}
"""UN/ECE codes of captured sensor reports back to registry units of lab results."""

SUPPLY_KINDS = frozenset(
    {
        "harvest",
        "processing",
        "packing",
        "inspection",
        "certificate",
        "storage",
        "shipping",
        "receiving",
        "recall",
        "assignment",
        "aggregation",
        "association",
        "transaction",
        "observation",
        "correction",
    }
)
"""Record kinds that are EPCIS events (docs/records.md, "Kinds and who signs them")."""


def ext(name: str) -> str:
    """The compact IRI of a registry extension field (``gr:logIndex``)."""
    return f"{PREFIX}:{name}"


# CBV 2.0 terms a value may be written as bare (the enumerations of the EPCIS 2.0.1 JSON
# schema, CBV 2.0 §7); any other value is a URI.
BIZ_STEPS = frozenset(
    {
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
        "sensor_reporting",
        "sampling",
    }
)

DISPOSITIONS = frozenset(
    {
        "active",
        "container_closed",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "no_pedigree_match",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unknown",
        "available",
        "completeness_verified",
        "completeness_inferred",
        "conformant",
        "container_open",
        "mismatch_instance",
        "mismatch_class",
        "mismatch_quantity",
        "needs_replacement",
        "non_conformant",
        "unavailable",
    }
)

BIZ_TRANSACTION_TYPES = frozenset(
    {
        "bol",
        "cert",
        "desadv",
        "inv",
        "pedigree",
        "po",
        "poc",
        "prodorder",
        "recadv",
        "rma",
        "testprd",
        "testres",
        "upevt",
    }
)

SOURCE_DESTINATION_TYPES = frozenset(
    {
        "owning_party",
        "possessing_party",
        "location",
    }
)
