"""The demo's pen: signs and submits each supply-chain step with the custodial key of the
account that did it (record kinds in docs/records.md), and requests and approves
endorsements, at times relative to the moment the demo is loaded."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.clock import CHINA_TZ
from registry.context import RegistryContext
from registry.demo.ids import demo_id
from registry.endorsements import decisions as endorsement_decisions
from registry.endorsements import requests as endorsement_requests
from registry.models import Account, Batch, Organization
from registry.records import ingest as record_ingest

CLAIMS = ("origin_verified", "lab_tested", "certified", "personally_vouched")
"""The claims an official makes in most demo endorsements."""

PROMISE = (
    "我承诺对生产销售的食用农产品：不使用禁用农药兽药、停用兽药和非法添加物，"
    "常规农药兽药残留不超标，对承诺的真实性负责。"
)
"""The producer's promise on a demo certificate (承诺达标合格证)."""

LabResult = tuple[str, str, str, str, str]
"""One inspection result: substance, value, limit, unit, method."""


def at_day(base: datetime, days: float, hour: int = 9) -> str:
    """The RFC 3339 time ``days`` after ``base`` at ``hour`` o'clock: the wall clock of
    ``base``'s zone, with the China Standard Time offset, as the demo has always written it."""
    moment = (base + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return moment.replace(tzinfo=CHINA_TZ).isoformat()


def date_of_day(base: datetime, days: float) -> str:
    """The date (``YYYY-MM-DD``) ``days`` after ``base``."""
    return (base + timedelta(days=days)).strftime("%Y-%m-%d")


def stream(
    platform: str, room: str, title: str, start: datetime, hours: int, streamers: list[str]
) -> dict[str, Any]:
    """A livestream of ``hours`` from ``start`` (to the minute) on ``platform``, with its
    streamers as hosts: the ``stream`` of an endorsement request."""
    start = start.replace(second=0, microsecond=0)
    return {
        "platform": platform,
        "room": room,
        "title": title,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=hours)).isoformat(),
        "hosts": [{"name": n, "role": "streamer"} for n in streamers],
    }


class DemoWriter:
    """Writes the demo's records and endorsements in one session, as the demo's people."""

    def __init__(self, session: Session, ctx: RegistryContext) -> None:
        self.session = session
        self.ctx = ctx
        self.now = ctx.clock().astimezone()

    def account(self, username: str) -> Account:
        """The demo account named ``username``."""
        return self.session.scalars(select(Account).where(Account.username == username)).one()

    def product(self, key: str) -> uuid.UUID:
        """The id of the demo product ``key``."""
        return demo_id(f"product:{key}")

    def ref(self, product: str, lot: str) -> str:
        """The batch reference ``<product id>:<lot>`` of a demo lot."""
        return f"{self.product(product)}:{lot}"

    def record(self, username: str, draft: dict[str, Any]) -> None:
        """Sign ``draft`` with ``username``'s custodial key and submit it."""
        record_ingest.sign_and_submit(self.session, self.ctx, self.account(username), draft)

    def harvest(
        self,
        who: str,
        product: str,
        lot: str,
        qty: str,
        unit: str,
        day: float,
        place: dict[str, str],
        best_before_days: int | None = None,
    ) -> str:
        """A harvest record of a new lot; its batch reference."""
        ref = self.ref(product, lot)
        draft: dict[str, Any] = {
            "kind": "harvest",
            "time": at_day(self.now, day),
            "batches": [ref],
            "quantity": qty,
            "unit": unit,
            "harvest_date": date_of_day(self.now, day),
            "place": place,
        }
        if best_before_days is not None:
            draft["best_before"] = date_of_day(self.now, day + best_before_days)
        self.record(who, draft)
        return ref

    def steps(self, who: str, kind: str, refs: list[str], day: float, **fields: Any) -> None:
        """A record of ``kind`` on ``refs`` with ``fields`` (``hour``: when, default 10)."""
        self.record(
            who,
            {
                "kind": kind,
                "time": at_day(self.now, day, fields.pop("hour", 10)),
                "batches": refs,
                **fields,
            },
        )

    def inspect(
        self, who: str, refs: list[str], day: float, report: str, results: list[LabResult]
    ) -> None:
        """A passing lab inspection, sampled two days before."""
        self.steps(
            who,
            "inspection",
            refs,
            day,
            report_number=report,
            verdict="pass",
            sampled_on=date_of_day(self.now, day - 2),
            results=[
                {
                    "substance": s,
                    "value": v,
                    "limit": lim,
                    "unit": u,
                    "method": m,
                    "verdict": "pass",
                }
                for s, v, lim, u, m in results
            ],
        )

    def certificate(
        self, who: str, refs: list[str], day: float, number: str, phone: str | None = None
    ) -> None:
        """The producer's certificate of compliance (承诺达标合格证) for ``refs``, with the
        producer's contact phone when given."""
        contact = {"contact_phone": phone} if phone else {}
        self.steps(
            who,
            "certificate",
            refs,
            day,
            certificate_number=number,
            promise=PROMISE,
            basis=["self_test", "quality_control"],
            **contact,
        )

    def storage(
        self, who: str, refs: list[str], day: float, location: str, temps: list[str]
    ) -> None:
        """A storage record with temperature readings every four hours from 8 o'clock."""
        readings = [
            {"time": at_day(self.now, day, 8 + 4 * i), "celsius": c} for i, c in enumerate(temps)
        ]
        self.steps(who, "storage", refs, day, hour=20, location=location, readings=readings)

    def org(self, key: str) -> uuid.UUID:
        """The id of the demo organization ``key``."""
        return demo_id(f"org:{key}")

    def assign(self, holder: str, refs: list[str], day: float, task: str, org: str) -> None:
        """The holder (``holder``'s organization) hands ``refs`` to the demo organization
        ``org`` for ``task`` (``carriage`` or ``inspection``): an assignment record."""
        self.steps(
            holder,
            "assignment",
            refs,
            day,
            hour=8,
            task=task,
            to={"org": str(self.org(org)), "name": self._org_name(org)},
        )

    def _org_name(self, key: str) -> str:
        org = self.session.get(Organization, self.org(key))
        assert org is not None, f"no demo organization {key}"
        return org.name_zh

    def ship(
        self,
        carrier: str,
        refs: list[str],
        day: float,
        to: str,
        to_region: str,
        waybill: str,
        to_org: str | None = None,
    ) -> None:
        """A shipping record by ``carrier`` to ``to`` in region ``to_region``; ``to_org``
        names the demo organization it goes to, when it goes to one (who then receives it)."""
        party: dict[str, Any] = {"name": to, "place": {"region": to_region}}
        if to_org is not None:
            party["org"] = str(self.org(to_org))
        self.steps(
            carrier,
            "shipping",
            refs,
            day,
            to=party,
            waybill=waybill,
            vehicle="蒙D·7K218" if "150" in to_region else "鲁R·3F906",
        )

    def receive(self, who: str, refs: list[str], day: float, source: str, waybill: str) -> None:
        """A receiving record of a shipment from ``source``."""
        self.steps(who, "receiving", refs, day, hour=16, source={"name": source}, waybill=waybill)

    def process(
        self,
        who: str,
        inputs: list[tuple[str, str]],
        outputs: list[tuple[str, str, str, int]],
        day: float,
        process: str,
    ) -> None:
        """A processing record: (ref, quantity) inputs into (ref, quantity, unit, shelf-life
        days) outputs."""
        self.record(
            who,
            {
                "kind": "processing",
                "time": at_day(self.now, day, 14),
                "process": process,
                "inputs": [{"batch": ref, "quantity": q} for ref, q in inputs],
                "outputs": [
                    {
                        "batch": ref,
                        "quantity": q,
                        "unit": unit,
                        "best_before": date_of_day(self.now, day + shelf),
                    }
                    for ref, q, unit, shelf in outputs
                ],
            },
        )

    def endorse(
        self,
        requester: str,
        officials: list[str],
        lot: str,
        product: str,
        quantity: str,
        stream: dict[str, Any],
        claims: list[str],
        *,
        approved_day: float,
        valid_until: datetime | None = None,
    ) -> str:
        """Request an endorsement of a lot for a stream and have every official approve it
        (a threshold: each signs the same envelope); its public code."""
        batch = self.session.scalars(
            select(Batch).where(Batch.product_id == self.product(product), Batch.lot == lot)
        ).one()
        request = endorsement_requests.request_endorsement(
            self.session,
            self.ctx,
            self.account(requester),
            batches=[batch.code],
            official=officials[0],
            stream=stream,
            claims=claims,
            quantity=quantity,
            valid_until=valid_until,
        )
        at = self.now + timedelta(days=approved_day)
        for official in officials:
            request = endorsement_decisions.approve(
                self.session, self.ctx, request.id, self.account(official), at=at
            )
        assert request.code is not None
        return request.code
