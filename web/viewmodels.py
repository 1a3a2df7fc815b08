"""What a page shows of a signed record: the view models of the consumer and batch pages'
steps (who signed, what the record says for its kind), origins on the locator map, lab
results with their share of the limit, and temperature charts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from registry.catalog.lookups import BatchPage


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


@dataclass(frozen=True)
class Batches:
    """Batch references (``product:lot``) to what a page links: lot and public code."""

    by_ref: dict[str, dict[str, Any]]

    def link(self, ref: str) -> dict[str, Any]:
        known = self.by_ref.get(ref)
        if known is not None:
            return known
        return {"lot": ref.rpartition(":")[2], "code": None, "product": None}


def place(place: dict[str, Any] | None) -> dict[str, Any] | None:
    """A place with, when it has coordinates, where its marker sits on the locator map.

    The locator is a plain longitude/latitude grid (73-135°E, 18-54°N) with a pin: no
    borders are drawn, so nothing on it can be a wrong or outdated boundary."""
    if not place:
        return None
    lat, lon = _decimal(place.get("lat")), _decimal(place.get("lon"))
    marker = None
    if lat is not None and lon is not None and 73 <= lon <= 135 and 18 <= lat <= 54:
        marker = {
            "x": round(float((lon - 73) / 62 * 240), 1),
            "y": round(float((54 - lat) / 36 * 140), 1),
        }
    return {
        "name": place.get("name"),
        "region": place.get("region"),
        "lat": place.get("lat"),
        "lon": place.get("lon"),
        "marker": marker,
    }


def chart(readings: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A small temperature chart: an SVG polyline 240×64 with the points' coordinates."""
    values = [(r.get("time"), _decimal(r.get("celsius"))) for r in readings]
    points = [(when, c) for when, c in values if c is not None]
    if not points:
        return None
    low = min(c for _, c in points)
    high = max(c for _, c in points)
    span = max(high - low, Decimal(2))
    floor = (low + high) / 2 - span / 2 - span / 4
    ceiling = floor + span * Decimal("1.5")
    width, height, pad = 240, 64, 18
    step = (width - 2 * pad) / max(len(points) - 1, 1)
    coords = []
    for i, (when, c) in enumerate(points):
        x = pad + i * step if len(points) > 1 else width / 2
        y = height - pad - float((c - floor) / (ceiling - floor)) * (height - 2 * pad)
        coords.append({"x": round(x, 1), "y": round(y, 1), "c": str(c), "time": when})
    return {
        "width": width,
        "height": height,
        "points": coords,
        "polyline": " ".join(f"{p['x']},{p['y']}" for p in coords),
        "low": str(low),
        "high": str(high),
        "count": len(points),
    }


def lab_result(result: dict[str, Any]) -> dict[str, Any]:
    """A lab result, with how far the value is toward its limit (for a small bar)."""
    value, limit = _decimal(result.get("value")), _decimal(result.get("limit"))
    share = None
    if value is not None and limit is not None and limit > 0:
        share = min(float(value / limit), 1.2)
    return {
        **result,
        "share": share,
        "bar": round(share * 100, 1) if share is not None else None,
        "not_detected": value == 0 if value is not None else False,
    }


def _harvest(record: dict[str, Any], batches: Batches) -> dict[str, Any]:
    return {
        "quantity": record.get("quantity"),
        "unit": record.get("unit"),
        "harvest_date": record.get("harvest_date"),
        "best_before": record.get("best_before"),
        "place": place(record.get("place")),
    }


def _processing(record: dict[str, Any], batches: Batches) -> dict[str, Any]:
    return {
        "process": record.get("process"),
        "inputs": [
            {**batches.link(i.get("batch", "")), "quantity": i.get("quantity")}
            for i in record.get("inputs", [])
        ],
        "outputs": [
            {
                **batches.link(o.get("batch", "")),
                "quantity": o.get("quantity"),
                "unit": o.get("unit"),
                "best_before": o.get("best_before"),
            }
            for o in record.get("outputs", [])
        ],
    }


def _packing(record: dict[str, Any], batches: Batches) -> dict[str, Any]:
    return {"package": record.get("package") or {}, "packaging": record.get("packaging")}


def _inspection(record: dict[str, Any], batches: Batches) -> dict[str, Any]:
    return {
        "report_number": record.get("report_number"),
        "sampled_on": record.get("sampled_on"),
        "verdict": record.get("verdict"),
        "results": [lab_result(r) for r in record.get("results", [])],
    }


def _certificate(record: dict[str, Any], batches: Batches) -> dict[str, Any]:
    return {
        "certificate_number": record.get("certificate_number"),
        "promise": record.get("promise"),
        "quantity": record.get("quantity"),
        "unit": record.get("unit"),
    }


def _storage(record: dict[str, Any], batches: Batches) -> dict[str, Any]:
    return {"location": record.get("location"), "chart": chart(record.get("readings", []))}


def _shipping(record: dict[str, Any], batches: Batches) -> dict[str, Any]:
    to = record.get("to") or {}
    return {
        "to": to.get("name"),
        "region": (to.get("place") or {}).get("region"),
        "waybill": record.get("waybill"),
        "vehicle": record.get("vehicle"),
        "quantity": record.get("quantity"),
        "unit": record.get("unit"),
    }


def _receiving(record: dict[str, Any], batches: Batches) -> dict[str, Any]:
    return {
        "source": (record.get("source") or {}).get("name"),
        "waybill": record.get("waybill"),
        "quantity": record.get("quantity"),
        "unit": record.get("unit"),
    }


def _assignment(record: dict[str, Any], batches: Batches) -> dict[str, Any]:
    return {"to": (record.get("to") or {}).get("name"), "task": record.get("task")}


def _reason(record: dict[str, Any], batches: Batches) -> dict[str, Any]:
    return {"reason": record.get("reason")}


def _endorsement(record: dict[str, Any], batches: Batches) -> dict[str, Any]:
    return {"claims": record.get("claims", []), "quantity": record.get("quantity")}


DETAILS: dict[str, Callable[[dict[str, Any], Batches], dict[str, Any]]] = {
    "harvest": _harvest,
    "processing": _processing,
    "packing": _packing,
    "inspection": _inspection,
    "certificate": _certificate,
    "storage": _storage,
    "shipping": _shipping,
    "receiving": _receiving,
    "recall": _reason,
    "assignment": _assignment,
    "endorsement_revocation": _reason,
    "correction": _reason,
    "endorsement": _endorsement,
}
"""Each record kind's part of a step (docs/records.md): what its template block shows."""


def step_detail(record: dict[str, Any], batches: Batches) -> dict[str, Any]:
    """The kind-specific part of a step, ready for the template."""
    detail = DETAILS.get(str(record.get("kind")))
    return detail(record, batches) if detail else {}


def step(
    index: int,
    kind: str,
    record: dict[str, Any] | None,
    logged_at: str,
    signers: list[dict[str, Any]],
    batches: Batches,
    *,
    digest: str = "",
    verified: bool = True,
    problem: str | None = None,
) -> dict[str, Any]:
    document = record or {}
    return {
        "index": index,
        "kind": kind,
        "time": document.get("time") or logged_at,
        "digest": digest,
        "signers": signers,
        "batches": [batches.link(ref) for ref in document.get("batches", [])],
        "detail": step_detail(document, batches),
        "erased": record is None,
        "verified": verified,
        "problem": problem,
    }


def endorsement_steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The signed steps a viewer reads: every record of the chain except key bookkeeping,
    in log order, each with who signed it (from the keys' registrations)."""
    batches = Batches(
        {
            b["ref"]: {"lot": b["lot"], "code": b["code"], "product": b["product"]}
            for b in document["batches"]
        }
    )
    keys = {k["key_id"]: k for k in document["keys"]}
    steps = []
    for entry in document["chain"]:
        if entry["kind"].startswith("key_"):
            continue
        signers = []
        for signature in entry["envelope"]["signatures"]:
            key = keys.get(signature["keyid"], {})
            signers.append(
                {"org": key.get("organization") or {}, "holder": key.get("holder") or {}}
            )
        steps.append(
            step(
                entry["index"],
                entry["kind"],
                entry["record"],
                entry["logged_at"],
                signers,
                batches,
                digest=entry["digest"],
                verified=entry["verified"],
                problem=entry["problem"],
            )
        )
    return steps


def origins(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Where the batches were grown: one entry per harvest step."""
    return [
        {"place": s["detail"]["place"], "batches": s["batches"], "signers": s["signers"]}
        for s in steps
        if s["kind"] == "harvest" and s["detail"].get("place")
    ]


def batch_steps(page: BatchPage) -> list[dict[str, Any]]:
    """The steps of a batch's page: its own records, as the registry verified them."""
    links = Batches(page.links)
    return [
        step(
            signed.record.log_index,
            signed.record.kind,
            signed.document,
            signed.record.logged_at.isoformat(),
            signed.signers,
            links,
            digest=signed.record.digest,
            verified=signed.problem is None,
            problem=signed.problem,
        )
        for signed in page.records
    ]
