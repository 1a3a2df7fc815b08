"""EPCIS 2.0 JSON-LD: signed records to events (export) and events to record drafts (capture).

The mapping is pure (no database): ``service`` and ``capture_service`` supply the facts
(batches, organizations) and the lookups. Record kinds map to EPCIS 2.0 events and CBV 2.0
vocabulary (GS1 EPCIS 2.0.1 §7, CBV 2.0 §7-§8) as the table in docs/records.md says:

=============  ===================================================================
harvest        ObjectEvent ADD, bizStep ``commissioning``, ILMD harvest/best-before dates
processing     TransformationEvent, inputQuantityList → outputQuantityList
packing        ObjectEvent OBSERVE ``packing``
inspection     ObjectEvent OBSERVE ``inspecting``, sensorReport per substance
               (chemicalSubstance, value, uom), bizTransaction ``testres`` (the report),
               disposition ``conformant`` / ``non_conformant``
certificate    ObjectEvent OBSERVE with ``certificationInfo`` (the printable 合格证)
storage        ObjectEvent OBSERVE ``holding``, a Temperature (and RelativeHumidity)
               sensorReport per reading; capture also takes ``sensor_reporting``
shipping       ObjectEvent OBSERVE ``shipping``, destinationList, bizTransaction ``bol``
receiving      ObjectEvent OBSERVE ``receiving``, sourceList, bizTransaction ``bol``
recall         ObjectEvent OBSERVE, disposition ``recalled``
assignment     ObjectEvent OBSERVE ``gr:assigning``, the assignee as a ``possessing_party``
               destination, ``gr:to`` and ``gr:task``
aggregation    AggregationEvent, kept whole (``event``): packing into cases and pallets
association    AssociationEvent, kept whole: a sensor or asset associated with goods
transaction    TransactionEvent, kept whole: goods tied to business transactions
observation    any other ObjectEvent, kept whole
correction     the corrected record's event again, with an ``errorDeclaration``
=============  ===================================================================

Identifiers. A batch of a product with a GTIN is named at class level by its GS1 Digital
Link URI ``https://id.gs1.org/01/{GTIN-14}/10/{lot}``; any other batch by its page in this
registry, ``{base_url}/b/{code}``. Master data (``epcisHeader``) lists every class with its
product id and lot, so another registry can capture the document. Places are registry URIs
of GB/T 2260 region codes (``{base_url}/regions/{code}``); an organization with a GLN is
located by its GS1 Digital Link (``https://id.gs1.org/414/{GLN}``), else by its registry URI.

Every event names its proof: the registry-namespace extension fields ``gr:logIndex`` and
``gr:digest`` (the record's log index and payload SHA-256) and ``eventID``, the record's URL
in the JSON API; the document names the signed checkpoint it was cut at (``gr:log``).
What standard EPCIS cannot say (the organization's own unit, the package, the lab's limit
and method, a place's name) travels in ``gr:`` extension fields too, so a capture of an
export re-creates the same records.

Modules: ``vocabulary`` (namespaces, CBV and UN/ECE code tables), ``values`` (numbers and
times), ``identifiers`` (URIs of classes, places, documents), ``facts`` (what an export is
given), ``naming``, ``event_bodies`` and ``export`` (records to events), ``document`` (the
EPCISDocument envelope and its master data), ``event_view``, ``capture_batches``,
``capture_sensors``, ``capture_events``, ``capture_corrections`` and ``capture`` (events to
record drafts), ``sensor_data`` and ``sensor_vocabulary`` (sensor data kept whole),
``event_fields`` (events kept whole, back to EPCIS), ``event_hash`` (the CBV 2.0 event
hash), ``service``, ``capture_service``, ``capture_jobs`` and ``capture_worker`` (the
database side; see docs/epcis.md).
"""
