"""Record forms: what each kind of record asks for, and how a filled form becomes a draft.

One spec per record kind lists its fields (and repeated rows, e.g. the substances of an
inspection); one template draws every spec, and one builder per kind turns the typed values
into the draft that ``records.sign_and_submit`` signs. Field names are the record's own
paths where they can be (``results.0.value``), so an error the record schema reports for a
path lands next to the field that holds it.

Without JavaScript each repeated group shows a fixed number of rows (five substances);
``office.js`` only adds more rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.catalog import batches as batch_service
from registry.errors import InvalidInput, NotFound, RegistryError
from registry.gs1 import validate_lot
from registry.models import Batch, OrgKind, Product
from registry.records.schema import CertificateBasis, Kind
from web.office.core import CST, Bilingual, Form, OfficeUser

# --- field specs ----------------------------------------------------------------------------

Option = tuple[str, str, str]  # value, zh, en

UNITS = ("kg", "g", "t", "piece", "box", "bag", "L")
VERDICTS: tuple[Option, ...] = (("pass", "合格", "Pass"), ("fail", "不合格", "Fail"))
BASIS_LABELS = {
    CertificateBasis.SELF_TEST: ("自检合格", "Self-tested"),
    CertificateBasis.COMMISSIONED_TEST: ("委托检测合格", "Tested by a commissioned lab"),
    CertificateBasis.QUALITY_CONTROL: ("内部质量控制合格", "Internal quality control"),
}
DEFAULT_PROMISE = (
    "我承诺对生产销售的食用农产品：不使用禁用农药兽药、停用兽药和非法添加物，"
    "常规农药兽药残留不超标，对承诺的真实性负责。"
)


@dataclass(frozen=True)
class Field:
    """One input. ``type``: text, decimal, integer, date, datetime, select, textarea,
    checkboxes, batch (a batch code, suggestions from the user's batches), unit."""

    name: str
    label: Bilingual
    type: str = "text"
    required: bool = False
    options: tuple[Option, ...] = ()
    hint: Bilingual | None = None
    placeholder: str = ""
    wide: bool = False


@dataclass(frozen=True)
class Rows:
    """A repeated group: inputs named ``{name}.{i}.{column}``."""

    name: str
    label: Bilingual
    columns: tuple[Field, ...]
    count: int
    hint: Bilingual | None = None

    @property
    def type(self) -> str:
        return "rows"


Item = Field | Rows

WHEN = Field(
    "time",
    ("发生时间", "When it happened"),
    "datetime",
    hint=("北京时间；留空即现在", "Beijing time; blank means now"),
)
NOTE = Field("note", ("备注", "Note"), "textarea", wide=True)
BATCH = Field(
    "batch",
    ("批次码", "Batch code"),
    "batch",
    required=True,
    hint=("标签上的批次码，如 7XK2M9QP4", "The code on the label, e.g. 7XK2M9QP4"),
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


# --- turning typed values into a draft ----------------------------------------------------

_DECIMAL_RE = re.compile(r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,6})?$")
_REGION_RE = re.compile(r"^[1-8][0-9]{5}$")


class FormInvalid(Exception):
    def __init__(self, errors: dict[str, Bilingual]) -> None:
        super().__init__("form invalid")
        self.errors = errors


class DraftBuilder:
    """Reads typed values, collects every problem (not just the first) with the field it
    belongs to, and remembers which form row each draft list entry came from."""

    def __init__(self, form: Form, session: Session, user: OfficeUser) -> None:
        self.form = form
        self.session = session
        self.user = user
        self.errors: dict[str, Bilingual] = {}
        self.path_map: dict[str, str] = {}
        self.draft: dict[str, Any] = {}

    def fail(self, name: str, zh: str, en: str) -> None:
        self.errors.setdefault(name, (zh, en))

    def text(self, name: str, required: bool = False, max_length: int = 100) -> str | None:
        value = self.form.get(name)
        if not value:
            if required:
                self.fail(name, "必填", "Required")
            return None
        if len(value) > max_length:
            self.fail(name, f"最多 {max_length} 个字", f"At most {max_length} characters")
            return None
        return value

    def decimal(self, name: str, required: bool = False, positive: bool = False) -> str | None:
        value = self.form.get(name).replace("，", ",").replace(",", "")
        if not value:
            if required:
                self.fail(name, "必填", "Required")
            return None
        if value.startswith("+"):
            value = value[1:]
        if value.startswith("."):
            value = "0" + value
        if not _DECIMAL_RE.match(value):
            self.fail(
                name,
                "请填写数字，如 12.5（最多 6 位小数）",
                "Enter a number such as 12.5 (at most 6 decimals)",
            )
            return None
        if positive and Decimal(value) <= 0:
            self.fail(name, "必须大于 0", "Must be greater than zero")
            return None
        return value

    def integer(self, name: str, required: bool = False) -> int | None:
        value = self.form.get(name)
        if not value:
            if required:
                self.fail(name, "必填", "Required")
            return None
        if not (value.isascii() and value.isdigit()) or int(value) < 1 or int(value) > 2**53 - 1:
            self.fail(name, "请填写正整数", "Enter a whole number above zero")
            return None
        return int(value)

    def date(self, name: str, required: bool = False) -> str | None:
        value = self.form.get(name)
        if not value:
            if required:
                self.fail(name, "必填", "Required")
            return None
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            self.fail(name, "日期格式：2026-09-20", "Date as 2026-09-20")
            return None
        return parsed.isoformat()

    def moment(self, name: str, required: bool = False) -> str | None:
        """A ``datetime-local`` value read as Beijing time, as RFC 3339 with +08:00."""
        value = self.form.get(name)
        if not value:
            if required:
                self.fail(name, "必填", "Required")
            return None
        parsed = parse_local_time(value)
        if parsed is None:
            self.fail(name, "时间格式：2026-09-20T08:00", "Time as 2026-09-20T08:00")
            return None
        return parsed.isoformat(timespec="seconds")

    def region(self, name: str, required: bool = False) -> str | None:
        value = self.form.get(name)
        if not value:
            if required:
                self.fail(name, "必填", "Required")
            return None
        if not _REGION_RE.match(value):
            self.fail(
                name,
                "6 位行政区划代码，如 150430",
                "A 6-digit region code (GB/T 2260), e.g. 150430",
            )
            return None
        return value

    def choice(self, name: str, options: tuple[Option, ...], required: bool = True) -> str | None:
        value = self.form.get(name)
        if not value:
            if required:
                self.fail(name, "请选择", "Choose one")
            return None
        if value not in {o[0] for o in options}:
            self.fail(name, "请从列表中选择", "Choose from the list")
            return None
        return value

    def lot(self, name: str) -> str | None:
        value = self.form.get(name)
        if not value:
            self.fail(name, "必填", "Required")
            return None
        try:
            return validate_lot(value)
        except InvalidInput:
            self.fail(
                name,
                "批号 1-20 位：字母、数字和 - . / _ 等",
                "A lot is 1-20 letters, digits or - . / _ (GS1 characters)",
            )
            return None

    def batch(self, name: str, required: bool = True) -> Batch | None:
        value = self.form.get(name)
        if not value:
            if required:
                self.fail(name, "请填写批次码", "Enter a batch code")
            return None
        try:
            return batch_service.get_batch(self.session, value)
        except NotFound:
            self.fail(name, "没有这个批次码，请核对", "No batch has this code: check it")
            return None

    def batch_ref(self, name: str) -> str | None:
        found = self.batch(name)
        return f"{found.product_id}:{found.lot}" if found is not None else None

    def product(self, name: str) -> Product | None:
        value = self.form.get(name)
        products = {str(p.id): p for p in own_products(self.session, self.user)}
        if not value:
            self.fail(name, "请选择产品", "Choose a product")
            return None
        if value not in products:
            self.fail(name, "请选择本单位的产品", "Choose one of your products")
            return None
        return products[value]

    def filled_rows(self, group: Rows) -> list[int]:
        """Indices of rows with anything typed in (the form may hold more than shown)."""
        filled = []
        for i in range(200):
            names = [f"{group.name}.{i}.{c.name}" for c in group.columns]
            if not any(self.form.has(n) for n in names):
                if i >= group.count:
                    break
                continue
            if any(self.form.get(n) for n in names if not n.endswith(".verdict")):
                filled.append(i)
        return filled

    def common(self, draft: dict[str, Any]) -> dict[str, Any]:
        when = self.moment("time")
        if when:
            draft["time"] = when
        note = self.text("note", max_length=500)
        if note:
            draft["note"] = note
        return draft


def parse_local_time(value: str) -> datetime | None:
    """``2026-09-20T08:00`` (a browser's datetime-local) as Beijing time."""
    text = value.strip().replace(" ", "T")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CST)
    return parsed.replace(microsecond=0)


def own_products(session: Session, user: OfficeUser) -> list[Product]:
    return list(
        session.scalars(
            select(Product)
            .where(Product.organization_id == user.org.id)
            .order_by(Product.created_at, Product.name_zh)
        )
    )


# --- builders, one per kind -------------------------------------------------------------------


def _harvest(b: DraftBuilder) -> dict[str, Any]:
    product = b.product("product")
    lot = b.lot("lot")
    place: dict[str, Any] = {"region": b.region("place.region", required=True)}
    for key in ("name", "lat", "lon"):
        value = b.text(f"place.{key}") if key == "name" else b.decimal(f"place.{key}")
        if value:
            place[key] = value
    draft: dict[str, Any] = {
        "kind": "harvest",
        "batches": [f"{product.id}:{lot}" if product and lot else ""],
        "quantity": b.decimal("quantity", required=True, positive=True),
        "unit": b.text("unit", required=True, max_length=16),
        "harvest_date": b.date("harvest_date", required=True),
        "place": place,
    }
    best_before = b.date("best_before")
    if best_before:
        draft["best_before"] = best_before
    return b.common(draft)


def _packing(b: DraftBuilder) -> dict[str, Any]:
    draft: dict[str, Any] = {
        "kind": "packing",
        "batches": [b.batch_ref("batch")],
        "package": {
            "count": b.integer("package.count", required=True),
            "size": b.decimal("package.size", required=True, positive=True),
            "unit": b.text("package.unit", required=True, max_length=16),
        },
    }
    packaging = b.text("packaging")
    if packaging:
        draft["packaging"] = packaging
    return b.common(draft)


def _certificate(b: DraftBuilder) -> dict[str, Any]:
    basis = [v for v in b.form.getlist("basis") if v in {c.value for c in CertificateBasis}]
    if not basis:
        b.fail("basis", "至少选择一项依据", "Choose at least one basis")
    draft: dict[str, Any] = {
        "kind": "certificate",
        "batches": [b.batch_ref("batch")],
        "certificate_number": b.text("certificate_number", required=True),
        "promise": b.text("promise", required=True, max_length=500),
        "basis": basis,
    }
    quantity = b.decimal("quantity", positive=True)
    unit = b.text("unit", max_length=16)
    if quantity:
        draft["quantity"] = quantity
        if not unit:
            b.fail("unit", "填写数量时请填写单位", "Give the unit of the quantity")
        draft["unit"] = unit
    return b.common(draft)


def _storage(b: DraftBuilder) -> dict[str, Any]:
    readings: list[dict[str, Any]] = []
    for i in b.filled_rows(STORAGE_READINGS):
        reading: dict[str, Any] = {
            "time": b.moment(f"readings.{i}.time", required=True),
            "celsius": b.decimal(f"readings.{i}.celsius", required=True),
        }
        humidity = b.decimal(f"readings.{i}.humidity")
        if humidity:
            reading["humidity"] = humidity
        b.path_map[f"readings.{len(readings)}"] = f"readings.{i}"
        readings.append(reading)
    return b.common(
        {
            "kind": "storage",
            "batches": [b.batch_ref("batch")],
            "location": b.text("location", required=True),
            "readings": readings,
        }
    )


def _quantity_unit(b: DraftBuilder, draft: dict[str, Any]) -> None:
    quantity = b.decimal("quantity", positive=True)
    unit = b.text("unit", max_length=16)
    if quantity:
        draft["quantity"] = quantity
        if not unit:
            b.fail("unit", "填写数量时请填写单位", "Give the unit of the quantity")
        draft["unit"] = unit


def _shipping(b: DraftBuilder) -> dict[str, Any]:
    to: dict[str, Any] = {"name": b.text("to.name", required=True)}
    region = b.region("to.place.region")
    if region:
        to["place"] = {"region": region}
    draft: dict[str, Any] = {"kind": "shipping", "batches": [b.batch_ref("batch")], "to": to}
    _quantity_unit(b, draft)
    for key in ("vehicle", "waybill"):
        value = b.text(key)
        if value:
            draft[key] = value
    return b.common(draft)


def _receiving(b: DraftBuilder) -> dict[str, Any]:
    draft: dict[str, Any] = {
        "kind": "receiving",
        "batches": [b.batch_ref("batch")],
        "source": {"name": b.text("source.name", required=True)},
    }
    _quantity_unit(b, draft)
    waybill = b.text("waybill")
    if waybill:
        draft["waybill"] = waybill
    return b.common(draft)


def _inspection(b: DraftBuilder) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for i in b.filled_rows(INSPECTION_RESULTS):
        prefix = f"results.{i}"
        results.append(
            {
                "substance": b.text(f"{prefix}.substance", required=True),
                "value": b.decimal(f"{prefix}.value", required=True),
                "limit": b.decimal(f"{prefix}.limit", required=True),
                "unit": b.text(f"{prefix}.unit", required=True, max_length=16),
                "method": b.text(f"{prefix}.method", required=True),
                "verdict": b.choice(f"{prefix}.verdict", VERDICTS),
            }
        )
        b.path_map[f"results.{len(results) - 1}"] = prefix
    if not results:
        b.fail("results.0.substance", "至少填写一项检测结果", "Enter at least one result")
    failed = any(r["verdict"] == "fail" for r in results)
    draft: dict[str, Any] = {
        "kind": "inspection",
        "batches": [b.batch_ref("batch")],
        "report_number": b.text("report_number", required=True),
        "results": results,
        "verdict": "fail" if failed else "pass",
    }
    sampled_on = b.date("sampled_on")
    if sampled_on:
        draft["sampled_on"] = sampled_on
    return b.common(draft)


def _processing(b: DraftBuilder) -> dict[str, Any]:
    inputs: list[dict[str, Any]] = []
    for i in b.filled_rows(PROCESSING_INPUTS):
        inputs.append(
            {
                "batch": b.batch_ref(f"inputs.{i}.batch"),
                "quantity": b.decimal(f"inputs.{i}.quantity", required=True, positive=True),
            }
        )
        b.path_map[f"inputs.{len(inputs) - 1}"] = f"inputs.{i}"
    if not inputs:
        b.fail("inputs.0.batch", "至少填写一个原料批次", "Enter at least one input batch")
    outputs: list[dict[str, Any]] = []
    for i in b.filled_rows(PROCESSING_OUTPUTS):
        prefix = f"outputs.{i}"
        product = b.product(f"{prefix}.product")
        lot = b.lot(f"{prefix}.lot")
        output: dict[str, Any] = {
            "batch": f"{product.id}:{lot}" if product and lot else None,
            "quantity": b.decimal(f"{prefix}.quantity", required=True, positive=True),
            "unit": b.text(f"{prefix}.unit", required=True, max_length=16),
        }
        best_before = b.date(f"{prefix}.best_before")
        if best_before:
            output["best_before"] = best_before
        b.path_map[f"outputs.{len(outputs)}"] = prefix
        outputs.append(output)
    if not outputs:
        b.fail("outputs.0.product", "至少填写一个产出批次", "Enter at least one output batch")
    draft: dict[str, Any] = {"kind": "processing", "inputs": inputs, "outputs": outputs}
    process = b.text("process")
    if process:
        draft["process"] = process
    return b.common(draft)


def _recall(b: DraftBuilder) -> dict[str, Any]:
    return b.common(
        {
            "kind": "recall",
            "batches": [b.batch_ref("batch")],
            "reason": b.text("reason", required=True, max_length=500),
        }
    )


# --- the specs ------------------------------------------------------------------------------

UNIT_FIELD = Field("unit", ("单位", "Unit"), "unit", required=True)
STORAGE_READINGS = Rows(
    "readings",
    ("温度记录", "Temperature readings"),
    (
        Field("time", ("时间", "Time"), "datetime"),
        Field("celsius", ("温度 °C", "°C"), "decimal"),
        Field("humidity", ("湿度 %", "Humidity %"), "decimal"),
    ),
    count=3,
)
INSPECTION_RESULTS = Rows(
    "results",
    ("检测项目", "Substances tested"),
    (
        Field("substance", ("检测项目", "Substance"), placeholder="毒死蜱 chlorpyrifos"),
        Field("value", ("检测值", "Measured"), "decimal"),
        Field("limit", ("限量", "Limit"), "decimal"),
        Field("unit", ("单位", "Unit"), "unit", placeholder="mg/kg"),
        Field("method", ("检测方法标准", "Method standard"), placeholder="GB 23200.113-2018"),
        Field("verdict", ("判定", "Verdict"), "select", options=VERDICTS),
    ),
    count=5,
    hint=(
        "空行会被忽略；任一项不合格，报告即判定为不合格。",
        "Empty rows are ignored; if any substance fails, the report fails.",
    ),
)
PROCESSING_INPUTS = Rows(
    "inputs",
    ("原料批次", "Input batches"),
    (
        Field("batch", ("批次码", "Batch code"), "batch"),
        Field("quantity", ("用量（按原料单位）", "Quantity used (input's unit)"), "decimal"),
    ),
    count=3,
)
PROCESSING_OUTPUTS = Rows(
    "outputs",
    ("产出批次", "Output batches"),
    (
        Field("product", ("产品", "Product"), "product"),
        Field("lot", ("批号", "Lot")),
        Field("quantity", ("数量", "Quantity"), "decimal"),
        Field("unit", ("单位", "Unit"), "unit"),
        Field("best_before", ("保质期至", "Best before"), "date"),
    ),
    count=2,
)

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
            _harvest,
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
            _packing,
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
            _certificate,
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
            _storage,
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
            _processing,
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
            _shipping,
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
            _receiving,
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
            _inspection,
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
            _recall,
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
    today = datetime.now(CST).date().isoformat()
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
