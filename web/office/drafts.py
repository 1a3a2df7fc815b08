"""Turning the typed values of a record form into the draft ``records.sign_and_submit``
signs: every problem is collected (not just the first) next to the field it belongs to."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from registry import places
from registry.accounts import queries as account_queries
from registry.catalog import batches as batch_service
from registry.catalog import queries as catalog
from registry.clock import CHINA_TZ
from registry.errors import InvalidInput, NotFound
from registry.gs1 import validate_lot
from registry.models import Batch, Organization, Product
from web.office.core import Form, OfficeUser
from web.office.fields import Option, Rows

_DECIMAL_RE = re.compile(r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,6})?$")
_REGION_RE = re.compile(r"^[1-8][0-9]{5}$")


class FormInvalid(InvalidInput):
    """A form with problems: each field's message, in the page language (the form's page
    shows them again; one that escaped would be a 422 like any invalid input)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("form invalid")
        self.errors = errors


class DraftBuilder:
    """Reads typed values, collects every problem (not just the first) with the field it
    belongs to, and remembers which form row each draft list entry came from."""

    def __init__(
        self, form: Form, session: Session, user: OfficeUser, gettext: Callable[[str], str]
    ) -> None:
        self.form = form
        self.session = session
        self.user = user
        self._ = gettext
        self.errors: dict[str, str] = {}
        self.path_map: dict[str, str] = {}
        self.draft: dict[str, Any] = {}

    def fail(self, name: str, message: str) -> None:
        """Note the (first) problem of field ``name``, in the page language."""
        self.errors.setdefault(name, message)

    def text(self, name: str, required: bool = False, max_length: int = 100) -> str | None:
        value = self.form.get(name)
        if not value:
            if required:
                self.fail(name, self._("必填"))
            return None
        if len(value) > max_length:
            self.fail(name, self._("最多 %(count)s 个字") % {"count": max_length})
            return None
        return value

    def decimal(self, name: str, required: bool = False, positive: bool = False) -> str | None:
        value = self.form.get(name).replace("，", ",").replace(",", "")
        if not value:
            if required:
                self.fail(name, self._("必填"))
            return None
        if value.startswith("+"):
            value = value[1:]
        if value.startswith("."):
            value = "0" + value
        if not _DECIMAL_RE.match(value):
            self.fail(name, self._("请填写数字，如 12.5（最多 6 位小数）"))
            return None
        if positive and Decimal(value) <= 0:
            self.fail(name, self._("必须大于 0"))
            return None
        return value

    def integer(self, name: str, required: bool = False) -> int | None:
        value = self.form.get(name)
        if not value:
            if required:
                self.fail(name, self._("必填"))
            return None
        if not (value.isascii() and value.isdigit()) or int(value) < 1 or int(value) > 2**53 - 1:
            self.fail(name, self._("请填写正整数"))
            return None
        return int(value)

    def date(self, name: str, required: bool = False) -> str | None:
        value = self.form.get(name)
        if not value:
            if required:
                self.fail(name, self._("必填"))
            return None
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            self.fail(name, self._("日期格式：2026-09-20"))
            return None
        return parsed.isoformat()

    def moment(self, name: str, required: bool = False) -> str | None:
        """A ``datetime-local`` value read as Beijing time, as RFC 3339 with +08:00."""
        value = self.form.get(name)
        if not value:
            if required:
                self.fail(name, self._("必填"))
            return None
        parsed = parse_local_time(value)
        if parsed is None:
            self.fail(name, self._("时间格式：2026-09-20T08:00"))
            return None
        return parsed.isoformat(timespec="seconds")

    def region(self, name: str, required: bool = False) -> str | None:
        value = self.form.get(name)
        if not value:
            if required:
                self.fail(name, self._("必填"))
            return None
        if not _REGION_RE.match(value):
            self.fail(name, self._("6 位行政区划代码，如 150430"))
            return None
        if not places.is_known_region(value):
            self.fail(name, self._("没有这个行政区划代码：%(code)s") % {"code": value})
            return None
        return value

    def choice(self, name: str, options: tuple[Option, ...], required: bool = True) -> str | None:
        value = self.form.get(name)
        if not value:
            if required:
                self.fail(name, self._("请选择"))
            return None
        if value not in {o[0] for o in options}:
            self.fail(name, self._("请从列表中选择"))
            return None
        return value

    def lot(self, name: str) -> str | None:
        value = self.form.get(name)
        if not value:
            self.fail(name, self._("必填"))
            return None
        try:
            return validate_lot(value)
        except InvalidInput:
            self.fail(name, self._("批号 1-20 位：字母、数字和 - . / _ 等"))
            return None

    def batch(self, name: str, required: bool = True) -> Batch | None:
        value = self.form.get(name)
        if not value:
            if required:
                self.fail(name, self._("请填写批次码"))
            return None
        try:
            return batch_service.get_batch(self.session, value)
        except NotFound:
            self.fail(name, self._("没有这个批次码，请核对"))
            return None

    def batch_ref(self, name: str) -> str | None:
        found = self.batch(name)
        return f"{found.product_id}:{found.lot}" if found is not None else None

    def organization(
        self, name: str, kinds: tuple[str, ...], required: bool = False
    ) -> Organization | None:
        """The registry organization chosen in ``name``, of one of ``kinds``."""
        value = self.form.get(name)
        if not value:
            if required:
                self.fail(name, self._("请选择单位"))
            return None
        choices = {
            str(o.id): o
            for o in account_queries.supply_chain_organizations(self.session)
            if o.kind.value in kinds
        }
        if value not in choices:
            self.fail(name, self._("请从列表中选择"))
            return None
        return choices[value]

    def product(self, name: str) -> Product | None:
        value = self.form.get(name)
        products = {str(p.id): p for p in catalog.products_of(self.session, self.user.org.id)}
        if not value:
            self.fail(name, self._("请选择产品"))
            return None
        if value not in products:
            self.fail(name, self._("请选择本单位的产品"))
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
        parsed = parsed.replace(tzinfo=CHINA_TZ)
    return parsed.replace(microsecond=0)
