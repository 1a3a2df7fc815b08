"""The inputs a record form is drawn from: one field, a repeated group of fields, the
options of a choice, and the fields and groups several record kinds share.

Field names are the record's own paths where they can be (``results.0.value``), so an error
the record schema reports for a path lands next to the field that holds it. Without
JavaScript each repeated group shows a fixed number of rows (five substances);
``office.js`` only adds more rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.records import CertificateBasis
from web.office.core import Bilingual

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
