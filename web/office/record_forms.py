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
from registry.i18n import N_
from registry.models import Batch, OrgKind
from registry.records.schema import CertificateBasis, Kind
from web.office import builders
from web.office.core import Form, OfficeUser
from web.office.drafts import DraftBuilder, FormInvalid
from web.office.fields import (
    BASIS_LABELS,
    BATCH,
    DEFAULT_PROMISE,
    INSPECTION_RESULTS,
    NOTE,
    PROCESSING_INPUTS,
    PROCESSING_OUTPUTS,
    SHIP_TO_KINDS,
    STORAGE_READINGS,
    TASKS,
    UNIT_FIELD,
    WHEN,
    Field,
    Item,
    Label,
    Rows,
    pgettext,
)


@dataclass(frozen=True)
class RecordSpec:
    kind: Kind
    label: Label
    description: str
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
            N_("采收（新建批次）"),
            N_("登记一批新采收的产品，系统分配批次码。"),
            frozenset({OrgKind.COOPERATIVE}),
            (
                Field("product", N_("产品"), "product", required=True),
                Field(
                    "lot",
                    pgettext("form", "批号"),
                    required=True,
                    hint=N_("本单位自编批号，如 AH2026-003"),
                ),
                Field("quantity", N_("数量"), "decimal", required=True),
                UNIT_FIELD,
                Field("harvest_date", pgettext("form", "采收日期"), "date", required=True),
                Field("best_before", N_("保质期至"), "date"),
                Field("place.region", N_("产地区划代码"), required=True),
                Field("place.name", N_("产地名称"), placeholder="敖汉旗四家子镇"),
                Field("place.lat", N_("纬度"), "decimal"),
                Field("place.lon", N_("经度"), "decimal"),
                WHEN,
                NOTE,
            ),
            builders.harvest,
            aliases={"batches.0": "lot", "batches": "lot", "prev": "lot"},
        ),
        RecordSpec(
            Kind.PACKING,
            N_("包装"),
            N_("把本单位的批次分装成包。"),
            frozenset({OrgKind.COOPERATIVE, OrgKind.PROCESSOR}),
            (
                BATCH,
                Field("package.count", N_("件数"), "integer", required=True),
                Field("package.size", N_("每件规格"), "decimal", required=True),
                Field("package.unit", N_("规格单位"), "unit", required=True),
                Field("packaging", N_("包装材料"), placeholder="真空袋"),
                WHEN,
                NOTE,
            ),
            builders.packing,
        ),
        RecordSpec(
            Kind.CERTIFICATE,
            pgettext("form", "承诺达标合格证"),
            N_("生产者对本批次达标的承诺。"),
            frozenset({OrgKind.COOPERATIVE, OrgKind.PROCESSOR}),
            (
                BATCH,
                Field("certificate_number", pgettext("form", "合格证编号"), required=True),
                Field("promise", N_("承诺内容"), "textarea", required=True, wide=True),
                Field(
                    "basis",
                    N_("承诺依据"),
                    "checkboxes",
                    required=True,
                    options=tuple((c.value, BASIS_LABELS[c]) for c in CertificateBasis),
                ),
                Field("contact_phone", N_("联系电话")),
                Field("quantity", N_("数量"), "decimal"),
                Field("unit", N_("单位"), "unit"),
                WHEN,
            ),
            builders.certificate,
        ),
        RecordSpec(
            Kind.STORAGE,
            N_("仓储与温度"),
            N_("记录存放地点和温度。"),
            frozenset({OrgKind.COOPERATIVE, OrgKind.PROCESSOR, OrgKind.CARRIER}),
            (
                BATCH,
                Field("location", N_("存放地点"), required=True, placeholder="1号冷库"),
                STORAGE_READINGS,
                WHEN,
                NOTE,
            ),
            builders.storage,
        ),
        RecordSpec(
            Kind.PROCESSING,
            N_("加工（原料 → 产品）"),
            N_("用若干原料批次加工出新的产品批次。"),
            frozenset({OrgKind.PROCESSOR}),
            (
                PROCESSING_INPUTS,
                PROCESSING_OUTPUTS,
                Field("process", N_("工艺"), placeholder="脱壳、抛光、包装"),
                WHEN,
                NOTE,
            ),
            builders.processing,
        ),
        RecordSpec(
            Kind.SHIPPING,
            N_("发运"),
            N_("批次离开本地，发往收货方。"),
            frozenset({OrgKind.CARRIER}),
            (
                BATCH,
                Field("to.name", N_("收货方"), required=True),
                Field(
                    "to.org",
                    N_("收货单位（本平台）"),
                    "organization",
                    hint=N_("收货方是本平台的单位时请选择：只有它能签收"),
                    org_kinds=SHIP_TO_KINDS,
                ),
                Field("to.place.region", N_("目的地区划代码")),
                Field("quantity", N_("数量"), "decimal"),
                Field("unit", N_("单位"), "unit"),
                Field("vehicle", N_("车牌号"), placeholder="蒙D·7K218"),
                Field("waybill", N_("运单号")),
                WHEN,
                NOTE,
            ),
            builders.shipping,
        ),
        RecordSpec(
            Kind.RECEIVING,
            N_("收货"),
            N_("批次到达。"),
            frozenset({OrgKind.CARRIER, OrgKind.PROCESSOR}),
            (
                BATCH,
                Field("source.name", N_("发货方"), required=True),
                Field("quantity", N_("数量"), "decimal"),
                Field("unit", N_("单位"), "unit"),
                Field("waybill", N_("运单号")),
                WHEN,
                NOTE,
            ),
            builders.receiving,
        ),
        RecordSpec(
            Kind.INSPECTION,
            N_("检测报告"),
            N_("一份检测报告，可含多个检测项目。"),
            frozenset({OrgKind.LAB}),
            (
                BATCH,
                Field("report_number", pgettext("form", "报告编号"), required=True),
                Field("sampled_on", pgettext("form", "抽样日期"), "date"),
                INSPECTION_RESULTS,
                WHEN,
                NOTE,
            ),
            builders.inspection,
        ),
        RecordSpec(
            Kind.ASSIGNMENT,
            N_("委托运输或检测"),
            N_(
                "把本单位持有的批次交给承运方运输，或交给检测机构抽样检测；只有受托方能签相应记录。"
            ),
            frozenset({OrgKind.COOPERATIVE, OrgKind.PROCESSOR}),
            (
                BATCH,
                Field("task", N_("委托事项"), "select", required=True, options=TASKS),
                Field(
                    "to.org",
                    N_("受托单位"),
                    "organization",
                    required=True,
                    org_kinds=("carrier", "lab"),
                ),
                WHEN,
                NOTE,
            ),
            builders.assignment,
        ),
        RecordSpec(
            Kind.RECALL,
            N_("召回"),
            N_("召回批次及用它制成的一切产品；相关背书立即显示“已召回”。"),
            frozenset({OrgKind.AUTHORITY, OrgKind.COOPERATIVE, OrgKind.PROCESSOR}),
            (
                BATCH,
                Field("reason", pgettext("form", "召回原因"), "textarea", required=True, wide=True),
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
    Kind.ASSIGNMENT,
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


def build(
    spec: RecordSpec,
    form: Form,
    session: Session,
    user: OfficeUser,
    gettext: Callable[[str], str],
) -> DraftBuilder:
    """Build the draft; raises FormInvalid naming each field in trouble (in the language of
    ``gettext``)."""
    builder = DraftBuilder(form, session, user, gettext)
    builder.draft = spec.build(builder)
    if builder.errors:
        raise FormInvalid(builder.errors)
    return builder


def errors_from(
    spec: RecordSpec,
    builder: DraftBuilder | None,
    exc: RegistryError,
    gettext: Callable[[str], str],
) -> dict[str, str]:
    """Place the record schema's per-path errors next to their fields."""
    _ = gettext
    names = {f.name for f in spec.fields()}
    rows = [i for i in spec.items if isinstance(i, Rows)]
    placed: dict[str, str] = {}
    for entry in exc.extra.get("errors") or []:
        path = str(entry.get("path", ""))
        message = str(entry.get("message", ""))
        target = _field_for(path, spec, builder, names, rows)
        if target:
            placed.setdefault(target, _("格式不正确：%(message)s") % {"message": message})
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
