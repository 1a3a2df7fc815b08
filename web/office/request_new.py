"""A producer's endorsement request: the form (batches, official, live stream, claims,
quantity, validity) and its submission to ``endorsements.request_endorsement``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from api.deps import ContextDep, SessionDep
from registry.catalog import batches as batch_service
from registry.catalog import queries as catalog
from registry.endorsements import queries as endorsement_queries
from registry.endorsements import requests as endorsement_requests
from registry.errors import RegistryError
from registry.models import Batch, Product
from registry.records.schema import Claim, Platform
from web.office.core import (
    Form,
    FormDep,
    OfficeUser,
    UserDep,
    redirect,
    render,
    router,
    translator,
)
from web.office.drafts import parse_local_time
from web.office.messages import explain
from web.office.views import page_helpers

DEFAULT_CLAIMS = ["origin_verified", "lab_tested", "certified", "personally_vouched"]


def _candidates(session: Any, user: OfficeUser) -> list[Batch]:
    """Batches the organization may ask for: its own, and what was made from them."""
    own = catalog.own_batches(session, user.org.id)
    made_from = batch_service.descendant_ids(session, [b.id for b in own])
    return catalog.unrecalled_batches(session, made_from)


def _new_request_page(
    request: Request,
    session: Any,
    user: OfficeUser,
    values: dict[str, Any],
    errors: dict[str, Any] | None = None,
    problem: Any = None,
    status_code: int = 200,
) -> Response:
    candidates = _candidates(session, user)
    return render(
        request,
        "office/request_new.html",
        user=user,
        active="requests",
        status_code=status_code,
        values=values,
        errors=errors or {},
        problem=problem,
        candidates=candidates,
        products=catalog.by_id(session, Product, [b.product_id for b in candidates]),
        officials=endorsement_queries.officials_for(session, user.org),
        platforms=[p.value for p in Platform],
        claims=[c.value for c in Claim],
        **page_helpers(),
    )


@router.get("/requests/new")
def new_request(request: Request, session: SessionDep, user: UserDep, batch: str = "") -> Response:
    user.require(user.is_producer, "only cooperatives and processors request endorsements")
    values: dict[str, Any] = {"claims": DEFAULT_CLAIMS, "stream.platform": "taobao_live"}
    if batch:
        chosen = next((b for b in _candidates(session, user) if b.code == batch.upper()), None)
        if chosen is not None:
            values["batches"] = [chosen.code]
            values["quantity"] = chosen.quantity
    officials = endorsement_queries.officials_for(session, user.org)
    if len(officials) == 1:
        values["official"] = officials[0][0].username
    return _new_request_page(request, session, user, values)


def _moment(
    form: Form, name: str, errors: dict[str, Any], required: bool, _: Callable[[str], str]
) -> datetime | None:
    value = form.get(name)
    if not value:
        if required:
            errors[name] = _("必填")
        return None
    parsed = parse_local_time(value)
    if parsed is None:
        errors[name] = _("时间格式：2026-09-20T20:00")
    return parsed


def _check_choices(
    form: Form, values: dict[str, Any], errors: dict[str, Any], _: Callable[[str], str]
) -> None:
    """The batches, official, claims, room, title and quantity the form must have."""
    if not values["batches"]:
        errors["batches"] = _("请选择至少一个批次")
    if not form.get("official"):
        errors["official"] = _("请选择背书官员")
    if not values["claims"]:
        errors["claims"] = _("请选择至少一项担保内容")
    for name in ("stream.room", "stream.title"):
        if not form.get(name):
            errors[name] = _("必填")


def _check_quantity(quantity: str, errors: dict[str, Any], _: Callable[[str], str]) -> None:
    try:
        if Decimal(quantity) <= 0:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["quantity"] = _("请填写大于 0 的数量")


def _stream(form: Form, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    """The live stream as the service takes it; hosts split on commas (also Chinese ones)."""
    hosts = [
        {"name": name.strip(), "role": "streamer"}
        for name in form.get("stream.hosts").replace("，", ",").replace("、", ",").split(",")
        if name.strip()
    ]
    return {
        "platform": form.get("stream.platform"),
        "room": form.get("stream.room"),
        "title": form.get("stream.title"),
        "start": start.isoformat() if start else "",
        "end": end.isoformat() if end else "",
        "hosts": hosts,
    }


def _place_errors(exc: RegistryError, values: dict[str, Any], errors: dict[str, Any]) -> None:
    """The service's per-path errors next to the stream's fields and the quantity."""
    for entry in exc.extra.get("errors") or []:
        path = "stream." + str(entry.get("path", "")).split(".")[0]
        if path in values or path == "stream.hosts":
            errors.setdefault(path, str(entry.get("message")))
    if "quantity" in exc.detail:
        errors.setdefault("quantity", exc.detail)


@router.post("/requests/new")
def create_request(
    request: Request, session: SessionDep, ctx: ContextDep, user: UserDep, form: FormDep
) -> Response:
    user.require(user.is_producer, "only cooperatives and processors request endorsements")
    _ = translator(request)
    errors: dict[str, Any] = {}
    values = form.values()
    values["batches"] = form.getlist("batches")
    values["claims"] = form.getlist("claims")
    _check_choices(form, values, errors, _)
    start = _moment(form, "stream.start", errors, True, _)
    end = _moment(form, "stream.end", errors, True, _)
    valid_from = _moment(form, "valid_from", errors, False, _)
    valid_until = _moment(form, "valid_until", errors, False, _)
    quantity = form.get("quantity")
    _check_quantity(quantity, errors, _)
    if errors:
        return _new_request_page(request, session, user, values, errors, status_code=422)
    try:
        with session.begin_nested():
            created = endorsement_requests.request_endorsement(
                session,
                ctx,
                user.account,
                batches=values["batches"],
                official=form.get("official"),
                stream=_stream(form, start, end),
                claims=values["claims"],
                quantity=quantity,
                valid_from=valid_from,
                valid_until=valid_until,
            )
    except RegistryError as exc:
        _place_errors(exc, values, errors)
        return _new_request_page(
            request, session, user, values, errors, explain(exc), status_code=422
        )
    return redirect(
        request,
        f"/office/requests/{created.id}",
        _("背书申请已提交，等待官员审核"),
    )
