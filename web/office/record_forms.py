"""Record forms: what each kind of record asks for, who may sign it, what a fresh form
shows, and where the record schema's errors land.

One spec per record kind lists its fields (and repeated groups, e.g. the substances of an
inspection); one template draws every spec, and its builder (``web.office.builders``) turns
the typed values into the draft.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from registry.clock import CHINA_TZ
from registry.errors import RegistryError
from registry.models import Batch, OrgKind
from registry.records import CertificateBasis, Kind
from web.office import builders
from web.office.core import Bilingual, Form, OfficeUser
from web.office.drafts import DraftBuilder, FormInvalid
from web.office.fields import (
    BASIS_LABELS,
    BATCH,
    DEFAULT_PROMISE,
    INSPECTION_RESULTS,
    NOTE,
    PROCESSING_INPUTS,
    PROCESSING_OUTPUTS,
    STORAGE_READINGS,
    UNIT_FIELD,
    WHEN,
    Field,
    Item,
    Rows,
)


@dataclass(frozen=True)
class RecordSpec:
    kind: Kind
    label: Bilingual
    description: Bilingual
    signers: frozenset[OrgKind]
    items: tuple[Item, ...]
    build: Callable[[DraftBuilder], dict[str, Any]]
    # Paths the schema reports that live in another field (e.g. harvest's batch ← its lot).
    aliases: dict[str, str] = field(default_factory=dict)
    officials_only: bool = False

    def fields(self) -> list[Field]:
        found: list[Field] = []
        for item in self.items:
            if isinstance(item, Rows):
                found.extend(item.columns)
            else:
                found.append(item)
        return found


SPECS: dict[str, RecordSpec] = {
    spec.kind.value: spec
    for spec in (
        RecordSpec(
            Kind.HARVEST,
            ("采收（新建批次）", "Harvest (new batch)"),
            ("登记一批新采收的产品，系统分配批次码。", "Register a newly harvested lot."),
            frozenset({OrgKind.COOPERATIVE}),
            (
                Field("product", ("产品", "Product"), "product", required=True),
                Field(
                    "lot",
                    ("批号", "Lot number"),
                    required=True,
                    hint=("本单位自编批号，如 AH2026-003", "Your own lot number"),
                ),
                Field("quantity", ("数量", "Quantity"), "decimal", required=True),
                UNIT_FIELD,
                Field("harvest_date", ("采收日期", "Harvest date"), "date", required=True),
                Field("best_before", ("保质期至", "Best before"), "date"),
                Field("place.region", ("产地区划代码", "Region code"), required=True),
                Field("place.name", ("产地名称", "Place name"), placeholder="敖汉旗四家子镇"),
                Field("place.lat", ("纬度", "Latitude"), "decimal"),
                Field("place.lon", ("经度", "Longitude"), "decimal"),
                WHEN,
                NOTE,
            ),
            builders.harvest,
            aliases={"batches.0": "lot", "batches": "lot", "prev": "lot"},
        ),
        RecordSpec(
            Kind.PACKING,
            ("包装", "Packing"),
            ("把本单位的批次分装成包。", "Pack one of your batches."),
            frozenset({OrgKind.COOPERATIVE, OrgKind.PROCESSOR}),
            (
                BATCH,
                Field("package.count", ("件数", "Packages"), "integer", required=True),
                Field("package.size", ("每件规格", "Size of each"), "decimal", required=True),
                Field("package.unit", ("规格单位", "Size unit"), "unit", required=True),
                Field("packaging", ("包装材料", "Packaging"), placeholder="真空袋"),
                WHEN,
                NOTE,
            ),
            builders.packing,
        ),
        RecordSpec(
            Kind.CERTIFICATE,
            ("承诺达标合格证", "Compliance certificate (合格证)"),
            ("生产者对本批次达标的承诺。", "The producer's promise that the batch complies."),
            frozenset({OrgKind.COOPERATIVE, OrgKind.PROCESSOR}),
            (
                BATCH,
                Field("certificate_number", ("合格证编号", "Certificate number"), required=True),
                Field("promise", ("承诺内容", "Promise"), "textarea", required=True, wide=True),
                Field(
                    "basis",
                    ("承诺依据", "Basis"),
                    "checkboxes",
                    required=True,
                    options=tuple((c.value, *BASIS_LABELS[c]) for c in CertificateBasis),
                ),
                Field("quantity", ("数量", "Quantity"), "decimal"),
                Field("unit", ("单位", "Unit"), "unit"),
                WHEN,
            ),
            builders.certificate,
        ),
        RecordSpec(
            Kind.STORAGE,
            ("仓储与温度", "Storage and temperatures"),
            ("记录存放地点和温度。", "Where the batch is kept, and its temperatures."),
            frozenset({OrgKind.COOPERATIVE, OrgKind.PROCESSOR, OrgKind.CARRIER}),
            (
                BATCH,
                Field("location", ("存放地点", "Location"), required=True, placeholder="1号冷库"),
                STORAGE_READINGS,
                WHEN,
                NOTE,
            ),
            builders.storage,
        ),
        RecordSpec(
            Kind.PROCESSING,
            ("加工（原料 → 产品）", "Processing (inputs → outputs)"),
            (
                "用若干原料批次加工出新的产品批次。",
                "Turn quantities of input batches into new output batches.",
            ),
            frozenset({OrgKind.PROCESSOR}),
            (
                PROCESSING_INPUTS,
                PROCESSING_OUTPUTS,
                Field("process", ("工艺", "Process"), placeholder="脱壳、抛光、包装"),
                WHEN,
                NOTE,
            ),
            builders.processing,
        ),
        RecordSpec(
            Kind.SHIPPING,
            ("发运", "Shipping"),
            ("批次离开本地，发往收货方。", "A batch leaves for its consignee."),
            frozenset({OrgKind.CARRIER}),
            (
                BATCH,
                Field("to.name", ("收货方", "Consignee"), required=True),
                Field("to.place.region", ("目的地区划代码", "Destination region code")),
                Field("quantity", ("数量", "Quantity"), "decimal"),
                Field("unit", ("单位", "Unit"), "unit"),
                Field("vehicle", ("车牌号", "Vehicle"), placeholder="蒙D·7K218"),
                Field("waybill", ("运单号", "Waybill")),
                WHEN,
                NOTE,
            ),
            builders.shipping,
        ),
        RecordSpec(
            Kind.RECEIVING,
            ("收货", "Receiving"),
            ("批次到达。", "A batch arrives."),
            frozenset({OrgKind.CARRIER, OrgKind.PROCESSOR}),
            (
                BATCH,
                Field("source.name", ("发货方", "Shipper"), required=True),
                Field("quantity", ("数量", "Quantity"), "decimal"),
                Field("unit", ("单位", "Unit"), "unit"),
                Field("waybill", ("运单号", "Waybill")),
                WHEN,
                NOTE,
            ),
            builders.receiving,
        ),
        RecordSpec(
            Kind.INSPECTION,
            ("检测报告", "Lab inspection"),
            (
                "一份检测报告，可含多个检测项目。",
                "One lab report, with one row per substance tested.",
            ),
            frozenset({OrgKind.LAB}),
            (
                BATCH,
                Field("report_number", ("报告编号", "Report number"), required=True),
                Field("sampled_on", ("抽样日期", "Sampled on"), "date"),
                INSPECTION_RESULTS,
                WHEN,
                NOTE,
            ),
            builders.inspection,
        ),
        RecordSpec(
            Kind.RECALL,
            ("召回", "Recall"),
            (
                "召回批次及用它制成的一切产品；相关背书立即显示“已召回”。",
                "Recall a batch and everything made from it; its endorsements show "
                "'recalled' at once.",
            ),
            frozenset({OrgKind.AUTHORITY, OrgKind.COOPERATIVE, OrgKind.PROCESSOR}),
            (
                BATCH,
                Field("reason", ("召回原因", "Reason"), "textarea", required=True, wide=True),
                WHEN,
            ),
            builders.recall,
        ),
    )
}


# The order a working day asks for them: each role's main step comes first.
WORKFLOW = (
    Kind.HARVEST,
    Kind.PROCESSING,
    Kind.INSPECTION,
    Kind.SHIPPING,
    Kind.RECEIVING,
    Kind.STORAGE,
    Kind.PACKING,
    Kind.CERTIFICATE,
    Kind.RECALL,
)


def specs_for(user: OfficeUser) -> list[RecordSpec]:
    """The record kinds this user's organization may sign, main step first."""
    if user.is_admin or (user.kind is OrgKind.AUTHORITY and not user.is_official):
        return []
    return [SPECS[k.value] for k in WORKFLOW if user.kind in SPECS[k.value].signers]


def defaults(spec: RecordSpec, user: OfficeUser, batch: Batch | None) -> dict[str, Any]:
    """What a fresh form shows."""
    values: dict[str, Any] = {}
    today = datetime.now(CHINA_TZ).date().isoformat()
    if batch is not None:
        values["batch"] = batch.code
        values["inputs.0.batch"] = batch.code
    if spec.kind is Kind.HARVEST:
        values.update({"harvest_date": today, "place.region": user.org.region_code, "unit": "kg"})
    if spec.kind is Kind.CERTIFICATE:
        values.update({"promise": DEFAULT_PROMISE, "basis": ["self_test", "quality_control"]})
        if batch is not None:
            values["quantity"] = batch.quantity
            values["unit"] = batch.unit
    if spec.kind is Kind.INSPECTION:
        for i in range(INSPECTION_RESULTS.count):
            values[f"results.{i}.verdict"] = "pass"
        values["sampled_on"] = today
    if spec.kind is Kind.RECEIVING and batch is not None:
        values["quantity"] = batch.remaining
        values["unit"] = batch.unit
    if spec.kind is Kind.SHIPPING and batch is not None:
        values["unit"] = batch.unit
    return values


def build(spec: RecordSpec, form: Form, session: Session, user: OfficeUser) -> DraftBuilder:
    """Build the draft; raises FormInvalid naming each field in trouble."""
    builder = DraftBuilder(form, session, user)
    builder.draft = spec.build(builder)
    if builder.errors:
        raise FormInvalid(builder.errors)
    return builder


def errors_from(
    spec: RecordSpec, builder: DraftBuilder | None, exc: RegistryError
) -> dict[str, Bilingual]:
    """Place the record schema's per-path errors next to their fields."""
    names = {f.name for f in spec.fields()}
    rows = [i for i in spec.items if isinstance(i, Rows)]
    placed: dict[str, Bilingual] = {}
    for entry in exc.extra.get("errors") or []:
        path = str(entry.get("path", ""))
        message = str(entry.get("message", ""))
        target = _field_for(path, spec, builder, names, rows)
        if target:
            placed.setdefault(target, (f"格式不正确：{message}", message))
    return placed


def _field_for(
    path: str,
    spec: RecordSpec,
    builder: DraftBuilder | None,
    names: set[str],
    rows: list[Rows],
) -> str | None:
    parts = path.split(".")
    if builder is not None and len(parts) >= 2:
        row = builder.path_map.get(f"{parts[0]}.{parts[1]}")
        if row is not None:
            path = ".".join([row, *parts[2:]])
    for alias, target in spec.aliases.items():
        if path == alias or path.startswith(alias + "."):
            return target
    if path.startswith("batches") and "batch" in names:
        return "batch"
    candidate = path
    while candidate:
        if candidate in names or any(
            candidate.startswith(r.name + ".")
            and candidate.split(".", 2)[-1] in {c.name for c in r.columns}
            for r in rows
        ):
            return candidate
        candidate = candidate.rpartition(".")[0]
    return None
