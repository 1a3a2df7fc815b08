"""The inputs a record form is drawn from: one field, a repeated group of fields, the
options of a choice, and the fields and groups several record kinds share.

Field names are the record's own paths where they can be (``results.0.value``), so an error
the record schema reports for a path lands next to the field that holds it. Without
JavaScript each repeated group shows a fixed number of rows (five substances);
``office.js`` only adds more rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from registry.i18n import N_, gettext_for, pgettext_for
from registry.records.schema import CertificateBasis


class InContext(NamedTuple):
    """A catalogue message that needs its context (``pgettext``): a form label whose
    Chinese another page translates differently."""

    context: str
    message: str


def pgettext(context: str, message: str) -> InContext:
    """Marks a label for the catalogue with its context, like ``N_`` does without one; the
    form template translates it when it draws the form."""
    return InContext(context, message)


Label = str | InContext
"""A field's label or hint: a catalogue message, with its context where it needs one."""


def translate(label: Label, lang: str) -> str:
    """``label`` in ``lang``; templates get it as ``say(label)``. Not %-formatted, so a
    label may hold a plain "%"."""
    if isinstance(label, InContext):
        return pgettext_for(lang)(label.context, label.message)
    return gettext_for(lang)(label)


Option = tuple[str, str]
"""A choice: its value and its label (a catalogue message)."""

UNITS = ("kg", "g", "t", "piece", "box", "bag", "L")
VERDICTS: tuple[Option, ...] = (("pass", N_("合格")), ("fail", N_("不合格")))
TASKS: tuple[Option, ...] = (("carriage", N_("运输")), ("inspection", N_("检测/抽样")))
SHIP_TO_KINDS = ("cooperative", "processor", "carrier", "lab")
"""Where a shipment may go, when it goes to a registry organization (who then receives it)."""
BASIS_LABELS = {
    CertificateBasis.SELF_TEST: N_("自检合格"),
    CertificateBasis.COMMISSIONED_TEST: N_("委托检测合格"),
    CertificateBasis.QUALITY_CONTROL: N_("内部质量控制合格"),
    CertificateBasis.SELF_COMMITMENT: N_("自我承诺"),
}
DEFAULT_PROMISE = (
    "我承诺对生产销售的食用农产品：不使用禁用农药兽药、停用兽药和非法添加物，"
    "常规农药兽药残留不超标，对承诺的真实性负责。"
)


@dataclass(frozen=True)
class Field:
    """One input. ``type``: text, decimal, integer, date, datetime, select, textarea,
    checkboxes, batch (a batch code, suggestions from the user's batches), unit,
    organization (a registry organization of one of ``org_kinds``)."""

    name: str
    label: Label
    type: str = "text"
    required: bool = False
    options: tuple[Option, ...] = ()
    hint: Label | None = None
    placeholder: str = ""
    wide: bool = False
    org_kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rows:
    """A repeated group: inputs named ``{name}.{i}.{column}``."""

    name: str
    label: Label
    columns: tuple[Field, ...]
    count: int
    hint: Label | None = None

    @property
    def type(self) -> str:
        """What the form template draws: a group of rows."""
        return "rows"


Item = Field | Rows


WHEN = Field(
    "time",
    N_("发生时间"),
    "datetime",
    hint=N_("北京时间；留空即现在"),
)
NOTE = Field("note", N_("备注"), "textarea", wide=True)
BATCH = Field(
    "batch",
    N_("批次码"),
    "batch",
    required=True,
    hint=N_("标签上的批次码，如 7XK2M9QP4"),
)


UNIT_FIELD = Field("unit", N_("单位"), "unit", required=True)
STORAGE_READINGS = Rows(
    "readings",
    pgettext("form", "温度记录"),
    (
        Field("time", N_("时间"), "datetime"),
        Field("celsius", N_("温度 °C"), "decimal"),
        Field("humidity", N_("湿度 %"), "decimal"),
    ),
    count=3,
)
INSPECTION_RESULTS = Rows(
    "results",
    pgettext("group", "检测项目"),
    (
        Field("substance", N_("检测项目"), placeholder="毒死蜱 chlorpyrifos"),
        Field("value", N_("检测值"), "decimal"),
        Field("limit", N_("限量"), "decimal"),
        Field("unit", N_("单位"), "unit", placeholder="mg/kg"),
        Field("method", N_("检测方法标准"), placeholder="GB 23200.113-2018"),
        Field("verdict", N_("判定"), "select", options=VERDICTS),
    ),
    count=5,
    hint=N_("空行会被忽略；任一项不合格，报告即判定为不合格。"),
)
PROCESSING_INPUTS = Rows(
    "inputs",
    N_("原料批次"),
    (
        Field("batch", N_("批次码"), "batch"),
        Field("quantity", N_("用量（按原料单位）"), "decimal"),
    ),
    count=3,
)
PROCESSING_OUTPUTS = Rows(
    "outputs",
    N_("产出批次"),
    (
        Field("product", N_("产品"), "product"),
        Field("lot", N_("批号")),
        Field("quantity", N_("数量"), "decimal"),
        Field("unit", N_("单位"), "unit"),
        Field("best_before", N_("保质期至"), "date"),
    ),
    count=2,
)
