"""The vocabulary of EPCIS 2.0 sensor data (EPCIS 2.0.1 §7.3.9, CBV 2.0 §8.8): the terms a
``sensorReport`` may name compactly, and their resolution to full IRIs through the JSON-LD
context (the EPCIS 2.0 context's prefixes and the document's own).

The term lists are those of GS1's published contexts ``gs1-context-measurement-type``,
``gs1-context-sensor-alert-type`` and ``cbv-context-component`` (gs1/EPCIS
``JSON-LD-Context/``), which the EPCIS 2.0.1 JSON schema also enumerates.
"""

from __future__ import annotations

from collections.abc import Mapping

GS1_VOC = "https://gs1.org/voc/"
CBV = "https://ref.gs1.org/cbv/"
COMPONENT_PREFIX = CBV + "Comp-"

EPCIS_CONTEXT_PREFIXES: dict[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": CBV,
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": GS1_VOC,
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}
"""The prefixes the EPCIS 2.0 JSON-LD context defines."""

MEASUREMENT_TYPES = frozenset(
    {
        "AbsoluteHumidity",
        "AbsorbedDose",
        "AbsorbedDoseRate",
        "Acceleration",
        "Altitude",
        "AmountOfSubstance",
        "AmountOfSubstancePerUnitVolume",
        "Angle",
        "AngularAcceleration",
        "AngularMomentum",
        "AngularVelocity",
        "Area",
        "Capacitance",
        "Conductance",
        "Conductivity",
        "Count",
        "Density",
        "Dimensionless",
        "DoseEquivalent",
        "DoseEquivalentRate",
        "DynamicViscosity",
        "ElectricCharge",
        "ElectricCurrent",
        "ElectricCurrentDensity",
        "ElectricFieldStrength",
        "Energy",
        "Exposure",
        "Force",
        "Frequency",
        "Illuminance",
        "Inductance",
        "Irradiance",
        "KinematicViscosity",
        "Length",
        "LinearMomentum",
        "Luminance",
        "LuminousFlux",
        "LuminousIntensity",
        "MagneticFlux",
        "MagneticFluxDensity",
        "MagneticVectorPotential",
        "Mass",
        "MassConcentration",
        "MassFlowRate",
        "MassPerAreaTime",
        "MemoryCapacity",
        "MolalityOfSolute",
        "MolarEnergy",
        "MolarMass",
        "MolarVolume",
        "Power",
        "Pressure",
        "RadiantFlux",
        "RadiantIntensity",
        "Radioactivity",
        "RelativeHumidity",
        "Resistance",
        "Resistivity",
        "SolidAngle",
        "SpecificVolume",
        "Speed",
        "SurfaceDensity",
        "SurfaceTension",
        "Temperature",
        "Time",
        "Torque",
        "Voltage",
        "Volume",
        "VolumeFlowRate",
        "VolumeFraction",
        "VolumetricFlux",
        "Wavenumber",
    }
)
"""Terms of ``sensorReport.type``: gs1:MeasurementType (``https://gs1.org/voc/{term}``)."""


SENSOR_ALERT_TYPES = frozenset(
    {
        "ALARM_CONDITION",
        "ERROR_CONDITION",
    }
)
"""Terms of ``sensorReport.exception``: gs1:SensorAlertType."""


COMPONENTS = frozenset(
    {
        "altitude",
        "axial_distance",
        "azimuth",
        "easting",
        "elevation_angle",
        "height",
        "latitude",
        "longitude",
        "northing",
        "polar_angle",
        "spherical_radius",
        "x",
        "y",
        "z",
    }
)
"""Terms of ``sensorReport.component``: CBV 2.0 Component (``https://ref.gs1.org/cbv/Comp-{term}``)."""


def _expand(value: str, namespaces: Mapping[str, str]) -> str:
    """A compact IRI (``prefix:term``) through the context, or an absolute IRI as it is."""
    prefix, colon, rest = value.partition(":")
    if not colon:
        return value
    if rest.startswith("//"):
        return value  # an absolute IRI (https://…)
    bound = {**EPCIS_CONTEXT_PREFIXES, **namespaces}
    if prefix in bound:
        return bound[prefix] + rest
    return value  # a URN or an IRI of another scheme (urn:…, tag:…)


def resolve_term(
    value: object, terms: frozenset[str], namespace: str, what: str, namespaces: Mapping[str, str]
) -> str:
    """The full IRI of a vocabulary value: a bare term of ``terms`` is ``namespace + term``;
    a compact IRI expands through the context; an absolute IRI stays. Raises ValueError for
    a bare word that is not a term, or a term of ``namespace`` that does not exist."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a {what} (a term or an IRI)")
    if ":" not in value:
        if value not in terms:
            raise ValueError(f"{value!r} is not a {what} of the GS1 vocabulary")
        return namespace + value
    expanded = _expand(value, namespaces)
    for voc in (namespace, namespace.replace("https://", "http://")):
        if expanded.startswith(voc) and expanded[len(voc) :] not in terms:
            raise ValueError(f"{value!r} is not a {what} of the GS1 vocabulary")
        if expanded.startswith(voc):
            return namespace + expanded[len(voc) :]
    if ":" not in expanded or any(c.isspace() for c in expanded):
        raise ValueError(f"{value!r} is not an IRI")
    return expanded


def compact_term(iri: str, namespace: str) -> str:
    """How an export writes a vocabulary IRI: the bare term for GS1's own (the EPCIS 2.0.1
    schema refuses ``https://gs1.org/voc/…`` there), else the IRI."""
    return iri[len(namespace) :] if iri.startswith(namespace) else iri
