"""EPCIS capture: an EPCIS 2.0 document in, records signed by the capturing organization out.

Each supported event (see ``registry.exports.epcis``) becomes a record draft that the registry signs
with the capturing account's custodial key (``records.sign_and_submit``), in document order,
each in a savepoint of the one request transaction. By default the capture is all or
nothing: if any event cannot be mapped or is refused, every event is still tried (so the
report names every problem) and then nothing is written. ``atomic=False`` keeps the events
that were accepted and reports the others (if none was, it is refused like an atomic one).

An event is known by its CBV 2.0 event hash (``event_hash``) and its ``eventID``: one the
registry has captured before is answered with the record it became (``duplicate``), not
logged again; an ``eventID`` captured before with other content is refused (409
``event-id-reused``). Each record names the event it came from (``epcis``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.codes import normalize_code
from registry.context import RegistryContext
from registry.errors import Conflict, InvalidInput, RegistryError
from registry.exports.epcis.capture import draft_of
from registry.exports.epcis.capture_corrections import correction_draft
from registry.exports.epcis.document import CaptureDocument, EventProblem, parse_capture_document
from registry.exports.epcis.event_hash import EventHashError, event_hashes
from registry.exports.epcis.event_view import ResolvedClass, event_id
from registry.exports.epcis.identifiers import gtin_and_lot, gtin_and_serial, gtin_lot_and_serial
from registry.gs1 import validate_lot
from registry.models import Account, Batch, Organization, Product, Record, RecordBatch
from registry.models import CapturedEvent as CapturedEventRow
from registry.records import custodial
from registry.records import ingest as record_service

MAX_EVENTS = 10_000
"""The most events one capture request may hold."""

_INSTANCE_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_ITEM_FIELDS = ("items", "input_items", "output_items")


@dataclass(frozen=True)
class CapturedEvent:
    """An event that became a record: where it was in the document and where it is logged."""

    index: int  # position in epcisBody.eventList
    event_id: str | None
    event_hash: str
    kind: str
    log_index: int
    digest: str
    duplicate: bool = False  # captured before: the record it became then


@dataclass(frozen=True)
class CaptureResult:
    """The outcome of a capture: the records made, the events refused (each with its index,
    eventID, problem code and paths) and the checkpoint size after the last record."""

    captured: list[CapturedEvent]
    errors: list[dict[str, Any]]
    checkpoint_size: int | None

    def report(self) -> dict[str, Any]:
        """The capture report as ``POST /api/v1/epcis/capture`` returns it (JSON)."""
        return {
            "captured": len(self.captured),
            "duplicates": sum(1 for c in self.captured if c.duplicate),
            "refused": len(self.errors),
            "checkpoint_size": self.checkpoint_size,
            "records": [
                {
                    "index": c.index,
                    "event_id": c.event_id,
                    "event_hash": c.event_hash,
                    "kind": c.kind,
                    "log_index": c.log_index,
                    "digest": c.digest,
                    "duplicate": c.duplicate,
                }
                for c in self.captured
            ],
            "errors": self.errors,
        }


def _event_error(
    index: int,
    event: object,
    problems: list[tuple[str, str]],
    code: str = "invalid-input",
    rule: str | None = None,
) -> dict[str, Any]:
    where = f"epcisBody.eventList[{index}]"
    entry: dict[str, Any] = {
        "index": index,
        "event_id": event_id(event),
        "code": code,
        "detail": "; ".join(f"{p}: {m}" for p, m in problems),
        "problems": [{"path": f"{where}.{p}", "message": m} for p, m in problems],
    }
    if rule is not None:
        entry["rule"] = rule
    return entry


def _refused(index: int, event: object, exc: RegistryError) -> dict[str, Any]:
    listed = exc.extra.get("errors")
    if isinstance(listed, list) and listed:
        problems = [(f"(record).{e.get('path')}", str(e.get("message"))) for e in listed]
    else:
        problems = [("(record)", exc.detail)]
    rule = exc.extra.get("rule")
    entry = _event_error(index, event, problems, exc.code, rule if isinstance(rule, str) else None)
    entry["detail"] = exc.detail
    return entry


class _Resolver:
    """Class identifiers of a captured document to batch refs of this registry."""

    def __init__(self, session: Session, base_url: str, document: CaptureDocument) -> None:
        self.session = session
        self.document = document
        parts = urlsplit(base_url)
        self.own = (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"))
        # (GTIN-14, serial) → {(product id, lot)} of the instances without a lot, looked up
        # once for the whole document (``_seen``), then learnt from its own records; with
        # the products of their GTINs, found by the same query (capture makes no product).
        self.lots: dict[tuple[str, str], set[tuple[uuid.UUID, str]]] | None = None
        self.wanted: set[tuple[str, str]] = set()
        self.products: dict[str, uuid.UUID] = {}

    def _lotless(self) -> set[tuple[str, str]]:
        """(GTIN-14, serial) of every instance in the document that carries no lot."""
        found = set()
        for event in self.document.events:
            for key in _INSTANCE_LISTS:
                listed = event.get(key) if isinstance(event, dict) else None
                for identifier in listed if isinstance(listed, list) else ():
                    try:
                        instance = (
                            gtin_and_serial(identifier) if isinstance(identifier, str) else None
                        )
                    except (RegistryError, ValueError):
                        continue
                    if instance is not None:
                        found.add(instance)
        return found

    def _seen(self) -> dict[tuple[str, str], set[tuple[uuid.UUID, str]]]:
        """The lots earlier records listed the document's lotless instances with: one query
        for their products and the records of those products' batches (``items``,
        ``event.items``, ``input_items``, ``output_items``), a lot counting only where that
        record is one of its batch's."""
        if self.lots is not None:
            return self.lots
        self.lots = {}
        wanted = self.wanted = self._lotless()
        gtins = {gtin for gtin, _ in wanted}
        if not gtins:
            return self.lots
        rows = self.session.execute(  # a product without records comes once, index None
            select(Product.gtin, Product.id, Batch.lot, Record.log_index, Record.payload)
            .outerjoin(Batch, Batch.product_id == Product.id)
            .outerjoin(RecordBatch, RecordBatch.batch_id == Batch.id)
            .outerjoin(Record, Record.log_index == RecordBatch.record_index)
            .where(Product.gtin.in_(gtins))
        ).all()
        batches: dict[int, set[tuple[str | None, uuid.UUID, str]]] = {}
        payloads: dict[int, bytes] = {}
        for gtin, product_id, lot, index, payload in rows:
            if gtin is not None:
                self.products[gtin] = product_id
            if index is None:
                continue
            batches.setdefault(index, set()).add((gtin, product_id, lot))
            if payload is not None:
                payloads[index] = payload
        for index, payload in payloads.items():
            products = {(g, lot): product_id for g, product_id, lot in batches[index]}
            for gtin, lot, serial in _listed_instances(json.loads(payload)):
                known = products.get((gtin, lot))
                if known is not None and (gtin, serial) in wanted:
                    self.lots.setdefault((gtin, serial), set()).add((known, lot))
        return self.lots

    def learn(self, draft: dict[str, Any]) -> None:
        """Note the instances with their lots of a record this capture made, for the
        document's later events."""
        if self.lots is None:
            return  # not looked up yet: the query will find the record
        for gtin, lot, serial in _listed_instances(draft):
            if (gtin, serial) not in self.wanted:
                continue
            product_id = self.products.get(gtin)
            if product_id is not None:
                self.lots.setdefault((gtin, serial), set()).add((product_id, lot))

    def _instance(self, gtin: str, serial: str, creating: bool) -> ResolvedClass:
        """The batch of an instance that carries no lot: the one an earlier record listed
        it in with its lot."""
        if creating:
            raise ValueError(
                "an instance without its lot cannot name a new batch: use its GS1 Digital "
                "Link URI with the lot (/01/{GTIN}/10/{lot}/21/{serial})"
            )
        lots = self._seen().get((gtin, serial), set())
        if not lots:
            raise ValueError(
                f"an instance this registry has not seen with its lot (no earlier record of "
                f"a batch of GTIN {gtin} lists serial {serial} with its lot): use its GS1 "
                "Digital Link URI with the lot (/01/{GTIN}/10/{lot}/21/{serial})"
            )
        if len(lots) > 1:
            named = ", ".join(sorted(lot for _, lot in lots))
            raise ValueError(
                f"ambiguous: earlier records list GTIN {gtin} serial {serial} in several "
                f"lots ({named}): use its GS1 Digital Link URI with the lot"
            )
        [(product_id, lot)] = lots
        return ResolvedClass(f"{product_id}:{lot}", self._unit(product_id, lot))

    def _own_code(self, identifier: str) -> str | None:
        parts = urlsplit(identifier)
        prefix = self.own[2] + "/b/"
        if (parts.scheme.lower(), parts.netloc.lower()) != self.own[:2]:
            return None
        if not parts.path.lower().startswith(prefix.lower()):
            return None
        return parts.path[len(prefix) :]

    def _unit(self, product_id: uuid.UUID, lot: str) -> str | None:
        batch = self.session.scalars(
            select(Batch).where(Batch.product_id == product_id, Batch.lot == lot)
        ).first()
        return batch.unit if batch is not None else None

    def __call__(self, identifier: str, creating: bool) -> ResolvedClass:
        try:
            gtin_lot = gtin_and_lot(identifier)
            if gtin_lot is not None:
                gtin, lot = gtin_lot
                validate_lot(lot)
                product = self.session.scalars(select(Product).where(Product.gtin == gtin)).first()
                if product is None:
                    raise ValueError(f"no product with GTIN {gtin} in this registry")
                return ResolvedClass(f"{product.id}:{lot}", self._unit(product.id, lot))
            instance = gtin_and_serial(identifier)
            if instance is not None:
                return self._instance(*instance, creating)
            master = self.document.classes.get(identifier)
            if master is not None and master.product_id and master.lot:
                product_id = uuid.UUID(master.product_id)
                validate_lot(master.lot)
                unit = self._unit(product_id, master.lot) or master.unit
                return ResolvedClass(f"{product_id}:{master.lot}", unit)
            code = self._own_code(identifier)
            if code is not None and not creating:
                batch = self.session.scalars(
                    select(Batch).where(Batch.code == normalize_code(code))
                ).first()
                if batch is None:
                    raise ValueError(f"no batch {code} in this registry")
                return ResolvedClass(f"{batch.product_id}:{batch.lot}", batch.unit)
        except RegistryError as exc:
            raise ValueError(f"{identifier}: {exc.detail}") from None
        except ValueError as exc:
            raise ValueError(f"{identifier}: {exc}") from None
        if creating:
            raise ValueError(
                f"{identifier}: a new batch is named by a GS1 Digital Link "
                "(/01/{GTIN}/10/{lot}) or LGTIN of a product with a GTIN, or by master data "
                "(EPCClass with gr:product and gr:lot)"
            )
        raise ValueError(
            f"{identifier}: not a batch this registry knows (GS1 Digital Link, LGTIN, master "
            "data with gr:product and gr:lot, or this registry's /b/{code})"
        )


def _listed_instances(document: object) -> list[tuple[str, str, str]]:
    """(GTIN-14, lot, serial) of the Digital Link instances with their lots a record lists
    (``items``, ``input_items``, ``output_items``, or the same under ``event``)."""
    found: list[tuple[str, str, str]] = []
    if not isinstance(document, dict):
        return found
    for where in (document, document.get("event")):
        for key in _ITEM_FIELDS:
            listed = where.get(key) if isinstance(where, dict) else None
            for identifier in listed if isinstance(listed, list) else ():
                instance = gtin_lot_and_serial(identifier)
                if instance is not None:
                    found.append(instance)
    return found


def _parsed(document: object) -> CaptureDocument:
    """The parsed envelope of a document to capture; InvalidInput if it is not one."""
    try:
        parsed = parse_capture_document(document)
    except EventProblem as exc:
        raise InvalidInput(
            f"not an EPCIS document: {exc}",
            errors=[{"path": p, "message": m} for p, m in exc.problems],
        ) from None
    if not parsed.events:
        message = "the document has no events (epcisBody.eventList is empty)"
        raise InvalidInput(message, errors=[{"path": "epcisBody.eventList", "message": message}])
    if len(parsed.events) > MAX_EVENTS:
        message = f"at most {MAX_EVENTS} events per capture"
        raise InvalidInput(message, errors=[{"path": "epcisBody.eventList", "message": message}])
    return parsed


def _hashes(document: object) -> list[str]:
    """The CBV 2.0 event hash of every event; InvalidInput naming ``@context`` (or the
    event) if the document cannot be read by the hash algorithm."""
    assert isinstance(document, dict)
    try:
        return event_hashes(document)
    except EventHashError as exc:
        raise InvalidInput(
            f"the events' CBV 2.0 hashes cannot be computed: {exc}",
            errors=[{"path": exc.path, "message": str(exc)}],
        ) from None


def _captured_before(
    session: Session, index: int, event: object, hash_: str
) -> CapturedEvent | None:
    """The record an event became when it was captured before (by hash, else eventID);
    Conflict when its eventID was captured with other content."""
    eid = event_id(event)
    row = session.get(CapturedEventRow, hash_)
    if row is None and eid is not None:
        row = session.scalars(
            select(CapturedEventRow).where(CapturedEventRow.event_id == eid)
        ).first()
        if row is not None:
            raise Conflict(
                f"eventID {eid} was captured before with other content (event hash "
                f"{row.event_hash}, now {hash_})",
                rule="event-id-reused",
            )
    if row is None:
        return None
    record = session.get(Record, row.record_index)
    assert record is not None
    return CapturedEvent(index, eid, hash_, record.kind, record.log_index, record.digest, True)


def _source(event: object, hash_: str) -> dict[str, str]:
    """The ``epcis`` field of a record captured from ``event``."""
    source = {"event_hash": hash_}
    eid = event_id(event)
    if eid is not None and len(eid) <= 500:
        source["event_id"] = eid
    return source


def _declaration(
    session: Session,
    ctx: RegistryContext,
    account: Account,
    index: int,
    event: dict[str, Any],
    hash_: str,
) -> tuple[CapturedEvent | dict[str, Any], int | None]:
    """An error declaration as a correction (``capture_corrections``): the record made (and
    the checkpoint size after it), the earlier correction it repeats, or the error entry."""
    eid = event_id(event)
    try:
        draft, earlier = correction_draft(session, ctx.settings.base_url, event, hash_)
    except EventProblem as exc:
        return _event_error(index, event, exc.problems), None
    if earlier is not None:
        repeat = CapturedEvent(
            index, eid, hash_, earlier.kind, earlier.log_index, earlier.digest, True
        )
        return repeat, None
    try:
        with session.begin_nested():
            accepted = record_service.sign_and_submit(session, ctx, account, draft)
    except RegistryError as exc:
        return _refused(index, event, exc), None
    made = CapturedEvent(index, eid, hash_, accepted.kind, accepted.index, accepted.digest)
    return made, accepted.checkpoint_size


def capture(
    session: Session,
    ctx: RegistryContext,
    account: Account,
    document: object,
    *,
    atomic: bool = True,
) -> CaptureResult:
    """Capture an EPCIS document for ``account``'s organization (see the module docstring).

    Raises InvalidInput listing every event's problems when ``atomic`` and any event fails
    (the caller's transaction must then roll back, as a request's does)."""
    parsed = _parsed(document)
    hashes = _hashes(document)
    custodial.custodial_signer(session, ctx, account)  # 409 now, not once per event
    org = session.get(Organization, account.organization_id)
    assert org is not None
    resolve = _Resolver(session, ctx.settings.base_url, parsed)

    captured: list[CapturedEvent] = []
    errors: list[dict[str, Any]] = []
    checkpoint_size = None
    for index, event in enumerate(parsed.events):
        hash_ = hashes[index]
        if isinstance(event, dict) and event.get("errorDeclaration") is not None:
            entry, size = _declaration(session, ctx, account, index, event, hash_)
            if isinstance(entry, CapturedEvent):
                captured.append(entry)
            else:
                errors.append(entry)
            checkpoint_size = size or checkpoint_size
            continue
        try:
            before = _captured_before(session, index, event, hash_)
        except Conflict as exc:
            problem = [("eventID", exc.detail)]
            errors.append(_event_error(index, event, problem, exc.code, "event-id-reused"))
            continue
        if before is not None:
            captured.append(before)
            continue
        try:
            draft = draft_of(event, parsed, resolve, org.region_code)
        except EventProblem as exc:
            errors.append(_event_error(index, event, exc.problems))
            continue
        draft["epcis"] = _source(event, hash_)
        try:
            with session.begin_nested():
                accepted = record_service.sign_and_submit(session, ctx, account, draft)
                source = draft["epcis"]
                session.add(
                    CapturedEventRow(
                        event_hash=hash_,
                        event_id=source.get("event_id"),
                        record_index=accepted.index,
                    )
                )
                session.flush()
        except RegistryError as exc:
            errors.append(_refused(index, event, exc))
            continue
        checkpoint_size = accepted.checkpoint_size
        resolve.learn(draft)
        captured.append(
            CapturedEvent(
                index=index,
                event_id=event_id(event),
                event_hash=hash_,
                kind=accepted.kind,
                log_index=accepted.index,
                digest=accepted.digest,
            )
        )
    if errors and (atomic or not captured):
        raise InvalidInput(
            f"{len(errors)} of {len(parsed.events)} events cannot be captured, so none was "
            f"(first: event {errors[0]['index']}: {errors[0]['detail']})",
            rule="capture-refused",
            errors=errors,
        )
    return CaptureResult(captured, errors, checkpoint_size)
