"""The working pages: the dashboard of each role, products, batches and their labels, and the
record forms (custodial signing through ``records.sign_and_submit``)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from api.deps import ContextDep, SessionDep
from registry import qr
from registry.accounts import queries as account_queries
from registry.catalog import batches as batch_service
from registry.catalog import products as product_service
from registry.catalog import queries as catalog
from registry.endorsements import published as published_endorsements
from registry.endorsements import queries as endorsement_queries
from registry.errors import Forbidden, NotFound, RegistryError
from registry.i18n import gettext_for, pgettext_for
from registry.models import (
    Organization,
    OrgKind,
    Product,
)
from registry.records import ingest as record_ingest
from registry.records import stored as stored_records
from registry.records.schema import Kind
from registry.reports.queries import report_card
from registry.units import format_quantity
from web.names import Names
from web.office import record_forms as forms
from web.office.core import (
    FormDep,
    OfficeUser,
    UserDep,
    current_lang,
    redirect,
    render,
    router,
    translator,
)
from web.office.drafts import FormInvalid
from web.office.fields import TASKS, UNITS, translate
from web.office.messages import explain

CATEGORIES = ("grain", "eggs", "fruit", "vegetables", "tea", "meat", "flowers", "flour", "pastry")


def _verdict(verdict: object, lang: str) -> str:
    pgettext = pgettext_for(lang)
    if verdict == "pass":
        return pgettext("lowercase", "合格")
    if verdict == "fail":
        return pgettext("lowercase", "不合格")
    return ""


def record_facts(document: dict[str, Any], lang: str = "zh") -> str:
    """One line about a record, for lists."""
    kind = document.get("kind")
    if kind == "harvest":
        return format_quantity(
            str(document.get("quantity", "")), str(document.get("unit", "")), lang
        )
    if kind == "processing":
        return str(document.get("process", ""))
    if kind == "packing":
        package = document.get("package") or {}
        size = format_quantity(str(package.get("size", "")), str(package.get("unit", "")), lang)
        return f"{package.get('count', '')} × {size}"
    if kind == "inspection":
        substances = ", ".join(str(r.get("substance", "")) for r in document.get("results", []))
        verdict = _verdict(document.get("verdict"), lang)
        return f"{document.get('report_number', '')} · {verdict} · {substances}"
    if kind == "certificate":
        return str(document.get("certificate_number", ""))
    if kind == "storage":
        temps = [r.get("celsius") for r in document.get("readings", [])]
        return f"{document.get('location', '')} {' / '.join(str(t) for t in temps)} °C".strip()
    if kind == "shipping":
        return f"→ {(document.get('to') or {}).get('name', '')} {document.get('waybill', '')}"
    if kind == "receiving":
        return f"← {(document.get('source') or {}).get('name', '')}"
    if kind == "assignment":
        task = str(document.get("task", ""))
        label = dict(TASKS).get(task)
        shown = translate(label, lang) if label else task
        return f"→ {(document.get('to') or {}).get('name', '')} ({shown})"
    return str(document.get("reason", ""))


def page_helpers(**extra: Any) -> dict[str, Any]:
    return {"record_facts": record_facts, **extra}


# --- dashboard ------------------------------------------------------------------------------


@router.get("/")
def dashboard(request: Request, session: SessionDep, ctx: ContextDep, user: UserDep) -> Response:
    """Each role's main page: what needs doing first, then what was done lately."""
    context: dict[str, Any] = {"specs": forms.specs_for(user)}
    if user.is_admin:
        context["org_count"] = account_queries.organization_count(session)
        context["account_count"] = account_queries.account_count(session)
        context["organizations"] = account_queries.recent_organizations(session, limit=8)
    if user.is_producer:
        context["batches"] = catalog.own_batches(session, user.org.id, limit=8)
        context["products"] = {p.id: p for p in catalog.products_of(session, user.org.id)}
        context["requests"] = endorsement_queries.requests_visible_to(
            session, user.account, limit=6
        )
    if user.kind in (OrgKind.CARRIER, OrgKind.LAB) or user.is_producer:
        context["recent"] = catalog.recent_records(session, user.org.id, limit=8)
    if user.is_official:
        queue = endorsement_queries.requests_visible_to(
            session, user.account, statuses=endorsement_queries.OPEN_REQUESTS
        )
        context["queue"] = [r for r in queue if r.authority_id == user.org.id]
        context["products"] = catalog.by_id(session, Product, [r.product_id for r in queue])
        context["requesters"] = catalog.by_id(
            session, Organization, [r.organization_id for r in queue]
        )
        card = report_card(
            session, user.org, user.account, request.app.state.scan_counter, ctx.clock()
        )
        context["card"] = card
        context["latest"] = card.rows[:5]
        context["products"].update(
            catalog.by_id(session, Product, [r.endorsement.product_id for r in card.rows[:5]])
        )
    return render(
        request, "office/dashboard.html", user=user, active="home", **page_helpers(**context)
    )


# --- products -------------------------------------------------------------------------------


def _products_page(
    request: Request,
    session: Any,
    user: OfficeUser,
    values: dict[str, Any] | None = None,
    problem: Any = None,
    status_code: int = 200,
) -> Response:
    products = catalog.products_of(session, user.org.id)
    return render(
        request,
        "office/products.html",
        user=user,
        active="products",
        status_code=status_code,
        products=products,
        counts=catalog.batch_counts(session, [p.id for p in products]),
        values=values or {},
        problem=problem,
        categories=CATEGORIES,
    )


@router.get("/products")
def products_page(request: Request, session: SessionDep, user: UserDep) -> Response:
    user.require(user.is_producer, "only cooperatives and processors register products")
    return _products_page(request, session, user)


@router.post("/products")
def create_product(request: Request, session: SessionDep, user: UserDep, form: FormDep) -> Response:
    user.require(user.is_producer, "only cooperatives and processors register products")
    _ = translator(request)
    try:
        with session.begin_nested():
            product = product_service.create_product(
                session,
                user.account,
                name_zh=form.get("name_zh"),
                name_en=form.get("name_en"),
                category=form.get("category"),
                gtin=form.get("gtin") or None,
                standard_ref=form.get("standard_ref"),
            )
    except RegistryError as exc:
        return _products_page(request, session, user, form.values(), explain(exc), 422)
    return redirect(
        request,
        "/office/products",
        _("产品“%(name)s”已登记") % {"name": Names(current_lang(request)).name(product)},
    )


# --- batches --------------------------------------------------------------------------------


@router.get("/batches")
def batches_page(request: Request, session: SessionDep, user: UserDep, q: str = "") -> Response:
    batches = catalog.visible_batches(session, user.account, user.org, q.strip())
    return render(
        request,
        "office/batches.html",
        user=user,
        active="batches",
        batches=batches,
        q=q,
        products=catalog.by_id(session, Product, [b.product_id for b in batches]),
        orgs=catalog.by_id(session, Organization, [b.origin_org_id for b in batches]),
        **page_helpers(specs=forms.specs_for(user)),
    )


@router.get("/batches/{code}")
def batch_page(
    code: str, request: Request, session: SessionDep, ctx: ContextDep, user: UserDep
) -> Response:
    batch = catalog.visible_batch(session, user.account, user.org, code)
    product = catalog.get_by_id(session, Product, batch.product_id)
    records = catalog.record_lines(session, batch_service.batch_records(session, batch.id))
    endorsements = endorsement_queries.endorsements_of_batch(session, batch.id)
    now = ctx.clock()
    actions = [
        s
        for s in forms.specs_for(user)
        if s.kind is not Kind.HARVEST
        and not (s.kind in (Kind.PACKING, Kind.CERTIFICATE) and batch.origin_org_id != user.org.id)
    ]
    return render(
        request,
        "office/batch.html",
        user=user,
        active="batches",
        batch=batch,
        product=product,
        origin=catalog.get_by_id(session, Organization, batch.origin_org_id),
        records=records,
        endorsements=[
            (e, published_endorsements.status_of(session, e, now).value) for e in endorsements
        ],
        actions=actions,
        can_request=user.is_producer and batch.recall_digest is None,
        **page_helpers(),
    )


@router.get("/batches/{code}/label")
def batch_label(
    code: str,
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    user: UserDep,
    copies: int = 8,
) -> Response:
    """Printable package labels: the batch QR (GS1 Digital Link when the product has a
    GTIN), product, lot, code and producer; ``copies`` per sheet."""
    batch = catalog.visible_batch(session, user.account, user.org, code)
    product = catalog.get_by_id(session, Product, batch.product_id)
    assert product is not None
    try:
        url = qr.batch_url(ctx.settings.base_url, product.gtin, batch.lot, batch.code)
    except RegistryError:
        url = qr.batch_url(ctx.settings.base_url, None, batch.lot, batch.code)
    return render(
        request,
        "office/label.html",
        user=user,
        active="batches",
        batch=batch,
        product=product,
        origin=catalog.get_by_id(session, Organization, batch.origin_org_id),
        label_url=url,
        copies=max(1, min(copies, 40)),
    )


# --- record forms ---------------------------------------------------------------------------


def _spec(user: OfficeUser, kind: str) -> forms.RecordSpec:
    spec = forms.SPECS.get(kind)
    if spec is None:
        raise NotFound(f"no record form {kind!r}")
    if spec not in forms.specs_for(user):
        raise Forbidden(f"your organization may not sign {kind} records")
    return spec


def _record_form(
    request: Request,
    session: Any,
    user: OfficeUser,
    spec: forms.RecordSpec,
    values: dict[str, Any],
    errors: dict[str, Any] | None = None,
    problem: Any = None,
    status_code: int = 200,
) -> Response:
    suggestions = (
        catalog.visible_batches(session, user.account, user.org, limit=50)
        if user.kind is OrgKind.AUTHORITY
        else catalog.custody_batches(session, user.org, spec.kind)
    )
    return render(
        request,
        "office/record_form.html",
        user=user,
        active="batches",
        status_code=status_code,
        spec=spec,
        values=values,
        errors=errors or {},
        problem=problem,
        products=catalog.products_of(session, user.org.id),
        organizations=account_queries.supply_chain_organizations(session),
        suggestions=suggestions,
        units=UNITS,
        **page_helpers(),
    )


@router.get("/records/new/{kind}")
def record_form(
    kind: str, request: Request, session: SessionDep, user: UserDep, batch: str = ""
) -> Response:
    spec = _spec(user, kind)
    found = None
    if batch:
        try:
            found = catalog.visible_batch(session, user.account, user.org, batch)
        except NotFound:
            found = None
    values = forms.defaults(spec, user, found)
    if batch and found is None:
        values["batch"] = batch  # a code typed elsewhere: shown, checked on submit
    return _record_form(request, session, user, spec, values)


@router.post("/records/new/{kind}")
def submit_record(
    kind: str,
    request: Request,
    session: SessionDep,
    ctx: ContextDep,
    user: UserDep,
    form: FormDep,
) -> Response:
    spec = _spec(user, kind)
    builder = None
    try:
        builder = forms.build(spec, form, session, user, translator(request))
        with session.begin_nested():
            accepted = record_ingest.sign_and_submit(session, ctx, user.account, builder.draft)
    except FormInvalid as invalid:
        return _record_form(
            request,
            session,
            user,
            spec,
            form.values(),
            invalid.errors,
            problem=None,
            status_code=422,
        )
    except RegistryError as exc:
        return _record_form(
            request,
            session,
            user,
            spec,
            form.values(),
            forms.errors_from(spec, builder, exc, translator(request)),
            problem=explain(exc),
            status_code=422,
        )
    draft = builder.draft
    if spec.kind is Kind.PROCESSING:
        target_ref = draft["outputs"][0]["batch"]
    else:
        target_ref = draft["batches"][0]
    target = stored_records.find_batch(session, target_ref)
    lang = current_lang(request)
    _ = gettext_for(lang)
    flash = _("已签名并记入公开日志：%(label)s（第 %(index)s 条）") % {
        "label": translate(spec.label, lang),
        "index": accepted.index,
    }
    if target is None or not catalog.can_see_batch(session, user.account, user.org, target):
        return redirect(request, "/office/", flash)
    return redirect(request, f"/office/batches/{target.code}", flash)
